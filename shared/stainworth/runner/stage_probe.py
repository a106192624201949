"""Peak memory and wall time of the prepare stages on one field, each stage in a fresh process.

``make bench`` prepares phantom fields of growing size with it, and ``make plan`` measures the
prepare tasks' memory at the profile's field size. Each stage runs as its task does on a cluster,
in a process of its own, so its peak resident memory (``VmHWM``) is its own: ingest (rendering
a phantom acquisition, when one is given), stitch, register,
label (the profile's labeller; the classical one by default) and extract (a segmentation dataset
of :data:`SEGMENTATION_ITEMS` patches and the classification measurement of every nucleus; the
canvases of the drawn nuclei are written item by item and need both conditions, so they are left
out).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from stainworth.contracts.phantom import PhantomConfig
from stainworth.contracts.prepare import PrepareConfig
from stainworth.errors import ConfigError
from stainworth.runner.environment import TASK_ENVIRONMENT

PREPARE_STAGES = ("stitch", "register", "label", "extract")
SEGMENTATION_ITEMS = {"train": 400, "val": 50, "test": 50}
"""Patches of the segmentation dataset a probe extracts (its memory is bounded by a band, not the count)."""

PEAK_RSS_SNIPPET = (
    "def peak_rss_mb():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1]) / 1024\n"
    "    import resource\n"
    "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
)
"""Source of ``peak_rss_mb()`` for child processes: the process's own resident-memory high-water
mark (``VmHWM``). ``getrusage().ru_maxrss`` is not used on Linux because it survives ``exec``: a
child started from a large parent would report the parent's peak."""

STAGE_CHILD = PEAK_RSS_SNIPPET + """
import json, sys, time
from pathlib import Path
from stainworth.contracts.fields import FieldsManifest
from stainworth.contracts.manifest import read_manifest, write_manifest
from stainworth.contracts.prepare import PrepareConfig, SplitCounts
from stainworth.runner.stage_probe import SEGMENTATION_ITEMS
stage, folder, out, config = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), PrepareConfig.model_validate_json(
    sys.argv[4])
started = time.perf_counter()
if stage == "ingest":
    from stainworth.contracts.phantom import PhantomConfig
    from stainworth.phantom import generate_acquisition
    from stainworth.phantom.folder import write_phantom_acquisition
    phantom = PhantomConfig.model_validate_json(sys.argv[5])
    acquisition = generate_acquisition(phantom, condition="control", seed=int(sys.argv[6]))
    write_phantom_acquisition(acquisition, folder, acquisition_id="probe", config=phantom,
                              overlap=phantom.acquisition.overlap)
    metrics = {"mosaic_height": float(acquisition.mosaic_shape[0]), "mosaic_width": float(acquisition.mosaic_shape[1])}
elif stage == "stitch":
    from stainworth.stages.stitch import stitch_acquisition
    field = stitch_acquisition(config.stitch, folder, out / "stitched")
    write_manifest(FieldsManifest(stage="stitch", config={}, config_hash="0" * 64,
                                  fields={field.acquisition_id: field}), out / "stitched")
    metrics = field.metrics
elif stage == "register":
    from stainworth.stages.register import register_fields
    metrics = next(iter(register_fields(config.registration, out / "stitched", out / "registered",
                                        nucleus_diameter_um=config.label.nucleus_diameter_um).fields.values())).metrics
elif stage == "label":
    from stainworth.stages.label import label_fields
    metrics = next(iter(label_fields(config.label, out / "stitched", out / "registered",
                                     out / "labelled").fields.values())).metrics
else:
    from stainworth.datasets import measure_nuclei
    from stainworth.stages.extract import extract_segmentation, open_mosaics
    labelled = read_manifest(FieldsManifest, out / "labelled")
    segmentation = config.extract.segmentation.model_copy(update={"counts": SplitCounts(**SEGMENTATION_ITEMS)})
    mosaics = open_mosaics(out / "stitched", out / "registered", out / "labelled", labelled, segmentation.channel)
    extract_segmentation(segmentation, mosaics, out / "segmentation", seed=0, fields=labelled, inputs={})
    mosaic = open_mosaics(out / "stitched", out / "registered", out / "labelled", labelled,
                          config.extract.classification.channel)[0]
    table = measure_nuclei(mosaic.label_free, mosaic.fluorescence, mosaic.labels,
                           canvas=config.extract.classification.canvas_px, condition=None,
                           fluorescence_channel=mosaic.fluorescence_channel)
    metrics = {"measured_nuclei": float(len(table))}
print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": peak_rss_mb(), "metrics": metrics}))
"""


@dataclass(frozen=True)
class StageProbe:
    """One stage's run in a process of its own."""

    stage: str
    seconds: float
    peak_bytes: float
    """The process's peak resident memory (libraries included)."""
    metrics: dict[str, float]
    """The stage's field metrics (position and registration errors, nuclei, Dice, ...)."""


def probe_prepare_stages(acquisition: str | Path, out: str | Path, config: PrepareConfig | None = None, *,
                         phantom: PhantomConfig | None = None, seed: int = 0) -> dict[str, StageProbe]:
    """Run the prepare stages on one acquisition folder, each in a fresh process.

    Parameters
    ----------
    acquisition
        One acquisition in the folder layout; with ``phantom``, where it is rendered first.
    out
        Scratch folder for the stages' outputs.
    config
        The prepare settings (the defaults when None).
    phantom
        Render a control acquisition of this phantom first, as ``ingest`` does (probe ``ingest``).
    seed
        The phantom's seed.

    Returns
    -------
    dict
        :class:`StageProbe` by stage: ``ingest`` (with ``phantom``), ``stitch``, ``register``,
        ``label``, ``extract``.

    Raises
    ------
    ConfigError
        A stage's process failed (its last error line is given).
    """
    settings = (config or PrepareConfig()).model_dump_json()
    stages = (("ingest",) if phantom is not None else ()) + PREPARE_STAGES
    extra = [phantom.model_dump_json(), str(seed)] if phantom is not None else []
    probes = {}
    for stage in stages:
        done = subprocess.run([sys.executable, "-c", STAGE_CHILD, stage, str(acquisition), str(out), settings, *extra],
                              capture_output=True, text=True, check=False, env=os.environ | TASK_ENVIRONMENT)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ConfigError(f"probe of the {stage} stage on {acquisition} failed: {reason}")
        result = json.loads(lines[-1])
        probes[stage] = StageProbe(stage, float(result["seconds"]), float(result["peak_mb"]) * 1024**2,
                                   {key: float(value) for key, value in result["metrics"].items()})
    return probes
