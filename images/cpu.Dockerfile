# CPU image of stainworth: the base image of every CPU component.
# Build from the repository root:  docker build -f images/cpu.Dockerfile -t $IMAGE_REGISTRY/stainworth-cpu:$TAG .
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/stainworth
COPY pyproject.toml requirements.lock README.md ./
COPY shared ./shared
COPY components ./components
COPY pipelines ./pipelines
# CPU wheels of torch for the image; everything else pinned by requirements.lock.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1 \
 && grep -v -E '^(torch|torchvision|nvidia-|triton|cuda-)' requirements.lock > /tmp/constraints.txt \
 && pip install -c /tmp/constraints.txt .

RUN useradd --create-home --uid 1000 stainworth
USER 1000
