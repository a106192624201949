"""Tiled acquisitions: phantom tiles written as a lab would, then ingested."""

import numpy as np
import pytest
import tifffile
import yaml

from stainworth.contracts.phantom import PhantomConfig
from stainworth.errors import ConfigError, InputDataError
from stainworth.ingest import ingest_acquisition
from stainworth.io.acquisition import load_tile, read_acquisition
from stainworth.phantom import generate_acquisition

CHANNELS = [{"name": "lamin_a_c", "marker": "Lamin A/C"}, {"name": "h3k27me3", "marker": "H3K27me3"}]


@pytest.fixture(scope="module")
def phantom():
    config = PhantomConfig.model_validate({"acquisition": {"rows": 2, "cols": 2, "tile_size_px": 128, "overlap": 0.2,
                                                           "stage_jitter_px": 1.0},
                                           "cells": {"cell_radius_um": [6.0, 9.0], "nucleus_radius_um": [3.0, 4.5]}})
    return generate_acquisition(config, condition="treated", seed=5)


def write_lab_files(folder, acq, *, float_fluorescence=False):
    """Tile (0, 0) as one (C, Y, X) file, the others one file per channel; stage origin at (1000, 2000)."""
    tiles = []
    for k, (row, col) in enumerate(acq.tile_index):
        tifffile.imwrite(folder / f"t{k}_phase.tif", acq.qpi_tiles[k])
        stack = np.stack([acq.fluorescence_tiles[c["name"]][k] for c in CHANNELS])
        if float_fluorescence:
            stack = stack.astype(np.float32) / 7
        y, x = (int(v) for v in acq.nominal_positions[k])
        entry = {"row": row, "col": col, "position_yx": [y + 1000, x + 2000], "label_free": f"t{k}_phase.tif"}
        if k == 0:
            tifffile.imwrite(folder / "t0_fl.tif", stack)
            entry["fluorescence"] = "t0_fl.tif"
        else:
            for c, channel in enumerate(CHANNELS):
                tifffile.imwrite(folder / f"t{k}_{channel['name']}.tif", stack[c])
            entry["fluorescence"] = {channel["name"]: f"t{k}_{channel['name']}.tif" for channel in CHANNELS}
        tiles.append(entry)
    return tiles


def spec_file(folder, tiles, **changes):
    spec = {"acquisition_id": "tiled", "condition": "treated", "pixel_size_um": 0.32,
            "label_free": {"modality": "qpi"}, "fluorescence": CHANNELS, "tiles": tiles, **changes}
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_tiled_acquisition_round_trip(phantom, tmp_path):
    tiles = write_lab_files(tmp_path, phantom)
    manifest = ingest_acquisition(spec_file(tmp_path, tiles), tmp_path / "acq")
    read = read_acquisition(tmp_path / "acq")
    assert read.tile_size_yx == (128, 128) and len(read.tiles) == 4
    assert [t.position_yx for t in read.tiles] == [tuple(int(v) for v in p) for p in phantom.nominal_positions]
    assert read.overlap == pytest.approx(0.2, abs=0.01)
    assert [c.dtype for c in read.channels] == ["float32", "uint16", "uint16"]
    for k, tile in enumerate(manifest.tiles):
        np.testing.assert_array_equal(load_tile(tmp_path / "acq", tile, "label_free"), phantom.qpi_tiles[k])
        fluorescence = load_tile(tmp_path / "acq", tile, "fluorescence")
        np.testing.assert_array_equal(fluorescence[1], phantom.fluorescence_tiles["h3k27me3"][k])


def test_float_fluorescence_is_stored_as_float32(phantom, tmp_path):
    tiles = write_lab_files(tmp_path, phantom, float_fluorescence=True)
    manifest = ingest_acquisition(spec_file(tmp_path, tiles, overlap=0.15), tmp_path / "acq")
    assert [c.dtype for c in manifest.channels][1:] == ["float32", "float32"] and manifest.overlap == 0.15
    fluorescence = load_tile(tmp_path / "acq", manifest.tiles[2], "fluorescence")
    assert fluorescence.dtype == np.float32


def test_tiles_that_do_not_overlap(phantom, tmp_path):
    tiles = write_lab_files(tmp_path, phantom)
    tiles[1]["position_yx"] = [1000, 2000 + 130]
    with pytest.raises(InputDataError, match=r"tiles r0 c0 and r0 c1: positions \(1000, 2000\) and \(1000, 2130\) "
                                             r"give -2 px of overlap for 128 px tiles"):
        ingest_acquisition(spec_file(tmp_path, tiles), tmp_path / "acq")
    assert not (tmp_path / "acq").exists()


def test_wrong_channel_count_in_a_multichannel_file(phantom, tmp_path):
    tiles = write_lab_files(tmp_path, phantom)
    tifffile.imwrite(tmp_path / "t0_fl.tif", np.zeros((3, 128, 128), np.uint16), photometric="minisblack")
    with pytest.raises(InputDataError, match=r"t0_fl.tif \(spec field tiles\[0\].fluorescence\): found shape "
                                             r"\(3, 128, 128\); expected 2 channels as \(C, Y, X\)"):
        ingest_acquisition(spec_file(tmp_path, tiles), tmp_path / "acq")


def test_tiles_of_different_sizes(phantom, tmp_path):
    tiles = write_lab_files(tmp_path, phantom)
    tifffile.imwrite(tmp_path / "t3_phase.tif", np.zeros((120, 128), np.float32))
    for channel in CHANNELS:
        tifffile.imwrite(tmp_path / f"t3_{channel['name']}.tif", np.zeros((120, 128), np.uint16))
    with pytest.raises(InputDataError, match="tile r1 c1: 120x128 px but tile r0 c0 is 128x128 px"):
        ingest_acquisition(spec_file(tmp_path, tiles), tmp_path / "acq")


def test_tile_spec_errors(phantom, tmp_path):
    tiles = write_lab_files(tmp_path, phantom)
    with pytest.raises(ConfigError, match="tile row 0 col 1 is listed twice"):
        ingest_acquisition(spec_file(tmp_path, tiles + [tiles[1]]), tmp_path / "acq")
    with pytest.raises(ConfigError, match=r"fluorescence names \['dapi', 'h3k27me3'\] differ from the channels"):
        bad = [dict(t) for t in tiles]
        bad[1]["fluorescence"] = {"dapi": "x.tif", "h3k27me3": "y.tif"}
        ingest_acquisition(spec_file(tmp_path, bad), tmp_path / "acq")
    with pytest.raises(ConfigError, match="with 'tiles', give files per tile only"):
        ingest_acquisition(spec_file(tmp_path, tiles, label_free={"modality": "qpi", "files": ["t0_phase.tif"]}),
                           tmp_path / "acq")
    with pytest.raises(ConfigError, match="tiles is an empty list"):
        ingest_acquisition(spec_file(tmp_path, []), tmp_path / "acq")


def test_scale_and_offset(phantom, tmp_path):
    tiles = write_lab_files(tmp_path, phantom)
    manifest = ingest_acquisition(
        spec_file(tmp_path, tiles, label_free={"modality": "qpi", "scale": 0.5, "offset": -1.0}), tmp_path / "acq")
    np.testing.assert_allclose(load_tile(tmp_path / "acq", manifest.tiles[0], "label_free"),
                               phantom.qpi_tiles[0] * 0.5 - 1.0, rtol=1e-6)
