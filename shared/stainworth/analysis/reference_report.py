"""The reference-observer table as CSV (every row) and Markdown (one line per setting and modality)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd

from stainworth.analysis.nucleus_features import FEATURES
from stainworth.analysis.reference import ReferenceRow, ReferenceTable
from stainworth.analysis.reference_nuclei import split_counts
from stainworth.errors import InputDataError

CSV_FILE, MARKDOWN_FILE = "reference_observers.csv", "reference_observers.md"
TRAININGS_FOLDER = "trainings"
"""Subfolder of the output folder that keeps finished network trainings (a re-run resumes from it)."""
MODALITY_ORDER = ("label_free", "h3k27me3", "lamin_a_c")


def table_frame(table: ReferenceTable) -> pd.DataFrame:
    """Every row of the table (per-replicate trainings included) as a data frame."""
    columns = [item.name for item in dataclasses.fields(ReferenceRow)]
    return pd.DataFrame([dataclasses.asdict(row) for row in table.rows], columns=columns)


def _cell(frame: pd.DataFrame, setting: str, modality: str, observer: str) -> str:
    hit = frame[(frame["setting"] == setting) & (frame["modality"] == modality) & (frame["observer"] == observer)]
    if hit.empty:
        return "–"
    row = hit.iloc[0]
    return f"{row['estimate']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"


def caption(table: ReferenceTable) -> str:
    """What the table shows, how it was measured and which settings the network was trained at."""
    counts = split_counts(table.nuclei_per_class)
    per_class = {name: value // 2 for name, value in counts.items()}
    names = [setting.name for setting in table.settings]
    network = ("every setting" if table.network_settings == names
               else f"{', '.join(table.network_settings) or 'no setting'} only (the other settings are left out "
                    f"for time: one training takes minutes on two CPU cores)")
    capped = "" if table.max_epochs is None else (
        f" Trainings capped at {table.max_epochs} epochs (a quick look: not converged).")
    settings = "; ".join(f"`{setting.name}`: {setting.describe()}" for setting in table.settings)
    return (
        f"Reference observers on the phantom, {table.nuclei_per_class} nuclei per class and setting "
        f"(train/val/test {per_class['train']}/{per_class['val']}/{per_class['test']} per class), measured phase "
        f"(`label_free`) and H3K27me3 camera counts (`h3k27me3`) of the same nuclei on a black canvas, ground-truth "
        f"masks. Feature columns: AUC (treated vs control; below 0.5: lower in treated) of one hand-made feature over "
        f"every nucleus, DeLong 95 % interval. CHO: Laguerre-Gauss channelized Hotelling observer fitted on train + "
        f"val, test AUC. {table.architecture}: mean test AUC of {table.replicates} replicate training(s) "
        f"(Obuchowski-Rockette-Hillis 95 % interval), trained at {network}.{capped} Dice: classical labeller "
        f"(Otsu, watershed) on whole fields against the true nuclei, mean over fields with a t interval; "
        f"`lamin_a_c` is the segmentation marker. Settings: {settings}."
    )


def markdown(table: ReferenceTable) -> str:
    """The Markdown table: one line per setting and modality, AUC or Dice with its 95 % interval."""
    frame = table_frame(table)
    observers = [f"feature:{name}" for name in FEATURES] + ["cho", table.architecture, "classical"]
    header = ["setting", "modality"] + list(FEATURES) + ["CHO", table.architecture, "Dice (classical)"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for setting in table.settings:
        for modality in MODALITY_ORDER:
            cells = [_cell(frame, setting.name, modality, observer) for observer in observers]
            if all(cell == "–" for cell in cells):
                continue
            lines.append("| " + " | ".join([f"`{setting.name}`", f"`{modality}`"] + cells) + " |")
    return caption(table) + "\n\n" + "\n".join(lines) + "\n"


def output_folder(out: str | Path) -> Path:
    """The output folder, created if absent (check it before a long run).

    Raises
    ------
    InputDataError
        ``out`` exists and is not a folder, or cannot be created.
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InputDataError(f"output folder {folder}: exists and is not a folder; expected a folder to write into")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputDataError(f"output folder {folder}: cannot be created ({error.strerror})") from None
    return folder


def write_reference_table(table: ReferenceTable, out: str | Path) -> tuple[Path, Path]:
    """Write ``reference_observers.csv`` and ``reference_observers.md`` into ``out`` (each replaced whole).

    Raises
    ------
    InputDataError
        ``out`` exists and is not a folder.
    """
    folder = output_folder(out)
    written = []
    for name, text in ((CSV_FILE, table_frame(table).to_csv(index=False, lineterminator="\n", float_format="%.6g")),
                       (MARKDOWN_FILE, markdown(table))):
        partial = folder / f".{name}.partial"
        partial.write_text(text)
        os.replace(partial, folder / name)
        written.append(folder / name)
    return written[0], written[1]
