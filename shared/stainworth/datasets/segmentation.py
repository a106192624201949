"""Segmentation dataset: random square crops of label-free, fluorescence and binary nucleus mask.

Every crop also keeps the nuclei's instance labels (``instances``: the labels of the crop numbered
1..k, a nucleus cut by the crop's edge kept as the part inside), the truth of the per-object
scores (instance average precision, count error) of the segmentation networks.

The study cut random 256 x 256 crops from one registered 19,000 x 19,000 px mosaic (16,000 /
1,000 / 3,000 train / val / test) with the Cellpose masks as targets. Here the mosaic is first
partitioned into regions owned by the splits (:mod:`stainworth.datasets.splits`) and crops are
drawn inside their split's regions only, so no crop of one split overlaps a crop of another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from skimage.segmentation import relabel_sequential

from stainworth.datasets.mosaic import Mosaic, WindowReader
from stainworth.datasets.splits import (
    Region,
    RegionSplit,
    partition_bands,
    partition_blocks,
    sample_positions,
    validate_counts,
)
from stainworth.datasets.stats import dataset_statistics
from stainworth.datasets.storage import Dataset, DatasetWriter
from stainworth.errors import ConfigError, InputDataError


def split_regions(
    shape_yx: tuple[int, int], *, patch: int, counts: Mapping[str, int], seed: int,
    region_split: RegionSplit = "bands", block: int | None = None,
) -> list[Region]:
    """The disjoint regions of the mosaic owned by each split (see :func:`sample_segmentation_patches`)."""
    if patch < 1:
        raise ConfigError(f"patch: found {patch}; expected a positive number of pixels")
    if region_split == "bands":
        return partition_bands(shape_yx, counts, patch=patch)
    if region_split == "blocks":
        return partition_blocks(shape_yx, counts, patch=patch, block=block or 2 * patch, seed=seed)
    raise ConfigError(f"region_split: found {region_split!r}; expected 'bands' or 'blocks'")


def sample_segmentation_patches(
    shape_yx: tuple[int, int],
    *,
    patch: int = 256,
    counts: Mapping[str, int],
    seed: int,
    region_split: RegionSplit = "bands",
    block: int | None = None,
) -> dict[str, np.ndarray]:
    """Top-left corners of random crops, split by region so crops of different splits never overlap.

    Parameters
    ----------
    shape_yx
        (Y, X) size of the mosaic in px.
    patch
        Side of the square crops in px (256 in the study).
    counts
        Crops per split, e.g. ``{"train": 16000, "val": 1000, "test": 3000}``.
    seed
        Seed; the same arguments give the same positions.
    region_split
        ``"bands"``: one band per split across the mosaic's longer axis, sized so each split's
        crop density is equal (most usable area). ``"blocks"``: a grid of about ``block`` px
        blocks dealt to the splits by a seeded shuffle (spreads every split over the field).
    block
        Block side for ``"blocks"`` (default ``2 * patch``).

    Returns
    -------
    dict of str to numpy.ndarray
        Per split, (n, 2) int64 distinct top-left (y, x), sorted by y then x (read order).

    Raises
    ------
    InputDataError
        If the mosaic is too small for the splits, or a split's region holds fewer distinct crop
        positions than requested; the message gives the numbers.

    Examples
    --------
    >>> positions = sample_segmentation_patches((1024, 1024), patch=256,
    ...                                         counts={"train": 8, "val": 2, "test": 2}, seed=0)
    >>> {name: len(p) for name, p in positions.items()}
    {'train': 8, 'val': 2, 'test': 2}
    """
    wanted = validate_counts(counts)
    regions = split_regions(shape_yx, patch=patch, counts=wanted, seed=seed, region_split=region_split, block=block)
    streams = np.random.SeedSequence([int(seed), 0x5E6]).spawn(len(wanted))
    out = {}
    for (name, count), stream in zip(wanted.items(), streams, strict=True):
        mine = [region for region in regions if region.split == name]
        out[name] = sample_positions(mine, count, patch=patch, rng=np.random.default_rng(stream))
    return out


def _allocate(count: int, weights: Sequence[float]) -> list[int]:
    """Split ``count`` into integers proportional to ``weights`` (largest remainder)."""
    share = np.asarray(weights, dtype=np.float64) / float(np.sum(weights)) * count
    out = np.floor(share).astype(int)
    for index in np.argsort(-(share - out), kind="stable")[: count - int(out.sum())]:
        out[index] += 1
    return [int(v) for v in out]


def sample_segmentation_patches_multi(
    shapes_yx: Sequence[tuple[int, int]],
    *,
    patch: int = 256,
    counts: Mapping[str, int],
    seed: int,
    region_split: RegionSplit = "bands",
    block: int | None = None,
) -> dict[str, np.ndarray]:
    """Crops over several mosaics: each split's count is shared in proportion to mosaic area.

    Within every mosaic the crops are split by region as in :func:`sample_segmentation_patches`;
    crops of different mosaics never share pixels.

    Returns
    -------
    dict of str to numpy.ndarray
        Per split, (n, 3) int64 rows ``(mosaic index, y, x)``, sorted by mosaic, y, x.
    """
    wanted = validate_counts(counts)
    areas = [float(y) * float(x) for y, x in shapes_yx]
    per_mosaic = {name: _allocate(count, areas) for name, count in wanted.items()}
    parts: dict[str, list[np.ndarray]] = {name: [] for name in wanted}
    for index, shape in enumerate(shapes_yx):
        mine = {name: per_mosaic[name][index] for name in wanted}
        if sum(mine.values()) == 0:
            continue
        drawn = sample_segmentation_patches(shape, patch=patch, counts=mine, seed=int(seed) * 1_000_003 + index,
                                            region_split=region_split, block=block)
        for name, array in drawn.items():
            parts[name].append(np.column_stack([np.full(len(array), index, np.int64), array]))
    return {name: np.concatenate(arrays) if arrays else np.zeros((0, 3), np.int64) for name, arrays in parts.items()}


def _check_positions(
    positions: Mapping[str, np.ndarray], mosaics: Sequence[Mosaic], patch: int
) -> dict[str, np.ndarray]:
    checked = {}
    for name, values in positions.items():
        array = np.asarray(values, dtype=np.int64).reshape(-1, 3)
        for source, y, x in array:
            if not 0 <= source < len(mosaics):
                raise InputDataError(f"positions.{name}: mosaic index {source}; expected 0..{len(mosaics) - 1}")
            height, width = mosaics[int(source)].shape
            if y < 0 or x < 0 or y + patch > height or x + patch > width:
                raise InputDataError(f"positions.{name}: crop at (y {y}, x {x}) of {patch} px leaves the "
                                     f"{height}x{width} px mosaic '{mosaics[int(source)].source_id}'; "
                                     f"expected crops inside it")
        checked[name] = array
    return checked


def crop_instances(labels: np.ndarray) -> np.ndarray:
    """The instance labels of a crop renumbered 1..k in order of their first label (0 stays background).

    >>> crop_instances(np.array([[0, 7, 7], [3, 0, 9]])).tolist()
    [[0, 2, 2], [1, 0, 3]]
    """
    values = np.asarray(labels)
    if values.dtype.kind not in "iu":
        values = values.astype(np.int64)
    return relabel_sequential(values)[0].astype(np.int32, copy=False)


def _clear(readers: tuple[WindowReader, ...]) -> None:
    for reader in readers:
        reader.clear()


def extract_segmentation_dataset(
    label_free: Any,
    fluorescence: Any,
    labels: Any,
    positions: Mapping[str, np.ndarray],
    out_group: str | Path,
    *,
    patch: int = 256,
    fluorescence_channel: int = 0,
    source_id: str = "mosaic",
    chunk: int = 64,
    seed: int = 0,
    attrs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Dataset:
    """Cut the crops of one mosaic and write the segmentation dataset (streamed, chunk by chunk).

    Parameters
    ----------
    label_free
        (Y, X) registered label-free mosaic (``numpy.ndarray`` or ``zarr.Array``).
    fluorescence
        (Y, X) or (C, Y, X) fluorescence mosaic registered onto ``label_free``.
    labels
        (Y, X) integer nucleus instance labels; stored as the binary mask ``labels > 0`` and as
        the crop's instances renumbered 1..k (``instances``).
    positions
        Per split (n, 2) top-left (y, x), e.g. from :func:`sample_segmentation_patches`.
    out_group
        Dataset directory to create (must not exist or be empty); layout in
        :mod:`stainworth.datasets.storage`.
    patch
        Crop side in px.
    fluorescence_channel
        Channel of a (C, Y, X) fluorescence mosaic to store (the nuclear marker).
    source_id
        Name of the mosaic, stored in the dataset's ``sources``.
    chunk
        Items per zarr chunk (and per write).
    seed
        Seed of the pixel sample behind the percentile statistics.
    attrs
        Extra attributes to store (e.g. pixel size, modality, seeds).
    progress
        Optional callback receiving lines such as ``"segmentation train 128/800"``.

    Returns
    -------
    Dataset
        The opened dataset; ``stats`` holds the normalisation statistics of ``train``
        (or of the first split when there is no ``train``).
    """
    mosaic = Mosaic(label_free, fluorescence, labels, fluorescence_channel=fluorescence_channel,
                    source_id=source_id)
    tagged = {name: np.column_stack([np.zeros(len(np.asarray(p).reshape(-1, 2)), np.int64),
                                     np.asarray(p, dtype=np.int64).reshape(-1, 2)])
              for name, p in positions.items()}
    return extract_segmentation_dataset_multi([mosaic], tagged, out_group, patch=patch, chunk=chunk, seed=seed,
                                              attrs=attrs, progress=progress)


def extract_segmentation_dataset_multi(
    mosaics: Sequence[Mosaic],
    positions: Mapping[str, np.ndarray],
    out_group: str | Path,
    *,
    patch: int = 256,
    chunk: int = 64,
    seed: int = 0,
    attrs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Dataset:
    """Cut crops from several mosaics into one segmentation dataset.

    Parameters
    ----------
    mosaics
        The registered mosaics (their ``source_id`` are stored as the dataset's ``sources``).
    positions
        Per split (n, 3) rows ``(mosaic index, y, x)``, e.g. from
        :func:`sample_segmentation_patches_multi`.
    out_group, patch, chunk, seed, attrs, progress
        As in :func:`extract_segmentation_dataset`.
    """
    checked = _check_positions(positions, mosaics, patch)
    readers = [mosaic.readers(band_rows=max(1024, 2 * patch)) for mosaic in mosaics]
    with DatasetWriter(out_group, kind="segmentation", item_shape=(patch, patch),
                       counts={name: len(p) for name, p in checked.items()}, chunk=chunk, instances=True) as writer:
        for name, array in checked.items():
            split = writer.split(name)
            for k, (source, y, x) in enumerate(array):
                if k and source != array[k - 1, 0]:
                    _clear(readers[int(array[k - 1, 0])])
                lf, fl, lab = readers[int(source)]
                window = (int(y), int(y) + patch, int(x), int(x) + patch)
                crop = lab.read(*window)
                split.add(label_free=lf.read(*window).astype(np.float32),
                          fluorescence=fl.read(*window).astype(np.float32),
                          mask=(crop > 0).astype(np.uint8), instances=crop_instances(crop),
                          positions=np.array([y, x], dtype=np.int64), source=np.uint16(source))
                if progress is not None and ((k + 1) % (16 * chunk) == 0 or k + 1 == len(array)):
                    progress(f"segmentation {name} {k + 1}/{len(array)}")
            split.close()
        stats = dataset_statistics(writer.arrays, list(checked), chunk=chunk, seed=seed)
        channels = [mosaic.fluorescence_channel for mosaic in mosaics]
        extra = {"patch": patch, "fluorescence_channel": channels[0] if len(set(channels)) == 1 else channels,
                 **dict(attrs or {})}
        return writer.publish(sources=[mosaic.source_id for mosaic in mosaics], stats=stats, attrs=extra)
