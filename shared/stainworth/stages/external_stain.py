"""The ``external_stainers`` stage: the virtual datasets of the stainers a lab trained elsewhere.

For each entry of ``stain.external`` and one dataset kind:

1. a **virtual mosaic** per field, in the label-free mosaic's frame: the model file applied to the
   stitched label-free mosaic with the whole-mosaic tiling (``stain.apply.tile_px``,
   ``overlap_px``, ``batch_size``), or the pre-computed images placed at the stitched tile
   positions and blended like the label-free tiles (:mod:`stainworth.stainers.external`);
2. the **virtual dataset**: every item of every split cut again from it at the item's position,
   with the item's mask and canvas (:func:`~stainworth.datasets.recut.cut_items`), masks, labels,
   positions and label-free images copied, so every comparison stays paired;
3. the **intensity scale**: the stainer's own units mapped onto the real fluorescence's by the two
   percentile normalisations of the training split (its 1st..99.8th percentile span onto the
   fluorescence's, the rule of the identity baseline in the stain report), recorded as
   ``scale.offset`` and ``scale.factor``;
4. the test split scored against the real fluorescence, as for the study's stainers.

Every check on the user's inputs (files missing, extra or of the wrong size; a model of the wrong
channel count or failing on one tile) runs for every stainer before any dataset is written.

Output: one folder per stainer, ``virtual_<name>/`` (a virtual dataset with its manifest, as an
``apply_stainer`` output), and a manifest listing them.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stainworth.contracts.acquisition import AcquisitionManifest
from stainworth.contracts.base import config_hash, validate_model
from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import MANIFEST_NAME, OutputManifest, write_manifest
from stainworth.contracts.stainer import DatasetKind, ExternalStainerConfig, StainConfig
from stainworth.datasets.folders import dataset_folder, read_dataset
from stainworth.datasets.mosaic import WindowReader
from stainworth.datasets.recut import cut_items
from stainworth.datasets.storage import Dataset
from stainworth.errors import InputDataError
from stainworth.fields import MOSAIC, TILE_POSITIONS, TILE_SHAPE, field_path, open_field_array
from stainworth.mosaic import assemble_mosaic
from stainworth.mosaic.chunked import create_array
from stainworth.nets.devices import resolve_device
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.progress import Progress
from stainworth.stainers.external import ExternalModel, check_external_model, input_scaling, load_external_model
from stainworth.stainers.external_images import TileReader, file_hash, file_tile_images, is_plate, plate_tile_images
from stainworth.stainers.tiling import stain_mosaic
from stainworth.stainers.train import dataset_normalisers
from stainworth.stainers.virtual_dataset import write_virtual_dataset
from stainworth.store import open_store
from stainworth.store.model_file import fetch_model_file


@dataclass
class _Source:
    """One external stainer, checked and ready: its model, or its images folder with the tile files found."""

    config: ExternalStainerConfig
    where: str
    fingerprint: str
    model: ExternalModel | None = None
    tiles: dict[str, list[TileReader]] | None = None


def external_stainers_stage(config: StainConfig, kind: DatasetKind, stitched_dir: str | Path, datasets_dir: str | Path,
                            output_dir: str | Path, *, acquisitions_prefix: str = "acquisitions",
                            store_uri: str | None = None) -> OutputManifest:
    """Write ``<output>/virtual_<name>/`` for every external stainer of ``config`` on the ``kind`` dataset.

    Parameters
    ----------
    config
        The stain configuration: ``external`` (the stainers) and ``apply`` (tiling, batch size).
    kind
        Which dataset.
    stitched_dir
        The ``stitch`` output (label-free mosaics and tile positions).
    datasets_dir
        The ``extract`` output.
    output_dir
        Where the virtual datasets and the manifest go.
    acquisitions_prefix
        Store prefix of the acquisition folders (``prepare.source.store_prefix``): their manifests
        name each tile's label-free file, which a pre-computed image mirrors.
    store_uri
        The store of the acquisitions and of model files given as store URIs.
    """
    data_manifest, dataset = read_dataset(dataset_folder(datasets_dir, kind), kind)
    sources = [str(s) for s in dataset.attrs.get("sources", data_manifest.sources)]
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, DatasetManifest] = {}
    with tempfile.TemporaryDirectory(prefix="stainworth-external-") as scratch_dir:
        scratch = Path(scratch_dir)
        store = open_store(store_uri or None)
        manifests = {}
        if any(external.images is not None for external in config.external):
            manifests = {fid: validate_model(AcquisitionManifest, store.read_json(f"{acquisitions_prefix}/{fid}/"
                                                                                 f"{MANIFEST_NAME}"),
                                             where=f"{store.uri}/{acquisitions_prefix}/{fid}/{MANIFEST_NAME}")
                         for fid in sources}
        checked = [_checked(external, k, config.apply.tile_px, manifests, scratch, config.training.device)
                   for k, external in enumerate(config.external)]
        try:
            for source in checked:
                mosaics = _virtual_mosaics(source, config, Path(stitched_dir), sources, manifests, scratch)
                target = out / source.config.modality
                written[source.config.modality] = _virtual_dataset(source, dataset, data_manifest, mosaics, target)
        except BaseException:
            for modality in [*written, *(source.config.modality for source in checked)]:
                shutil.rmtree(out / modality, ignore_errors=True)
            raise
    summary = OutputManifest(
        stage="external_stainers", config=config.model_dump(mode="json", include={"external", "apply"}),
        config_hash=config_hash(config), input_hashes={kind: data_manifest.content_hash},
        counts={"stainers": len(written)}, paths={m: [f"{m}/{MANIFEST_NAME}"] for m in written},
        metrics={f"{m}.{key}": value for m, manifest in written.items() for key, value in manifest.metrics.items()})
    return write_manifest(summary, out)


def _checked(external: ExternalStainerConfig, index: int, tile: int, manifests: dict[str, AcquisitionManifest],
             scratch: Path, device: str) -> _Source:
    """Fetch and check one stainer's inputs; one line naming the profile field when they are wrong."""
    if external.model is not None:
        where = f"stain.external[{index}].model"
        path = fetch_model_file(external.model, scratch / f"model-{index}", field=where)
        model = load_external_model(path, str(external.model_format), device=str(resolve_device(device)), where=where)
        check_external_model(model, tile)
        return _Source(external, where, file_hash(path), model=model)
    where = f"stain.external[{index}].images"
    folder = _images_folder(str(external.images), list(manifests), scratch / f"images-{index}", where)
    if is_plate(folder):
        images = plate_tile_images(folder, manifests, channel=external.channel, z=external.z, where=where)
    elif external.channel is not None:
        raise InputDataError(f"{where}: {folder} is not an OME-Zarr plate, but channel '{external.channel}' is "
                             "given; a folder of image files has no channels to choose")
    else:
        images = file_tile_images(folder, manifests, where=where)
    return _Source(external, where, images.fingerprint, tiles=images.readers)


