"""Task datasets extracted from registered mosaics (stage 5, *extract*).

Segmentation: random square crops of label-free, fluorescence and binary nucleus mask, split by
region. Classification: single nuclei centred on a black canvas, IQR outlier removal, 1:1
control/treated. Both are stored as chunked zarr groups with normalisation statistics of the
training split. See ``docs/datasets.md``.
"""

from stainworth.datasets.classification import (
    NucleiSet,
    extract_nuclei,
    measure_nuclei,
    render_nucleus,
    write_classification_dataset,
)
from stainworth.datasets.mosaic import Mosaic, WindowReader
from stainworth.datasets.outliers import filter_outliers, remove_outliers_iqr
from stainworth.datasets.segmentation import (
    extract_segmentation_dataset,
    extract_segmentation_dataset_multi,
    sample_segmentation_patches,
    sample_segmentation_patches_multi,
    split_regions,
)
from stainworth.datasets.splits import Region, balance_and_split, validate_counts
from stainworth.datasets.stats import flatten_statistics, normalisation_statistics
from stainworth.datasets.storage import Dataset, DatasetWriter, open_dataset, write_dataset

__all__ = [
    "Dataset",
    "DatasetWriter",
    "Mosaic",
    "NucleiSet",
    "Region",
    "WindowReader",
    "balance_and_split",
    "extract_nuclei",
    "extract_segmentation_dataset",
    "extract_segmentation_dataset_multi",
    "filter_outliers",
    "flatten_statistics",
    "measure_nuclei",
    "normalisation_statistics",
    "open_dataset",
    "remove_outliers_iqr",
    "render_nucleus",
    "sample_segmentation_patches",
    "sample_segmentation_patches_multi",
    "split_regions",
    "validate_counts",
    "write_classification_dataset",
    "write_dataset",
]
