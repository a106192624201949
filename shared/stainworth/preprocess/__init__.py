"""Mosaic pre-processing: stitching tiles and registering fluorescence onto label-free."""
