"""Registered phantom fields and single-nucleus canvases of both modalities, without stitching or registering.

A phantom acquisition knows where its tiles were imaged (``true_positions``) and how the
fluorescence camera maps onto the QPI camera (``fluorescence_to_qpi``). :func:`register_by_truth`
uses both: the measured QPI tiles and the camera fluorescence tiles are blended at their true
positions (:func:`stainworth.mosaic.blend.assemble_mosaic`) and the fluorescence mosaic is resampled
into the QPI frame through the true affine (:func:`stainworth.mosaic.warp.warp_to_fixed`), so the
label-free image, the fluorescence and the ground-truth nucleus labels are registered exactly: what
the pipeline's stitch and register stages would give without their errors.

:func:`collect_nuclei` renders fields until enough nuclei of each class are usable and cuts them
as the pipeline's classification dataset does (:mod:`stainworth.datasets.classification`: each
nucleus masked and centred on a black canvas, nuclei cut by the border or too large skipped, IQR
outliers of the area removed per condition, a 1:1 draw into train/val/test), with the phantom's
ground-truth labels as the nucleus masks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd

from stainworth.contracts.phantom import PhantomConfig
from stainworth.datasets.classification import STATUS_OK, extract_nuclei
from stainworth.datasets.outliers import filter_outliers
from stainworth.datasets.splits import CLASSES, balance_and_split
from stainworth.errors import ConfigError, InputDataError
from stainworth.mosaic.blend import assemble_mosaic
from stainworth.mosaic.warp import warp_to_fixed
from stainworth.phantom import Acquisition, generate_acquisition
from stainworth.phantom.generate import FLUORESCENCE_CHANNELS

CLASSIFICATION_CHANNEL = "h3k27me3"
"""The fluorescence channel of the classification task (the study: H3K27me3)."""
SPLIT_SHARES = {"train": 0.5, "val": 0.2, "test": 0.3}
"""Share of each class's nuclei in each split."""
MIN_NUCLEI_PER_CLASS = 40
"""Fewest nuclei per class: the observer needs 11 training images per class, the AUCs 2 test cases."""
Condition = Literal["control", "treated"]
MAX_FIELDS = 400
"""Fields rendered at most per condition before giving up."""


