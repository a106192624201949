from stainworth.components.merge_fields.component import merge_fields

__all__ = ["merge_fields"]
