"""Windows of a 2-D array read and written through a write-back cache of whole zarr chunks (or directly).

The cache writes a changed block back when it evicts it (and on :meth:`CachedWindows.flush`),
either at once or, given a :class:`~stainworth.stainers.background.WriteBehind`, in its
background thread; a block evicted and needed again is read back only once its write is done.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from stainworth.stainers.background import WriteBehind


def block_shape(array: Any) -> tuple[int, int] | None:
    """The (y, x) side of the unit a chunked array reads and writes (shard or chunk); None if unchunked."""
    for name in ("shards", "chunks"):
        value = getattr(array, name, None)
        if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
            return int(value[0]), int(value[1])
    return None


class DirectWindows:
    """Windows of an unchunked array (numpy), read and written directly."""

    def __init__(self, array: Any) -> None:
        self.array = array

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """The window ``[y0:y1, x0:x1]`` as float32."""
        return np.asarray(self.array[y0:y1, x0:x1], dtype=np.float32)

    def write(self, y0: int, y1: int, x0: int, x1: int, values: np.ndarray) -> None:
        """Write ``values`` into the window ``[y0:y1, x0:x1]``."""
        self.array[y0:y1, x0:x1] = values

    def flush(self) -> None:
        """Nothing to write back: writes went to the array directly."""


class CachedWindows:
    """Windows of a chunked array through a least-recently-used write-back cache of whole float32 blocks.

    Changed blocks are written back on eviction and by :meth:`flush`: directly, or as jobs of
    ``behind`` (then an evicted block must not be changed any more, which holds: it left the cache).
    With ``blank``, the array's previous contents do not matter: a block this cache has not
    written back yet starts as zeros instead of being read.
    """

    def __init__(self, array: Any, block: tuple[int, int], capacity: int, *,
                 behind: WriteBehind | None = None, blank: bool = False) -> None:
        self.array, self.block, self.capacity, self.behind = array, block, max(int(capacity), 1), behind
        self.height, self.width = (int(v) for v in array.shape)
        self.blocks: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self.dirty: set[tuple[int, int]] = set()
        self.stored: set[tuple[int, int]] | None = set() if blank else None
        """With ``blank``: the blocks written back so far (the only ones worth reading)."""

    def _bounds(self, key: tuple[int, int]) -> tuple[int, int, int, int]:
        by, bx = self.block
        return key[0] * by, min((key[0] + 1) * by, self.height), key[1] * bx, min((key[1] + 1) * bx, self.width)

    def _get(self, key: tuple[int, int]) -> np.ndarray:
        if key in self.blocks:
            self.blocks.move_to_end(key)
            return self.blocks[key]
        y0, y1, x0, x1 = self._bounds(key)
        if self.stored is not None and key not in self.stored:
            values = np.zeros((y1 - y0, x1 - x0), np.float32)
        else:
            if self.behind is not None:
                self.behind.wait(key)  # evicted earlier: its write must land before it is read back
            values = np.asarray(self.array[y0:y1, x0:x1], dtype=np.float32)
        self.blocks[key] = values
        while len(self.blocks) > self.capacity:
            old, old_values = self.blocks.popitem(last=False)
            self._store(old, old_values)
        return values

    def _store(self, key: tuple[int, int], values: np.ndarray) -> None:
        if key in self.dirty:
            y0, y1, x0, x1 = self._bounds(key)
            stored = values.astype(self.array.dtype, copy=False)
            if self.behind is None:
                self.array[y0:y1, x0:x1] = stored
            else:
                self.behind.submit(key, partial(self.array.__setitem__, (slice(y0, y1), slice(x0, x1)), stored))
            self.dirty.discard(key)
            if self.stored is not None:
                self.stored.add(key)

    def _parts(self, y0: int, y1: int, x0: int, x1: int) -> list[tuple[tuple[int, int], tuple[slice, slice],
                                                                         tuple[slice, slice]]]:
        """(block key, slices in the block, slices in the window) of the blocks the window touches."""
        by, bx = self.block
        parts = []
        for i in range(y0 // by, (y1 - 1) // by + 1):
            for j in range(x0 // bx, (x1 - 1) // bx + 1):
                b0, _, c0, _ = self._bounds((i, j))
                oy0, oy1, ox0, ox1 = max(y0, b0), min(y1, b0 + by), max(x0, c0), min(x1, c0 + bx)
                parts.append(((i, j), (slice(oy0 - b0, oy1 - b0), slice(ox0 - c0, ox1 - c0)),
                              (slice(oy0 - y0, oy1 - y0), slice(ox0 - x0, ox1 - x0))))
        return parts

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """The window ``[y0:y1, x0:x1]`` as float32."""
        result = np.empty((y1 - y0, x1 - x0), np.float32)
        for key, inner, outer in self._parts(y0, y1, x0, x1):
            result[outer] = self._get(key)[inner]
        return result

    def write(self, y0: int, y1: int, x0: int, x1: int, values: np.ndarray) -> None:
        """Write ``values`` into the window ``[y0:y1, x0:x1]``."""
        for key, inner, outer in self._parts(y0, y1, x0, x1):
            self._get(key)[inner] = values[outer]
            self.dirty.add(key)

    def flush(self) -> None:
        """Write every changed block back to the array and wait for the writes (the blocks stay cached)."""
        for key, values in self.blocks.items():
            self._store(key, values)
        if self.behind is not None:
            self.behind.drain()


def window_access(array: Any, tile: int, strip_px: int, *, behind: WriteBehind | None = None,
                  blank: bool = False) -> DirectWindows | CachedWindows:
    """Direct access to an unchunked array, a cache big enough for two tile rows of a strip otherwise.

    ``behind``, if given, writes the cache's changed blocks back in its background thread; ``blank``
    says the array's previous contents do not matter (see :class:`CachedWindows`).
    """
    block = block_shape(array)
    if block is None:
        return DirectWindows(array)
    rows = math.ceil(tile / block[0]) + 1
    cols = math.ceil((strip_px + tile) / block[1]) + 2
    return CachedWindows(array, block, rows * cols, behind=behind, blank=blank)
