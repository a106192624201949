"""Pipeline ``prepare``: acquisitions → stitched, registered, labelled fields → the two task datasets."""

from typing import Any, NamedTuple

from kfp import dsl

from stainworth.components.acquisition_groups import acquisition_groups
from stainworth.components.extract import extract
from stainworth.components.ingest import ingest
from stainworth.components.label import label
from stainworth.components.merge_fields import merge_fields
from stainworth.components.register import register
from stainworth.components.stitch import stitch
from stainworth.contracts.profile import Profile
from stainworth.pipelines.parameters import LOCAL_SLOTS, profile_pipeline
from stainworth.runner.platform import configure_task


class Prepared(NamedTuple):
    """The outputs of the prepare graph later tasks read."""

    datasets: Any
    """``extract``'s output: both task datasets."""
    stitched: Any
    """``stitch``'s output: the label-free mosaics and tile positions (external stainers read them)."""


def prepare_tasks(profile: Profile, prepare_config: Any, simulate_config: Any, store_uri: Any, *,
                  part: str = "") -> Prepared:
    """Add the prepare graph to the current pipeline: ingest, the fan-out, the merge, extract.

    ``ingest`` → ``acquisition_groups`` → one branch per group (``stitch`` → ``register`` →
    ``label``, a ``ParallelFor``: on a cluster one branch per acquisition, locally the runner's
    slots) → ``merge_fields`` (every branch's outputs joined into one per stage) → ``extract``.
    Returns the outputs of ``extract`` (both datasets) and the merged ``stitch``. ``part`` is
    appended to the display names (a pipeline with two prepare graphs).
    """
    suffix = f" ({part})" if part else ""
    ingested = ingest(config=prepare_config, simulate_config=simulate_config,
                      store_uri=store_uri).set_display_name(f"ingest{suffix}")
    groups = acquisition_groups(config=prepare_config, store_uri=store_uri, ingested=ingested.outputs["ingested"],
                                slots=LOCAL_SLOTS).set_display_name(f"acquisition groups{suffix}")
    configure_task(ingested, profile.cluster, gpu=False)
    configure_task(groups, profile.cluster, gpu=False)
    with dsl.ParallelFor(groups.output, parallelism=profile.cluster.parallelism,
                         name=f"acquisitions{suffix}") as group:
        stitched = stitch(config=prepare_config, store_uri=store_uri, ingested=ingested.outputs["ingested"],
                          acquisitions=group).set_display_name(f"stitch{suffix}")
        registered = register(config=prepare_config, store_uri=store_uri,
                              stitched=stitched.outputs["stitched"]).set_display_name(f"register{suffix}")
        labelled = label(config=prepare_config, store_uri=store_uri, stitched=stitched.outputs["stitched"],
                         registered=registered.outputs["registered"]).set_display_name(f"label{suffix}")
        for task in (stitched, registered, labelled):
            configure_task(task, profile.cluster, gpu=False)
    merged = merge_fields(config=prepare_config, stitched=dsl.Collected(stitched.outputs["stitched"]),
                          registered=dsl.Collected(registered.outputs["registered"]),
                          labelled=dsl.Collected(labelled.outputs["labelled"]))
    merged.set_display_name(f"merge fields{suffix}")
    datasets = extract(config=prepare_config, store_uri=store_uri, stitched=merged.outputs["merged_stitched"],
                       registered=merged.outputs["merged_registered"],
                       labelled=merged.outputs["merged_labelled"]).set_display_name(f"extract{suffix}")
    for task in (merged, datasets):
        configure_task(task, profile.cluster, gpu=False)
    return Prepared(datasets=datasets.outputs["datasets"], stitched=merged.outputs["merged_stitched"])


def build(profile: Profile):
    """The ``prepare`` pipeline with the profile's values as parameter defaults."""

    @profile_pipeline(
        profile, name="stainworth-prepare",
        description="Ingest, stitch, register and label acquisitions; extract the segmentation and "
        "classification datasets into the store.",
    )
    def prepare(prepare_config: dict, simulate_config: dict, store_uri: str) -> dsl.Dataset:
        return prepare_tasks(profile, prepare_config, simulate_config, store_uri).datasets

    return prepare
