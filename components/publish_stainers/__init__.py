from stainworth.components.publish_stainers.component import publish_stainers

__all__ = ["publish_stainers"]
