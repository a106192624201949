"""Model files and pre-computed images of external stainers: loading, checking, scaling, finding tiles."""

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from stainworth.contracts.stainer import InputNormalisation
from stainworth.errors import InputDataError
from stainworth.stainers.external import check_external_model, input_scaling, load_external_model
from stainworth.stainers.external_images import find_tile_image, read_tile_image


class Affine(torch.nn.Module):
    """``2 x + 1`` as a 1x1 convolution (one channel in, ``out`` channels out), for TorchScript."""

    def __init__(self, out=1):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, out, 1)
        with torch.no_grad():
            self.conv.weight.fill_(2.0)
            self.conv.bias.fill_(1.0)

    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize("model_format", ["onnx", "torchscript"])
def test_a_model_file_runs_as_a_numpy_function(tmp_path, affine_onnx, model_format):
    if model_format == "onnx":
        path = affine_onnx(tmp_path / "m.onnx")
    else:
        path = tmp_path / "m.pt"
        torch.jit.script(Affine()).save(str(path))
    model = load_external_model(path, model_format, where="stain.external[0].model")
    batch = np.random.default_rng(0).random((3, 1, 40, 24), dtype=np.float32)
    np.testing.assert_allclose(model(batch), 2 * batch + 1, rtol=1e-6)
    check_external_model(model, 64)


def test_a_model_with_two_output_channels_is_refused_at_load(tmp_path, affine_onnx):
    path = affine_onnx(tmp_path / "two.onnx", out_channels=2)
    with pytest.raises(InputDataError, match=r"stain.external\[1\].model: the ONNX model's output 'y' has shape"):
        load_external_model(path, "onnx", where="stain.external[1].model")


def test_a_torchscript_model_with_two_output_channels_is_refused_on_one_tile(tmp_path):
    path = tmp_path / "two.pt"
    torch.jit.script(Affine(out=2)).save(str(path))
    model = load_external_model(path, "torchscript", where="m")
    with pytest.raises(InputDataError, match=r"m: the model returned shape \(1, 2, 32, 32\) for input \(1, 1, 32, "):
        check_external_model(model, 32)


class Picky(torch.nn.Module):
    def forward(self, x):
        if x.shape[-1] != 16:
            raise RuntimeError("only 16 px tiles")
        return x


def test_a_model_that_fails_on_a_tile_is_one_line_naming_it(tmp_path):
    path = tmp_path / "picky.pt"
    torch.jit.script(Picky()).save(str(path))
    model = load_external_model(path, "torchscript", where="stain.external[0].model")
    check_external_model(model, 16)
    with pytest.raises(InputDataError) as error:
        check_external_model(model, 32)
    assert str(error.value).startswith("stain.external[0].model: the model failed on a batch of shape (1, 1, 32, 32)")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(("name", "content", "model_format"), [("x.onnx", b"not a model", "onnx"),
                                                               ("x.pt", b"PK not a zip", "torchscript")])
def test_a_file_that_is_not_a_model_is_refused(tmp_path, name, content, model_format):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputDataError, match=f"{name} is not a"):
        load_external_model(path, model_format)


def test_input_scaling_maps_the_chosen_percentiles_to_0_and_1():
    mosaic = np.arange(100 * 100, dtype=np.float32).reshape(100, 100)
    offset, scale = input_scaling(mosaic, InputNormalisation(low=1, high=99))
    np.testing.assert_allclose([offset, offset + scale], np.percentile(mosaic, [1, 99]), rtol=1e-6)
    assert input_scaling(mosaic, InputNormalisation(kind="none")) == (0.0, 1.0)
    large = np.tile(mosaic, (20, 20))  # 4 million pixels: sampled on a regular grid
    offset, scale = input_scaling(large, InputNormalisation(low=1, high=99))
    np.testing.assert_allclose([offset, offset + scale], np.percentile(mosaic, [1, 99]), atol=0.01 * mosaic.max())


def test_a_tile_image_is_found_by_its_label_free_name_with_any_image_suffix(tmp_path):
    (tmp_path / "tiles").mkdir()
    tifffile.imwrite(tmp_path / "tiles" / "r000_c001_label_free.tif", np.ones((8, 6), np.float32))
    Image.fromarray(np.full((8, 6), 7, np.uint8)).save(tmp_path / "tiles" / "r000_c002_label_free.png")
    found = find_tile_image(tmp_path, "tiles/r000_c001_label_free.ome.tif")
    assert found == tmp_path / "tiles" / "r000_c001_label_free.tif"
    assert read_tile_image(found, (8, 6)).dtype == np.float32
    assert read_tile_image(find_tile_image(tmp_path, "tiles/r000_c002_label_free.ome.tif"), (8, 6)).max() == 7
    assert find_tile_image(tmp_path, "tiles/r001_c000_label_free.ome.tif") is None
    with pytest.raises(InputDataError, match=r"image of shape \(8, 6\); expected \(6, 8\)"):
        read_tile_image(found, (6, 8))
    (tmp_path / "bad.tif").write_bytes(b"no tiff")
    with pytest.raises(InputDataError, match="not a readable image"):
        read_tile_image(tmp_path / "bad.tif", (6, 8))


