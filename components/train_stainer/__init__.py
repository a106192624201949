from stainworth.components.train_stainer.component import train_stainer

__all__ = ["train_stainer"]
