# CUDA image of stainworth: the base image of the training tasks on the GPU pool (stainers and
# task networks). Build from the repository root with `make images`, or by hand:
#   docker build -f images/cuda.Dockerfile -t $IMAGE_REGISTRY/stainworth-cuda:$IMAGE_TAG .
# torch 2.14.1 brings its CUDA 13 runtime as pinned wheels (nvidia-*, in requirements.lock), so
# the image needs only the node's NVIDIA driver, which the NVIDIA container toolkit mounts into
# GPU pods; the same Python 3.11 base as the CPU image keeps one lock file valid for both.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/stainworth
COPY pyproject.toml requirements.lock README.md ./
COPY shared ./shared
COPY components ./components
COPY pipelines ./pipelines
RUN pip install -c requirements.lock . \
 && python -c "import kfp, stainworth, torch; assert kfp.__version__ == '2.17.3', kfp.__version__; \
assert torch.__version__.split('+')[0] == '2.14.1', torch.__version__; assert torch.version.cuda, 'torch without CUDA'"

RUN useradd --create-home --uid 1000 --user-group stainworth
ENV HOME=/home/stainworth
USER 1000:1000
