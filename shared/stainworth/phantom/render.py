"""Rasterise a cell population into object maps: optical path, nuclei labels, label densities.

Each cell is drawn in its own bounding patch. The cytoplasm of neighbouring cells may touch or
overlap (the thicker one wins, an optical-path maximum); nuclei never overlap. Optical path
differences are relative to the medium, in um, so the phase is ``2 pi / lambda * opd``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stainworth.contracts.phantom import PhantomConfig
from stainworth.phantom import chromatin
from stainworth.phantom.cells import Population, nucleus_bound_px
from stainworth.phantom.geometry import Window, cap_height, outline_distance, window

SPREAD_CELL_EXPONENT = 4.0
"""Exponent of the spread-cell height profile ``sqrt(1 - rho**4)`` (flat top, sloping edge)."""
NUCLEUS_EXPONENT = 4.0
"""Exponent of the interphase nucleus height profile (a flattened, flat-topped ellipsoid)."""
MITOTIC_EXPONENT = 2.0
"""Exponent of rounded mitotic cells and chromosome masses (ellipsoids)."""
PATCH_PAD = 2.0
"""Extra pixels around every bounding circle."""


@dataclass(frozen=True)
class ObjectMaps:
    """Noise-free object maps of a field (all (H, W), field pixel grid)."""

    opd_um: np.ndarray
    """float32 optical path difference to the medium, um."""
    labels: np.ndarray
    """uint32 nucleus instance labels, cell i has label i + 1."""
    lamin: np.ndarray
    """float32 Lamin A/C label amount, density x um."""
    h3k27me3: np.ndarray
    """float32 H3K27me3 label amount, density x um."""
    nucleus_area_px: np.ndarray
    """(n,) int64 rendered nucleus area (inside the field)."""
    nucleus_centroid_yx: np.ndarray
    """(n, 2) float64 nucleus mask centroid, field px."""
    cell_area_px: np.ndarray
    """(n,) int64 rendered footprint of the cell."""


@dataclass(frozen=True)
class _Nucleus:
    win: Window
    mask: np.ndarray
    height: np.ndarray
    opd_extra: np.ndarray
    lamin: np.ndarray
    h3k27me3: np.ndarray


def render_population(
    population: Population,
    config: PhantomConfig,
    *,
    field_shape: tuple[int, int],
    rng: np.random.Generator,
    marker_rng: np.random.Generator,
    progress: Callable[[str], None] | None = None,
) -> ObjectMaps:
    """Draw every cell of ``population`` into field-sized maps.

    Parameters
    ----------
    population
        Cells with positions in field pixels.
    config
        Phantom configuration.
    field_shape
        (H, W) of the field in px.
    rng
        Random generator for textures, foci and nucleoli (consumed in cell order).
    marker_rng
        Random generator for the H3K27me3 texture's own part (consumed in cell order; unused
        when ``fluorescence.h3k27me3_texture_coupling`` is 1).
    progress
        Called with ``"cells k/n"`` about ten times.

    Returns
    -------
    ObjectMaps
    """
    n = len(population)
    opd_cyto = np.zeros(field_shape, dtype=np.float32)
    opd_nuc = np.zeros(field_shape, dtype=np.float32)
    labels = np.zeros(field_shape, dtype=np.uint32)
    lamin = np.zeros(field_shape, dtype=np.float32)
    h3 = np.zeros(field_shape, dtype=np.float32)
    areas = np.zeros(n, dtype=np.int64)
    cell_areas = np.zeros(n, dtype=np.int64)
    centroids = np.full((n, 2), np.nan)
    report_every = max(n // 10, 1)
    for i in range(n):
        nucleus = _render_nucleus(population, i, config, field_shape, rng, marker_rng)
        if nucleus is not None:
            r, c = nucleus.win.rows, nucleus.win.cols
            opd_nuc[r, c] += nucleus.opd_extra
            labels[r, c][nucleus.mask] = i + 1
            lamin[r, c] += nucleus.lamin
            h3[r, c] += nucleus.h3k27me3
            ys, xs = np.nonzero(nucleus.mask)
            areas[i] = ys.size
            if ys.size:
                centroids[i] = (ys.mean() + r.start, xs.mean() + c.start)
        cell_areas[i] = _render_cytoplasm(population, i, config, nucleus, opd_cyto, lamin)
        if progress is not None and ((i + 1) % report_every == 0 or i + 1 == n):
            progress(f"cells {i + 1}/{n}")
    opd_cyto += opd_nuc
    return ObjectMaps(opd_um=opd_cyto, labels=labels, lamin=lamin, h3k27me3=h3,
                      nucleus_area_px=areas, nucleus_centroid_yx=centroids,
                      cell_area_px=cell_areas)


def _render_nucleus(
    pop: Population, i: int, config: PhantomConfig, field_shape: tuple[int, int],
    rng: np.random.Generator, marker_rng: np.random.Generator,
) -> _Nucleus | None:
    cells, fl, pixel = config.cells, config.fluorescence, config.optics.pixel_size_um
    bound = float(nucleus_bound_px(pop.nucleus_axes[i:i + 1], pop.nucleus_harmonics[i:i + 1])[0])
    win = window(tuple(pop.nucleus_yx[i]), bound + PATCH_PAD, field_shape)
    if win is None:
        return None
    axes, angle = pop.nucleus_axes[i], float(pop.nucleus_angle[i])
    rho = outline_distance(win, axes, angle, pop.nucleus_harmonics[i])
    mask = rho < 1.0
    height_um = float(pop.nucleus_thickness_um[i])
    exponent = MITOTIC_EXPONENT if pop.mitotic[i] else NUCLEUS_EXPONENT
    height = cap_height(rho, height_um, exponent=exponent)
    corr_um = float(pop.chromatin_correlation_um[i])
    scales = {"fine_px": corr_um / pixel, "domain_px": cells.chromatin_domain_um / pixel,
              "domain_weight": cells.chromatin_domain_weight}
    tex = chromatin.texture(rng, win.shape, **scales)
    centres, radii = chromatin.draw_foci(rng, count=int(pop.foci_count[i]),
                                         radius_px=float(pop.focus_radius_um[i]) / pixel,
                                         axes=axes, angle=angle)
    foci = chromatin.sphere_path(win, centres, radii, pixel_um=pixel)
    chord, occupancy = chromatin.nucleoli_chords(
        rng, win, count=int(pop.nucleoli_count[i]),
        radius_px=float(pop.nucleolus_radius_um[i]) / pixel, axes=axes, angle=angle,
        pixel_um=pixel,
    )
    n_nuc, n_cyto = float(pop.nucleus_index[i]), float(pop.cytoplasm_index[i])
    texture_opd = float(pop.chromatin_contrast[i]) * tex * np.sqrt(height * corr_um)
    foci_opd = cells.focus_index_contrast * foci
    chromatin_opd = cells.label_free_texture_gain * (texture_opd + foci_opd)
    nucleolus_opd = (float(pop.nucleolus_index[i]) - n_nuc) * chord
    opd_extra = ((n_nuc - n_cyto) * height + chromatin_opd + nucleolus_opd) * mask
    coupling = fl.h3k27me3_texture_coupling
    own = chromatin.texture(marker_rng, win.shape, **scales) if coupling < 1.0 else tex
    density = np.clip(1.0 + fl.h3k27me3_texture_contrast
                      * chromatin.coupled_texture(tex, own, coupling), 0.05, None)
    if pop.mitotic[i]:
        lamin = np.zeros(win.shape, dtype=np.float32)
        h3 = fl.h3k27me3_mitotic_brightness * height * density
    else:
        shell = chromatin.lamina_path(win, rho, height_um=height_um,
                                      shell_um=fl.lamin_rim_thickness_um, pixel_um=pixel,
                                      exponent=exponent)
        if pop.lamin_rim_modulation[i] > 0:
            shell = shell * chromatin.rim_modulation(
                win, amplitude=float(pop.lamin_rim_modulation[i]),
                order=int(pop.lamin_rim_order[i]), phase=float(pop.lamin_rim_phase[i]))
        lamin = shell + fl.lamin_nucleoplasmic_fraction * height
        e = float(pop.response[i])
        enrichment = fl.h3k27me3_peripheral_enrichment * max(
            1.0 + config.treatment.h3k27me3_peripheral_gain * e, 0.0)
        periphery = 1.0 + enrichment * np.clip(rho, 0.0, 1.0) ** 4
        exclusion = 1.0 - fl.h3k27me3_nucleolar_exclusion * occupancy
        marked = _marked_foci(pop, i, config, win, centres, radii, foci)
        h3 = height * density * periphery * exclusion + fl.h3k27me3_foci_brightness * marked * mask
    h3 = h3 * float(pop.h3k27me3_level[i])
    return _Nucleus(win=win, mask=mask, height=height,
                    opd_extra=opd_extra.astype(np.float32), lamin=lamin.astype(np.float32),
                    h3k27me3=h3.astype(np.float32))


def _marked_foci(
    pop: Population, i: int, config: PhantomConfig, win: Window, centres: np.ndarray,
    radii: np.ndarray, foci: np.ndarray,
) -> np.ndarray:
    """H3K27me3 path of the cell's marked foci: filled, or partly moved into a shell (treated)."""
    pixel = config.optics.pixel_size_um
    marked = int(pop.h3k27me3_foci_count[i])
    if marked == radii.size:
        filled = foci
    else:
        filled = chromatin.sphere_path(win, centres[:marked], radii[:marked], pixel_um=pixel)
    share = min(config.treatment.foci_h3k27me3_shell * float(pop.response[i]), 1.0)
    if share <= 0.0 or marked == 0:
        return filled
    shell = chromatin.shell_path(win, centres[:marked], radii[:marked], pixel_um=pixel)
    return np.float32(1.0 - share) * filled + np.float32(share) * shell


