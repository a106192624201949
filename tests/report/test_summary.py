"""The Markdown summary: verdict sentences, headline tables, nothing that breaks the Markdown."""

import pandas as pd

from stainworth.report.summary import TaskSummary, escape, markdown_table, summary_markdown


def test_escaping_keeps_tables_and_html_intact():
    assert escape("a | b <i>\nc") == "a \\| b &lt;i&gt; c"
    table = markdown_table(pd.DataFrame({"x|y": ["1 | 2"], "z": ["ok"]}))
    assert table.splitlines() == ["| x\\|y | z |", "| --- | --- |", "| 1 \\| 2 | ok |"]


def test_summary_holds_verdicts_headlines_and_counts():
    headline = pd.DataFrame({"network (parameters)": ["cnn1 (417)"], "label-free": ["0.700 [0.600, 0.800]"]})
    headline.attrs["combined"] = "combined over 3 replicates"
    text = summary_markdown(
        profile="mini", data_source="phantom (simulated acquisitions)", generated="2025-01-02 03:04 UTC",
        tasks=[TaskSummary("classification", ["Label-free reaches it at cnn3."], "auc", headline),
               TaskSummary("segmentation", [], "dice", None)],
        deviations=["a", "b"], quality={"classification": pd.DataFrame({"method": ["EfficientUNet"],
                                                                         "SSIM": ["0.900 ± 0.0100"]})})
    lines = text.splitlines()
    assert lines[0] == "# stainworth report: profile mini"
    assert "Data: phantom (simulated acquisitions). Generated 2025-01-02 03:04 UTC." in lines
    assert "- Label-free reaches it at cnn3." in lines and "- No verdict." in lines
    assert "AUC (empirical) by network and modality (capacity sweep, combined over 3 replicates, 95% CI):" in lines
    assert "| cnn1 (417) | 0.700 [0.600, 0.800] |" in lines
    assert "| EfficientUNet | 0.900 ± 0.0100 |" in lines
    assert lines[-1] == "2 deviations from the study; details, figures and tables in report.html."
    assert lines.index("## classification") < lines.index("## segmentation")
