from stainworth.components.ingest.component import ingest

__all__ = ["ingest"]
