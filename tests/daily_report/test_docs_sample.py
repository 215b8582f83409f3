"""The sample report in docs/ is the generator's output and still matches the report schema."""

from __future__ import annotations

from plugins.daily_report import read_report
from tests.support import ROOT

SAMPLE = ROOT / "docs" / "sample-report"


def test_sample_files_decode_as_a_report_and_are_embedded_in_the_docs() -> None:
    report = read_report(SAMPLE / "2024-05-01.json")
    assert report.day == "2024-05-01"
    assert report.drift.repaired >= 1  # generated with the reconciliation plugin (--drift)
    markdown = (SAMPLE / "2024-05-01.md").read_text(encoding="utf-8")
    page = (ROOT / "docs" / "reporting.md").read_text(encoding="utf-8")
    embedded = page.split("<!-- generated: docs/sample-report/2024-05-01.md -->", 1)[1]
    assert (
        embedded.strip()
        == "\n".join(
            "###" + line[1:] if line.startswith("#") else line for line in markdown.splitlines()
        ).strip()
    )
    assert "<polyline" in (SAMPLE / "2024-05-01.html").read_text(encoding="utf-8")
