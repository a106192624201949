"""Pipeline ``stain``: prepare the datasets, train both stainers on each, stain every split, report image quality."""

from typing import Any, NamedTuple

from kfp import dsl

from stainworth.components.apply_stainer import apply_stainer
from stainworth.components.external_stainers import external_stainers
from stainworth.components.stain_report import stain_report
from stainworth.components.train_stainer import train_stainer
from stainworth.contracts.profile import Profile
from stainworth.contracts.task import BUILTIN_VIRTUAL
from stainworth.pipelines.parameters import profile_pipeline
from stainworth.pipelines.prepare import Prepared, prepare_tasks
from stainworth.runner.platform import configure_task

ARCHITECTURES = ("pix2pixhd", "efficientunet")
"""The study's stainers, in the order their tasks are added."""
EXTERNAL = "external"
"""The input through which tasks receive the ``external_stainers`` output."""


def train_stainers(profile: Profile, kind: str, stain_config: Any, store_uri: Any, datasets: Any,
                   after: Any = None) -> dict[str, Any]:
    """Add the training of ``stain.builtin``'s architectures on one dataset (GPU); their outputs by architecture.

    ``after``: a task they wait for (the external stainers' checks, so that bad input ends a run
    before any training starts).
    """
    trained: dict[str, Any] = {}
    for architecture in ARCHITECTURES:
        if architecture not in profile.stain.builtin:
            continue
        task = train_stainer(config=stain_config, kind=kind, architecture=architecture, store_uri=store_uri,
                             datasets=datasets).set_display_name(f"train {architecture} ({kind})")
        configure_task(task, profile.cluster, gpu=True)
        if after is not None:
            task.after(after)
        trained[architecture] = task.outputs["stainer"]
    return trained


def stain_tasks(profile: Profile, kind: str, stain_config: Any, prepare_config: Any, store_uri: Any,
                prepared: Prepared, trained: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
    """Add one dataset's stainers to the current pipeline: external ones, train, apply (GPU), report (CPU).

    ``trained``: the study's stainers the pipeline trained already (by architecture); none: trained here.
    Returns the virtual datasets as the inputs of ``train_task`` and ``evaluate`` take them
    (``virtual_effunet``, ``virtual_pix2pixhd``, ``external``; only those the profile makes) and
    the ``stain_report`` output.
    """
    external = None
    if profile.stain.external:
        external = external_stainers(config=stain_config, prepare_config=prepare_config, kind=kind, store_uri=store_uri,
                                     stitched=prepared.stitched, datasets=prepared.datasets
                                     ).set_display_name(f"external stainers ({kind})")
        configure_task(external, profile.cluster, gpu=any(entry.model for entry in profile.stain.external))
    if trained is None:
        trained = train_stainers(profile, kind, stain_config, store_uri, prepared.datasets, after=external)
    applied = {}
    for architecture in ARCHITECTURES:
        if architecture not in trained:
            continue
        task = apply_stainer(config=stain_config, kind=kind, stainer=trained[architecture],
                             datasets=prepared.datasets).set_display_name(f"apply {architecture} ({kind})")
        configure_task(task, profile.cluster, gpu=True)
        applied[architecture] = task.outputs["virtual"]
    extra = {} if external is None else {EXTERNAL: external.outputs["virtual"]}
    report = stain_report(config=stain_config, kind=kind, datasets=prepared.datasets, **applied, **extra
                          ).set_display_name(f"report ({kind})")
    configure_task(report, profile.cluster, gpu=False)
    virtual = {BUILTIN_VIRTUAL[architecture]: output for architecture, output in applied.items()}
    return virtual | extra, report.outputs["report"]


def build(profile: Profile):
    """The ``stain`` pipeline with the profile's values as parameter defaults.

    One branch per dataset in ``stain.datasets``; in each, both architectures train in parallel
    on the GPU pool, stain every split, and one report compares them.
    """
    kinds = list(profile.stain.datasets)
    outputs = NamedTuple("Outputs", [(f"{kind}_report", dsl.Dataset) for kind in kinds])  # type: ignore[misc]

    @profile_pipeline(
        profile, name="stainworth-stain",
        description="Train Pix2pixHD and the EfficientUNet on each dataset, write the virtual datasets and "
        "the image-quality report (SSIM, PSNR, PCC, MSE, NRMSE; image panels).",
    )
    def stain(prepare_config: dict, simulate_config: dict, stain_config: dict, store_uri: str) -> outputs:
        prepared = prepare_tasks(profile, prepare_config, simulate_config, store_uri)
        reports = {f"{kind}_report": stain_tasks(profile, kind, stain_config, prepare_config, store_uri, prepared)[1]
                   for kind in kinds}
        return outputs(**reports)

    return stain
