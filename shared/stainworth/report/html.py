"""One self-contained HTML page: inline CSS, images as base64 PNG data URIs, every text escaped.

A :class:`Document` is a title, a few header facts and a list of :class:`Section`; a section holds
paragraphs, bullet lists and blocks (:class:`Table`, :class:`Image`, :class:`ImageGrid`,
:class:`Preformatted`, :class:`Details`). :func:`render` turns it into the page: nothing is
loaded from elsewhere (no scripts, no stylesheets, no remote images), so the file can be mailed,
archived or shown by the Kubeflow UI as it is.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import pandas as pd

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.facts dt { font-weight: bold; } dl.facts dd { margin: 0; }
table { border-collapse: collapse; margin: 0.8em 0 1.6em; font-size: 0.85em; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: 0.3em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 1em 0 2em; } figcaption { font-size: 0.9em; color: #444; margin-top: 0.3em; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
table.grid img { max-width: 260px; } pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.8em; }
nav ul { columns: 2; } .note { color: #555; font-size: 0.9em; }
"""


def text(value: object) -> str:
    """``value`` as escaped HTML text (``<``, ``>`` and ``&`` replaced)."""
    return html.escape(str(value), quote=False)


def attribute(value: object) -> str:
    """``value`` escaped for a double-quoted attribute."""
    return html.escape(str(value), quote=True)


def data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def anchor(title: str) -> str:
    """An id for a heading: lower case, runs of other characters as ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


@dataclass(frozen=True)
class Table:
    """A table of display strings with a caption (and the CSV file holding its full-precision numbers)."""

    caption: str
    frame: pd.DataFrame
    source: str = ""


@dataclass(frozen=True)
class Image:
    """A PNG image with a caption."""

    caption: str
    png: bytes


@dataclass(frozen=True)
class ImageGrid:
    """Images in rows and columns (e.g. modalities × networks), each cell optional."""

    caption: str
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], bytes]


@dataclass(frozen=True)
class Preformatted:
    """Text shown as it is (monospace, whitespace kept)."""

    caption: str
    content: str


@dataclass(frozen=True)
class Details:
    """Blocks folded under a summary line (opened by a click, no script)."""

    summary: str
    blocks: list[Block]


Block: TypeAlias = Table | Image | ImageGrid | Preformatted | Details


@dataclass(frozen=True)
class Section:
    """A headed part of the page."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    """The whole page: title, header facts (label, value) and sections."""

    title: str
    facts: list[tuple[str, str]]
    sections: list[Section]


def render_table(table: Table) -> str:
    """A ``<table>`` with its caption; every header and cell escaped."""
    head = "".join(f"<th>{text(column)}</th>" for column in table.frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{text(value)}</td>" for value in row) + "</tr>"
                   for row in table.frame.itertuples(index=False, name=None))
    source = f" <span class=\"note\">(full precision: {text(table.source)})</span>" if table.source else ""
    return (f"<table><caption>{text(table.caption)}{source}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def render_image(image: Image) -> str:
    """A ``<figure>`` with the PNG inline and its caption."""
    return (f"<figure><img src=\"{data_uri(image.png)}\" alt=\"{attribute(image.caption)}\">"
            f"<figcaption>{text(image.caption)}</figcaption></figure>")


def render_grid(grid: ImageGrid) -> str:
    """A table of images: one header row of column names, one row per row name."""
    head = "<th></th>" + "".join(f"<th>{text(column)}</th>" for column in grid.columns)
    rows = []
    for row in grid.rows:
        cells = []
        for column in grid.columns:
            png = grid.cells.get((row, column))
            cells.append(f"<td><img src=\"{data_uri(png)}\" alt=\"{attribute(f'{row}, {column}')}\"></td>"
                         if png else "<td></td>")
        rows.append(f"<tr><th>{text(row)}</th>{''.join(cells)}</tr>")
    return (f"<table class=\"grid\"><caption>{text(grid.caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def render_block(block: Block) -> str:
    """Any block as HTML."""
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, Image):
        return render_image(block)
    if isinstance(block, ImageGrid):
        return render_grid(block)
    if isinstance(block, Preformatted):
        return f"<p class=\"note\">{text(block.caption)}</p><pre>{text(block.content)}</pre>"
    inner = "".join(render_block(item) for item in block.blocks)
    return f"<details><summary>{text(block.summary)}</summary>{inner}</details>"


def render_section(section: Section, level: int = 2) -> str:
    """A heading (with an id), its paragraphs, bullets, blocks and subsections."""
    parts = [f"<h{level} id=\"{attribute(anchor(section.title))}\">{text(section.title)}</h{level}>"]
    parts += [f"<p>{text(paragraph)}</p>" for paragraph in section.paragraphs]
    if section.bullets:
        parts.append("<ul>" + "".join(f"<li>{text(item)}</li>" for item in section.bullets) + "</ul>")
    parts += [render_block(block) for block in section.blocks]
    parts += [render_section(sub, min(level + 1, 6)) for sub in section.subsections]
    return "\n".join(parts)


def _contents(sections: Sequence[Section]) -> str:
    items = "".join(f"<li><a href=\"#{attribute(anchor(s.title))}\">{text(s.title)}</a></li>" for s in sections)
    return f"<nav><ul>{items}</ul></nav>"


def render(document: Document) -> str:
    """The complete, self-contained HTML page of ``document``."""
    facts = "".join(f"<dt>{text(label)}</dt><dd>{text(value)}</dd>" for label, value in document.facts)
    body = "\n".join(render_section(section) for section in document.sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{text(document.title)}</title><style>{STYLE}</style></head>\n<body>\n"
            f"<h1>{text(document.title)}</h1><dl class=\"facts\">{facts}</dl>{_contents(document.sections)}\n"
            f"{body}\n</body></html>\n")
