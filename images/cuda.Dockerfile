# CUDA image of stainworth: the base image of training components on the GPU pool.
# Build from the repository root:  docker build -f images/cuda.Dockerfile -t $IMAGE_REGISTRY/stainworth-cuda:$TAG .
FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04

ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/* \
 && python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /opt/stainworth
COPY pyproject.toml requirements.lock README.md ./
COPY shared ./shared
COPY components ./components
COPY pipelines ./pipelines
# torch 2.14.1 with its CUDA 13 wheels, pinned together with everything else.
RUN pip install -c requirements.lock .

RUN useradd --create-home --uid 1000 stainworth
USER 1000
