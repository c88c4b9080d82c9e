"""Falco's upstream k8s_audit rules on recorded audit events.

The cases live in tests/data/k8s_audit/cases.yaml: each names an audit event and the
rules that must (``expect``) and must not (``expect_not``) fire on it, with values the
alert's output fields must carry. Most attack cases have a benign twin, the same
request with one thing changed, on which the rule stays silent.

Each case runs twice: with ``match="all"`` every expected rule must fire; with
Falco's default ``match="first"`` only the first expected rule (in file order) does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rulecases import CaseTable

DATA = Path(__file__).parent / "data" / "k8s_audit"
UPSTREAM = Path(__file__).resolve().parents[2] / "shared/corpus/falco/k8s_audit_rules.yaml"
TABLE = CaseTable(DATA, UPSTREAM, "k8s_audit")

needs_upstream = pytest.mark.skipif(
    not UPSTREAM.exists(), reason="upstream Falco rules (/work/shared) not available"
)


@needs_upstream
@pytest.mark.parametrize("case", TABLE.cases, ids=TABLE.ids)
def test_every_matching_rule(case: dict[str, Any], tmp_path: Path) -> None:
    TABLE.check_all_matches(case, tmp_path)


@needs_upstream
@pytest.mark.parametrize("case", TABLE.cases, ids=TABLE.ids)
def test_first_matching_rule(case: dict[str, Any], tmp_path: Path) -> None:
    TABLE.check_first_match(case, tmp_path)


@needs_upstream
def test_cases_name_existing_rules() -> None:
    TABLE.check_rule_names()


def test_case_table_is_complete() -> None:
    TABLE.check_table(other_tables=("bundled_cases.yaml",))


@pytest.mark.parametrize("path", sorted(DATA.glob("*.json")), ids=lambda p: p.stem)
def test_event_files_are_audit_events(path: Path) -> None:
    ev = json.loads(path.read_text())
    assert ev["kind"] == "Event" and ev["apiVersion"] == "audit.k8s.io/v1"
    assert ev["stage"] in ("ResponseStarted", "ResponseComplete")
    for key in ("auditID", "requestURI", "verb", "sourceIPs", "userAgent", "stageTimestamp"):
        assert ev[key], key
    assert ev["user"]["username"]
    assert isinstance(ev["responseStatus"]["code"], int)
    assert ev["annotations"]["authorization.k8s.io/decision"] in ("allow", "forbid")
    assert "authorization.k8s.io/reason" in ev["annotations"]


def test_twins_target_the_same_kind_of_object() -> None:
    """A benign twin changes one detail of its attack case, not the kind of object."""
    for attack, twin, name in TABLE.twins():
        if "objectRef" in twin:  # a probe of /healthz has none
            assert attack["objectRef"]["resource"] == twin["objectRef"]["resource"], name
