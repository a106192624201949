import dataclasses

import cv2
import numpy as np
import pytest
from scipy import ndimage

from stainworth.contracts.phantom import PhantomConfig
from stainworth.phantom import Acquisition, CellRecord, generate_acquisition

SMALL = {"acquisition": {"rows": 2, "cols": 2, "tile_size_px": 256}}


def small_config(**sections):
    data = {key: dict(value) for key, value in SMALL.items()}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    return PhantomConfig.model_validate(data)


def arrays(acq):
    yield from acq.qpi_tiles
    for tiles in acq.fluorescence_tiles.values():
        yield from tiles
    yield from (acq.nominal_positions, acq.true_positions, acq.fluorescence_to_qpi,
                acq.nuclei_labels, acq.qpi_clean)


@pytest.fixture(scope="module")
def small():
    return generate_acquisition(small_config(), condition="treated", seed=7)


@pytest.fixture(scope="module")
def large_fields():
    """One 1024 px field per condition with the default biology (about 100 cells each)."""
    config = PhantomConfig.model_validate(
        {"acquisition": {"rows": 1, "cols": 1, "tile_size_px": 1024}})
    return {condition: generate_acquisition(config, condition=condition, seed=3)
            for condition in ("control", "treated")}


def test_types_shapes_and_dtypes(small):
    assert isinstance(small, Acquisition)
    assert len(small.qpi_tiles) == 4 and small.tile_index == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(t.dtype == np.float32 and t.shape == (256, 256) for t in small.qpi_tiles)
    assert set(small.fluorescence_tiles) == {"lamin_a_c", "h3k27me3"}
    for tiles in small.fluorescence_tiles.values():
        assert len(tiles) == 4
        assert all(t.dtype == np.uint16 and t.shape == (256, 256) for t in tiles)
    assert small.mosaic_shape == (486, 486)
    assert small.nuclei_labels.shape == small.qpi_clean.shape == small.mosaic_shape
    assert small.nuclei_labels.dtype == np.uint32 and small.qpi_clean.dtype == np.float32
    assert small.fluorescence_to_qpi.shape == (2, 3)
    assert small.fluorescence_to_qpi.dtype == np.float64
    assert small.true_positions.shape == (4, 2) and small.true_positions.dtype == np.int64
    assert small.pixel_size_um == 0.32 and small.condition == "treated" and small.seed == 7
    assert all(np.isfinite(t).all() for t in small.qpi_tiles)
    with pytest.raises(dataclasses.FrozenInstanceError):
        small.condition = "control"


def test_same_seed_is_bit_identical_and_other_seeds_differ(small):
    again = generate_acquisition(small_config(), condition="treated", seed=7)
    for first, second in zip(arrays(small), arrays(again), strict=True):
        assert first.dtype == second.dtype and np.array_equal(first, second)
    assert again.cells == small.cells
    other = generate_acquisition(small_config(), condition="treated", seed=8)
    control = generate_acquisition(small_config(), condition="control", seed=7)
    for different in (other, control):
        assert not np.array_equal(different.qpi_clean, small.qpi_clean)
        assert not np.array_equal(different.qpi_tiles[0], small.qpi_tiles[0])


def test_labels_and_cell_records_agree(small):
    ids = [cell.id for cell in small.cells]
    assert ids == list(range(1, len(ids) + 1))
    assert int(small.nuclei_labels.max()) == len(ids) > 5
    areas = np.bincount(small.nuclei_labels.ravel(), minlength=len(ids) + 1)[1:]
    centroids = ndimage.center_of_mass(small.nuclei_labels > 0, small.nuclei_labels, ids)
    for cell, area, centroid in zip(small.cells, areas, centroids, strict=True):
        assert isinstance(cell, CellRecord) and cell.condition == "treated"
        assert area > 0
        if cell.touches_border:
            assert area < cell.nucleus_area_px
        else:
            assert area == cell.nucleus_area_px
            assert np.allclose(cell.centroid_yx, centroid, atol=1e-6)
    assert any(cell.response > 0 for cell in small.cells)


def nucleus_mean_phase(acq):
    labels = acq.nuclei_labels
    count = np.bincount(labels.ravel())[1:]
    total = np.bincount(labels.ravel(), weights=acq.qpi_clean.ravel())[1:]
    return total / np.maximum(count, 1)


def test_phase_ranges_over_cytoplasm_and_nuclei(large_fields):
    acq = large_fields["control"]
    mean_phase = nucleus_mean_phase(acq)
    mitotic = np.array([cell.mitotic for cell in acq.cells])
    interphase = mean_phase[~mitotic]
    assert len(interphase) > 50
    assert 1.3 <= np.median(interphase) <= 3.0
    assert np.mean((interphase > 1.0) & (interphase < 3.0)) > 0.9
    nuclei = ndimage.binary_dilation(acq.nuclei_labels > 0, iterations=4)
    cytoplasm = acq.qpi_clean[(acq.qpi_clean > 0.1) & ~nuclei]
    assert cytoplasm.size > 0.1 * acq.qpi_clean.size
    assert 0.4 <= np.median(cytoplasm) <= 1.0
    assert np.percentile(cytoplasm, 90) <= 1.3
    if mitotic.any():
        assert mean_phase[mitotic].mean() > np.percentile(interphase, 90)


