"""Configuration of the acquisition phantom (:mod:`stainworth.phantom`).

Every parameter has a physical unit, a default taken from the literature or from the reference
study, and bounds. ``docs/phantom.md`` gives the sources of the defaults and the model behind them.
Ranges are ``(low, high)`` pairs; a cell draws each ranged quantity uniformly inside its range.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field, model_validator

from stainworth.contracts.base import StrictModel

Micrometers = Annotated[float, Field(gt=0.0, le=200.0)]
RefractiveIndex = Annotated[float, Field(ge=1.0, le=1.8)]
Count = Annotated[int, Field(ge=0, le=50)]
MicronRange = tuple[Micrometers, Micrometers]
IndexRange = tuple[RefractiveIndex, RefractiveIndex]
CountRange = tuple[Count, Count]

MAX_MOSAIC_PIXELS = 200_000_000
"""Largest mosaic (height x width) the phantom renders in memory (about 14000 x 14000 px)."""
JITTER_CLIP_SIGMAS = 3.0
"""Stage jitter is a Gaussian clipped at this many standard deviations."""


def _check_ranges(model: StrictModel, names: tuple[str, ...]) -> None:
    for name in names:
        low, high = getattr(model, name)
        if low > high:
            raise ValueError(
                f"{name} must be a (low, high) range with low <= high; found ({low}, {high})"
            )


class OpticsConfig(StrictModel):
    """Label-free (TIE quantitative phase) and fluorescence optics."""

    pixel_size_um: float = Field(default=0.32, gt=0.01, le=10.0)
    """Pixel size in the sample plane, in um (both cameras)."""
    wavelength_um: float = Field(default=0.53, ge=0.2, le=2.0)
    """Vacuum wavelength of the transmitted-light illumination, in um."""
    n_medium: float = Field(default=1.337, ge=1.0, le=1.7)
    """Refractive index of the culture medium (dimensionless)."""
    objective_na: float = Field(default=0.4, gt=0.0, le=1.5)
    """Numerical aperture of the objective (sets the coherent cutoff NA/lambda and the PSF)."""
    condenser_na: float = Field(default=0.2, ge=0.0, le=1.5)
    """Illumination (condenser) numerical aperture; 0 is fully coherent illumination."""
    defocus_um: float = Field(default=1.5, gt=0.0, le=50.0)
    """Defocus +/- dz of the two intensity images used by the TIE, in um."""
    tie_regularization: float = Field(default=3e-4, ge=0.0, le=1e3)
    """Tikhonov parameter alpha of the TIE inverse Laplacian q^2/(q^4+alpha), in um^-4."""
    photons_per_pixel: float = Field(default=5000.0, ge=1.0, le=1e7)
    """Mean detected photons per pixel in each defocused intensity image (sets shot noise)."""
    absorption_ratio: float = Field(default=0.01, ge=0.0, le=1.0)
    """Amplitude attenuation per radian of phase (imaginary/real part of the index contrast)."""
    propagation_margin_px: int = Field(default=32, ge=0, le=1024)
    """Sample beyond each tile edge included when propagating the field to the defocus planes."""
    tie_padding_px: int = Field(default=64, ge=0, le=2048)
    """Reflect padding added to each tile before the TIE Fourier solve, in px."""
    emission_wavelength_lamin_um: float = Field(default=0.52, ge=0.3, le=1.0)
    """Emission wavelength of the Lamin A/C label (Alexa Fluor 488-like), in um."""
    emission_wavelength_h3k27me3_um: float = Field(default=0.67, ge=0.3, le=1.0)
    """Emission wavelength of the H3K27me3 label (Alexa Fluor 647-like), in um."""

    @model_validator(mode="after")
    def _apertures(self) -> OpticsConfig:
        if self.objective_na >= self.n_medium:
            raise ValueError(
                f"objective_na ({self.objective_na}) must be below n_medium ({self.n_medium})"
            )
        if self.condenser_na > self.objective_na:
            raise ValueError(
                f"condenser_na ({self.condenser_na}) must not exceed objective_na "
                f"({self.objective_na}) for phase contrast by defocus"
            )
        return self


class CellConfig(StrictModel):
    """Population, geometry, refractive indices and chromatin of the cells (control state)."""

    density_per_mm2: float = Field(default=900.0, gt=0.0, le=20000.0)
    """Cells per mm^2 of coverslip (fewer are placed if nuclei cannot be packed)."""
    min_nucleus_gap_um: float = Field(default=1.0, ge=0.0, le=50.0)
    """Smallest gap between the outlines of two nuclei, in um (nuclei never overlap)."""
    cell_radius_um: MicronRange = (7.0, 11.0)
    """Range of the equivalent radius of a spread (interphase) cell footprint, in um."""
    cell_aspect_ratio_max: float = Field(default=1.6, ge=1.0, le=5.0)
    """Largest major/minor axis ratio of a cell footprint (drawn in [1, max])."""
    shape_irregularity: float = Field(default=0.08, ge=0.0, le=0.3)
    """Amplitude of the radial harmonics (orders 2-4) deforming a cell outline (fraction)."""
    cytoplasm_thickness_um: MicronRange = (1.5, 3.0)
    """Range of the peak cytoplasm thickness away from the nucleus, in um."""
    cytoplasm_index: IndexRange = (1.36, 1.37)
    """Range of the cytoplasm refractive index."""
    nucleus_radius_um: MicronRange = (4.0, 5.5)
    """Range of the equivalent radius of an interphase nucleus, in um."""
    nucleus_aspect_ratio_max: float = Field(default=1.4, ge=1.0, le=4.0)
    """Largest major/minor axis ratio of a nucleus (drawn in [1, max])."""
    nucleus_irregularity: float = Field(default=0.04, ge=0.0, le=0.2)
    """Amplitude of the radial harmonics deforming a nucleus outline (fraction)."""
    nucleus_thickness_um: MicronRange = (4.0, 8.0)
    """Range of the nucleus height (ellipsoid), in um."""
    nucleus_index: IndexRange = (1.355, 1.365)
    """Range of the nucleoplasm refractive index."""
    nucleus_cover_um: float = Field(default=0.4, ge=0.0, le=5.0)
    """Cytoplasm layer above the nucleus, in um."""
    nucleoli_count: CountRange = (1, 4)
    """Range of the number of nucleoli per interphase nucleus."""
    nucleolus_radius_um: MicronRange = (0.5, 1.0)
    """Range of the nucleolus radius (spheres), in um."""
    nucleolus_index: IndexRange = (1.38, 1.39)
    """Range of the nucleolus refractive index."""
    chromatin_index_contrast: float = Field(default=0.006, ge=0.0, le=0.05)
    """Standard deviation of the refractive index of chromatin density fluctuations."""
    chromatin_correlation_um: float = Field(default=0.35, gt=0.0, le=10.0)
    """Correlation length of the fine chromatin texture, in um."""
    chromatin_domain_um: float = Field(default=1.2, gt=0.0, le=20.0)
    """Correlation length of mid-scale chromatin domains, in um."""
    chromatin_domain_weight: float = Field(default=0.4, ge=0.0, le=1.0)
    """Share of the texture variance carried by the mid-scale domains."""
    foci_mean_count: float = Field(default=6.0, ge=0.0, le=200.0)
    """Mean (Poisson) number of heterochromatin foci per interphase nucleus."""
    focus_radius_um: MicronRange = (0.25, 0.45)
    """Range of the radius of a heterochromatin focus, in um."""
    focus_index_contrast: float = Field(default=0.02, ge=0.0, le=0.1)
    """Refractive index excess of a heterochromatin focus over the nucleoplasm."""
    label_free_texture_gain: float = Field(default=1.0, ge=0.0, le=10.0)
    """Scales how strongly chromatin texture and foci appear in refractive index (hence QPI)."""
    cell_variation: float = Field(default=0.1, ge=0.0, le=1.0)
    """Coefficient of variation of a lognormal size factor shared by a cell and its nucleus."""
    mitotic_fraction: float = Field(default=0.04, ge=0.0, le=1.0)
    """Fraction of control cells in mitosis (rounded, condensed chromatin, no lamina)."""
    mitotic_cell_radius_um: MicronRange = (6.0, 8.0)
    """Range of the radius of a rounded mitotic cell, in um."""
    mitotic_height_um: MicronRange = (7.0, 10.0)
    """Range of the height of a rounded mitotic cell, in um."""
    mitotic_chromatin_index: IndexRange = (1.375, 1.385)
    """Range of the refractive index of condensed mitotic chromosomes."""

    @model_validator(mode="after")
    def _ordered_ranges(self) -> CellConfig:
        _check_ranges(self, (
            "cell_radius_um", "cytoplasm_thickness_um", "cytoplasm_index", "nucleus_radius_um",
            "nucleus_thickness_um", "nucleus_index", "nucleoli_count", "nucleolus_radius_um",
            "nucleolus_index", "focus_radius_um", "mitotic_cell_radius_um", "mitotic_height_um",
            "mitotic_chromatin_index",
        ))
        return self

    @model_validator(mode="after")
    def _nucleus_fits(self) -> CellConfig:
        if self.nucleus_radius_um[1] >= self.cell_radius_um[1]:
            raise ValueError(
                f"nucleus_radius_um {self.nucleus_radius_um} must stay below cell_radius_um "
                f"{self.cell_radius_um} (a nucleus lies inside its cell)"
            )
        return self


class TreatmentConfig(StrictModel):
    """Effects of long (20-day) 5-FU exposure, each scaled by ``strength`` and a cell's response.

    A treated cell with response r gets the effect amount e = strength * r, and each effect
    multiplies its quantity by (1 + weight * e) (or (1 - weight * e) for reductions).
    """

    strength: float = Field(default=1.0, ge=0.0, le=1.0)
    """Overall treatment strength; 0 renders treated cells exactly like control cells."""
    responder_fraction: float = Field(default=0.75, ge=0.0, le=1.0)
    """Fraction of treated cells that respond (the rest keep a small residual response)."""
    response_sd: float = Field(default=0.35, ge=0.0, le=2.0)
    """Standard deviation of a responder's response around 1 (clipped to [0, 2])."""
    nonresponder_response: float = Field(default=0.1, ge=0.0, le=1.0)
    """Largest response of a non-responder (drawn uniformly in [0, value])."""
    nuclear_enlargement: float = Field(default=0.12, ge=0.0, le=3.0)
    """Fractional increase of the nucleus radius at e = 1."""
    cell_spreading: float = Field(default=0.4, ge=0.0, le=3.0)
    """Fractional increase of the cell footprint radius at e = 1."""
    cell_flattening: float = Field(default=0.3, ge=0.0, le=0.9)
    """Fractional decrease of the cytoplasm thickness at e = 1."""
    nuclear_flattening: float = Field(default=0.15, ge=0.0, le=0.9)
    """Fractional decrease of the nucleus height at e = 1."""
    foci_count_increase: float = Field(default=1.5, ge=0.0, le=10.0)
    """Fractional increase of the mean number of heterochromatin foci at e = 1 (SAHF)."""
    foci_enlargement: float = Field(default=0.5, ge=0.0, le=3.0)
    """Fractional increase of the heterochromatin focus radius at e = 1."""
    chromatin_coarsening: float = Field(default=0.6, ge=0.0, le=5.0)
    """Fractional increase of the fine chromatin correlation length at e = 1 (granularity)."""
    chromatin_compaction: float = Field(default=0.3, ge=0.0, le=3.0)
    """Fractional increase of the chromatin index contrast at e = 1."""
    nucleolar_enlargement: float = Field(default=0.35, ge=0.0, le=3.0)
    """Fractional increase of the nucleolus radius at e = 1 (nucleolar stress)."""
    nucleolar_fusion: float = Field(default=0.4, ge=0.0, le=0.9)
    """Fractional decrease of the nucleolus count at e = 1 (at least one remains)."""
    proliferation_arrest: float = Field(default=0.8, ge=0.0, le=1.0)
    """Fractional decrease of the probability of being in mitosis at e = 1."""
    nuclear_irregularity: float = Field(default=1.0, ge=0.0, le=10.0)
    """Fractional increase of the nucleus outline irregularity at e = 1 (seen by all channels)."""
    dry_mass_dilution: float = Field(default=0.1, ge=-1.0, le=0.9)
    """Fractional decrease of the cytoplasm and nucleoplasm index excess over the medium at e = 1.

    Phase only; the two compartments keep their ratio. Negative values make treated cells denser.
    """
    h3k27me3_loss: float = Field(default=0.15, ge=-1.0, le=0.9)
    """Fractional decrease of the H3K27me3 level per unit chromatin at e = 1.

    Marker only. Negative values model a gain.
    """
    h3k27me3_variation_increase: float = Field(default=0.5, ge=0.0, le=10.0)
    """Fractional increase of ``fluorescence.h3k27me3_cell_variation`` at e = 1 (marker only)."""
    foci_h3k27me3_shell: float = Field(default=0.6, ge=0.0, le=1.0)
    """Share of a marked focus's H3K27me3 moved into a shell around it at e = 1 (marker only).

    The shell is the projection of a sphere of 1.5 x the focus radius minus the focus; the phase
    keeps the filled focus. The share is capped at 1 for e > 1.
    """
    h3k27me3_peripheral_gain: float = Field(default=0.3, ge=-1.0, le=10.0)
    """Fractional increase of ``fluorescence.h3k27me3_peripheral_enrichment`` at e = 1.

    Marker only. Negative values model detachment from the periphery (the enrichment stops at 0).
    """
    lamin_rim_modulation_increase: float = Field(default=2.0, ge=0.0, le=20.0)
    """Fractional increase of ``fluorescence.lamin_rim_modulation`` at e = 1 (Lamin A/C only)."""


