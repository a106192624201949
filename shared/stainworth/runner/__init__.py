"""Running pipelines: locally through kfp.local, or on a Kubeflow cluster."""
