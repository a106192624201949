"""Pipeline ``seg_capacity``: segmentation networks of increasing capacity on every modality."""

from stainworth.contracts.profile import Profile
from stainworth.pipelines.sweeps import build_sweeps, sweep_plan


def build(profile: Profile):
    """The ``seg_capacity`` pipeline with the profile's values as parameter defaults."""
    return build_sweeps(
        profile, "seg_capacity", sweep_plan(["seg_capacity"]),
        description="Prepare, train both stainers on the segmentation dataset, train every U-Net of the capacity "
        "ladder on label-free, both virtual and real fluorescence images (GPU pool), evaluate: capacity table, "
        "paired comparisons, verdict, feature maps.")
