from pathlib import Path

import cv2
import numpy as np
import pytest

from stainworth.contracts.phantom import PhantomConfig
from stainworth.errors import ConfigError, InputDataError
from stainworth.labels import clean_labels, label_nuclei_classical, label_quality, require_nuclei
from stainworth.phantom import generate_acquisition

TILE = 384
PIXEL_UM = 0.32
ISL_DAPI = Path(__file__).parents[1] / "data" / "isl_rat_neurons_a4" / "dapi_confocal_maxproject.png"


@pytest.fixture(scope="module", params=["control", "treated"])
def phantom_tiles(request):
    """(Lamin A/C tile, ground-truth labels) pairs, fluorescence registered to the label frame."""
    config = PhantomConfig.model_validate({"acquisition": {
        "rows": 2, "cols": 2, "tile_size_px": TILE,
        "max_shift_px": 0, "max_rotation_deg": 0, "max_scale_deviation": 0,
    }})
    acq = generate_acquisition(config, condition=request.param, seed=3)
    return [
        (acq.fluorescence_tiles["lamin_a_c"][i], acq.nuclei_labels[y:y + TILE, x:x + TILE])
        for i, (y, x) in enumerate(acq.true_positions)
    ]


def test_phantom_lamin_tiles_are_labelled_well(phantom_tiles):
    scores = [label_quality(label_nuclei_classical(image, pixel_size_um=PIXEL_UM), truth)
              for image, truth in phantom_tiles]
    dice = [s["dice"] for s in scores]
    ap = [s["ap"] for s in scores]
    assert np.mean(dice) > 0.85 and min(dice) > 0.8
    assert np.mean(ap) > 0.7 and min(ap) > 0.6


def test_clean_up_keeps_phantom_quality(phantom_tiles):
    image, truth = phantom_tiles[0]
    labels = label_nuclei_classical(image, pixel_size_um=PIXEL_UM)
    cleaned = clean_labels(labels, min_area_px=round(15.0 / PIXEL_UM**2))
    assert label_quality(cleaned, truth)["dice"] > 0.85
    assert 0 < cleaned.max() <= labels.max()


def test_isl_dapi_nucleus_count():
    image = cv2.imread(str(ISL_DAPI), cv2.IMREAD_UNCHANGED)
    assert image.dtype == np.uint16 and image.shape == (1024, 1024)
    labels = label_nuclei_classical(image, pixel_size_um=0.33, nucleus_diameter_um=9.0, marker="fill")
    labels = clean_labels(labels, min_area_px=round(15.0 / 0.33**2))
    # The data's README says "about 44"; many nuclei overlap in the max projection and a
    # distance-transform watershed under-splits those clumps while splitting some others.
    assert 40 <= labels.max() <= 80


def disc(shape, centre, radius):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def noisy(signal, seed=0):
    rng = np.random.default_rng(seed)
    return (200 + 800 * signal + rng.normal(0, 10, signal.shape)).astype(np.float32)


def test_rim_marker_gives_filled_nuclei():
    shape = (80, 80)
    ring = disc(shape, (40, 40), 15) & ~disc(shape, (40, 40), 12)
    labels = label_nuclei_classical(noisy(ring.astype(float)), pixel_size_um=0.5, nucleus_diameter_um=15.0,
                                    marker="rim")
    assert labels.max() == 1
    assert label_quality(labels, disc(shape, (40, 40), 15).astype(np.uint8))["dice"] > 0.9


def test_touching_nuclei_are_split():
    shape = (80, 120)
    truth = np.zeros(shape, np.uint8)
    truth[disc(shape, (40, 40), 18)] = 1
    truth[disc(shape, (40, 72), 18)] = 2  # centres 32 px apart: a narrow neck
    labels = label_nuclei_classical(noisy((truth > 0).astype(float)), pixel_size_um=0.5, nucleus_diameter_um=18.0,
                                    marker="fill")
    q = label_quality(labels, truth)
    assert q["n_pred"] == 2 and q["ap"] == 1.0


def test_nothing_found_gives_empty_labels_and_require_nuclei_says_so():
    image = noisy(np.zeros((64, 64)))
    labels = label_nuclei_classical(image, pixel_size_um=0.32, threshold=1e6)
    assert labels.dtype == np.uint32 and labels.shape == (64, 64) and not labels.any()
    with pytest.raises(InputDataError, match="tile 0: no nuclei found"):
        require_nuclei(labels, where="tile 0")


def test_deterministic(phantom_tiles):
    image = phantom_tiles[1][0]
    first = label_nuclei_classical(image, pixel_size_um=PIXEL_UM)
    assert first.dtype == np.uint32
    np.testing.assert_array_equal(first, label_nuclei_classical(image.copy(), pixel_size_um=PIXEL_UM))


def test_numpy_scalars_are_accepted_as_options():
    image = noisy(disc((64, 64), (32, 32), 12).astype(float))
    labels = label_nuclei_classical(image, pixel_size_um=np.float32(0.5), nucleus_diameter_um=np.float32(12.0))
    assert labels.max() == 1


def nan_image():
    image = np.ones((16, 16), np.float32)
    image[3, 3] = np.nan
    return image


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.ones((3, 16, 16), np.uint16), r"found shape \(3, 16, 16\), expected a 2-D"),
        (nan_image(), "found 1 NaN/Inf pixels"),
        (np.full((16, 16), np.inf, np.float32), "found 256 NaN/Inf pixels"),
        (np.full((16, 16), 7, np.uint16), "all pixels equal 7"),
        (np.zeros((16, 16), bool), "found dtype bool"),
        (np.zeros((0, 16), np.uint16), "empty"),
    ],
)
def test_bad_images_are_refused_in_one_line(image, match):
    with pytest.raises(InputDataError, match=match) as info:
        label_nuclei_classical(image, pixel_size_um=PIXEL_UM)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"pixel_size_um": 0}, "pixel_size_um"),
        ({"pixel_size_um": 0.3, "nucleus_diameter_um": float("nan")}, "nucleus_diameter_um"),
        ({"pixel_size_um": 0.3, "marker": "ring"}, "marker"),
        ({"pixel_size_um": 0.3, "threshold": "li"}, "threshold"),
        ({"pixel_size_um": 0.3, "min_distance_um": -1.0}, "min_distance_um"),
        ({"pixel_size_um": 0.3, "min_area_um2": float("inf")}, "min_area_um2"),
        ({"pixel_size_um": True}, "pixel_size_um"),
    ],
)
def test_bad_options_are_refused(options, match):
    with pytest.raises(ConfigError, match=match):
        label_nuclei_classical(noisy(disc((32, 32), (16, 16), 8).astype(float)), **options)
