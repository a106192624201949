"""Launching pipelines: locally through kfp.local, or compiled, uploaded and scheduled on a Kubeflow cluster.

This layer sits above the pipeline definitions (it builds them by name); :mod:`stainworth.runner`
below them holds what runs inside a pipeline's tasks.
"""
