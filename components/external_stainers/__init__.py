from stainworth.components.external_stainers.component import external_stainers

__all__ = ["external_stainers"]
