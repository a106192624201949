"""Pipeline ``seg_learnable``: one segmentation network on growing training subsets, on every modality."""

from stainworth.contracts.profile import Profile
from stainworth.pipelines.sweeps import build_sweeps, sweep_plan


def build(profile: Profile):
    """The ``seg_learnable`` pipeline with the profile's values as parameter defaults."""
    return build_sweeps(
        profile, "seg_learnable", sweep_plan(["seg_learnable"]),
        description="Prepare, train both stainers on the segmentation dataset, train the learnable-capacity "
        "U-Net on random training subsets of several sizes on every modality (GPU pool), evaluate: learnable "
        "table, verdict, mask panels.")
