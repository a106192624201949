"""Pipeline ``cls_capacity``: classifiers of increasing capacity on every modality."""

from stainworth.contracts.profile import Profile
from stainworth.pipelines.sweeps import build_sweeps, sweep_plan


def build(profile: Profile):
    """The ``cls_capacity`` pipeline with the profile's values as parameter defaults."""
    return build_sweeps(
        profile, "cls_capacity", sweep_plan(["cls_capacity"]),
        description="Prepare, train both stainers on the classification dataset, train every classifier of the "
        "capacity ladder on label-free, both virtual and real fluorescence images (GPU pool), evaluate: capacity "
        "table, paired comparisons (DeLong), verdict, class embeddings, Hotelling observer.")
