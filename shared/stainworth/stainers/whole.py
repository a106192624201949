"""Stain a whole label-free mosaic file with a trained stainer, streaming from and to disk.

Inputs: a 2-D zarr array (``*.zarr``), a TIFF / OME-TIFF (read lazily through tifffile's zarr
view, so a 19,000 x 19,000 px mosaic is never in memory whole), or a PNG (read whole; PNG has no
random access). Output: a float32 zarr array of the same size, on the fluorescence scale, written
as ``<output>.partial`` and renamed into place when complete.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import zarr

from stainworth.errors import InputDataError
from stainworth.mosaic.chunked import create_array, open_array
from stainworth.stainers.artifact import load_stainer


class _Plane:
    """The (H, W) plane of an image stored with leading singleton axes, read by windows."""

    def __init__(self, array: Any, where: Path) -> None:
        shape = tuple(int(v) for v in array.shape)
        if len(shape) < 2 or any(v != 1 for v in shape[:-2]):
            raise InputDataError(f"{where}: image of shape {shape}; expected one 2-D label-free plane")
        self.array, self.shape = array, shape[-2:]
        self.lead = (0,) * (len(shape) - 2)

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        return np.asarray(self.array[(*self.lead, *key)], dtype=np.float32)


def open_label_free(path: str | Path) -> Any:
    """A lazily read (H, W) view of a label-free mosaic file (zarr, TIFF/OME-TIFF or PNG)."""
    source = Path(path)
    if not source.exists():
        raise InputDataError(f"{source}: no such file or folder")
    if source.suffix == ".zarr":
        return _Plane(open_array(source), source)
    if source.suffix.lower() in (".tif", ".tiff"):
        try:
            return _Plane(zarr.open_array(tifffile.imread(source, aszarr=True), mode="r"), source)
        except (tifffile.TiffFileError, ValueError, NotImplementedError) as error:
            raise InputDataError(f"{source}: not a readable TIFF ({error})") from None
    if source.suffix.lower() == ".png":
        from PIL import Image

        try:
            return _Plane(np.asarray(Image.open(source)), source)
        except OSError as error:
            raise InputDataError(f"{source}: not a readable PNG ({error})") from None
    raise InputDataError(f"{source}: unsupported suffix '{source.suffix}'; expected .zarr, .tif, .tiff or .png")


def stain_mosaic_file(stainer_dir: str | Path, input_path: str | Path, output_path: str | Path, *, tile: int = 512,
                      overlap: int = 64, batch: int = 4, progress: Callable[[str], None] | None = None) -> Path:
    """Virtually stain the label-free mosaic at ``input_path`` into the zarr array ``output_path``."""
    stainer = load_stainer(stainer_dir)
    source = open_label_free(input_path)
    target = Path(output_path)
    if target.exists():
        raise InputDataError(f"{target}: already exists; remove it or choose another output")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        out = create_array(partial, source.shape, dtype="float32")
        stainer.stain_mosaic(source, out, tile=tile, overlap=overlap, batch=batch, progress=progress)
        out.attrs.update({"stainer": str(Path(stainer_dir).resolve()), "source": str(Path(input_path).resolve()),
                          "architecture": stainer.config.architecture, "tile_px": tile, "overlap_px": overlap})
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    os.replace(partial, target)
    return target