class FluorescenceConfig(StrictModel):
    """Fluorescence labels (Lamin A/C, H3K27me3) and the fluorescence camera."""

    lamin_photons_per_um: float = Field(default=400.0, ge=0.0, le=1e6)
    """Detected electrons per pixel per um of path through lamina-density label."""
    h3k27me3_photons_per_um: float = Field(default=150.0, ge=0.0, le=1e6)
    """Detected electrons per pixel per um of path through unit H3K27me3 density."""
    background_photons: float = Field(default=60.0, ge=0.0, le=1e5)
    """Background (medium, out-of-sample autofluorescence) electrons per pixel, each channel."""
    camera_offset_adu: float = Field(default=100.0, ge=0.0, le=10000.0)
    """Camera baseline added to every pixel, in ADU."""
    camera_gain_adu_per_electron: float = Field(default=2.0, gt=0.0, le=100.0)
    """Camera conversion gain, in ADU per electron."""
    read_noise_electrons: float = Field(default=1.6, ge=0.0, le=100.0)
    """Gaussian read noise, in electrons RMS."""
    lamin_rim_thickness_um: float = Field(default=0.4, gt=0.0, le=3.0)
    """Effective thickness of the labelled lamina shell, in um."""
    lamin_nucleoplasmic_fraction: float = Field(default=0.06, ge=0.0, le=1.0)
    """Density of the nucleoplasmic Lamin A/C pool relative to the lamina."""
    lamin_mitotic_diffuse: float = Field(default=0.03, ge=0.0, le=1.0)
    """Density of dispersed Lamin A/C over a mitotic cell (lamina disassembled)."""
    h3k27me3_peripheral_enrichment: float = Field(default=0.8, ge=0.0, le=10.0)
    """Fractional increase of H3K27me3 density at the nuclear periphery."""
    h3k27me3_foci_brightness: float = Field(default=6.0, ge=0.0, le=100.0)
    """H3K27me3 density of a heterochromatin focus relative to the nucleoplasm."""
    h3k27me3_nucleolar_exclusion: float = Field(default=0.8, ge=0.0, le=1.0)
    """Fraction of H3K27me3 signal missing inside nucleoli."""
    h3k27me3_texture_contrast: float = Field(default=0.25, ge=0.0, le=2.0)
    """Relative modulation of H3K27me3 density by the chromatin texture."""
    h3k27me3_texture_coupling: float = Field(default=0.5, ge=0.0, le=1.0)
    """Correlation c of the H3K27me3 texture with the refractive-index texture.

    The marker's texture is ``c tex + sqrt(1 - c^2) tex2`` with ``tex2`` an independent field of
    the same statistics; 1 uses the refractive-index texture itself.
    """
    h3k27me3_foci_fraction: float = Field(default=0.6, ge=0.0, le=1.0)
    """Probability that a heterochromatin focus carries H3K27me3 (QPI sees every focus)."""
    h3k27me3_cell_variation: float = Field(default=0.2, ge=0.0, le=2.0)
    """Coefficient of variation of a lognormal, mean-1 factor on a cell's H3K27me3 level."""
    lamin_rim_modulation: float = Field(default=0.1, ge=0.0, le=1.0)
    """Amplitude m of the lamina density modulation ``1 + m cos(k psi + psi0)`` along the rim.

    psi is the polar angle about the nucleus centre; k (2-4) and psi0 are drawn per cell. The
    amplitude after the treatment increase is capped at 1.
    """
    h3k27me3_mitotic_brightness: float = Field(default=2.5, ge=0.0, le=100.0)
    """H3K27me3 density of condensed mitotic chromosomes relative to interphase nucleoplasm."""
    out_of_focus_fraction: float = Field(default=0.15, ge=0.0, le=1.0)
    """Fraction of the fluorescence spread by the out-of-focus (widefield) haze."""
    out_of_focus_sigma_um: float = Field(default=2.0, gt=0.0, le=50.0)
    """Standard deviation of the out-of-focus haze, in um."""


