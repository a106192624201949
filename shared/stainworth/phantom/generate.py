"""Public entry point: one tiled, co-registered QPI + fluorescence acquisition with ground truth."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from stainworth.contracts.phantom import PhantomConfig
from stainworth.errors import ConfigError
from stainworth.phantom import acquisition as tiling
from stainworth.phantom.camera import camera_counts, psf_sigma_px, widefield_blur
from stainworth.phantom.cells import Population, sample_population
from stainworth.phantom.optics import build_kernels, measure_qpi_tile
from stainworth.phantom.render import ObjectMaps, render_population

CONDITIONS = ("control", "treated")
FLUORESCENCE_CHANNELS = ("lamin_a_c", "h3k27me3")


@dataclass(frozen=True)
class CellRecord:
    """Ground truth of one cell whose nucleus appears in the mosaic."""

    id: int
    """Label of the nucleus in ``Acquisition.nuclei_labels``."""
    condition: str
    """``control`` or ``treated``."""
    mitotic: bool
    """In mitosis (rounded cell, condensed chromatin, no lamina)."""
    responder: bool
    """Treated cell that responds to the drug (False for control cells)."""
    response: float
    """Effect amount e = strength * r applied to the cell (0 for control cells)."""
    centroid_yx: tuple[float, float]
    """Centroid of the whole nucleus mask in the mosaic frame, px (may lie outside if cut)."""
    nucleus_area_px: int
    """Area of the whole nucleus, px (including any part outside the mosaic)."""
    cell_area_px: int
    """Footprint of the whole cell, px."""
    nucleus_thickness_um: float
    """Nucleus (or chromosome mass) height, um."""
    n_foci: int
    """Number of heterochromatin foci."""
    n_nucleoli: int
    """Number of nucleoli."""
    touches_border: bool
    """The nucleus is cut by the mosaic border."""


@dataclass(frozen=True, eq=False)
class Acquisition:
    """One field of view as recorded: tiles of both modalities plus ground truth.

    Frames: the mosaic frame has its origin at the nominal position of tile (0, 0) and shape
    ``mosaic_shape``; ``true_positions`` index into it (``qpi_clean[y:y+T, x:x+T]`` is the
    scene of the QPI tile at (y, x)). The fluorescence tiles are cut at the same positions from
    the fluorescence camera's frame, which maps to the QPI frame by ``fluorescence_to_qpi``.
    """

    qpi_tiles: list[np.ndarray]
    """Retrieved phase per tile, float32 (T, T), rad, row-major tile order."""
    fluorescence_tiles: dict[str, list[np.ndarray]]
    """``lamin_a_c`` and ``h3k27me3`` camera counts per tile, uint16 (T, T)."""
    tile_index: list[tuple[int, int]]
    """(row, col) per tile."""
    nominal_positions: np.ndarray
    """(n_tiles, 2) int64 top-left (y, x) reported by the stage, mosaic px."""
    true_positions: np.ndarray
    """(n_tiles, 2) int64 top-left (y, x) actually imaged, mosaic px."""
    fluorescence_to_qpi: np.ndarray
    """(2, 3) float64 affine mapping fluorescence pixel (x, y) to QPI pixel (x, y)."""
    nuclei_labels: np.ndarray
    """(H, W) uint32 nucleus instance labels in the mosaic (QPI) frame; 0 is background."""
    cells: list[CellRecord]
    """Ground truth per labelled nucleus, ordered by id."""
    qpi_clean: np.ndarray
    """(H, W) float32 noise-free true phase in the mosaic frame, rad."""
    mosaic_shape: tuple[int, int]
    """(H, W) of the mosaic frame, px."""
    pixel_size_um: float
    """Pixel size in the sample plane, um."""
    condition: str
    """``control`` or ``treated``."""
    seed: int
    """Seed the acquisition was generated from."""


def generate_acquisition(
    config: PhantomConfig,
    *,
    condition: Literal["control", "treated"],
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> Acquisition:
    """Render one tiled acquisition of a control or treated culture.

    Parameters
    ----------
    config
        Validated phantom configuration.
    condition
        ``"control"`` or ``"treated"``.
    seed
        Non-negative integer; the same seed, condition and config give bit-identical output.
    progress
        Optional callback receiving short lines (``"cells 120/480"``, ``"tile 3/9"``).

    Returns
    -------
    Acquisition

    Raises
    ------
    ConfigError
        If ``condition`` or ``seed`` is invalid.

    References
    ----------
    See ``docs/phantom.md`` for the model, its parameters and their sources.
    """
    if condition not in CONDITIONS:
        raise ConfigError(f"condition must be one of {CONDITIONS}; found {condition!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer; found {seed!r}")
    acq, optics = config.acquisition, config.optics
    streams = np.random.SeedSequence([int(seed), CONDITIONS.index(condition)]).spawn(8)
    rng_cells, rng_render, rng_stage, rng_affine, rng_qpi, rng_fl, rng_labels, rng_marker = (
        np.random.default_rng(s) for s in streams
    )
    mosaic = acq.mosaic_shape
    margin = tiling.field_margin(config)
    field_shape = (mosaic[0] + 2 * margin, mosaic[1] + 2 * margin)
    population = sample_population(config, condition=condition, field_shape=field_shape,
                                   rng=rng_cells, marker_rng=rng_labels)
    maps = render_population(population, config, field_shape=field_shape, rng=rng_render,
                             marker_rng=rng_marker, progress=progress)
    phase_field = (np.float32(2.0 * math.pi / optics.wavelength_um) * maps.opd_um)
    inner = (slice(margin, margin + mosaic[0]), slice(margin, margin + mosaic[1]))
    labels, cells = _ground_truth(population, maps, inner, condition=condition, margin=margin)
    tile_index, nominal = tiling.tile_grid(acq)
    true = tiling.jittered_positions(rng_stage, nominal, acq)
    affine = tiling.draw_misregistration(rng_affine, acq)
    qpi_tiles = _qpi_tiles(phase_field, true, config, margin, rng_qpi, progress)
    fluorescence = _fluorescence_tiles(maps, true, affine, config, margin, rng_fl, progress)
    return Acquisition(
        qpi_tiles=qpi_tiles, fluorescence_tiles=fluorescence, tile_index=tile_index,
        nominal_positions=nominal, true_positions=true, fluorescence_to_qpi=affine,
        nuclei_labels=labels, cells=cells, qpi_clean=phase_field[inner].copy(),
        mosaic_shape=mosaic, pixel_size_um=optics.pixel_size_um, condition=condition,
        seed=int(seed),
    )


def _ground_truth(
    population: Population, maps: ObjectMaps, inner: tuple[slice, slice], *, condition: str,
    margin: int,
) -> tuple[np.ndarray, list[CellRecord]]:
    """Relabel the nuclei visible in the mosaic 1..k and build their records."""
    n = len(population)
    labels = maps.labels[inner]
    visible_area = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    visible = np.flatnonzero(visible_area > 0)
    lut = np.zeros(n + 1, dtype=np.uint32)
    lut[visible + 1] = np.arange(1, visible.size + 1, dtype=np.uint32)
    records = []
    for new_id, i in enumerate(visible, start=1):
        cy, cx = maps.nucleus_centroid_yx[i] - margin
        records.append(CellRecord(
            id=new_id, condition=condition, mitotic=bool(population.mitotic[i]),
            responder=bool(population.responder[i]), response=float(population.response[i]),
            centroid_yx=(float(cy), float(cx)), nucleus_area_px=int(maps.nucleus_area_px[i]),
            cell_area_px=int(maps.cell_area_px[i]),
            nucleus_thickness_um=float(population.nucleus_thickness_um[i]),
            n_foci=int(population.foci_count[i]), n_nucleoli=int(population.nucleoli_count[i]),
            touches_border=bool(visible_area[i] < maps.nucleus_area_px[i]),
        ))
    return lut[labels], records


def _qpi_tiles(
    phase_field: np.ndarray, true: np.ndarray, config: PhantomConfig, margin: int,
    rng: np.random.Generator, progress: Callable[[str], None] | None,
) -> list[np.ndarray]:
    tile = config.acquisition.tile_size_px
    kernels = build_kernels(config.optics, tile_px=tile)
    reach = kernels.margin_px
    tiles = []
    for k, position in enumerate(true):
        window = tiling.cut(phase_field, position - reach, tile + 2 * reach, offset=margin)
        tiles.append(measure_qpi_tile(window, kernels, config.optics, rng))
        if progress is not None:
            progress(f"tile {k + 1}/{len(true)}")
    return tiles


def _fluorescence_tiles(
    maps: ObjectMaps, true: np.ndarray, affine: np.ndarray, config: PhantomConfig, margin: int,
    rng: np.random.Generator, progress: Callable[[str], None] | None,
) -> dict[str, list[np.ndarray]]:
    fl, optics = config.fluorescence, config.optics
    sources = {
        "lamin_a_c": (maps.lamin, fl.lamin_photons_per_um, optics.emission_wavelength_lamin_um),
        "h3k27me3": (maps.h3k27me3, fl.h3k27me3_photons_per_um,
                     optics.emission_wavelength_h3k27me3_um),
    }
    tile = config.acquisition.tile_size_px
    out: dict[str, list[np.ndarray]] = {}
    for name in FLUORESCENCE_CHANNELS:
        amount, photons_per_um, emission = sources[name]
        blurred = widefield_blur(
            amount * np.float32(photons_per_um),
            sigma_px=psf_sigma_px(emission, optics.objective_na, optics.pixel_size_um),
            haze_fraction=fl.out_of_focus_fraction,
            haze_sigma_px=fl.out_of_focus_sigma_um / optics.pixel_size_um,
        )
        frame = tiling.to_fluorescence_frame(blurred, affine, margin=margin,
                                             mosaic_shape=config.acquisition.mosaic_shape)
        out[name] = [camera_counts(rng, tiling.cut(frame, position, tile), fl)
                     for position in true]
        if progress is not None:
            progress(f"fluorescence {name} {len(true)} tiles")
    return out
