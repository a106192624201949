"""The cell population: where cells are and what each one is like (geometry, indices, labels).

Every quantity is drawn once per cell, vectorised over the population. Lateral sizes are stored in
pixels, heights in um. Treated cells carry an effect amount ``response`` (e = strength * r) that
scales each documented effect of long 5-FU exposure; control cells have e = 0, so a treatment of
strength 0 yields a population with exactly the control distribution. The per-cell label
quantities (H3K27me3 level and marked foci, Lamin A/C rim modulation) come from a stream of their
own, so that changing them leaves every other draw, and hence the phase, unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

from stainworth.contracts.phantom import CellConfig, PhantomConfig, TreatmentConfig

HARMONIC_ORDERS = np.array([2, 3, 4])
"""Orders of the radial harmonics that deform cell and nucleus outlines."""
MITOTIC_NUCLEUS_SCALE = 0.55
"""Equivalent radius of the condensed chromosome mass relative to an interphase nucleus."""
MITOTIC_CHROMATIN_HEIGHT = 0.6
"""Height of the chromosome mass relative to the interphase nucleus height."""
PLACEMENT_ATTEMPTS = 30
"""Candidate positions tried per cell before it is left out."""
MIN_REDUCTION = 0.1
"""Floor of the multiplicative reductions (1 - weight * e)."""
MAX_HARMONIC_AMPLITUDE = 0.3
"""Cap of each outline harmonic amplitude after the treatment's irregularity increase."""
RIM_ORDERS = (2, 4)
"""Smallest and largest order k of the Lamin A/C rim modulation (drawn uniformly per cell)."""


@dataclass(frozen=True)
class Population:
    """Per-cell parameters; every array has the population size n along axis 0.

    Lateral quantities are in field pixels, heights in um, indices dimensionless.
    """

    nucleus_yx: np.ndarray
    """(n, 2) float64 nucleus centre in field pixels."""
    cell_offset_yx: np.ndarray
    """(n, 2) float64 cell centre minus nucleus centre, px."""
    cell_axes: np.ndarray
    """(n, 2) float64 cell semi-axes (major, minor), px."""
    cell_angle: np.ndarray
    """(n,) float64 cell orientation, rad."""
    cell_harmonics: np.ndarray
    """(n, 3, 2) float64 amplitude and phase of the outline harmonics of orders 2, 3, 4."""
    cytoplasm_thickness_um: np.ndarray
    """(n,) peak cytoplasm thickness (rounded-cell height for mitotic cells), um."""
    cytoplasm_index: np.ndarray
    """(n,) cytoplasm refractive index."""
    nucleus_axes: np.ndarray
    """(n, 2) nucleus semi-axes (major, minor), px (chromosome mass for mitotic cells)."""
    nucleus_angle: np.ndarray
    """(n,) nucleus orientation, rad."""
    nucleus_harmonics: np.ndarray
    """(n, 3, 2) nucleus outline harmonics."""
    nucleus_thickness_um: np.ndarray
    """(n,) nucleus height, um."""
    nucleus_index: np.ndarray
    """(n,) nucleoplasm (or condensed chromatin) refractive index."""
    nucleoli_count: np.ndarray
    """(n,) int number of nucleoli."""
    nucleolus_radius_um: np.ndarray
    """(n,) mean nucleolus radius, um."""
    nucleolus_index: np.ndarray
    """(n,) nucleolus refractive index."""
    foci_count: np.ndarray
    """(n,) int number of heterochromatin foci."""
    focus_radius_um: np.ndarray
    """(n,) mean focus radius, um."""
    chromatin_correlation_um: np.ndarray
    """(n,) correlation length of the fine chromatin texture, um."""
    chromatin_contrast: np.ndarray
    """(n,) standard deviation of the chromatin refractive index texture."""
    mitotic: np.ndarray
    """(n,) bool, cell in mitosis."""
    responder: np.ndarray
    """(n,) bool, treated cell that responds."""
    response: np.ndarray
    """(n,) effect amount e = strength * r (0 for control cells)."""
    h3k27me3_level: np.ndarray
    """(n,) factor on the cell's H3K27me3 label: lognormal variation times the treatment loss."""
    h3k27me3_foci_count: np.ndarray
    """(n,) int number of the cell's foci that carry H3K27me3 (its first foci)."""
    lamin_rim_modulation: np.ndarray
    """(n,) amplitude m of the lamina density modulation, in [0, 1]."""
    lamin_rim_order: np.ndarray
    """(n,) int order k of the lamina density modulation."""
    lamin_rim_phase: np.ndarray
    """(n,) phase psi0 of the lamina density modulation, rad."""

    def __len__(self) -> int:
        return int(self.nucleus_yx.shape[0])

    def take(self, index: np.ndarray) -> Population:
        """The sub-population at ``index`` (integer or boolean array)."""
        fields = dataclasses.fields(self)
        return Population(**{f.name: getattr(self, f.name)[index] for f in fields})


