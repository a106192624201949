from stainworth.components.acquisition_groups.component import acquisition_groups

__all__ = ["acquisition_groups"]
