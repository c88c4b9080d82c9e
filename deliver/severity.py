"""Falco priority -> each destination's severity: one row per priority, read by all.

The README's table is this table (a test compares them).
"""

from __future__ import annotations

from dataclasses import dataclass

from lanner import Priority


@dataclass(frozen=True, slots=True)
class Severity:
    priority: Priority
    slack_color: str  # the attachment bar
    pagerduty: str  # Events API v2: critical, error, warning, info
    asff_label: str  # Security Hub: CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL
    asff_normalized: int  # 0-100, in the band of the label
    ocsf_id: int  # OCSF severity_id: 1 Informational ... 5 Critical, 6 Fatal
    ocsf_name: str


SEVERITIES: dict[Priority, Severity] = {
    s.priority: s
    for s in (
        Severity(Priority.EMERGENCY, "#7a0019", "critical", "CRITICAL", 100, 6, "Fatal"),
        Severity(Priority.ALERT, "#b0003a", "critical", "CRITICAL", 95, 5, "Critical"),
        Severity(Priority.CRITICAL, "#e01e5a", "critical", "CRITICAL", 90, 5, "Critical"),
        Severity(Priority.ERROR, "#f2711c", "error", "HIGH", 70, 4, "High"),
        Severity(Priority.WARNING, "#ecb22e", "warning", "MEDIUM", 40, 3, "Medium"),
        Severity(Priority.NOTICE, "#2eb67d", "info", "LOW", 20, 2, "Low"),
        Severity(Priority.INFORMATIONAL, "#36c5f0", "info", "INFORMATIONAL", 0, 1, "Informational"),
        Severity(Priority.DEBUG, "#9e9e9e", "info", "INFORMATIONAL", 0, 1, "Informational"),
    )
}


def severity(priority: Priority) -> Severity:
    return SEVERITIES[priority]
