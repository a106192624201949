"""Pipeline ``study``: both sweeps of both tasks on one prepare and one pair of stainers per dataset."""

from stainworth.contracts.profile import Profile
from stainworth.pipelines import SWEEP_PIPELINES
from stainworth.pipelines.sweeps import build_sweeps, sweep_plan


def build(profile: Profile):
    """The ``study`` pipeline with the profile's values as parameter defaults."""
    return build_sweeps(
        profile, "study", sweep_plan(list(SWEEP_PIPELINES)),
        description="The whole study: prepare, train both stainers on each dataset, then for segmentation and "
        "classification the capacity and learnable-capacity sweeps on every modality (GPU pool) and one "
        "evaluation per task: tables, paired comparisons, verdict, analyses.")
