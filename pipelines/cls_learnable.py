"""Pipeline ``cls_learnable``: one classifier on growing training subsets, on every modality."""

from stainworth.contracts.profile import Profile
from stainworth.pipelines.sweeps import build_sweeps, sweep_plan


def build(profile: Profile):
    """The ``cls_learnable`` pipeline with the profile's values as parameter defaults."""
    return build_sweeps(
        profile, "cls_learnable", sweep_plan(["cls_learnable"]),
        description="Prepare, train both stainers on the classification dataset, train the learnable-capacity "
        "classifier on random training subsets of several sizes on every modality (GPU pool), evaluate: "
        "learnable table, verdict, class embeddings, Hotelling observer.")
