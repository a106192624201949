from stainworth.components.label.component import label

__all__ = ["label"]
