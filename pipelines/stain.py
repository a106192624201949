"""Pipeline ``stain``: prepare the datasets, train both stainers on each, stain every split, report image quality."""

from typing import Any, NamedTuple

from kfp import dsl

from stainworth.components.apply_stainer import apply_stainer
from stainworth.components.stain_report import stain_report
from stainworth.components.train_stainer import train_stainer
from stainworth.contracts.profile import Profile
from stainworth.pipelines.parameters import profile_pipeline
from stainworth.pipelines.prepare import prepare_tasks
from stainworth.runner.platform import configure_task

ARCHITECTURES = ("pix2pixhd", "efficientunet")


def train_stainers(profile: Profile, kind: str, stain_config: Any, store_uri: Any, datasets: Any) -> dict[str, Any]:
    """Add the training of both architectures on one dataset (GPU); their outputs by architecture."""
    trained = {}
    for architecture in ARCHITECTURES:
        task = train_stainer(config=stain_config, kind=kind, architecture=architecture, store_uri=store_uri,
                             datasets=datasets).set_display_name(f"train {architecture} ({kind})")
        configure_task(task, profile.cluster, gpu=True)
        trained[architecture] = task.outputs["stainer"]
    return trained


def stain_tasks(profile: Profile, kind: str, stain_config: Any, store_uri: Any, datasets: Any,
                trained: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
    """Add one dataset's stainers to the current pipeline: train, apply (GPU), report (CPU).

    ``trained``: stainers the pipeline trained already (by architecture); none: trained here.
    Returns the ``apply_stainer`` outputs by architecture and the ``stain_report`` output.
    """
    trained = trained or train_stainers(profile, kind, stain_config, store_uri, datasets)
    virtual = {}
    for architecture in ARCHITECTURES:
        applied = apply_stainer(config=stain_config, kind=kind, stainer=trained[architecture],
                                datasets=datasets).set_display_name(f"apply {architecture} ({kind})")
        configure_task(applied, profile.cluster, gpu=True)
        virtual[architecture] = applied.outputs["virtual"]
    report = stain_report(config=stain_config, kind=kind, datasets=datasets, **virtual
                          ).set_display_name(f"report ({kind})")
    configure_task(report, profile.cluster, gpu=False)
    return virtual, report.outputs["report"]


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
        datasets = prepare_tasks(profile, prepare_config, simulate_config, store_uri).outputs["datasets"]
        reports = {f"{kind}_report": stain_tasks(profile, kind, stain_config, store_uri, datasets)[1]
                   for kind in kinds}
        return outputs(**reports)

    return stain
