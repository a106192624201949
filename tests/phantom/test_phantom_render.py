import math

import numpy as np
import pytest
from scipy import ndimage, stats
from skimage.measure import regionprops

from stainworth.contracts.phantom import PhantomConfig
from stainworth.phantom import chromatin
from stainworth.phantom.cells import nucleus_bound_px, sample_population
from stainworth.phantom.geometry import cap_height, ellipse_offsets, outline_distance, window
from stainworth.phantom.render import PATCH_PAD, render_population

PIXEL = 0.32
FIELD = (1200, 1200)  # about 140 cells
NEW_TREATMENT_WEIGHTS = ("nuclear_irregularity", "dry_mass_dilution", "h3k27me3_loss",
                         "h3k27me3_variation_increase", "foci_h3k27me3_shell",
                         "h3k27me3_peripheral_gain", "lamin_rim_modulation_increase")
NULL = {
    "fluorescence": {"h3k27me3_texture_coupling": 1.0, "h3k27me3_foci_fraction": 1.0,
                     "h3k27me3_cell_variation": 0.0, "lamin_rim_modulation": 0.0},
    "treatment": dict.fromkeys(NEW_TREATMENT_WEIGHTS, 0.0),
}
"""Every modality-specific effect off: the marker shares the phase's texture and every focus."""


def config_with(base, **sections):
    data = {key: dict(value) for key, value in base.items()}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    return PhantomConfig.model_validate(data)


def render(condition="treated", *, seed=0, base=NULL, field=FIELD, **sections):
    config = config_with(base, **sections)
    pop = sample_population(config, condition=condition, field_shape=field,
                            rng=np.random.default_rng([seed, 0]),
                            marker_rng=np.random.default_rng([seed, 1]))
    maps = render_population(pop, config, field_shape=field, rng=np.random.default_rng([seed, 2]),
                             marker_rng=np.random.default_rng([seed, 3]))
    return pop, maps


def per_nucleus(maps, image, statistic=np.mean):
    return np.array([statistic(image[r.slice][maps.labels[r.slice] == r.label])
                     for r in regionprops(maps.labels)])


def depth_bands(maps):
    """Per nucleus: its region and the depth of each pixel of its bounding box inside it (px)."""
    for region in regionprops(maps.labels):
        inside = maps.labels[region.slice] == region.label
        depth = ndimage.distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1]
        yield region, depth


def high_pass_correlation(maps):
    def high_pass(image):
        return image - ndimage.gaussian_filter(image, 2.0)

    inner = ndimage.binary_erosion(maps.labels > 0, iterations=4)
    return np.corrcoef(high_pass(maps.opd_um)[inner], high_pass(maps.h3k27me3)[inner])[0, 1]


def test_outline_distance_is_one_on_the_rotated_ellipse():
    win = window((50.0, 50.0), 50, (101, 101))
    axes, angle = np.array([30.0, 15.0]), math.radians(30)
    rho = outline_distance(win, axes, angle, np.zeros((3, 2)))
    offsets = ellipse_offsets(np.ones(8), np.linspace(0, 2 * np.pi, 8, endpoint=False), axes,
                              angle)
    for dy, dx in np.rint(offsets).astype(int):
        assert rho[50 + dy, 50 + dx] == pytest.approx(1.0, abs=0.06)
    assert rho[50, 50] == 0.0


def test_harmonics_deform_the_outline():
    win = window((50.0, 50.0), 50, (101, 101))
    axes = np.array([30.0, 30.0])
    harmonics = np.array([[0.2, 0.0], [0.0, 0.0], [0.0, 0.0]])  # order 2 along x and y
    rho = outline_distance(win, axes, 0.0, harmonics)
    assert rho[50, 50 + 36] == pytest.approx(1.0, abs=0.02)  # radius 30 * 1.2 along x
    assert rho[50 + 24, 50] == pytest.approx(1.0, abs=0.02)  # radius 30 * 0.8 along y


def test_window_is_clipped_to_the_field():
    win = window((2.0, 97.0), 10, (100, 100))
    assert (win.rows, win.cols) == (slice(0, 13), slice(87, 100))
    assert win.dy[0, 0] == -2.0 and win.dx[0, -1] == 2.0
    assert window((-50.0, -50.0), 10, (100, 100)) is None


