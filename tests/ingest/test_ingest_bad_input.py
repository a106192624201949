"""Every bad input stops with one line naming the file or field, and writes nothing."""

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import yaml

from stainworth.errors import ConfigError, InputDataError
from stainworth.ingest import ingest_acquisition

SIZE = 64


def good_images(folder):
    rng = np.random.default_rng(0)
    tifffile.imwrite(folder / "phase.tif", rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32))
    iio.imwrite(folder / "dapi.png", rng.integers(0, 60000, (SIZE, SIZE)).astype(np.uint16))


def write_spec(folder, **changes):
    spec = {
        "acquisition_id": "lab-1", "condition": "control", "pixel_size_um": 0.3,
        "label_free": {"modality": "qpi", "files": ["phase.tif"]},
        "fluorescence": [{"name": "dapi", "marker": "DAPI", "file": "dapi.png"}],
    }
    spec.update(changes)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def run(folder, **changes):
    out = folder / "out" / "acq"
    try:
        return ingest_acquisition(write_spec(folder, **changes), out)
    except Exception:
        assert not list(out.parent.glob(".*")), "a staging folder was left behind"
        assert not (out / "manifest.json").exists() and not list(out.parent.rglob("*.ome.tif"))
        raise


@pytest.fixture
def folder(tmp_path):
    good_images(tmp_path)
    return tmp_path


def test_good_input_works(folder):
    manifest = run(folder)
    assert manifest.condition == "control" and manifest.channels[0].unit == "rad"


def test_missing_file(folder):
    (folder / "dapi.png").unlink()
    with pytest.raises(InputDataError, match=r"dapi.png \(spec field fluorescence\[0\].file\): no such file"):
        run(folder)


def test_truncated_png(folder):
    big = np.random.default_rng(1).integers(0, 60000, (512, 512)).astype(np.uint16)
    iio.imwrite(folder / "big.png", big)
    tifffile.imwrite(folder / "phase.tif", np.zeros((512, 512), np.float32))
    data = (folder / "big.png").read_bytes()
    (folder / "dapi.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputDataError,
                       match=r"dapi.png \(spec field fluorescence\[0\].file\): unreadable or truncated"):
        run(folder)


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_truncated_tiff(folder, compression):
    tifffile.imwrite(folder / "phase.tif", np.random.default_rng(2).normal(size=(256, 256)).astype(np.float32),
                     compression=compression)
    iio.imwrite(folder / "dapi.png", np.zeros((256, 256), np.uint16))
    data = (folder / "phase.tif").read_bytes()
    (folder / "phase.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputDataError,
                       match=r"phase.tif \(spec field label_free.files\[0\]\): unreadable or truncated"):
        run(folder)


def test_not_an_image_at_all(folder):
    (folder / "phase.tif").write_bytes(b"this is not a tiff")
    with pytest.raises(InputDataError, match=r"phase.tif \(spec field label_free.files\[0\]\): unreadable image"):
        run(folder)


def test_a_tiff_header_whose_first_page_is_damaged_names_the_problem_in_one_line(folder, capfd):
    (folder / "phase.tif").write_bytes(b"II*\x00" + b"\xff" * 100)  # a TIFF signature, no readable page
    with pytest.raises(InputDataError, match=r"phase.tif \(spec field label_free.files\[0\]\): unreadable image "
                                             r"\(ValueError: no image in the file .*damaged") as raised:
        run(folder)
    assert "\n" not in str(raised.value) and "IndexError" not in str(raised.value)
    assert "tifffile" not in capfd.readouterr().err  # tifffile's own log lines are not printed besides


def test_unsupported_format(folder):
    (folder / "phase.jpg").write_bytes(b"xx")
    with pytest.raises(InputDataError, match=r"format '.jpg' is not supported; expected TIFF, OME-TIFF or PNG"):
        run(folder, label_free={"modality": "qpi", "files": ["phase.jpg"]})


def test_complex_pixels(folder):
    tifffile.imwrite(folder / "phase.tif", np.ones((SIZE, SIZE), np.complex64))
    with pytest.raises(InputDataError, match="pixel type complex64 is not supported; expected integer or real"):
        run(folder)


def test_bool_pixels(folder):
    iio.imwrite(folder / "dapi.png", np.ones((SIZE, SIZE), bool))
    with pytest.raises(InputDataError, match="dapi.png .*pixel type bool is not supported"):
        run(folder)


