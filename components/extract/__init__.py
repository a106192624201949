from stainworth.components.extract.component import extract

__all__ = ["extract"]
