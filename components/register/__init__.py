from stainworth.components.register.component import register

__all__ = ["register"]
