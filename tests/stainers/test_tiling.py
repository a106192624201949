"""Whole-mosaic staining by overlapping tiles: exact reproduction, no seams, bounded memory."""

import threading
import time
import tracemalloc

import numpy as np
import pytest

from stainworth.errors import InputDataError
from stainworth.mosaic.chunked import create_array, iter_blocks
from stainworth.stainers.tile_layout import tile_grid
from stainworth.stainers.tiling import stain_mosaic


def identity(batch):
    return batch.copy()


def random_image(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_tile_grid():
    assert tile_grid((1000, 777), 512, 64) == [(y, x) for y in (0, 448, 488) for x in (0, 265)]
    assert tile_grid((100, 100), 512, 64) == [(0, 0)]
    assert tile_grid((960, 1024), 512, 64) == [(y, x) for y in (0, 448) for x in (0, 448, 512)]
    assert tile_grid((1024, 512), 512, 0) == [(0, 0), (512, 0)]
    for tile, overlap in ((0, 0), (64, 64), (64, -1)):
        with pytest.raises(InputDataError, match="expected tile >= 1 and 0 <= overlap < tile"):
            tile_grid((100, 100), tile, overlap)
    with pytest.raises(InputDataError, match="expected positive sizes"):
        tile_grid((0, 100), 64, 8)


@pytest.mark.parametrize(("shape", "tile", "overlap"), [
    ((1000, 777), 512, 64),   # last row and column shifted
    ((100, 100), 512, 64),    # smaller than a tile
    ((960, 1408), 512, 64),   # exact multiples of the stride (plus the overlap)
    ((1024, 1536), 512, 0),   # exact multiples of the tile, no overlap
    ((1, 1), 8, 2),
    ((37, 300), 16, 15),      # stride 1 px in x
    ((300, 200), 64, 48),     # overlap over half the tile: three tiles over most pixels
])
def test_identity_reproduces_the_source(shape, tile, overlap):
    source = random_image(shape)
    out = np.full(shape, np.nan, np.float32)
    stain_mosaic(identity, source, out, tile=tile, overlap=overlap, batch=3)
    np.testing.assert_allclose(out, source, rtol=0, atol=2e-6)
    stain_mosaic(lambda batch: batch + 5.0, source, out, tile=tile, overlap=overlap, batch=2)
    np.testing.assert_allclose(out, source + 5.0, rtol=0, atol=2e-5)


@pytest.mark.parametrize(("shape", "chunk", "tile", "overlap"), [
    ((1000, 777), 96, 128, 16),    # chunks smaller than tiles, not aligned with them
    ((700, 1900), 300, 128, 100),  # chunks larger than tiles: several strips of tile columns
    ((90, 2000), 32, 64, 0),
])
def test_zarr_in_and_out(tmp_path, shape, chunk, tile, overlap):
    source = random_image(shape, seed=1)
    stored = create_array(tmp_path / "source.zarr", shape, chunk=chunk)
    stored[:] = source
    out = create_array(tmp_path / "out.zarr", shape, chunk=chunk + 13, fill_value=float("nan"))
    stain_mosaic(lambda batch: batch * 2.0 + 1.0, stored, out, tile=tile, overlap=overlap, batch=4)
    np.testing.assert_allclose(out[:], source * 2.0 + 1.0, rtol=0, atol=1e-5)


def test_no_seams_and_same_result_in_any_order(tmp_path):
    # Each tile's prediction is a different constant (its input's mean): blending must make the
    # result change gradually, and the strip order of chunked arrays must give the same sums.
    shape, tile, overlap = (700, 900), 128, 32
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    source = (yy + 2 * xx) / 100.0

    def tile_mean(batch):
        return np.broadcast_to(batch.mean(axis=(1, 2, 3), keepdims=True), batch.shape).astype(np.float32)

    out = np.empty(shape, np.float32)
    stain_mosaic(tile_mean, source, out, tile=tile, overlap=overlap)
    hard = np.empty(shape, np.float32)
    stain_mosaic(tile_mean, source, hard, tile=tile, overlap=0)
    jump = max(np.abs(np.diff(hard, axis=0)).max(), np.abs(np.diff(hard, axis=1)).max())
    step = max(np.abs(np.diff(out, axis=0)).max(), np.abs(np.diff(out, axis=1)).max())
    assert jump > 1.0 and step < jump / 8, (jump, step)
    stored = create_array(tmp_path / "source.zarr", shape, chunk=100)
    stored[:] = source
    chunked = create_array(tmp_path / "out.zarr", shape, chunk=100)
    stain_mosaic(tile_mean, stored, chunked, tile=tile, overlap=overlap)
    np.testing.assert_allclose(chunked[:], out, rtol=1e-6, atol=1e-5)


def test_weights_vanish_at_inner_edges_not_at_the_border():
    # Only the first tile predicts 1: the output is its normalised weight.
    shape, tile, overlap = (300, 300), 128, 32
    calls = []

    def first_tile_only(batch):
        result = np.zeros_like(batch)
        if not calls:
            result[0] = 1.0
        calls.append(len(batch))
        return result

    out = np.empty(shape, np.float32)
    stain_mosaic(first_tile_only, np.zeros(shape, np.float32), out, tile=tile, overlap=overlap, batch=4)
    assert out[0, 0] == pytest.approx(1.0) and out[0, :tile - overlap].min() == pytest.approx(1.0)
    assert out[:tile - overlap, :tile - overlap].min() == pytest.approx(1.0)
    assert 0 < out[0, tile - 1] <= 1.0 / overlap + 1e-6  # inner edge: about 0
    assert 0 < out[tile - 1, tile - 1] <= 1.0 / overlap**2 + 1e-6
    assert np.all(out[tile:, :] == 0) and np.all(out[:, tile:] == 0)
    assert np.all(np.diff(out[0, tile - overlap:tile]) < 0)  # a ramp down across the overlap


def test_batches_padding_and_progress():
    shape, tile = (40, 30), 64
    source = random_image(shape, seed=2)
    seen = []

    def record(batch):
        seen.append(batch.copy())
        return batch

    lines = []
    out = np.empty(shape, np.float32)
    stain_mosaic(record, source, out, tile=tile, overlap=8, batch=4, progress=lines.append)
    assert lines == ["stain tile 1/1"]
    (batch,) = seen
    assert batch.shape == (1, 1, tile, tile) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0, 0, :40, :30], source)
    np.testing.assert_array_equal(batch[0, 0, 40:, :30], source[38:14:-1])  # reflected, edge row not repeated
    np.testing.assert_array_equal(batch[0, 0, :40, 30:59], source[:, 28::-1])

    seen.clear()
    lines.clear()
    big = random_image((300, 500), seed=3)
    out = np.empty(big.shape, np.float32)
    stain_mosaic(record, big, out, tile=64, overlap=16, batch=4, progress=lines.append)
    count = len(tile_grid(big.shape, 64, 16))
    assert lines == [f"stain tile {k}/{count}" for k in range(1, count + 1)]
    assert [len(b) for b in seen] == [4] * (count // 4) + ([count % 4] if count % 4 else [])


def test_refusals(tmp_path):
    source = np.zeros((50, 60), np.float32)
    with pytest.raises(InputDataError, match=r"output of shape \(60, 50\); expected the source's \(50, 60\)"):
        stain_mosaic(identity, source, np.zeros((60, 50), np.float32), tile=32, overlap=8)
    with pytest.raises(InputDataError, match="output dtype uint16; expected a floating type"):
        stain_mosaic(identity, source, np.zeros((50, 60), np.uint16), tile=32, overlap=8)
    with pytest.raises(InputDataError, match=r"source of shape \(2, 50, 60\)"):
        stain_mosaic(identity, np.zeros((2, 50, 60)), np.zeros((2, 50, 60)), tile=32, overlap=8)
    with pytest.raises(InputDataError, match="expected tile >= 1 and 0 <= overlap < tile"):
        stain_mosaic(identity, source, np.zeros_like(source), tile=32, overlap=32)
    with pytest.raises(InputDataError, match="batch 0"):
        stain_mosaic(identity, source, np.zeros_like(source), tile=32, overlap=8, batch=0)
    with pytest.raises(InputDataError, match="in_flight -1; expected 0"):
        stain_mosaic(identity, source, np.zeros_like(source), tile=32, overlap=8, in_flight=-1)
    with pytest.raises(InputDataError, match=r"predict returned float32 of shape \(2, 1, 16, 16\)"):
        stain_mosaic(lambda batch: batch[..., :16, :16], source, np.zeros_like(source), tile=32, overlap=8, batch=2)


def test_memory_does_not_grow_with_the_mosaic(tmp_path):
    # A 4096 x 4096 float32 zarr mosaic is 64 MB; staining it must stay far below that.
    side, chunk = 4096, 256
    source = create_array(tmp_path / "source.zarr", (side, side), chunk=chunk)
    for y0, y1, x0, x1 in iter_blocks((side, side), 1024):
        yy, xx = np.mgrid[y0:y1, x0:x1]
        source[y0:y1, x0:x1] = np.sin(yy / 37.0) * np.cos(xx / 53.0)
    out = create_array(tmp_path / "out.zarr", (side, side), chunk=chunk)
    tracemalloc.start()
    try:
        stain_mosaic(identity, source, out, tile=256, overlap=32, batch=4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16e6, f"peak {peak / 1e6:.1f} MB"
    for y0, x0 in ((0, 0), (1000, 2900), (side - 300, side - 300)):
        np.testing.assert_allclose(out[y0:y0 + 300, x0:x0 + 300], source[y0:y0 + 300, x0:x0 + 300], atol=1e-6)


def nonlinear(batch):
    return (np.tanh(3.0 * batch) + batch * batch - 0.5).astype(np.float32)


def stain_threads():
    return [t for t in threading.enumerate() if t.name.startswith(("stainworth-read-ahead", "stainworth-write-behind"))]


@pytest.mark.parametrize(("shape", "chunk", "tile", "overlap", "batch"), [
    ((300, 470), 96, 64, 16, 3),    # chunks larger than tiles: several strips, a short last batch
    ((250, 333), 40, 64, 24, 4),    # chunks smaller than tiles, odd sides: shifted edge tiles
    ((50, 700), 64, 128, 32, 2),    # shorter than a tile: reflected edge tiles
])
def test_background_threads_change_no_bit(tmp_path, shape, chunk, tile, overlap, batch):
    # The same zarr mosaic stained sequentially (in_flight=0, no threads) and with reading ahead and
    # writing behind: the same bits, and the same progress lines from the calling thread.
    stored = create_array(tmp_path / "source.zarr", shape, chunk=chunk)
    stored[:] = random_image(shape, seed=4)
    results, lines = {}, {}
    for in_flight in (0, 1, 2, 5):
        out = create_array(tmp_path / f"out{in_flight}.zarr", shape, chunk=chunk + 7, fill_value=float("nan"))
        log, callers = lines.setdefault(in_flight, []), []

        def record(line, log=log, callers=callers):
            log.append(line)
            callers.append(threading.current_thread())

        stain_mosaic(nonlinear, stored, out, tile=tile, overlap=overlap, batch=batch, progress=record,
                     in_flight=in_flight)
        results[in_flight] = out[:]
        assert set(callers) == {threading.current_thread()}
    count = len(tile_grid(shape, tile, overlap))
    assert count > 2 * batch
    assert lines[0] == [f"stain tile {k}/{count}" for k in range(1, count + 1)]
    for in_flight in (1, 2, 5):
        np.testing.assert_array_equal(results[in_flight], results[0])
        assert lines[in_flight] == lines[0]
    assert np.isfinite(results[0]).all()
    # in memory too (its own strip order, so compared with its own sequential run)
    source = np.asarray(stored[:])
    plain, threaded = np.empty(shape, np.float32), np.empty(shape, np.float32)
    stain_mosaic(nonlinear, source, plain, tile=tile, overlap=overlap, batch=batch, in_flight=0)
    stain_mosaic(nonlinear, source, threaded, tile=tile, overlap=overlap, batch=batch)
    np.testing.assert_array_equal(threaded, plain)
    assert not stain_threads()


def test_reading_ahead_is_bounded():
    class CountingSource:
        def __init__(self, array):
            self.array, self.shape, self.dtype, self.reads = array, array.shape, array.dtype, 0

        def __getitem__(self, key):
            self.reads += 1
            return self.array[key]

    shape, tile, overlap, batch = (400, 400), 64, 16, 2
    source = CountingSource(random_image(shape))
    reads_at_predict = []

    def predict(tiles):
        reads_at_predict.append(source.reads)
        time.sleep(0.002)  # slow enough for an unbounded reader to run far ahead
        return tiles

    for in_flight in (0, 2):
        reads_at_predict.clear()
        source.reads = 0
        stain_mosaic(predict, source, np.empty(shape, np.float32), tile=tile, overlap=overlap, batch=batch,
                     in_flight=in_flight)
        # one read per tile: when batch k is predicted, at most in_flight more batches are read
        assert all(reads <= (k + 1 + in_flight) * batch for k, reads in enumerate(reads_at_predict))
        assert reads_at_predict[0] >= batch


class FailingArray:
    """A zarr array whose reads (or writes) fail from the ``after``-th call on."""

    def __init__(self, array, *, reads=None, writes=None):
        self.array, self.shape, self.dtype, self.chunks = array, array.shape, array.dtype, array.chunks
        self.fail_reads, self.fail_writes = reads, writes
        self.read_count = self.write_count = 0

    def __getitem__(self, key):
        self.read_count += 1
        if self.fail_reads is not None and self.read_count >= self.fail_reads:
            raise OSError(f"chunk read {self.read_count} failed")
        return self.array[key]

    def __setitem__(self, key, values):
        self.write_count += 1
        if self.fail_writes is not None and self.write_count >= self.fail_writes:
            raise PermissionError(f"chunk write {self.write_count} refused")
        self.array[key] = values


@pytest.mark.parametrize("in_flight", [0, 2])
def test_errors_reach_the_caller_and_threads_end(tmp_path, in_flight):
    shape, chunk, tile = (400, 500), 64, 64
    stored = create_array(tmp_path / "source.zarr", shape, chunk=chunk)
    stored[:] = random_image(shape, seed=5)

    def output():
        return create_array(tmp_path / "out.zarr", shape, chunk=chunk)

    calls = []

    def fails_on_third(batch):
        calls.append(len(batch))
        if len(calls) == 3:
            raise RuntimeError("network failed on batch 3")
        return batch

    with pytest.raises(RuntimeError, match="network failed on batch 3"):
        stain_mosaic(fails_on_third, stored, output(), tile=tile, overlap=16, batch=2, in_flight=in_flight)
    assert len(calls) == 3 and not stain_threads()
    with pytest.raises(OSError, match="chunk read 5 failed"):
        stain_mosaic(identity, FailingArray(stored, reads=5), output(), tile=tile, overlap=16, batch=2,
                     in_flight=in_flight)
    assert not stain_threads()
    with pytest.raises(PermissionError, match="chunk write 3 refused"):
        stain_mosaic(identity, stored, FailingArray(output(), writes=3), tile=tile, overlap=16, batch=2,
                     in_flight=in_flight)
    assert not stain_threads()


def test_chunks_read_back_only_once_written(tmp_path):
    # Chunks smaller than tiles: chunks of the output are evicted and read back soon after (strip
    # boundaries), while slow writes are still queued; a read that did not wait for them would
    # see stale values.
    class SlowWrites(FailingArray):
        def __setitem__(self, key, values):
            time.sleep(0.01)
            super().__setitem__(key, values)

    shape, chunk, tile, overlap = (250, 333), 40, 64, 24
    stored = create_array(tmp_path / "source.zarr", shape, chunk=chunk)
    stored[:] = random_image(shape, seed=6)
    expected = create_array(tmp_path / "expected.zarr", shape, chunk=chunk)
    stain_mosaic(nonlinear, stored, expected, tile=tile, overlap=overlap, batch=4, in_flight=0)
    out = SlowWrites(create_array(tmp_path / "out.zarr", shape, chunk=chunk, fill_value=float("nan")))
    stain_mosaic(nonlinear, stored, out, tile=tile, overlap=overlap, batch=4, in_flight=5)
    assert out.read_count > 0 and out.write_count > out.read_count  # only chunks written before are read
    np.testing.assert_array_equal(out.array[:], expected[:])
