import numpy as np
import pandas as pd
import pytest

from stainworth.contracts.manifest import directory_content_hash
from stainworth.contracts.phantom import PhantomConfig
from stainworth.datasets import (
    Mosaic,
    balance_and_split,
    extract_nuclei,
    filter_outliers,
    measure_nuclei,
    open_dataset,
    remove_outliers_iqr,
    write_classification_dataset,
)
from stainworth.errors import ConfigError, InputDataError
from stainworth.phantom import generate_acquisition

CANVAS = 48


def disc_field(radii, *, spacing=40, shape=None, seed=0):
    """Label image with one disc per radius on a grid, plus matching label-free / fluorescence."""
    per_row = 8
    rows = -(-len(radii) // per_row)
    shape = shape or (rows * spacing + spacing, per_row * spacing + spacing)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    labels = np.zeros(shape, np.uint32)
    for k, radius in enumerate(radii):
        cy, cx = spacing * (1 + k // per_row), spacing * (1 + k % per_row)
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2] = k + 1
    rng = np.random.default_rng(seed)
    label_free = (rng.normal(1.0, 0.1, shape) + (labels > 0)).astype(np.float32)
    fluorescence = ((labels > 0) * 500 + rng.poisson(50, shape)).astype(np.uint16)
    return label_free, fluorescence, labels


def test_nuclei_are_masked_and_centred(tmp_path):
    label_free, fluorescence, labels = disc_field([5, 7, 9, 12, 6], shape=(200, 360))
    # an irregular nucleus: an L shape whose bounding-box centre is far from its centroid
    labels[150:175, 20:26] = 6
    labels[169:175, 20:50] = 6
    labels[140:141, 300:303] = 7
    nuclei = extract_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition="control", source_id="f0")
    table = nuclei.table
    assert len(table) == 7 and (table["status"] == "ok").all() and nuclei.skipped == {"border": 0, "too_large": 0}
    assert nuclei.label_free.shape == (7, CANVAS, CANVAS) and nuclei.label_free.dtype == np.float32
    assert nuclei.fluorescence.dtype == np.float32 and nuclei.mask.dtype == np.uint8
    centre = (CANVAS - 1) / 2
    for k, row in enumerate(table.to_dict("records")):
        mask = nuclei.mask[k].astype(bool)
        assert mask.sum() == row["area_px"] == (labels == row["label_id"]).sum()
        cy, cx = np.argwhere(mask).mean(axis=0)
        assert abs(cy - centre) <= 1 and abs(cx - centre) <= 1
        assert (nuclei.label_free[k][~mask] == 0).all() and (nuclei.fluorescence[k][~mask] == 0).all()
        original = labels == row["label_id"]
        np.testing.assert_array_equal(np.sort(nuclei.label_free[k][mask]), np.sort(label_free[original]))
        assert row["fluorescence_integrated"] == pytest.approx(fluorescence[original].sum())
        assert row["centroid_y"] == pytest.approx(np.argwhere(original).mean(axis=0)[0])


def test_border_and_too_large_nuclei_are_skipped_and_counted():
    label_free, fluorescence, labels = disc_field([5, 30, 6], shape=(120, 200))
    labels[0:6, 150:160] = 9  # cut by the top border
    labels[110:120, 190:200] = 10  # bottom-right corner
    nuclei = extract_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition=None)
    assert nuclei.skipped == {"border": 2, "too_large": 1}
    assert len(nuclei.mask) == 2
    assert set(nuclei.table.loc[nuclei.table["status"] == "too_large", "label_id"]) == {2}


def test_zero_nuclei_and_bad_arguments():
    label_free, fluorescence, labels = disc_field([5])
    with pytest.raises(InputDataError, match="mosaic 'empty': labels hold no nuclei"):
        measure_nuclei(label_free, fluorescence, np.zeros_like(labels), condition="control", source_id="empty")
    with pytest.raises(InputDataError, match="labels have dtype float32; expected integers"):
        measure_nuclei(label_free, fluorescence, labels.astype(np.float32), condition="control")
    with pytest.raises(ConfigError, match="condition: found 'sick'"):
        measure_nuclei(label_free, fluorescence, labels, condition="sick")


