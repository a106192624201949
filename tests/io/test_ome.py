import numpy as np
import pytest

from stainworth.errors import InputDataError
from stainworth.io.ome import read_ome_tiff, write_ome_tiff


def test_round_trip_keeps_pixel_size_and_channel_names(tmp_path):
    data = np.arange(2 * 8 * 9, dtype=np.uint16).reshape(2, 8, 9)
    path = write_ome_tiff(tmp_path / "a.ome.tif", data, axes="CYX", pixel_size_um=0.32,
                          channel_names=["lamin_a_c", "h3k27me3"])
    image = read_ome_tiff(path)
    np.testing.assert_array_equal(image.data, data)
    assert image.axes == "CYX"
    assert image.pixel_size_um == pytest.approx(0.32)
    assert image.channel_names == ["lamin_a_c", "h3k27me3"]
    assert not list(tmp_path.glob("*.tmp"))


def test_compressed_labels_round_trip(tmp_path):
    labels = np.zeros((64, 64), np.uint32)
    labels[10:20, 10:20] = 70000
    image = read_ome_tiff(write_ome_tiff(tmp_path / "l.ome.tif", labels, axes="YX", pixel_size_um=1.0,
                                         compress=True))
    np.testing.assert_array_equal(image.data, labels)


def test_axes_must_match_dimensions(tmp_path):
    with pytest.raises(ValueError, match="data has 2 dimensions but axes 'CYX' has 3"):
        write_ome_tiff(tmp_path / "a.ome.tif", np.zeros((4, 4)), axes="CYX", pixel_size_um=1.0)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(InputDataError, match="no such image file"):
        read_ome_tiff(tmp_path / "absent.ome.tif")
    bad = tmp_path / "bad.ome.tif"
    bad.write_bytes(b"not a tiff at all")
    with pytest.raises(InputDataError, match="bad.ome.tif: not a readable TIFF"):
        read_ome_tiff(bad)
    bad.write_bytes(b"II*\x00" + b"\xff" * 100)  # a TIFF signature, no readable page
    with pytest.raises(InputDataError, match=r"bad.ome.tif: not a readable TIFF \(no image in the file"):
        read_ome_tiff(bad)


def test_same_data_same_bytes(tmp_path):
    data = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    first = write_ome_tiff(tmp_path / "a" / "x.ome.tif", data, axes="YX", pixel_size_um=0.5).read_bytes()
    second = write_ome_tiff(tmp_path / "b" / "x.ome.tif", data, axes="YX", pixel_size_um=0.5).read_bytes()
    assert first == second
    data[0, 0] += 1
    assert write_ome_tiff(tmp_path / "c" / "x.ome.tif", data, axes="YX", pixel_size_um=0.5).read_bytes() != first


def test_single_channel_stack_keeps_its_channel_axis(tmp_path):
    data = np.arange(12, dtype=np.uint16).reshape(1, 3, 4)
    image = read_ome_tiff(write_ome_tiff(tmp_path / "c.ome.tif", data, axes="CYX", pixel_size_um=1.0,
                                         channel_names=["dapi"]))
    assert image.axes == "CYX" and image.data.shape == (1, 3, 4)
    plain = read_ome_tiff(write_ome_tiff(tmp_path / "p.ome.tif", data[0], axes="YX", pixel_size_um=1.0))
    assert plain.axes == "YX" and plain.data.shape == (3, 4)
