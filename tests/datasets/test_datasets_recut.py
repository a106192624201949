"""Cutting a dataset's items again from mosaics in its frame gives back exactly its own items."""

import numpy as np
import pytest

from stainworth.datasets.folders import dataset_folder, read_dataset
from stainworth.datasets.mosaic import WindowReader
from stainworth.datasets.recut import cut_items
from stainworth.errors import InputDataError
from stainworth.fields import MOSAIC, open_field_array


@pytest.mark.parametrize("kind", ["segmentation", "classification"])
def test_items_cut_again_from_the_label_free_mosaics_are_the_datasets_own(phantom_fields, phantom_datasets, kind):
    stitched = phantom_fields[0]
    _, dataset = read_dataset(dataset_folder(phantom_datasets, kind), kind)
    readers = [WindowReader(open_field_array(stitched, source, MOSAIC, "label_free"))
               for source in dataset.attrs["sources"]]
    for split in dataset.splits:
        arrays = {name: np.asarray(array[:]) for name, array in dataset.arrays(split).items()}
        cut = cut_items(readers, arrays["source"], arrays["positions"], arrays["mask"], kind=kind)
        np.testing.assert_array_equal(cut, arrays["label_free"])


def test_a_window_outside_its_mosaic_or_an_empty_nucleus_is_one_line():
    reader = [WindowReader(np.zeros((40, 40), np.float32))]
    mask = np.zeros((1, 16, 16), np.uint8)
    with pytest.raises(InputDataError, match="item 0: window y 30:46, x 0:16 leaves its mosaic"):
        cut_items(reader, np.array([0]), np.array([[30, 0]]), mask, kind="segmentation")
    with pytest.raises(InputDataError, match="item 0: an empty nucleus mask"):
        cut_items(reader, np.array([0]), np.array([[0, 0]]), mask, kind="classification")
    with pytest.raises(InputDataError, match="item 0: source mosaic 1; expected 0..0"):
        cut_items(reader, np.array([1]), np.array([[0, 0]]), mask, kind="segmentation")