def test_treated_nuclei_are_larger_end_to_end(large_fields):
    def areas(acq):
        return np.array([c.nucleus_area_px for c in acq.cells
                         if not c.touches_border and not c.mitotic])

    control, treated = areas(large_fields["control"]), areas(large_fields["treated"])
    assert treated.mean() > 1.1 * control.mean()
    foci_c = np.mean([c.n_foci for c in large_fields["control"].cells])
    foci_t = np.mean([c.n_foci for c in large_fields["treated"].cells])
    assert foci_t > 1.5 * foci_c


def fine_texture(acq):
    high_pass = acq.qpi_clean - ndimage.gaussian_filter(acq.qpi_clean, 1.5)
    inner = ndimage.binary_erosion(acq.nuclei_labels > 0, iterations=4)
    return float(high_pass[inner].std())


def test_label_free_texture_gain_controls_fine_chromatin_contrast_in_qpi():
    textures = [fine_texture(generate_acquisition(
        small_config(cells={"label_free_texture_gain": gain}), condition="treated", seed=7))
        for gain in (0.0, 1.0, 3.0)]
    assert textures[0] < textures[1] < textures[2]
    assert textures[2] > 2.0 * textures[0]


def test_fluorescence_background_sits_at_offset_plus_gain_times_background(small):
    camera = small_config().fluorescence
    expected = camera.camera_offset_adu + camera.camera_gain_adu_per_electron * (
        camera.background_photons)
    empty = ndimage.binary_erosion(small.qpi_clean == 0, iterations=25)
    y, x = small.true_positions[0]
    region = empty[y:y + 256, x:x + 256]
    assert region.sum() > 1000
    for tiles in small.fluorescence_tiles.values():
        assert abs(np.median(tiles[0][region]) - expected) < 0.1 * expected


def test_lamin_rims_and_bright_h3k27me3_foci(small):
    camera = small_config().fluorescence
    baseline = camera.camera_offset_adu + camera.camera_gain_adu_per_electron * (
        camera.background_photons)
    lamin = small.fluorescence_tiles["lamin_a_c"][0].astype(float) - baseline
    h3 = small.fluorescence_tiles["h3k27me3"][0].astype(float) - baseline
    height, width = small.mosaic_shape
    nuclei_in_fluorescence_frame = cv2.warpAffine(
        (small.nuclei_labels > 0).astype(np.uint8), small.fluorescence_to_qpi, (width, height),
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    y, x = small.true_positions[0]
    depth = ndimage.distance_transform_edt(nuclei_in_fluorescence_frame[y:y + 256, x:x + 256])
    rim, core = (depth >= 1) & (depth <= 3), depth >= 8
    assert core.sum() > 100
    assert np.median(lamin[rim]) > 1.25 * np.median(lamin[core])
    assert np.median(lamin[depth == 0]) < 0.1 * np.median(lamin[core])
    assert np.percentile(h3[core], 99) > 1.5 * np.median(h3[core])


def test_progress_reports_cells_and_tiles():
    lines = []
    generate_acquisition(small_config(), condition="control", seed=1, progress=lines.append)
    assert any(line.startswith("cells ") for line in lines)
    assert [line for line in lines if line.startswith("tile ")] == [f"tile {k}/4" for k in
                                                                    range(1, 5)]
    assert lines[-1].startswith("fluorescence")


def nucleus_counts(acq, channel):
    """Mean camera counts of a channel over the nuclei of the first tile (fluorescence frame)."""
    height, width = acq.mosaic_shape
    nuclei = cv2.warpAffine((acq.nuclei_labels > 0).astype(np.uint8), acq.fluorescence_to_qpi,
                            (width, height), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    y, x = acq.true_positions[0]
    inside = nuclei[y:y + 256, x:x + 256] > 0
    return float(acq.fluorescence_tiles[channel][0][inside].mean())


def test_h3k27me3_loss_changes_the_marker_and_not_the_phase(small):
    lost = generate_acquisition(small_config(treatment={"h3k27me3_loss": 0.5}),
                                condition="treated", seed=7)
    assert np.array_equal(lost.qpi_clean, small.qpi_clean)
    for mine, theirs in zip(lost.qpi_tiles, small.qpi_tiles, strict=True):
        assert np.array_equal(mine, theirs)
    for mine, theirs in zip(lost.fluorescence_tiles["lamin_a_c"],
                            small.fluorescence_tiles["lamin_a_c"], strict=True):
        assert np.array_equal(mine, theirs)
    assert nucleus_counts(lost, "h3k27me3") < 0.85 * nucleus_counts(small, "h3k27me3")


def test_dry_mass_dilution_changes_the_phase_and_not_the_labels(small):
    diluted = generate_acquisition(small_config(treatment={"dry_mass_dilution": 0.3}),
                                   condition="treated", seed=7)
    for channel, tiles in small.fluorescence_tiles.items():
        for mine, theirs in zip(diluted.fluorescence_tiles[channel], tiles, strict=True):
            assert np.array_equal(mine, theirs)
    assert np.array_equal(diluted.nuclei_labels, small.nuclei_labels)
    assert nucleus_mean_phase(diluted).mean() < 0.9 * nucleus_mean_phase(small).mean()
    cells = small.qpi_clean > 0.1
    assert diluted.qpi_clean[cells].mean() < 0.9 * small.qpi_clean[cells].mean()
