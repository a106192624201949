import numpy as np
import pytest
from scipy import stats
from scipy.spatial import cKDTree

from stainworth.contracts.phantom import PhantomConfig
from stainworth.phantom.cells import nucleus_bound_px, sample_population

FIELD = (5000, 5000)  # 2.56 mm^2: about 2300 cells at the default density


def population(condition, *, seed=0, **sections):
    config = PhantomConfig.model_validate(sections)
    return sample_population(config, condition=condition, field_shape=FIELD,
                             rng=np.random.default_rng(seed))


def nucleus_area(pop):
    return np.pi * pop.nucleus_axes[:, 0] * pop.nucleus_axes[:, 1]


@pytest.fixture(scope="module")
def control():
    return population("control", seed=1)


@pytest.fixture(scope="module")
def treated():
    return population("treated", seed=2)


def test_density_is_honoured(control):
    expected = 900 * FIELD[0] * FIELD[1] * (0.32e-3) ** 2
    assert abs(len(control) - expected) < 5 * np.sqrt(expected)


def test_nuclei_never_overlap(control):
    bound = nucleus_bound_px(control.nucleus_axes, control.nucleus_harmonics)
    gap = 1.0 / 0.32
    pairs = cKDTree(control.nucleus_yx).query_pairs(2 * bound.max() + gap, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    distance = np.hypot(*(control.nucleus_yx[i] - control.nucleus_yx[j]).T)
    assert len(pairs) > 100
    assert np.all(distance >= bound[i] + bound[j] + gap - 1e-9)


def test_treated_nuclei_are_larger_with_more_and_larger_foci(control, treated):
    interphase_c, interphase_t = ~control.mitotic, ~treated.mitotic
    area_ratio = nucleus_area(treated)[interphase_t].mean() / nucleus_area(control)[
        interphase_c].mean()
    assert 1.1 < area_ratio < 1.6
    assert treated.foci_count[interphase_t].mean() > 1.8 * control.foci_count[interphase_c].mean()
    assert treated.focus_radius_um.mean() > 1.2 * control.focus_radius_um.mean()
    assert treated.chromatin_correlation_um.mean() > control.chromatin_correlation_um.mean()
    assert treated.nucleolus_radius_um.mean() > control.nucleolus_radius_um.mean()
    assert treated.cytoplasm_thickness_um[interphase_t].mean() < control.cytoplasm_thickness_um[
        interphase_c].mean()


def test_classes_overlap_because_responses_vary(control, treated):
    area_c, area_t = nucleus_area(control), nucleus_area(treated)
    auc = stats.mannwhitneyu(area_t, area_c).statistic / (area_t.size * area_c.size)
    assert 0.6 < auc < 0.85
    assert abs(treated.responder.mean() - 0.75) < 0.05
    assert np.all(control.response == 0) and not control.responder.any()
    assert treated.response[~treated.responder].max() <= 0.1


def test_zero_strength_treated_matches_control_in_distribution(control):
    treated = population("treated", seed=3, treatment={"strength": 0.0})
    assert np.all(treated.response == 0)
    for values in (nucleus_area, lambda p: p.foci_count, lambda p: p.cytoplasm_thickness_um,
                   lambda p: p.nucleoli_count):
        assert stats.ks_2samp(values(control), values(treated)).pvalue > 0.01
    assert abs(nucleus_area(treated).mean() / nucleus_area(control).mean() - 1) < 0.03


def test_mitotic_fraction_is_honoured_and_reduced_by_treatment():
    control = population("control", seed=4, cells={"mitotic_fraction": 0.1})
    treated = population("treated", seed=5, cells={"mitotic_fraction": 0.1})
    sd = np.sqrt(0.1 * 0.9 / len(control))
    assert abs(control.mitotic.mean() - 0.1) < 4 * sd
    assert treated.mitotic.mean() < 0.6 * control.mitotic.mean()


def test_mitotic_cells_are_rounded_and_condensed(control):
    mitotic = control.mitotic
    assert mitotic.sum() > 20
    cell_aspect = control.cell_axes[:, 0] / control.cell_axes[:, 1]
    assert cell_aspect[mitotic].max() <= 1.15 + 1e-9
    assert control.cytoplasm_thickness_um[mitotic].min() >= 7.0
    assert control.nucleus_index[mitotic].min() >= 1.375
    assert np.all(control.nucleoli_count[mitotic] == 0)
    assert np.all(control.foci_count[mitotic] == 0)
    assert nucleus_area(control)[mitotic].mean() < 0.5 * nucleus_area(control)[~mitotic].mean()


def test_same_seed_same_population():
    a, b = population("treated", seed=9), population("treated", seed=9)
    assert np.array_equal(a.nucleus_yx, b.nucleus_yx)
    assert np.array_equal(a.foci_count, b.foci_count)
