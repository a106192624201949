"""Whole-mosaic staining: normalisation around the tiles, files in and out, refusals."""

import numpy as np
import pytest
import tifffile
import zarr
from torch import nn

from stainworth.cli import main
from stainworth.contracts.stainer import StainerTrainConfig
from stainworth.datasets.storage import write_dataset
from stainworth.errors import InputDataError
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.stainers.artifact import TrainedStainer
from stainworth.stainers.train import train_stainer
from stainworth.stainers.whole import stain_mosaic_file


def test_tiles_are_normalised_in_and_mapped_back_out():
    stainer = TrainedStainer(generator=nn.Identity(), config=StainerTrainConfig(),
                             input_normaliser=PercentileNormaliser(10.0, 20.0),
                             output_normaliser=PercentileNormaliser(100.0, 500.0), info={})
    source = np.random.default_rng(0).uniform(10, 20, size=(300, 410)).astype(np.float32)
    out = np.zeros_like(source)
    stainer.stain_mosaic(source, out, tile=128, overlap=32, batch=3)
    assert np.allclose(out, 100.0 + (source - 10.0) * 40.0, atol=1e-2)


@pytest.fixture(scope="module")
def stainer_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("whole")
    rng = np.random.default_rng(0)

    def split(n):
        x = rng.random((n, 32, 32)).astype(np.float32)
        return {"label_free": x, "fluorescence": 2 * x, "mask": np.zeros((n, 32, 32), np.uint8),
                "positions": np.zeros((n, 2), np.int64), "source": np.zeros(n, np.uint16)}

    dataset = write_dataset(root / "set", {"train": split(8), "val": split(4)}, None, None, kind="segmentation",
                            sources=["a"])
    config = StainerTrainConfig.model_validate({"architecture": "pix2pixhd", "batch_size": 4, "max_epochs": 1,
                                                "pix2pixhd": {"ngf": 8, "n_blocks": 1, "n_blocks_local": 1,
                                                              "ndf": 8, "num_d": 1, "n_downsampling": 2}})
    train_stainer(config, dataset, root / "work", root / "output" / "stainer", log=lambda line: None)
    return root / "output" / "stainer"


def test_a_tiff_mosaic_is_stained_into_a_zarr_array(stainer_dir, tmp_path, capsys):
    image = np.random.default_rng(1).random((1, 300, 500)).astype(np.float32)
    tifffile.imwrite(tmp_path / "mosaic.tif", image)
    code = main(["stain-mosaic", str(stainer_dir), str(tmp_path / "mosaic.tif"), str(tmp_path / "virtual.zarr"),
                 "--tile", "128", "--overlap", "16"])
    assert code == 0 and "stain-mosaic 1/1" in capsys.readouterr().out
    out = zarr.open_array(str(tmp_path / "virtual.zarr"), mode="r")
    assert out.shape == (300, 500) and np.all(np.isfinite(out[:])) and out.attrs["architecture"] == "pix2pixhd"
    assert not (tmp_path / "virtual.zarr.partial").exists()
    again = tmp_path / "from-zarr.zarr"
    source = zarr.create_array(str(tmp_path / "mosaic.zarr"), shape=(300, 500), chunks=(128, 128), dtype="float32")
    source[:] = image[0]
    stain_mosaic_file(stainer_dir.parent, tmp_path / "mosaic.zarr", again, tile=128, overlap=16)  # the task output
    assert np.array_equal(zarr.open_array(str(again), mode="r")[:], out[:])


def test_bad_inputs_get_one_line_and_nothing_is_written(stainer_dir, tmp_path, capsys):
    (tmp_path / "image.jpg").write_bytes(b"x")
    with pytest.raises(InputDataError, match="unsupported suffix '.jpg'"):
        stain_mosaic_file(stainer_dir, tmp_path / "image.jpg", tmp_path / "out.zarr")
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 40, 40), np.float32), photometric="minisblack")
    with pytest.raises(InputDataError, match=r"shape \(3, 40, 40\); expected one 2-D label-free plane"):
        stain_mosaic_file(stainer_dir, tmp_path / "stack.tif", tmp_path / "out.zarr")
    (tmp_path / "broken.tif").write_bytes(b"II*\x00garbage")
    assert main(["stain-mosaic", str(stainer_dir), str(tmp_path / "broken.tif"), str(tmp_path / "out.zarr")]) == 2
    assert capsys.readouterr().err.startswith("stainworth: error: ") and not (tmp_path / "out.zarr").exists()
    assert not (tmp_path / "out.zarr.partial").exists()
    tifffile.imwrite(tmp_path / "ok.tif", np.zeros((40, 40), np.float32))
    (tmp_path / "taken.zarr").mkdir()
    with pytest.raises(InputDataError, match="already exists"):
        stain_mosaic_file(stainer_dir, tmp_path / "ok.tif", tmp_path / "taken.zarr")
