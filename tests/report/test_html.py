"""The HTML page: self-contained, escaped, images inline."""

import base64

import pandas as pd

from stainworth.report.html import Details, Document, Image, ImageGrid, Preformatted, Section, Table, anchor, render

PNG = b"\x89PNG\r\n\x1a\nfake"


def page(**section):
    return render(Document("a <b> report", [("profile", "mini & co")], [Section("Results", **section)]))


def test_text_everywhere_is_escaped():
    html = page(paragraphs=["<script>alert(1)</script>"], bullets=["x < y & z"],
                blocks=[Table("t <i>", pd.DataFrame({"<col>": ["<td>"]})), Preformatted("c", "key: <script>")])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<title>a &lt;b&gt; report</title>" in html and "<dd>mini &amp; co</dd>" in html
    assert "<li>x &lt; y &amp; z</li>" in html and "<th>&lt;col&gt;</th>" in html and "<td>&lt;td&gt;</td>" in html
    assert "<pre>key: &lt;script&gt;</pre>" in html


def test_images_are_inline_and_nothing_is_loaded_from_elsewhere():
    html = page(blocks=[Image("a \"quoted\" caption", PNG),
                        ImageGrid("grid", ["label-free"], ["unet1", "unet2"], {("label-free", "unet2"): PNG}),
                        Details("more", [Table("inner", pd.DataFrame({"a": [1]}))])])
    encoded = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert html.count(encoded) == 2
    assert 'alt="a &quot;quoted&quot; caption"' in html
    assert "<td></td>" in html  # the empty grid cell
    assert "<details><summary>more</summary><table>" in html
    for forbidden in ("http://", "https://", 'src="file', "<script", "<link", "@import"):
        assert forbidden not in html


def test_sections_have_anchors_and_a_table_of_contents():
    html = render(Document("r", [], [Section("Image quality, segmentation"), Section("Verdict",
                                                                                       subsections=[Section("a")])]))
    assert anchor("Image quality, segmentation") == "image-quality-segmentation"
    assert '<a href="#image-quality-segmentation">' in html and '<h2 id="verdict">' in html and "<h3 id=\"a\">" in html