def test_cap_height_profile():
    rho = np.array([0.0, 0.5, 1.0, 1.5], dtype=np.float32)
    assert cap_height(rho, 6.0).tolist() == pytest.approx([6.0, 6.0 * math.sqrt(0.75), 0, 0])
    flat = cap_height(rho, 6.0, exponent=4.0)
    assert flat[1] > cap_height(rho, 6.0)[1]


def test_texture_is_unit_variance_and_coarsens_with_correlation_length():
    rng = np.random.default_rng(0)
    fine = chromatin.texture(rng, (128, 128), fine_px=1.0, domain_px=4.0, domain_weight=0.0)
    coarse = chromatin.texture(rng, (128, 128), fine_px=3.0, domain_px=4.0, domain_weight=0.0)
    assert fine.std() == pytest.approx(1.0, abs=1e-3) and abs(fine.mean()) < 1e-3

    def neighbour_correlation(field):
        return np.corrcoef(field[:, :-2].ravel(), field[:, 2:].ravel())[0, 1]

    assert neighbour_correlation(coarse) > neighbour_correlation(fine) + 0.3


def test_foci_have_the_volume_of_their_spheres():
    win = window((40.0, 40.0), 40, (81, 81))
    rng = np.random.default_rng(1)
    axes = np.array([25.0, 20.0])
    centres, radii = chromatin.draw_foci(rng, count=12, radius_px=1.5, axes=axes, angle=0.3)
    path = chromatin.sphere_path(win, centres, radii, pixel_um=PIXEL)
    rng = np.random.default_rng(1)
    chromatin._points(rng, 12, chromatin.FOCI_MAX_RHO, axes, 0.3)
    radii_um = 1.5 * rng.uniform(0.7, 1.3, 12) * PIXEL
    volume = path.sum() * PIXEL**2
    assert volume == pytest.approx(np.sum(4 / 3 * np.pi * radii_um**3), rel=0.02)
    assert path.max() <= 2 * radii_um.max() * 1.5


def test_nucleoli_chords_peak_at_their_diameter():
    win = window((40.0, 40.0), 40, (81, 81))
    chord, occupancy = chromatin.nucleoli_chords(
        np.random.default_rng(2), win, count=1, radius_px=5.0, axes=np.array([25.0, 20.0]),
        angle=0.0, pixel_um=PIXEL)
    assert 0.9 < occupancy.max() <= 1.0
    assert 2 * 4 * PIXEL < chord.max() <= 2 * 6 * PIXEL
    assert np.count_nonzero(occupancy) == pytest.approx(np.pi * 25, rel=0.6)


def test_lamina_projection_is_a_bright_rim_around_a_dim_interior():
    win = window((40.0, 40.0), 40, (81, 81))
    rho = outline_distance(win, np.array([20.0, 20.0]), 0.0, np.zeros((3, 2)))
    path = chromatin.lamina_path(win, rho, height_um=6.0, shell_um=0.4, pixel_um=PIXEL,
                                 exponent=2.0)
    assert path[40, 40] == pytest.approx(0.8, abs=0.01)  # top and bottom shells
    assert path[40, 40 + 19] > 2 * path[40, 40]  # tangential path at the rim
    assert path[40, 40 + 22] == 0.0


def test_coupled_texture_has_the_requested_correlation():
    rng = np.random.default_rng(3)
    scales = {"fine_px": 1.0, "domain_px": 4.0, "domain_weight": 0.4}
    shared = chromatin.texture(rng, (256, 256), **scales)
    own = chromatin.texture(rng, (256, 256), **scales)
    assert chromatin.coupled_texture(shared, own, 1.0) is shared
    for coupling in (0.0, 0.3, 0.7):
        mixed = chromatin.coupled_texture(shared, own, coupling)
        assert mixed.dtype == np.float32
        assert np.corrcoef(mixed.ravel(), shared.ravel())[0, 1] == pytest.approx(coupling, abs=0.08)
        assert mixed.std() == pytest.approx(1.0, abs=0.08)


