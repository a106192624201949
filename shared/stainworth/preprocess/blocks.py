"""Block iteration over large 2-D frames (memory bounded by the block, not the frame)."""

from __future__ import annotations

from collections.abc import Iterator


def iter_blocks(shape_yx: tuple[int, int], block: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(y0, y1, x0, x1)`` of the blocks tiling a frame of ``shape_yx``, row-major."""
    height, width = shape_yx
    for y0 in range(0, height, block):
        for x0 in range(0, width, block):
            yield y0, min(y0 + block, height), x0, min(x0 + block, width)