def test_iqr_removes_planted_doublets_and_fragments():
    rng = np.random.default_rng(4)
    areas = rng.normal(300, 25, 200)
    planted = np.array([610.0, 580.0, 640.0, 35.0, 20.0])
    keep = remove_outliers_iqr(np.concatenate([areas, planted, [np.nan]]), k=1.5)
    assert not keep[200:].any()
    assert keep[:200].mean() > 0.97
    assert remove_outliers_iqr([1.0, 1.0, 1.0]).all()
    with pytest.raises(ConfigError, match="k: found -1"):
        remove_outliers_iqr([1.0], k=-1)


def test_filter_outliers_acts_per_condition_on_area():
    """Treated nuclei are larger; pooled fences would drop them, per-condition fences keep them."""
    rng = np.random.default_rng(2)
    control = rng.normal(300, 20, 100)
    treated = rng.normal(420, 25, 100)
    areas = np.concatenate([control, [620.0], treated, [880.0]])
    table = pd.DataFrame({
        "area_px": areas, "status": "ok",
        "condition": ["control"] * 101 + ["treated"] * 101,
    })
    table.loc[5, "status"] = "border"
    keep = filter_outliers(table, quantities=("area_px",), k=1.5)
    assert not keep[100] and not keep[201] and not keep[5]
    assert keep[table["condition"] == "treated"].sum() >= 98
    with pytest.raises(ConfigError, match=r"quantities: columns \['volume'\] not in the nuclei table"):
        filter_outliers(table, quantities=("volume",))


@pytest.fixture(scope="module")
def phantom_fields():
    config = PhantomConfig.model_validate({"acquisition": {"rows": 2, "cols": 2, "tile_size_px": 256}})
    fields = {}
    for condition in ("control", "treated"):
        acq = generate_acquisition(config, condition=condition, seed=21)
        fluorescence = ((acq.nuclei_labels > 0) * 800 + 100).astype(np.uint16)
        fields[f"{condition}-0"] = Mosaic(acq.qpi_clean, fluorescence, acq.nuclei_labels, source_id=f"{condition}-0")
    return fields


def test_classification_dataset_end_to_end(phantom_fields, tmp_path):
    tables = [measure_nuclei(m.label_free, m.fluorescence, m.labels, canvas=96, source_id=name,
                             condition=name.split("-")[0]) for name, m in phantom_fields.items()]
    table = pd.concat(tables, ignore_index=True)
    usable = table[filter_outliers(table)]
    per_class = usable["condition"].value_counts().min()
    assert per_class >= 6
    drawn = balance_and_split(usable, counts={"train": 6, "val": 2, "test": 2}, seed=1)
    ds = write_classification_dataset(tmp_path / "cls", drawn, phantom_fields, canvas=96, chunk=4, seed=0,
                                      attrs={"iqr": {"quantities": ["area_px"], "k": 1.5}})
    assert ds.kind == "classification" and ds.counts == {"train": 6, "val": 2, "test": 2}
    assert ds.attrs["sources"] == ["control-0", "treated-0"]
    stored = ds.table()
    assert list(stored["split"]) == list(drawn["split"]) and list(stored["index"][:6]) == list(range(6))
    train = ds.arrays("train")
    assert train["label_free"].shape == (6, 96, 96) and train["label"].dtype == np.uint8
    assert list(train["label"][:]) == list(stored.loc[stored["split"] == "train", "label"])
    assert (np.bincount(train["label"][:]) == [3, 3]).all()
    first = stored.iloc[0]
    mosaic = phantom_fields[first["source"]]
    inside = mosaic.labels == first["label_id"]
    assert train["mask"][0].sum() == inside.sum()
    stored_values = train["label_free"][0][train["mask"][0] > 0]
    np.testing.assert_allclose(np.sort(stored_values), np.sort(mosaic.label_free[inside]))
    assert ds.stats["label_free"]["mask"]["n_pixels"] == int(train["mask"][:].sum())
    again = write_classification_dataset(tmp_path / "cls2", drawn, phantom_fields, canvas=96, chunk=4, seed=0,
                                         attrs={"iqr": {"quantities": ["area_px"], "k": 1.5}})
    assert directory_content_hash(again.path) == directory_content_hash(ds.path)
    assert open_dataset(tmp_path / "cls").counts == ds.counts
    with pytest.raises(InputDataError, match=r"table names sources \['treated-0'\] but only \['control-0'\]"):
        write_classification_dataset(tmp_path / "cls3", drawn, {"control-0": phantom_fields["control-0"]}, canvas=96)
