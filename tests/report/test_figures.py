"""The study's figures from hand-made tables: axes data, panels, error bars, legends, degenerate tables."""

import numpy as np
import pytest

from stainworth.report import figures
from stainworth.report.labels import MODALITY_COLOURS


def lines(axis):
    """(x, y, error segments) of every errorbar series of ``axis``, by legend label."""
    drawn = {}
    for container in axis.containers:
        data_line, _, (bars,) = container.lines
        drawn[container.get_label()] = (np.asarray(data_line.get_xdata(), float),
                                        np.asarray(data_line.get_ydata(), float), bars.get_segments(),
                                        data_line.get_color())
    return drawn


def points(axis):
    """(x, y) of every single-training point of ``axis``, by colour (one scatter per modality)."""
    from matplotlib.collections import PathCollection
    from matplotlib.colors import to_hex

    drawn = {}
    for collection in axis.collections:
        if isinstance(collection, PathCollection):
            offsets = np.asarray(collection.get_offsets(), float)
            drawn[to_hex(collection.get_facecolor()[0], keep_alpha=False)] = (offsets[:, 0], offsets[:, 1])
    return drawn


def point_count(axis):
    return sum(len(x) for x, _ in points(axis).values())


def test_segmentation_capacity_x_is_the_parameter_count_with_named_ticks_and_combined_bars(data):
    table = data.seg_capacity()
    figure = figures.segmentation_capacity_figure(table)
    assert len(figure.axes) == 3
    precision, recall, dice = figure.axes
    assert [axis.get_ylabel() for axis in figure.axes] == ["mean precision", "mean recall", "mean Dice"]
    assert dice.get_xscale() == "log"
    assert [tick.get_text() for tick in dice.get_xticklabels()] == ["unet1 (1.23k)", "unet3 (60.3k)"]
    drawn = lines(dice)
    assert list(drawn) == ["label-free", "virtual (EfficientUNet)", "virtual (Pix2pixHD)", "fluorescence"]
    x, y, bars, colour = drawn["fluorescence"]
    np.testing.assert_array_equal(x, list(data.SEG_CAPACITY.values()))
    rows = table[(table["modality"] == "fluorescence") & table["replicate"].isna()]
    np.testing.assert_allclose(y, rows["dice"])
    np.testing.assert_allclose([segment[:, 1] for segment in bars], rows[["dice_ci_low", "dice_ci_high"]])
    assert colour == MODALITY_COLOURS["fluorescence"]
    # the interval left undefined (NaN) draws no bar, the defined one does
    _, _, bars, _ = drawn["virtual (EfficientUNet)"]
    assert len(bars[0]) == 0 and len(bars[1]) == 2
    summary = table[table["replicate"].isna()]
    np.testing.assert_allclose(lines(precision)["label-free"][1], summary.loc[summary["modality"] == "label_free",
                                                                             "precision"])
    assert len(lines(recall)) == 4


def test_the_capacity_figures_draw_one_point_per_replicate_beside_the_mean(data):
    table = data.seg_capacity()
    figure = figures.segmentation_capacity_figure(table)
    replicates = table[table["replicate"].notna()]
    for axis in figure.axes:
        assert point_count(axis) == len(replicates) == len(data.SEG_CAPACITY) * len(data.MODALITIES) * data.REPLICATES
        assert axis.get_legend().get_texts()[-1].get_text() == "single trainings"
    x, y = points(figure.axes[2])[MODALITY_COLOURS["fluorescence"]]
    own = replicates[replicates["modality"] == "fluorescence"]
    np.testing.assert_array_equal(x, own["architecture"].map(data.SEG_CAPACITY))
    np.testing.assert_allclose(y, own["dice"])
    # the points sit beside their line's error bar, on the display only
    line = lines(figure.axes[2])["fluorescence"]
    scatter = next(c for c in figure.axes[2].collections if c.get_offsets().shape[0] and np.allclose(
        c.get_offsets()[:, 1], own["dice"]))
    bar_at = figure.axes[2].containers[3].lines[0].get_transform().transform([[line[0][0], 0.5]])[0, 0]
    point_at = scatter.get_offset_transform().transform([[line[0][0], 0.5]])[0, 0]
    assert 0 < point_at - bar_at < 10
    classification = figures.classification_capacity_figure(data.cls_capacity())
    per_panel = len(data.CLS_CAPACITY) * data.REPLICATES * 3  # label-free, one stain, fluorescence
    assert [point_count(axis) for axis in classification.axes] == [per_panel, per_panel]