def test_shell_keeps_the_focus_volume_as_a_ring():
    win = window((20.0, 20.0), 20, (41, 41))
    centres, radii = np.zeros((1, 2)), np.array([3.0])
    filled = chromatin.sphere_path(win, centres, radii, pixel_um=PIXEL)
    shell = chromatin.shell_path(win, centres, radii, pixel_um=PIXEL)
    assert shell.min() >= 0.0
    assert shell.sum() == pytest.approx(filled.sum(), rel=1e-3)
    assert shell[20, 20] < shell.max() < 0.5 * filled.max()
    ring = shell[20, 20:].argmax()
    assert 1 <= ring <= 4


def test_rim_modulation_is_a_cosine_of_the_polar_angle():
    win = window((20.0, 20.0), 20, (41, 41))
    factor = chromatin.rim_modulation(win, amplitude=0.3, order=2, phase=0.0)
    assert factor.dtype == np.float32
    assert factor[20, 35] == pytest.approx(1.3) and factor[35, 20] == pytest.approx(0.7)
    assert factor.min() >= 0.7 - 1e-6 and factor.max() <= 1.3 + 1e-6


def shared_texture_h3k27me3(pop, config, field_shape, rng):
    """H3K27me3 map of the phantom in which the marker used the phase's texture and every focus."""
    cells, fl = config.cells, config.fluorescence
    h3 = np.zeros(field_shape, dtype=np.float32)
    for i in range(len(pop)):
        bound = float(nucleus_bound_px(pop.nucleus_axes[i:i + 1],
                                       pop.nucleus_harmonics[i:i + 1])[0])
        win = window(tuple(pop.nucleus_yx[i]), bound + PATCH_PAD, field_shape)
        if win is None:
            continue
        axes, angle = pop.nucleus_axes[i], float(pop.nucleus_angle[i])
        rho = outline_distance(win, axes, angle, pop.nucleus_harmonics[i])
        height = cap_height(rho, float(pop.nucleus_thickness_um[i]),
                            exponent=2.0 if pop.mitotic[i] else 4.0)
        tex = chromatin.texture(rng, win.shape, fine_px=pop.chromatin_correlation_um[i] / PIXEL,
                                domain_px=cells.chromatin_domain_um / PIXEL,
                                domain_weight=cells.chromatin_domain_weight)
        centres, radii = chromatin.draw_foci(rng, count=int(pop.foci_count[i]),
                                             radius_px=pop.focus_radius_um[i] / PIXEL, axes=axes,
                                             angle=angle)
        foci = chromatin.sphere_path(win, centres, radii, pixel_um=PIXEL)
        _, occupancy = chromatin.nucleoli_chords(
            rng, win, count=int(pop.nucleoli_count[i]),
            radius_px=float(pop.nucleolus_radius_um[i]) / PIXEL, axes=axes, angle=angle,
            pixel_um=PIXEL)
        density = np.clip(1.0 + fl.h3k27me3_texture_contrast * tex, 0.05, None)
        if pop.mitotic[i]:
            amount = fl.h3k27me3_mitotic_brightness * height * density
        else:
            periphery = 1.0 + fl.h3k27me3_peripheral_enrichment * np.clip(rho, 0.0, 1.0) ** 4
            exclusion = 1.0 - fl.h3k27me3_nucleolar_exclusion * occupancy
            amount = (height * density * periphery * exclusion
                      + fl.h3k27me3_foci_brightness * foci * (rho < 1.0))
        h3[win.rows, win.cols] += amount.astype(np.float32)
    return h3


@pytest.mark.parametrize("condition", ["control", "treated"])
def test_full_coupling_reproduces_the_shared_texture_marker_exactly(condition):
    pop, maps = render(condition, seed=4, cells={"mitotic_fraction": 0.2})
    assert pop.mitotic.any() and pop.foci_count.sum() > 100
    reference = shared_texture_h3k27me3(pop, config_with(NULL), FIELD,
                                        np.random.default_rng([4, 2]))
    assert np.array_equal(maps.h3k27me3, reference)
    _, coupled = render(condition, seed=4, cells={"mitotic_fraction": 0.2},
                        fluorescence={"h3k27me3_texture_coupling": 0.99})
    assert not np.array_equal(coupled.h3k27me3, reference)


