"""The pieces the per-field prepare stages share: the channel lookup, the reuse-or-make pass, the means."""

import io

import pytest

from stainworth.contracts.fields import FieldInfo
from stainworth.errors import InputDataError
from stainworth.fields import FieldCache, channel_index, field_path, mean_metrics, reuse_or_make_each
from stainworth.progress import Progress
from stainworth.store import FileStore

FIELD = FieldInfo(acquisition_id="a1", condition="control", pixel_size_um=0.5, label_free_modality="qpi",
                  fluorescence_channels=["lamin_a_c", "h3k27me3"], shape_yx=(8, 8))


def test_channel_index_is_the_position_in_the_arrays():
    assert channel_index(FIELD, "h3k27me3", setting="label.channel") == 1


def test_a_channel_the_field_lacks_names_the_setting_and_the_channels():
    with pytest.raises(InputDataError, match=r"field 'a1': label.channel 'dapi' is not among its fluorescence "
                                             r"channels \['lamin_a_c', 'h3k27me3'\]"):
        channel_index(FIELD, "dapi", setting="label.channel")


def test_mean_metrics_averages_over_the_fields_that_report_each_name():
    fields = {"a": FIELD.model_copy(update={"metrics": {"x": 1.0, "y": 4.0}}),
              "b": FIELD.model_copy(update={"metrics": {"x": 3.0}})}
    assert mean_metrics(fields, ("x", "y", "z")) == {"mean_x": 2.0, "mean_y": 4.0}


def make_field(out, field_id, made):
    """A ``make`` that writes a one-file field and counts its calls in ``made``."""

    def make():
        made.append(field_id)
        path = field_path(out, field_id, "data.txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(field_id)
        return FIELD.model_copy(update={"acquisition_id": field_id, "metrics": {"n": float(len(field_id))}})

    return make


def run_pass(cache, out, made):
    stream = io.StringIO()
    jobs = [(field_id, f"upstream-{field_id}", make_field(out, field_id, made)) for field_id in ("f1", "f22")]
    fields = reuse_or_make_each(cache, jobs, out, Progress("demo", len(jobs), stream=stream),
                                reused="made earlier, reused", describe=lambda f: f"n={f.metrics['n']:.0f}")
    return fields, stream.getvalue()


def test_the_second_pass_restores_every_field_from_the_cache(tmp_path):
    cache = FieldCache(FileStore(tmp_path / "store"), "demo", "0" * 64)
    made = []
    first, lines = run_pass(cache, tmp_path / "first", made)
    assert list(first) == ["f1", "f22"] and made == ["f1", "f22"]
    assert "demo 1/2 f1: n=2 " in lines and "demo 2/2 f22: n=3 " in lines
    assert all(field.lineage == cache.lineage(f"upstream-{field.acquisition_id}") for field in first.values())
    again, lines = run_pass(cache, tmp_path / "second", made)
    assert made == ["f1", "f22"] and again == first
    assert lines.count("made earlier, reused") == 2
    assert field_path(tmp_path / "second", "f22", "data.txt").read_text() == "f22"


def test_without_a_cache_every_field_is_made_and_has_no_lineage(tmp_path):
    made = []
    fields, lines = run_pass(None, tmp_path / "out", made)
    assert made == ["f1", "f22"] and all(field.lineage == "" for field in fields.values())
    assert "reused" not in lines