class AcquisitionConfig(StrictModel):
    """Tiled acquisition: grid, overlap, stage jitter and camera-to-camera misregistration."""

    rows: int = Field(default=3, ge=1, le=64)
    """Number of tile rows."""
    cols: int = Field(default=3, ge=1, le=64)
    """Number of tile columns."""
    tile_size_px: int = Field(default=768, ge=64, le=8192)
    """Side of a square tile, in px."""
    overlap: float = Field(default=0.1, ge=0.0, lt=1.0)
    """Nominal overlap of adjacent tiles as a fraction of the tile size."""
    stage_jitter_px: float = Field(default=2.0, ge=0.0, le=50.0)
    """Standard deviation of the stage position error, in px (clipped at 3 sigma)."""
    max_shift_px: float = Field(default=6.0, ge=0.0, le=200.0)
    """Largest fluorescence-to-QPI translation per axis, in px."""
    max_rotation_deg: float = Field(default=0.5, ge=0.0, le=10.0)
    """Largest fluorescence-to-QPI rotation, in degrees."""
    max_scale_deviation: float = Field(default=0.004, ge=0.0, le=0.1)
    """Largest fluorescence-to-QPI relative scale deviation (0.004 = 0.4 %)."""

    @property
    def step_px(self) -> int:
        """Nominal distance between adjacent tile origins, in px."""
        return int(round(self.tile_size_px * (1.0 - self.overlap)))

    @property
    def jitter_clip_px(self) -> int:
        """Largest stage position error per axis, in px."""
        return int(math.ceil(JITTER_CLIP_SIGMAS * self.stage_jitter_px))

    @property
    def mosaic_shape(self) -> tuple[int, int]:
        """(height, width) of the mosaic covered by the nominal tile grid, in px."""
        step, tile = self.step_px, self.tile_size_px
        return ((self.rows - 1) * step + tile, (self.cols - 1) * step + tile)

    @model_validator(mode="after")
    def _positive_step(self) -> AcquisitionConfig:
        if self.step_px < 1:
            raise ValueError(
                f"overlap {self.overlap} of tile_size_px {self.tile_size_px} leaves no positive "
                f"step between tiles (step {self.step_px} px); lower the overlap"
            )
        return self

    @model_validator(mode="after")
    def _overlap_survives_jitter(self) -> AcquisitionConfig:
        overlap_px = self.tile_size_px - self.step_px
        if self.overlap > 0 and overlap_px <= 2 * self.jitter_clip_px:
            raise ValueError(
                f"overlap of {overlap_px} px (overlap {self.overlap}) must exceed twice the "
                f"stage jitter clip ({2 * self.jitter_clip_px} px from stage_jitter_px "
                f"{self.stage_jitter_px}); raise the overlap or lower the jitter"
            )
        return self

    @model_validator(mode="after")
    def _bounded_mosaic(self) -> AcquisitionConfig:
        height, width = self.mosaic_shape
        if height * width > MAX_MOSAIC_PIXELS:
            raise ValueError(
                f"mosaic of {height} x {width} px (rows {self.rows}, cols {self.cols}, "
                f"tile_size_px {self.tile_size_px}) exceeds {MAX_MOSAIC_PIXELS} px; "
                "render several fields instead"
            )
        return self