VARIED = {"fluorescence": {"h3k27me3_cell_variation": 0.2}}
MODULATED = {"fluorescence": {"lamin_rim_modulation": 0.1}}


@pytest.mark.parametrize(
    ("context", "effect", "changed"),
    [
        ({}, {"treatment": {"h3k27me3_loss": 0.5}}, {"h3k27me3"}),
        (VARIED, {"treatment": {"h3k27me3_variation_increase": 2.0}}, {"h3k27me3"}),
        ({}, {"treatment": {"foci_h3k27me3_shell": 1.0}}, {"h3k27me3"}),
        ({}, {"treatment": {"h3k27me3_peripheral_gain": 2.0}}, {"h3k27me3"}),
        ({}, VARIED, {"h3k27me3"}),
        ({}, {"fluorescence": {"h3k27me3_foci_fraction": 0.3}}, {"h3k27me3"}),
        ({}, {"fluorescence": {"h3k27me3_texture_coupling": 0.5}}, {"h3k27me3"}),
        ({}, MODULATED, {"lamin"}),
        (MODULATED, {"treatment": {"lamin_rim_modulation_increase": 4.0}}, {"lamin"}),
        ({}, {"treatment": {"dry_mass_dilution": 0.3}}, {"opd_um"}),
        ({}, {"treatment": {"nuclear_irregularity": 3.0}},
         {"opd_um", "labels", "lamin", "h3k27me3"}),
    ],
)
def test_each_effect_changes_only_its_modalities(context, effect, changed):
    base = config_with(NULL, **context).model_dump()
    _, off = render(seed=5, base=base)
    _, on = render(seed=5, base=base, **effect)
    for image in ("opd_um", "labels", "lamin", "h3k27me3"):
        same = np.array_equal(getattr(on, image), getattr(off, image))
        assert same != (image in changed), f"{effect}: {image}"


def test_h3k27me3_loss_lowers_the_treated_marker_per_unit_area():
    pop, off = render(seed=6)
    _, on = render(seed=6, treatment={"h3k27me3_loss": 0.4})
    density_off, density_on = per_nucleus(off, off.h3k27me3), per_nucleus(on, on.h3k27me3)
    assert density_on.mean() < 0.8 * density_off.mean()
    response = pop.response[[r.label - 1 for r in regionprops(on.labels)]]
    assert np.allclose(density_on / density_off, 1 - 0.4 * response, rtol=1e-4)
    _, control_off = render("control", seed=6)
    _, control_on = render("control", seed=6, treatment={"h3k27me3_loss": 0.4})
    assert np.array_equal(control_on.h3k27me3, control_off.h3k27me3)


def test_cell_variation_spreads_the_marker_level_between_nuclei():
    def spread(maps):
        density = per_nucleus(maps, maps.h3k27me3)
        return density.std() / density.mean()

    _, plain = render("control", seed=7)
    _, varied = render("control", seed=7, fluorescence={"h3k27me3_cell_variation": 0.4})
    assert spread(varied) > spread(plain) + 0.15


def test_unmarked_foci_are_missing_from_the_marker_only():
    _, every = render(seed=8)
    _, some = render(seed=8, fluorescence={"h3k27me3_foci_fraction": 0.2})
    nuclei = every.labels > 0
    assert some.h3k27me3[nuclei].sum() < 0.9 * every.h3k27me3[nuclei].sum()
    assert per_nucleus(some, some.h3k27me3, np.max).mean() < per_nucleus(
        every, every.h3k27me3, np.max).mean()


def test_foci_shells_spread_the_marked_label_and_keep_its_amount():
    _, filled = render(seed=9)
    _, shelled = render(seed=9, treatment={"foci_h3k27me3_shell": 1.0})
    assert shelled.h3k27me3.sum() == pytest.approx(filled.h3k27me3.sum(), rel=0.01)
    peak_filled = per_nucleus(filled, filled.h3k27me3, np.max)
    peak_shelled = per_nucleus(shelled, shelled.h3k27me3, np.max)
    assert peak_shelled.mean() < 0.85 * peak_filled.mean()


