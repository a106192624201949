"""Training subsets: sorted, disjoint when they fit, deterministic, stratified, one generator per size."""

import numpy as np
import pytest

from stainworth.errors import ConfigError, InputDataError
from stainworth.tasks.subsets import draw_subsets


def test_subsets_are_sorted_index_arrays_of_each_size():
    subsets = draw_subsets(100, [10, 25, 50], 3, seed=1)
    assert list(subsets) == [10, 25, 50]
    for size, draws in subsets.items():
        assert len(draws) == 3
        for indices in draws:
            assert indices.dtype == np.int64 and len(indices) == size
            assert np.all(np.diff(indices) > 0) and indices.min() >= 0 and indices.max() < 100


def test_subsets_are_disjoint_when_they_fit_in_the_pool_and_independent_draws_otherwise():
    subsets = draw_subsets(30, [10, 11, 30], 3, seed=0)
    assert len(np.unique(np.concatenate(subsets[10]))) == 30  # 3 x 10 <= 30: disjoint
    overlapping = subsets[11]  # 3 x 11 > 30: they must overlap, but no item repeats within one
    assert all(len(np.unique(s)) == 11 for s in overlapping)
    assert len(np.unique(np.concatenate(overlapping))) < 33
    assert all(np.array_equal(s, np.arange(30)) for s in subsets[30])


def test_subsets_depend_only_on_their_arguments_and_each_size_has_its_own_generator():
    first, again = draw_subsets(200, [20, 40], 3, seed=7), draw_subsets(200, [20, 40], 3, seed=7)
    assert all(np.array_equal(a, b) for size in first for a, b in zip(first[size], again[size], strict=True))
    other = draw_subsets(200, [20, 40], 3, seed=8)
    assert not np.array_equal(first[20][0], other[20][0])
    more = draw_subsets(200, [5, 40, 80], 3, seed=7)  # adding and dropping sizes leaves size 40 alone
    assert all(np.array_equal(a, b) for a, b in zip(first[40], more[40], strict=True))
    assert list(draw_subsets(200, [40, 20, 40], 2, seed=7)) == [40, 20]


def test_stratified_subsets_keep_the_class_balance_and_stay_disjoint():
    labels = np.array([0] * 60 + [1] * 30)
    np.random.default_rng(0).shuffle(labels)
    subsets = draw_subsets(90, [9, 30], 3, seed=2, labels=labels)
    for size, draws in subsets.items():
        counts = [np.bincount(labels[s], minlength=2).tolist() for s in draws]
        assert counts == [[size * 2 // 3, size // 3]] * 3
        assert len(np.unique(np.concatenate(draws))) == 3 * size


def test_a_rare_class_gets_at_least_one_item_per_subset():
    labels = np.array([1] + [0] * 49)
    for indices in draw_subsets(50, [4], 3, seed=0, labels=labels)[4]:
        assert labels[indices].tolist().count(1) == 1 and len(indices) == 4


def test_stratified_disjointness_is_decided_class_by_class():
    labels = np.array([0] * 5 + [1] * 5)
    draws = draw_subsets(10, [3], 3, seed=1, labels=labels)[3]  # 2 of one class, 1 of the other per subset
    assert all(len(np.unique(s)) == 3 for s in draws)
    counts = sorted(tuple(np.bincount(labels[s], minlength=2)) for s in draws)
    assert counts[0] == counts[-1]  # the same class balance in every subset


def test_a_size_larger_than_the_pool_is_refused():
    with pytest.raises(InputDataError, match=r"^training size 5000 larger than the pool of 2000 training items$"):
        draw_subsets(2000, [100, 5000], 3, seed=0)


@pytest.mark.parametrize(("arguments", "error", "message"), [
    ((10, [0]), ConfigError, r"training size 0: expected at least 1 item"),
    ((10, [5], 0), ConfigError, r"n_subsets 0: expected at least 1 subset per size"),
    ((-1, [5]), ConfigError, r"pool size -1: expected a number of items >= 0"),
])
def test_bad_arguments_are_refused(arguments, error, message):
    with pytest.raises(error, match=message):
        draw_subsets(*arguments)


def test_labels_must_have_one_entry_per_pool_item():
    with pytest.raises(InputDataError, match=r"labels: found 9 for a pool of 10 training items; expected one label"):
        draw_subsets(10, [5], 3, seed=0, labels=np.zeros(9))