@dataclass(frozen=True)
class RegisteredField:
    """One phantom field with both modalities and the ground-truth labels in the QPI (mosaic) frame.

    Attributes
    ----------
    label_free : numpy.ndarray
        (H, W) float32 measured (TIE-retrieved) phase, rad.
    fluorescence : numpy.ndarray
        (C, H, W) float32 camera counts in the QPI frame; NaN where the fluorescence camera saw nothing.
    channels : tuple of str
        Name of each fluorescence channel.
    labels : numpy.ndarray
        (H, W) uint32 ground-truth nucleus labels.
    condition, source : str
        ``control`` or ``treated``; a name of the field.
    pixel_size_um : float
        Pixel size, um.
    """

    label_free: np.ndarray
    fluorescence: np.ndarray
    channels: tuple[str, ...]
    labels: np.ndarray
    condition: str
    source: str
    pixel_size_um: float

    def channel(self, name: str) -> np.ndarray:
        """(H, W) fluorescence of one channel."""
        return self.fluorescence[self.channels.index(name)]

    def valid_box(self) -> tuple[slice, slice]:
        """The largest box, equally inset from every edge, where every fluorescence pixel is defined."""
        valid = np.isfinite(self.fluorescence).all(axis=0)
        height, width = valid.shape
        for inset in range(min(height, width) // 2):
            box = (slice(inset, height - inset), slice(inset, width - inset))
            if valid[box].all():
                return box
        raise InputDataError(f"field {self.source}: no part of the mosaic is covered by the fluorescence camera")


def register_by_truth(acquisition: Acquisition, *, source: str = "field") -> RegisteredField:
    """Blend the tiles of both modalities at their true positions and warp the fluorescence by the true affine.

    Parameters
    ----------
    acquisition
        A phantom acquisition (:func:`stainworth.phantom.generate_acquisition`).
    source
        Name of the field.

    Returns
    -------
    RegisteredField
    """
    height, width = acquisition.mosaic_shape
    positions = acquisition.true_positions
    label_free = np.zeros((height, width), np.float32)
    assemble_mosaic(lambda k: acquisition.qpi_tiles[k], positions, label_free)
    channels = tuple(FLUORESCENCE_CHANNELS)
    camera = np.zeros((len(channels), height, width), np.float32)
    assemble_mosaic(lambda k: np.stack([acquisition.fluorescence_tiles[c][k] for c in channels]), positions, camera)
    fluorescence = np.zeros_like(camera)
    warp_to_fixed(camera, acquisition.fluorescence_to_qpi, fluorescence, fill=np.nan)
    return RegisteredField(label_free=label_free, fluorescence=fluorescence, channels=channels,
                           labels=acquisition.nuclei_labels, condition=acquisition.condition, source=source,
                           pixel_size_um=acquisition.pixel_size_um)


@dataclass(frozen=True)
class NucleusCrops:
    """Single nuclei of both classes on black canvases, drawn 1:1 into train/val/test.

    Attributes
    ----------
    label_free, fluorescence : numpy.ndarray
        (n, S, S) float32 canvases: measured phase (rad) and H3K27me3 camera counts, zero outside the nucleus.
    mask : numpy.ndarray
        (n, S, S) uint8 ground-truth nucleus masks.
    label : numpy.ndarray
        (n,) uint8, 0 control, 1 treated.
    split : numpy.ndarray
        (n,) str, ``train``, ``val`` or ``test``.
    table : pandas.DataFrame
        One row per nucleus (source, label_id, area_px, condition, split, label, ...), in array order.
    fields : int
        Fields rendered.
    """

    label_free: np.ndarray
    fluorescence: np.ndarray
    mask: np.ndarray
    label: np.ndarray
    split: np.ndarray
    table: pd.DataFrame
    fields: int

    def image(self, modality: str) -> np.ndarray:
        """The canvases of ``label_free`` or ``fluorescence``."""
        return self.label_free if modality == "label_free" else self.fluorescence

    def where(self, split: str) -> np.ndarray:
        """Indices of one split's nuclei."""
        return np.flatnonzero(self.split == split)


def split_counts(nuclei_per_class: int) -> dict[str, int]:
    """Nuclei per split (both classes together, even numbers) for ``nuclei_per_class`` of each class.

    Examples
    --------
    >>> split_counts(2000)
    {'train': 2000, 'val': 800, 'test': 1200}
    """
    if isinstance(nuclei_per_class, bool) or not isinstance(nuclei_per_class, (int, np.integer)) \
            or nuclei_per_class < MIN_NUCLEI_PER_CLASS:
        raise ConfigError(f"nuclei per class: found {nuclei_per_class!r}; expected an integer >= "
                          f"{MIN_NUCLEI_PER_CLASS}")
    test = int(round(SPLIT_SHARES["test"] * nuclei_per_class))
    val = int(round(SPLIT_SHARES["val"] * nuclei_per_class))
    return {"train": 2 * (int(nuclei_per_class) - test - val), "val": 2 * val, "test": 2 * test}


def field_seed(seed: int, index: int) -> int:
    """Reproducible seed of field ``index`` (the phantom adds the condition to it)."""
    return int(np.random.SeedSequence([int(seed), int(index), 0x5EF]).generate_state(1)[0])


def _usable(table: pd.DataFrame, iqr_k: float) -> pd.Series:
    """Nuclei on the canvas, with a defined fluorescence, inside the per-condition IQR fences of the area."""
    defined = table.assign(status=np.where(np.isfinite(table["fluorescence_mean"]), table["status"], "no_fluorescence"))
    return filter_outliers(defined, k=iqr_k)


def collect_nuclei(config: PhantomConfig, *, nuclei_per_class: int, seed: int, canvas: int = 48,
                   iqr_k: float = 1.5, on_field: Callable[[RegisteredField], None] | None = None,
                   progress: Callable[[str], None] | None = None) -> NucleusCrops:
    """Render fields until ``nuclei_per_class`` usable nuclei of each class exist; draw and cut them.

    Parameters
    ----------
    config
        Phantom configuration.
    nuclei_per_class
        Nuclei of each class in the result (split by :data:`SPLIT_SHARES`).
    seed
        Seed of the fields and of the draw.
    canvas
        Canvas side, px (the ``mini`` profile: 48).
    iqr_k
        Fence multiplier of the per-condition outlier removal on the nucleus area.
    on_field
        Called with every rendered field (e.g. to segment it) before it is dropped.
    progress
        Receives one line per rendered field.

    Returns
    -------
    NucleusCrops

    Raises
    ------
    ConfigError
        ``nuclei_per_class`` below :data:`MIN_NUCLEI_PER_CLASS`.
    InputDataError
        Fewer usable nuclei than asked after :data:`MAX_FIELDS` fields of a condition.
    """
    counts = split_counts(nuclei_per_class)
    tables: list[pd.DataFrame] = []
    canvases: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    rendered, have = dict.fromkeys(CLASSES, 0), dict.fromkeys(CLASSES, 0)
    short = list(CLASSES)
    while short:
        for condition in short:
            if rendered[condition] >= MAX_FIELDS:
                raise InputDataError(f"{rendered[condition]} {condition} fields gave {have[condition]} usable nuclei; "
                                     f"expected {nuclei_per_class} (lower the nuclei per class)")
            source = f"{condition}-{rendered[condition]:03d}"
            acquisition = generate_acquisition(config, condition=cast(Condition, condition),
                                               seed=field_seed(seed, rendered[condition]))
            registered = register_by_truth(acquisition, source=source)
            nuclei = extract_nuclei(registered.label_free, registered.fluorescence, registered.labels,
                                    canvas=canvas, condition=condition, source_id=source,
                                    fluorescence_channel=registered.channels.index(CLASSIFICATION_CHANNEL))
            tables.append(nuclei.table)
            canvases[source] = (nuclei.label_free, nuclei.fluorescence, nuclei.mask)
            rendered[condition] += 1
            if on_field is not None:
                on_field(registered)
            if progress is not None:
                progress(f"field {source}: {int((nuclei.table['status'] == STATUS_OK).sum())} nuclei on the canvas")
        table = pd.concat(tables, ignore_index=True)
        keep = _usable(table, iqr_k)
        have = {c: int((keep & (table["condition"] == c)).sum()) for c in CLASSES}
        short = [c for c in CLASSES if have[c] < nuclei_per_class]
    drawn = balance_and_split(table[keep], counts=counts, seed=seed)
    return _cut(drawn, tables, canvases, fields=sum(rendered.values()))


def _cut(drawn: pd.DataFrame, tables: list[pd.DataFrame],
         canvases: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], *, fields: int) -> NucleusCrops:
    """Gather the canvases of the drawn nuclei (canvases are stored per field in the order of its ok rows)."""
    position = {}
    for table in tables:
        ok = table[table["status"] == STATUS_OK]
        position.update({(s, int(i)): k for k, (s, i) in enumerate(zip(ok["source"], ok["label_id"], strict=True))})
    rows = [(source, position[(source, int(label_id))]) for source, label_id in
            zip(drawn["source"], drawn["label_id"], strict=True)]
    label_free, fluorescence, mask = (np.stack([canvases[s][part][k] for s, k in rows]) for part in range(3))
    return NucleusCrops(label_free=label_free, fluorescence=fluorescence, mask=mask,
                        label=drawn["label"].to_numpy(np.uint8), split=drawn["split"].to_numpy(str),
                        table=drawn.reset_index(drop=True), fields=fields)