def _images_folder(uri: str, acquisition_ids: list[str], scratch: Path, where: str) -> Path:
    """A local folder for the pre-computed images: the path itself, or the store URI's files downloaded."""
    if uri.startswith("s3://"):
        store = open_store(uri)
        keys = store.list("")
        plate = any(key in ("zarr.json", ".zattrs") for key in keys)
        for key in keys if plate else [key for fid in acquisition_ids for key in store.list(fid)]:
            store.get_file(key, scratch / key)
        return scratch
    folder = Path(uri[len("file://"):] if uri.startswith("file://") else uri)
    if not folder.is_dir():
        raise InputDataError(f"{where}: {folder} is not a folder; expected one sub-folder per acquisition")
    return folder


def _virtual_mosaics(source: _Source, config: StainConfig, stitched: Path, field_ids: list[str],
                     manifests: dict[str, AcquisitionManifest], scratch: Path) -> list[Any]:
    """One virtual (H, W) float32 zarr mosaic per field, in the dataset's ``sources`` order."""
    name = source.config.name
    progress = Progress(f"external {name}", len(field_ids))
    mosaics = []
    for fid in field_ids:
        label_free = open_field_array(stitched, fid, MOSAIC, "label_free")
        shape = tuple(int(v) for v in label_free.shape)
        out = create_array(scratch / f"{name}-{fid}.zarr", shape, dtype="float32")
        if source.model is not None:
            offset, scale = input_scaling(label_free, source.config.input_normalisation)
            model = source.model

            def predict(batch: np.ndarray, model: ExternalModel = model, offset: float = offset,
                        scale: float = scale) -> np.ndarray:
                return model((batch - np.float32(offset)) / np.float32(scale))

            stain_mosaic(predict, label_free, out, tile=config.apply.tile_px, overlap=config.apply.overlap_px,
                         batch=config.apply.batch_size)
        else:
            _place_tiles(source, fid, stitched, manifests[fid], out)
        mosaics.append(out)
        progress.step(f"{fid}: {shape[0]} x {shape[1]} px")
    return mosaics


