# CPU image of stainworth: the base image of every CPU task (simulate, prepare, apply, evaluate,
# report). Build from the repository root with `make images`, or by hand:
#   docker build -f images/cpu.Dockerfile -t $IMAGE_REGISTRY/stainworth-cpu:$IMAGE_TAG .
# torch comes as its CPU-only wheel (TORCH_INDEX_URL, a mirror of it for air-gapped builds);
# everything else is pinned by requirements.lock.
FROM python:3.11-slim

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/stainworth
COPY pyproject.toml requirements.lock README.md ./
COPY shared ./shared
COPY components ./components
COPY pipelines ./pipelines
# The lock's CUDA packages (torch's GPU dependencies) are left out of the constraints: the CPU
# wheel does not need them.
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.14.1 torchvision==0.29.1 \
 && grep -v -E '^(torch|torchvision|nvidia-|triton|cuda-)' requirements.lock > /tmp/constraints.txt \
 && pip install -c /tmp/constraints.txt . \
 && python -c "import kfp, stainworth, torch; assert kfp.__version__ == '2.17.3', kfp.__version__; \
assert torch.__version__.split('+')[0] == '2.14.1', torch.__version__"

RUN useradd --create-home --uid 1000 --user-group stainworth
ENV HOME=/home/stainworth
USER 1000:1000