def _render_cytoplasm(
    pop: Population, i: int, config: PhantomConfig, nucleus: _Nucleus | None,
    opd_cyto: np.ndarray, lamin: np.ndarray,
) -> int:
    """Draw the cell body (max-combined optical path); returns the rendered footprint in px."""
    offset = pop.cell_offset_yx[i]
    centre = (float(pop.nucleus_yx[i, 0] + offset[0]), float(pop.nucleus_yx[i, 1] + offset[1]))
    bound = float(nucleus_bound_px(pop.cell_axes[i:i + 1], pop.cell_harmonics[i:i + 1])[0])
    nuc_bound = float(nucleus_bound_px(pop.nucleus_axes[i:i + 1],
                                       pop.nucleus_harmonics[i:i + 1])[0])
    radius = max(bound, float(np.hypot(*offset)) + nuc_bound) + PATCH_PAD
    win = window(centre, radius, (opd_cyto.shape[0], opd_cyto.shape[1]))
    if win is None:
        return 0
    rho = outline_distance(win, pop.cell_axes[i], float(pop.cell_angle[i]), pop.cell_harmonics[i])
    mitotic = bool(pop.mitotic[i])
    exponent = MITOTIC_EXPONENT if mitotic else SPREAD_CELL_EXPONENT
    height = cap_height(rho, float(pop.cytoplasm_thickness_um[i]), exponent=exponent)
    if nucleus is not None:
        sub = win.sub(nucleus.win)
        covered = np.where(nucleus.mask, nucleus.height + config.cells.nucleus_cover_um, 0.0)
        np.maximum(height[sub], covered.astype(np.float32), out=height[sub])
    delta_n = np.float32(pop.cytoplasm_index[i] - config.optics.n_medium)
    region = opd_cyto[win.rows, win.cols]
    np.maximum(region, delta_n * height, out=region)
    if mitotic:
        lamin[win.rows, win.cols] += config.fluorescence.lamin_mitotic_diffuse * height
    return int(np.count_nonzero(height))