def nucleus_bound_px(axes: np.ndarray, harmonics: np.ndarray) -> np.ndarray:
    """Radius (px) of a circle that contains every nucleus (or cell) outline, shape (n,)."""
    return axes[:, 0] * (1.0 + np.abs(harmonics[:, :, 0]).sum(axis=1))


def sample_population(
    config: PhantomConfig,
    *,
    condition: Literal["control", "treated"],
    field_shape: tuple[int, int],
    rng: np.random.Generator,
    marker_rng: np.random.Generator,
) -> Population:
    """Draw and place the cells of one field.

    Parameters
    ----------
    config
        Phantom configuration (``cells``, ``treatment`` and ``optics.pixel_size_um`` are used).
    condition
        ``"control"`` or ``"treated"``.
    field_shape
        (height, width) of the rendered field in px; nuclei centres fall anywhere inside it.
    rng
        Random generator of geometry, indices, chromatin and placement (consumed
        deterministically).
    marker_rng
        Random generator of the label quantities (H3K27me3 level, marked foci, Lamin A/C rim).

    Returns
    -------
    Population
        The placed cells. Nuclei never overlap: the outline-bounding circles of two nuclei keep
        ``min_nucleus_gap_um`` apart. Cells that find no free position after
        ``PLACEMENT_ATTEMPTS`` candidates are left out, so very high densities saturate.
    """
    pixel = config.optics.pixel_size_um
    area_mm2 = field_shape[0] * field_shape[1] * (pixel * 1e-3) ** 2
    n_target = int(rng.poisson(config.cells.density_per_mm2 * area_mm2))
    effect, responder = _responses(config.treatment, condition, n_target, rng)
    params = _draw_cells(config.cells, config.treatment, effect, pixel, rng)
    _dilute_dry_mass(params, config.treatment, effect, config.optics.n_medium)
    params.update(_draw_labels(config, effect, params["foci_count"], marker_rng))
    params["responder"] = responder
    params["response"] = effect
    bound = nucleus_bound_px(params["nucleus_axes"], params["nucleus_harmonics"])
    gap = config.cells.min_nucleus_gap_um / pixel
    centres, placed = _place(bound, gap, field_shape, rng)
    params["nucleus_yx"] = centres
    population = Population(**params)
    return population.take(np.flatnonzero(placed))


def _responses(
    treatment: TreatmentConfig, condition: str, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    responder = rng.random(n) < treatment.responder_fraction
    strong = np.clip(rng.normal(1.0, treatment.response_sd, n), 0.0, 2.0)
    weak = rng.uniform(0.0, treatment.nonresponder_response, n)
    response = np.where(responder, strong, weak)
    if condition != "treated":
        return np.zeros(n), np.zeros(n, dtype=bool)
    return treatment.strength * response, responder


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], n)


def _reduce(weight: float, effect: np.ndarray) -> np.ndarray:
    return np.maximum(1.0 - weight * effect, MIN_REDUCTION)


def _harmonics(rng: np.random.Generator, amplitude: float, n: int) -> np.ndarray:
    amp = rng.uniform(0.0, amplitude, (n, HARMONIC_ORDERS.size))
    phase = rng.uniform(0.0, 2.0 * np.pi, (n, HARMONIC_ORDERS.size))
    return np.stack([amp, phase], axis=-1)


