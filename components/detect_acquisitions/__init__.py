from stainworth.components.detect_acquisitions.component import detect_acquisitions

__all__ = ["detect_acquisitions"]
