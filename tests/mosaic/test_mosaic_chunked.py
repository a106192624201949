"""zarr v3 mosaic arrays on disk and block-wise access."""

import numpy as np
import pytest
import zarr

from stainworth.errors import InputDataError
from stainworth.mosaic import ChannelView, create_array, downsample, iter_blocks, open_array, read_window


def test_create_and_open(tmp_path):
    array = create_array(tmp_path / "m.zarr", (2, 300, 500), dtype="uint16", chunk=128)
    assert array.shape == (2, 300, 500) and array.chunks == (1, 128, 128) and array.metadata.zarr_format == 3
    array[1, 10:20, 30:40] = 7
    opened = open_array(tmp_path / "m.zarr")
    assert opened[1, 15, 35] == 7 and opened[0, 15, 35] == 0
    again = create_array(tmp_path / "m.zarr", (4, 4))  # overwrites
    assert again.shape == (4, 4)


def test_open_and_create_errors(tmp_path):
    with pytest.raises(InputDataError, match="cannot be opened as zarr"):
        open_array(tmp_path / "missing.zarr")
    zarr.open_group(str(tmp_path / "group.zarr"), mode="w")
    with pytest.raises(InputDataError, match="is a zarr group; expected an array"):
        open_array(tmp_path / "group.zarr")
    with pytest.raises(InputDataError, match=r"shape \(5,\); expected \(H, W\) or \(C, H, W\)"):
        create_array(tmp_path / "bad.zarr", (5,))


def test_blocks_cover_the_frame_once():
    seen = np.zeros((250, 130), int)
    for y0, y1, x0, x1 in iter_blocks((250, 130), 64):
        seen[y0:y1, x0:x1] += 1
    assert np.all(seen == 1)
    with pytest.raises(InputDataError, match="block size 0"):
        list(iter_blocks((10, 10), 0))


def test_read_window_pads_outside():
    array = np.arange(20, dtype=np.float32).reshape(4, 5)
    window = read_window(array, -1, 2, 3, 7, fill=-1)
    assert window.shape == (3, 4)
    np.testing.assert_array_equal(window[0], -1)
    np.testing.assert_array_equal(window[1], [3, 4, -1, -1])
    assert read_window(array, 10, 12, 0, 2).sum() == 0


def test_downsample_is_an_area_mean(tmp_path):
    values = np.random.default_rng(0).random((1001, 777)).astype(np.float32)
    stored = create_array(tmp_path / "d.zarr", values.shape, chunk=100)
    stored[:] = values
    small = downsample(stored, 3, block=100)
    assert small.shape == (334, 259)
    assert small[10, 20] == pytest.approx(values[30:33, 60:63].mean(), abs=1e-6)
    assert small[-1, -1] == pytest.approx(values[999:, 774:].mean(), abs=1e-6)  # partial edge cell
    np.testing.assert_allclose(downsample(values, 3, block=2048), small, atol=1e-6)
    values[5, 5] = np.nan
    assert np.isnan(downsample(values, 4)[1, 1])


def test_channel_view_reads_one_channel(tmp_path):
    stack = create_array(tmp_path / "c.zarr", (3, 40, 50), chunk=16)
    stack[2] = np.arange(2000, dtype=np.float32).reshape(40, 50)
    view = ChannelView(stack, 2)
    assert view.shape == (40, 50) and view.ndim == 2
    np.testing.assert_array_equal(view[5:7, 10:12], stack[2, 5:7, 10:12])
    np.testing.assert_array_equal(view[..., 0:2, 3], stack[2, 0:2, 3])
    assert downsample(view, 10).shape == (4, 5)
    with pytest.raises(InputDataError, match="channel 3 of an array of shape"):
        ChannelView(stack, 3)
