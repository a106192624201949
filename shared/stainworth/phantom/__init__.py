"""The acquisition phantom: co-registered QPI and fluorescence tiles of cultured cells.

A physically grounded generator of what the microscope records for a control or 5-FU-treated
culture: TIE quantitative phase tiles and two fluorescence channels (Lamin A/C, H3K27me3) on
overlapping, jittered tiles with the fluorescence camera misregistered to the QPI camera, plus
ground truth (nuclei labels, per-cell records, noise-free phase). See ``docs/phantom.md``.
"""

from stainworth.phantom.generate import Acquisition, CellRecord, generate_acquisition

__all__ = ["Acquisition", "CellRecord", "generate_acquisition"]