def _place_tiles(source: _Source, fid: str, stitched: Path, acquisition: AcquisitionManifest, out: Any) -> None:
    import zarr

    attrs = zarr.open_group(str(field_path(stitched, fid, MOSAIC)), mode="r").attrs
    if TILE_POSITIONS not in attrs:
        raise InputDataError(f"{source.where}: field '{fid}' was stitched without tile positions (an earlier "
                             "stainworth); prepare it again (a new store, or any change of prepare.stitch)")
    positions = np.asarray(attrs[TILE_POSITIONS], dtype=np.float64)
    height, width = (int(v) for v in np.asarray(attrs[TILE_SHAPE], dtype=np.int64))
    shape = (height, width)
    readers = (source.tiles or {})[fid]
    if len(readers) != len(positions):
        raise InputDataError(f"{source.where}: acquisition '{fid}' has {len(readers)} tiles but was stitched from "
                             f"{len(positions)}")
    assemble_mosaic(lambda k: readers[k](), positions, out, tile_shape=shape)


def _virtual_dataset(source: _Source, dataset: Dataset, data_manifest: DatasetManifest, mosaics: list[Any],
                     out: Path) -> DatasetManifest:
    """Cut every split from the virtual mosaics, on the fluorescence scale; score the test split; manifest last."""
    readers = [WindowReader(mosaic) for mosaic in mosaics]
    kind = data_manifest.kind
    own, target = _normalisers(readers, dataset, kind)

    def virtual_of(items: dict[str, np.ndarray]) -> np.ndarray:
        cut = cut_items(readers, items["source"], items["positions"], items["mask"], kind=kind)
        return target.invert(own.apply(cut))

    virtual_set, metrics, paths = write_virtual_dataset(
        dataset, out, virtual_of, progress=f"external {source.config.name}: cut",
        attrs={"stainer": source.fingerprint, "external": source.config.name,
               "source_dataset": data_manifest.content_hash})
    for reader in readers:
        reader.clear()
    factor = target.scale / own.scale
    metrics = {"scale.offset": float(target.low - own.low * factor), "scale.factor": float(factor)} | metrics
    manifest = data_manifest.model_copy(update={
        "stage": "external_stainers", "config": source.config.model_dump(mode="json"),
        "config_hash": config_hash(source.config),
        "input_hashes": {kind: data_manifest.content_hash, "stainer": source.fingerprint},
        "counts": virtual_set.counts, "splits": virtual_set.counts, "metrics": metrics, "paths": paths,
        "content_hash": ""})
    return write_manifest(manifest, out)


def _normalisers(readers: list[WindowReader], dataset: Dataset, kind: str
                 ) -> tuple[PercentileNormaliser, PercentileNormaliser]:
    """The virtual training items' percentile normaliser and the real fluorescence's.

    ``target.invert(own.apply(x))`` takes the stainer's units onto the real fluorescence's (the
    identity baseline's rule).
    """
    arrays = dataset.arrays("train")
    count = int(arrays["label_free"].shape[0])
    index = np.unique(np.linspace(0, count - 1, min(count, 256)).round().astype(int))
    picked = {name: np.asarray(arrays[name].get_orthogonal_selection((index,)))
              for name in ("source", "positions", "mask")}
    sample = cut_items(readers, picked["source"], picked["positions"], picked["mask"], kind=kind)
    return PercentileNormaliser.fit(sample), dataset_normalisers(dataset)[1]