class PhantomConfig(StrictModel):
    """Everything the acquisition phantom needs: optics, cells, treatment, labels, tiling."""

    optics: OpticsConfig = Field(default_factory=OpticsConfig)
    """Label-free and fluorescence optics."""
    cells: CellConfig = Field(default_factory=CellConfig)
    """Cell population and control-state biology."""
    treatment: TreatmentConfig = Field(default_factory=TreatmentConfig)
    """Effects of the drug treatment."""
    fluorescence: FluorescenceConfig = Field(default_factory=FluorescenceConfig)
    """Fluorescence labels and camera."""
    acquisition: AcquisitionConfig = Field(default_factory=AcquisitionConfig)
    """Tile grid, stage jitter and misregistration."""

    @model_validator(mode="after")
    def _tile_holds_cells(self) -> PhantomConfig:
        tile_um = self.acquisition.tile_size_px * self.optics.pixel_size_um
        cell_um = 2.0 * self.cells.cell_radius_um[1]
        if tile_um < cell_um:
            raise ValueError(
                f"a tile of {tile_um:.1f} um (tile_size_px {self.acquisition.tile_size_px} x "
                f"pixel_size_um {self.optics.pixel_size_um}) is smaller than a cell "
                f"({cell_um:.1f} um across); use larger tiles"
            )
        return self