def test_rgb_where_grayscale_expected(folder):
    iio.imwrite(folder / "dapi.png", np.zeros((SIZE, SIZE, 3), np.uint8))
    with pytest.raises(InputDataError, match="found a RGB colour image with 3 samples per pixel; expected a single "
                                             "grayscale channel"):
        run(folder)
    tifffile.imwrite(folder / "phase.tif", np.zeros((SIZE, SIZE, 3), np.uint8), photometric="rgb")
    with pytest.raises(InputDataError, match="phase.tif .*RGB colour image"):
        run(folder)


def test_stack_where_a_plane_is_expected(folder):
    tifffile.imwrite(folder / "phase.tif", np.zeros((5, SIZE, SIZE), np.float32))
    with pytest.raises(InputDataError, match=r"shape \(5, 64, 64\); expected one 2-D \(Y, X\) plane; list z-planes"):
        run(folder)


def test_tiny_image(folder):
    tifffile.imwrite(folder / "phase.tif", np.zeros((8, 8), np.float32))
    with pytest.raises(InputDataError, match="found 8x8 px; expected an image of at least 16x16 px"):
        run(folder)


@pytest.mark.parametrize(("value", "text"),
                         [(np.nan, "found 3 NaN and 0 infinite"), (np.inf, "found 0 NaN and 3 infinite")])
def test_non_finite_pixels(folder, value, text):
    data = np.zeros((SIZE, SIZE), np.float32)
    data[1, :3] = value
    tifffile.imwrite(folder / "phase.tif", data)
    with pytest.raises(InputDataError, match=f"phase.tif .*{text} pixels; expected finite values"):
        run(folder)


def test_label_free_and_fluorescence_sizes_differ(folder):
    iio.imwrite(folder / "dapi.png", np.zeros((SIZE, SIZE + 4), np.uint16))
    with pytest.raises(InputDataError, match=r"dapi.png .*64x68 px but the tile's label-free image phase.tif is "
                                             r"64x64 px; expected label-free and fluorescence of one size"):
        run(folder)


def test_pixel_size_disagrees_with_ome_metadata(folder):
    tifffile.imwrite(folder / "phase.ome.tif", np.zeros((SIZE, SIZE), np.float32), ome=True,
                     metadata={"axes": "YX", "PhysicalSizeX": 0.65, "PhysicalSizeY": 0.65})
    with pytest.raises(InputDataError, match="OME pixel size 0.65 um differs from the spec's pixel_size_um 0.3"):
        run(folder, label_free={"modality": "qpi", "files": ["phase.ome.tif"]})


def test_spec_errors_name_the_field(folder):
    with pytest.raises(ConfigError, match=r"spec.yaml: unknown field 'label_free.z_plane'"):
        run(folder, label_free={"modality": "qpi", "files": ["phase.tif"], "z_plane": 2})
    with pytest.raises(ConfigError, match=r"unknown field 'pixel_size'"):
        run(folder, pixel_size=0.3)
    with pytest.raises(ConfigError, match=r"field 'label_free.modality': Input should be 'qpi', 'phase_contrast'"):
        run(folder, label_free={"modality": "holography", "files": ["phase.tif"]})
    with pytest.raises(ConfigError, match=r"field 'condition': Input should be 'control' or 'treated'"):
        run(folder, condition="sick")
    with pytest.raises(ConfigError, match=r"unit 'rad' needs modality 'qpi'"):
        run(folder, label_free={"modality": "dic", "unit": "rad", "files": ["phase.tif"]})
    with pytest.raises(ConfigError, match=r"fluorescence channels \['dapi'\] have no 'file'"):
        run(folder, fluorescence=[{"name": "dapi", "marker": "DAPI"}])
    with pytest.raises(ConfigError, match="field 'pixel_size_um' is required but missing"):
        path = write_spec(folder)
        path.write_text(path.read_text().replace("pixel_size_um: 0.3\n", ""))
        ingest_acquisition(path, folder / "o")
    (folder / "spec.yaml").write_text("acquisition_id: [unclosed\n")
    with pytest.raises(ConfigError, match="spec.yaml: not valid YAML at line 2"):
        ingest_acquisition(folder / "spec.yaml", folder / "o")
    with pytest.raises(ConfigError, match="no such ingest spec file"):
        ingest_acquisition(folder / "nope.yaml", folder / "o")
    assert not (folder / "o").exists()


def test_refuses_to_overwrite(folder):
    (folder / "out" / "acq").mkdir(parents=True)
    (folder / "out" / "acq" / "old.txt").write_text("earlier output")
    with pytest.raises(InputDataError, match="already exists and is not empty; refusing to overwrite"):
        run(folder)
    assert (folder / "out" / "acq" / "old.txt").read_text() == "earlier output"