def test_the_learnable_figures_draw_one_point_per_training(data):
    units = data.units("classification")
    figure = figures.classification_learnable_figure(data.cls_learnable(), units)
    trainings = len(data.SIZES) * data.SUBSETS * data.SUBSET_REPLICATES
    assert [point_count(axis) for axis in figure.axes] == [3 * trainings, 3 * trainings]
    x, y = points(figure.axes[0])[MODALITY_COLOURS["label_free"]]
    own = units[(units["modality"] == "label_free") & units["train_size"].notna()]
    np.testing.assert_array_equal(x, own["train_size"].astype(float))
    np.testing.assert_allclose(y, own["test_auc"])
    assert point_count(figures.classification_learnable_figure(data.cls_learnable()).axes[0]) == 0
    assert point_count(figures.classification_learnable_figure(data.cls_learnable(), units,
                                                               metric="binormal_auc").axes[0]) == 0
    segmentation = figures.segmentation_learnable_figure(data.seg_learnable(), data.units("segmentation"))
    assert [point_count(axis) for axis in segmentation.axes] == [0, 0, 4 * trainings]  # units.csv holds Dice only
    assert segmentation.axes[0].get_legend().get_texts()[-1].get_text() == "fluorescence"


def test_segmentation_learnable_x_is_the_training_size_and_bars_are_the_combined_interval(data):
    table = data.seg_learnable()
    figure = figures.segmentation_learnable_figure(table)
    x, y, bars, _ = lines(figure.axes[2])["virtual (Pix2pixHD)"]
    rows = table[table["modality"] == "virtual_pix2pixhd"]
    np.testing.assert_array_equal(x, data.SIZES)
    np.testing.assert_allclose(y, rows["dice_mean"])
    np.testing.assert_allclose([segment[:, 1] for segment in bars], rows[["dice_ci_low", "dice_ci_high"]])
    assert figure.get_suptitle().endswith("(study Fig. 4): unet3")


def test_classification_capacity_has_one_panel_per_stainer_with_its_references(data):
    table = data.cls_capacity()
    figure = figures.classification_capacity_figure(table)
    assert [axis.get_title() for axis in figure.axes] == ["virtual (EfficientUNet)", "virtual (Pix2pixHD)"]
    for axis, stainer in zip(figure.axes, ("virtual (EfficientUNet)", "virtual (Pix2pixHD)"), strict=True):
        assert list(lines(axis)) == ["label-free", stainer, "fluorescence"]
    x, y, bars, _ = lines(figure.axes[1])["virtual (Pix2pixHD)"]
    rows = table[(table["modality"] == "virtual_pix2pixhd") & table["replicate"].isna()]
    np.testing.assert_array_equal(x, list(data.CLS_CAPACITY.values()))
    np.testing.assert_allclose(y, rows["auc"])
    np.testing.assert_allclose([segment[:, 1] for segment in bars], rows[["auc_ci_low", "auc_ci_high"]])
    binormal = figures.classification_capacity_figure(table, metric="binormal_auc")
    summary = table[table["replicate"].isna()]
    np.testing.assert_allclose(lines(binormal.axes[0])["label-free"][1],
                               summary.loc[summary["modality"] == "label_free", "binormal_auc"])


def test_classification_panels_follow_the_stainers_present(data):
    table = data.cls_capacity()
    one = figures.classification_capacity_figure(table[table["modality"] != "virtual_pix2pixhd"])
    assert len(one.axes) == 1 and list(lines(one.axes[0])) == ["label-free", "virtual (EfficientUNet)",
                                                                 "fluorescence"]
    none = figures.classification_capacity_figure(table[~table["modality"].str.startswith("virtual")])
    assert [axis.get_title() for axis in none.axes] == ["no virtual stain"]
    assert list(lines(none.axes[0])) == ["label-free", "fluorescence"]


