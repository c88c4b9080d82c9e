"""The README's priority -> severity table is the code's table."""

from __future__ import annotations

from pathlib import Path

from deliver.severity import SEVERITIES
from lanner.priority import Priority

README = Path(__file__).resolve().parent.parent.parent / "README.md"


def test_readme_table_matches_deliver_severity() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("| Falco priority | Slack colour |")
    rows = [line for line in text[start:].splitlines()[2:] if line.startswith("|")][:8]
    documented = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        documented[Priority.parse(cells[0])] = cells[1:]
    expected = {
        p: [
            f"`{s.slack_color}`",
            s.pagerduty,
            f"{s.asff_label} ({s.asff_normalized})",
            f"{s.ocsf_id} {s.ocsf_name}",
        ]
        for p, s in SEVERITIES.items()
    }
    assert documented == expected