def _axes(radius: np.ndarray, aspect: np.ndarray) -> np.ndarray:
    return np.stack([radius * np.sqrt(aspect), radius / np.sqrt(aspect)], axis=1)


def _lognormal_mean_one(rng: np.random.Generator, cv: np.ndarray) -> np.ndarray:
    """Lognormal factors of mean 1 and coefficients of variation ``cv`` (1 exactly where cv is 0)."""
    sigma = np.sqrt(np.log1p(cv**2))
    return np.exp(sigma * rng.standard_normal(cv.size) - 0.5 * sigma**2)


def _draw_labels(
    config: PhantomConfig, e: np.ndarray, foci_count: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per-cell label quantities: the marker-only and Lamin A/C effects."""
    fl, treatment = config.fluorescence, config.treatment
    n = e.size
    cv = fl.h3k27me3_cell_variation * (1 + treatment.h3k27me3_variation_increase * e)
    level = _lognormal_mean_one(rng, cv) * _reduce(treatment.h3k27me3_loss, e)
    marked = rng.binomial(foci_count, fl.h3k27me3_foci_fraction)
    modulation = fl.lamin_rim_modulation * (1 + treatment.lamin_rim_modulation_increase * e)
    return {
        "h3k27me3_level": level,
        "h3k27me3_foci_count": marked.astype(np.int64),
        "lamin_rim_modulation": np.minimum(modulation, 1.0),
        "lamin_rim_order": rng.integers(RIM_ORDERS[0], RIM_ORDERS[1] + 1, n).astype(np.int64),
        "lamin_rim_phase": rng.uniform(0.0, 2.0 * np.pi, n),
    }


def _dilute_dry_mass(
    params: dict[str, np.ndarray], treatment: TreatmentConfig, e: np.ndarray, n_medium: float
) -> None:
    """Scale the cytoplasm and nucleoplasm index excess over the medium (phase-only effect).

    Written as ``n - (n - n_medium) (1 - f)`` so that cells with e = 0 keep their index exactly;
    the condensed chromatin of mitotic cells keeps its index.
    """
    loss = 1.0 - _reduce(treatment.dry_mass_dilution, e)
    cyto = params["cytoplasm_index"]
    params["cytoplasm_index"] = cyto - (cyto - n_medium) * loss
    nuc = params["nucleus_index"]
    params["nucleus_index"] = np.where(params["mitotic"], nuc, nuc - (nuc - n_medium) * loss)


def _draw_cells(
    cells: CellConfig, treatment: TreatmentConfig, e: np.ndarray, pixel: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    n = e.size
    sigma = np.sqrt(np.log1p(cells.cell_variation**2))
    size = rng.lognormal(-0.5 * sigma**2, sigma, n)
    arrest = _reduce(treatment.proliferation_arrest, e)
    mitotic = rng.random(n) < cells.mitotic_fraction * arrest
    enlarge = 1 + treatment.nuclear_enlargement * e
    r_nuc = _uniform(rng, cells.nucleus_radius_um, n) * size * enlarge
    r_cell = _uniform(rng, cells.cell_radius_um, n) * size * (1 + treatment.cell_spreading * e)
    r_cell = np.maximum(r_cell, 1.3 * r_nuc)
    r_round = _uniform(rng, cells.mitotic_cell_radius_um, n) * size
    r_cell = np.where(mitotic, np.maximum(r_round, 1.2 * MITOTIC_NUCLEUS_SCALE * r_nuc), r_cell)
    r_nuc = np.where(mitotic, MITOTIC_NUCLEUS_SCALE * r_nuc, r_nuc)
    cell_aspect = np.where(mitotic, rng.uniform(1.0, 1.15, n),
                           rng.uniform(1.0, cells.cell_aspect_ratio_max, n))
    nuc_aspect = np.where(mitotic, rng.uniform(1.2, 2.5, n),
                          rng.uniform(1.0, cells.nucleus_aspect_ratio_max, n))
    cell_harm = _harmonics(rng, cells.shape_irregularity, n)
    cell_harm[mitotic, :, 0] *= 0.3
    offset_len = np.where(mitotic, 0.0, rng.uniform(0.0, 0.35, n) * (r_cell - r_nuc)) / pixel
    offset_dir = rng.uniform(0.0, 2.0 * np.pi, n)
    height = np.where(mitotic, _uniform(rng, cells.mitotic_height_um, n),
                      _uniform(rng, cells.cytoplasm_thickness_um, n)
                      * _reduce(treatment.cell_flattening, e))
    nuc_height = _uniform(rng, cells.nucleus_thickness_um, n)
    nuc_height = nuc_height * _reduce(treatment.nuclear_flattening, e)
    nucleoli = rng.integers(cells.nucleoli_count[0], cells.nucleoli_count[1] + 1, n)
    fused = np.maximum(np.rint(nucleoli * _reduce(treatment.nucleolar_fusion, e)), 1)
    nucleoli = np.where(nucleoli > 0, fused, 0)
    foci = rng.poisson(cells.foci_mean_count * (1 + treatment.foci_count_increase * e))
    params = {
        "cell_offset_yx": np.stack([np.sin(offset_dir), np.cos(offset_dir)], axis=1)
        * offset_len[:, None],
        "cell_axes": _axes(r_cell / pixel, cell_aspect),
        "cell_angle": rng.uniform(0.0, np.pi, n),
        "cell_harmonics": cell_harm,
        "cytoplasm_thickness_um": height,
        "cytoplasm_index": _uniform(rng, cells.cytoplasm_index, n),
        "nucleus_axes": _axes(r_nuc / pixel, nuc_aspect),
        "nucleus_angle": rng.uniform(0.0, np.pi, n),
        "nucleus_harmonics": _harmonics(rng, cells.nucleus_irregularity, n),
        "nucleus_thickness_um": np.where(mitotic, MITOTIC_CHROMATIN_HEIGHT * nuc_height,
                                         nuc_height),
        "nucleus_index": np.where(mitotic, _uniform(rng, cells.mitotic_chromatin_index, n),
                                  _uniform(rng, cells.nucleus_index, n)),
        "nucleoli_count": np.where(mitotic, 0, nucleoli).astype(np.int64),
        "nucleolus_radius_um": _uniform(rng, cells.nucleolus_radius_um, n)
        * (1 + treatment.nucleolar_enlargement * e),
        "nucleolus_index": _uniform(rng, cells.nucleolus_index, n),
        "foci_count": np.where(mitotic, 0, foci).astype(np.int64),
        "focus_radius_um": _uniform(rng, cells.focus_radius_um, n)
        * (1 + treatment.foci_enlargement * e),
        "chromatin_correlation_um": np.full(n, cells.chromatin_correlation_um)
        * (1 + treatment.chromatin_coarsening * e),
        "chromatin_contrast": np.full(n, cells.chromatin_index_contrast)
        * (1 + treatment.chromatin_compaction * e),
        "mitotic": mitotic,
    }
    irregular = params["nucleus_harmonics"]
    irregular[:, :, 0] = np.minimum(
        irregular[:, :, 0] * (1 + treatment.nuclear_irregularity * e)[:, None],
        MAX_HARMONIC_AMPLITUDE)
    return params


def _place(
    bound: np.ndarray, gap: float, field_shape: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rejection sampling of nucleus centres on a bucket grid; returns centres and placed flags."""
    n = bound.size
    centres = np.zeros((n, 2))
    placed = np.zeros(n, dtype=bool)
    bucket = float(2.0 * (bound.max() if n else 1.0) + gap)
    grid: dict[tuple[int, int], list[int]] = {}
    candidates = rng.uniform(0.0, 1.0, (n, PLACEMENT_ATTEMPTS, 2)) * np.array(field_shape)
    for i in range(n):
        for y, x in candidates[i]:
            by, bx = int(y // bucket), int(x // bucket)
            near = [j for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                    for j in grid.get((by + dy, bx + dx), ())]
            if near:
                dist = np.hypot(centres[near, 0] - y, centres[near, 1] - x)
                if np.any(dist < bound[near] + bound[i] + gap):
                    continue
            centres[i] = (y, x)
            placed[i] = True
            grid.setdefault((by, bx), []).append(i)
            break
    return centres, placed