def rim_to_core(maps, image):
    ratios = []
    for region, depth in depth_bands(maps):
        values = image[region.slice]
        core = depth >= 6
        if core.sum() >= 20:
            ratios.append(values[(depth >= 1) & (depth <= 3)].mean() / values[core].mean())
    return np.mean(ratios)


def test_peripheral_gain_raises_the_treated_marker_at_the_periphery():
    _, plain = render(seed=10)
    _, gained = render(seed=10, treatment={"h3k27me3_peripheral_gain": 1.0})
    assert rim_to_core(gained, gained.h3k27me3) > rim_to_core(plain, plain.h3k27me3) + 0.08


def test_dry_mass_dilution_lowers_the_treated_phase():
    _, dense = render(seed=11)
    _, diluted = render(seed=11, treatment={"dry_mass_dilution": 0.3})
    cells = dense.opd_um > 0.01
    assert diluted.opd_um[cells].mean() < 0.85 * dense.opd_um[cells].mean()
    assert per_nucleus(diluted, diluted.opd_um).mean() < 0.9 * per_nucleus(dense, dense.opd_um).mean()


@pytest.mark.parametrize("condition", ["control", "treated"])
def test_texture_coupling_sets_how_much_marker_texture_the_phase_shows(condition):
    no_bodies = {"foci_mean_count": 0.0, "nucleoli_count": [0, 0]}
    correlation = [high_pass_correlation(render(
        condition, seed=12, cells=no_bodies, fluorescence={"h3k27me3_texture_coupling": c})[1])
        for c in (0.0, 0.5, 1.0)]
    assert abs(correlation[0]) < 0.2
    assert correlation[0] + 0.2 < correlation[1] < correlation[2] - 0.2
    assert correlation[2] > 0.85


def rim_nonuniformity_per_nucleus(maps):
    """Coefficient of variation of Lamin A/C along each nucleus's outermost two pixels."""
    values = []
    for region, depth in depth_bands(maps):
        rim = maps.lamin[region.slice][(depth >= 1) & (depth <= 2)]
        values.append(rim.std() / rim.mean())
    return np.array(values)


def rim_nonuniformity(maps):
    return rim_nonuniformity_per_nucleus(maps).mean()


def test_lamin_rim_modulation_makes_the_rim_less_uniform():
    _, uniform = render(seed=13)
    _, modulated = render(seed=13, fluorescence={"lamin_rim_modulation": 0.3})
    assert rim_nonuniformity(modulated) > rim_nonuniformity(uniform) + 0.04
    base = {"fluorescence": {"lamin_rim_modulation": 0.1}}
    _, kept = render(seed=13, **base)
    _, increased = render(seed=13, **base, treatment={"lamin_rim_modulation_increase": 2.0})
    assert rim_nonuniformity(increased) > rim_nonuniformity(kept) + 0.04


def test_nuclear_irregularity_makes_outlines_less_convex():
    def solidity(maps):
        return np.array([r.solidity for r in regionprops(maps.labels)])

    _, smooth = render(seed=14)
    _, irregular = render(seed=14, treatment={"nuclear_irregularity": 3.0})
    assert solidity(irregular).mean() < solidity(smooth).mean() - 0.01


def test_zero_strength_treated_nuclei_match_control_in_every_channel():
    config = {"treatment": {"strength": 0.0}}
    field = (2000, 2000)
    _, control = render("control", seed=15, base={}, field=field, **config)
    _, treated = render("treated", seed=16, base={}, field=field, **config)
    for image in ("opd_um", "h3k27me3", "lamin"):
        first = per_nucleus(control, getattr(control, image))
        second = per_nucleus(treated, getattr(treated, image))
        assert len(first) > 300 and len(second) > 300
        assert stats.ks_2samp(first, second).pvalue > 0.01, image
    assert stats.ks_2samp(rim_nonuniformity_per_nucleus(control),
                          rim_nonuniformity_per_nucleus(treated)).pvalue > 0.01
    assert stats.ks_2samp(per_nucleus(control, control.h3k27me3, np.max),
                          per_nucleus(treated, treated.h3k27me3, np.max)).pvalue > 0.01
