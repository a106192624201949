"""Deployment helpers: build and push the container images, read a kustomize overlay's cluster settings.

:mod:`stainworth.deploy.images` builds ``images/cpu.Dockerfile`` and ``images/cuda.Dockerfile``
(``python -m stainworth.deploy.images``); :mod:`stainworth.deploy.overlay` reads the GPU pool and
store settings of ``manifests/overlays/<name>/gpu-pool.env`` into a profile's ``cluster`` section.
"""
