from stainworth.components.apply_stainer.component import apply_stainer

__all__ = ["apply_stainer"]
