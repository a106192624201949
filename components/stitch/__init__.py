from stainworth.components.stitch.component import stitch

__all__ = ["stitch"]