def test_classification_learnable_bars_are_the_combined_interval(data):
    table = data.cls_learnable()
    figure = figures.classification_learnable_figure(table)
    assert len(figure.axes) == 2
    x, y, bars, _ = lines(figure.axes[0])["label-free"]
    np.testing.assert_array_equal(x, data.SIZES)
    rows = table[table["modality"] == "label_free"]
    np.testing.assert_allclose([segment[:, 1] for segment in bars],
                               np.c_[rows["auc_mean"] - 0.05, rows["auc_mean"] + 0.06])


def test_embedding_bars_grouped_by_capacity_level(data):
    table = data.embeddings()
    figure = figures.embedding_distance_figure(table)
    assert len(figure.axes) == 2
    axis = figure.axes[1]
    assert [tick.get_text() for tick in axis.get_xticklabels()] == ["low\ncnn1 (417)", "high\nresnet18 (11.2M)"]
    from matplotlib.container import BarContainer

    heights = {container.get_label(): [bar.get_height() for bar in container.patches]
               for container in axis.containers if isinstance(container, BarContainer)}
    assert list(heights) == ["label-free", "virtual (Pix2pixHD)", "fluorescence"]
    rows = table[table["modality"] == "virtual_pix2pixhd"]
    np.testing.assert_allclose(heights["virtual (Pix2pixHD)"], rows["cosine_distance"])
    errors = [c for c in axis.containers if not isinstance(c, BarContainer)]
    assert len(errors) == 3
    segments = errors[1].lines[2][0].get_segments()
    np.testing.assert_allclose([segment[:, 1] for segment in segments], rows[["ci_low", "ci_high"]])


@pytest.mark.parametrize("draw, table", [
    (figures.segmentation_capacity_figure, "seg_capacity"),
    (figures.classification_capacity_figure, "cls_capacity"),
])
def test_one_architecture_draws_one_point_per_modality(draw, table, data):
    rows = getattr(data, table)()
    first = rows[rows["architecture"] == rows["architecture"].iloc[0]]
    figure = draw(first)
    x, _, _, _ = lines(figure.axes[0])["label-free"]
    low, high = figure.axes[0].get_xlim()
    assert len(x) == 1 and low < x[0] < high
    assert point_count(figure.axes[0]) == len(lines(figure.axes[0])) * data.REPLICATES  # modalities of the panel


def test_a_capacity_table_without_replicate_rows_draws_lines_only(data):
    table = data.cls_capacity()
    figure = figures.classification_capacity_figure(table[table["replicate"].isna()])
    assert point_count(figure.axes[0]) == 0 and len(lines(figure.axes[0])) == 3
    assert [text.get_text() for text in figure.axes[0].get_legend().get_texts()] == [
        "label-free", "virtual (EfficientUNet)", "fluorescence"]


def test_one_size_and_no_interval_still_draw(data):
    table = data.seg_learnable()
    table = table[table["train_size"] == data.SIZES[0]].assign(dice_ci_low=np.nan, dice_ci_high=np.nan)
    figure = figures.segmentation_learnable_figure(table, data.units("segmentation"))
    _, y, bars, _ = lines(figure.axes[2])["label-free"]
    assert len(y) == 1 and len(bars[0]) == 0
    assert point_count(figure.axes[2]) == len(data.MODALITIES) * data.SUBSETS * data.SUBSET_REPLICATES


@pytest.mark.parametrize("draw, table", [
    (figures.segmentation_capacity_figure, "seg_capacity"), (figures.segmentation_learnable_figure, "seg_learnable"),
    (figures.classification_capacity_figure, "cls_capacity"),
    (figures.classification_learnable_figure, "cls_learnable"), (figures.embedding_distance_figure, "embeddings"),
])
def test_an_empty_table_draws_a_panel_that_says_so(draw, table, data):
    figure = draw(getattr(data, table)().iloc[:0])
    assert len(figure.axes) == 1 and "no " in figure.axes[0].texts[0].get_text()


def test_png_output(tmp_path, data):
    figure = figures.classification_capacity_figure(data.cls_capacity())
    assert figures.png_bytes(figure)[:8] == b"\x89PNG\r\n\x1a\n"
    path = figures.save_png(figure, tmp_path / "sub" / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