def test_a_plate_of_predictions_gives_each_tile_ingested_from_a_plate_its_position(tmp_path, hcs_plate_writer,
                                                                                   hcs_phantom_position):
    import yaml

    from stainworth.ingest import ingest_plate
    from stainworth.stainers.external_images import file_tile_images, is_plate, plate_tile_images

    fields = {"A/1": [hcs_phantom_position(128, condition="control", seed=1)],
              "B/2": [hcs_phantom_position(128, condition="treated", seed=2)]}
    labels = ["Phase3D", "BF", "Lamin A/C", "H3K27me3"]
    hcs_plate_writer(tmp_path / "plate.zarr", {w: [d for d, _ in f] for w, f in fields.items()}, labels=labels)
    spec = {"acquisition_id": "p", "plate": {"path": "plate.zarr", "conditions": {"A/1": "control", "B/2": "treated"}},
            "label_free": {"modality": "qpi", "channel": "Phase3D"},
            "fluorescence": [{"name": "lamin_a_c", "marker": "Lamin A/C", "channel": "Lamin A/C"}]}
    (tmp_path / "ingest.yaml").write_text(yaml.safe_dump(spec))
    acquisitions = {m.acquisition_id: m for m in ingest_plate(tmp_path / "ingest.yaml", tmp_path / "acquisitions")}
    assert [tile.source for m in acquisitions.values() for tile in m.tiles] == ["A/1/0", "B/2/0"]
    # VisCy writes its predictions as a plate with the input's positions: here 3 x the middle phase plane
    predictions = {w: [np.concatenate([d, 3 * d[:, :1]], axis=1) for d, _ in f] for w, f in fields.items()}
    hcs_plate_writer(tmp_path / "pred.zarr", predictions, labels=[*labels, "nuclei_prediction"])
    assert is_plate(tmp_path / "pred.zarr") and not is_plate(tmp_path)
    images = plate_tile_images(tmp_path / "pred.zarr", acquisitions, channel="nuclei_prediction", z="middle",
                               where="stain.external[0].images")
    assert list(images.readers) == ["p-A1-0", "p-B2-0"]
    for readers, (_, source) in zip(images.readers.values(), [fields["A/1"][0], fields["B/2"][0]], strict=True):
        np.testing.assert_allclose(readers[0](), 3 * source["Phase3D"], rtol=1e-6)
    assert len(images.fingerprint) == 64
    with pytest.raises(InputDataError, match="no channel 'nuclei'; the position has channels"):
        plate_tile_images(tmp_path / "pred.zarr", acquisitions, channel="nuclei", z="middle", where="w")
    hcs_plate_writer(tmp_path / "small.zarr", {w: [d[..., :96, :96] for d, _ in f] for w, f in fields.items()},
                     labels=labels)
    with pytest.raises(InputDataError, match=r"A/1/0: image of shape \(96, 96\); expected \(128, 128\)"):
        plate_tile_images(tmp_path / "small.zarr", acquisitions, channel="Phase3D", z="middle", where="w")
    hcs_plate_writer(tmp_path / "one.zarr", {"A/1": [d for d, _ in fields["A/1"]]}, labels=labels)
    with pytest.raises(InputDataError, match="well 'B/2' is not in the plate"):
        plate_tile_images(tmp_path / "one.zarr", acquisitions, channel="Phase3D", z="middle", where="w")
    with pytest.raises(InputDataError, match="name the channel of the virtual stain"):
        plate_tile_images(tmp_path / "pred.zarr", acquisitions, channel=None, z="middle", where="w")
    tiled = {fid: m.model_copy(update={"tiles": [t.model_copy(update={"source": None}) for t in m.tiles]})
             for fid, m in acquisitions.items()}
    with pytest.raises(InputDataError, match="was not ingested from an OME-Zarr plate"):
        plate_tile_images(tmp_path / "pred.zarr", tiled, channel="Phase3D", z="middle", where="w")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputDataError, match="has no image for 1 of 1 label-free tiles"):
        file_tile_images(tmp_path / "empty", acquisitions, where="w")
    with pytest.raises(InputDataError, match="manifest.json matches no label-free tile"):
        file_tile_images(tmp_path / "acquisitions", acquisitions, where="w")  # the tiles' own folders hold more
