"""Falco's upstream k8s_audit and aws_cloudtrail rules on recorded events.

The cases live in tests/data/k8s_audit/cases.yaml and tests/data/cloudtrail/cases.yaml:
each names a recorded event (an audit event, a CloudTrail record) and the rules that
must (``expect``) and must not (``expect_not``) fire on it, with values the alert's
output fields must carry. Most attack cases have a benign twin, the same request with
one thing changed, on which the rule stays silent.

Each case runs twice: with ``match="all"`` every expected rule must fire; with
Falco's default ``match="first"`` only the first expected rule (in file order) does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rulecases import CaseTable

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).resolve().parents[2] / "shared/corpus/falco"
K8S = CaseTable(DATA / "k8s_audit", CORPUS / "k8s_audit_rules.yaml", "k8s_audit")
TRAIL = CaseTable(DATA / "cloudtrail", CORPUS / "aws_cloudtrail_rules.yaml", "aws_cloudtrail")
TABLES = {"k8s": K8S, "cloudtrail": TRAIL}
CASES = [(t, c) for t in TABLES.values() for c in t.cases]
IDS = [f"{name}-{i}" for name, t in TABLES.items() for i in t.ids]

needs_upstream = pytest.mark.skipif(
    not CORPUS.exists(), reason="upstream Falco rules (../shared corpus) not available"
)


@needs_upstream
@pytest.mark.parametrize(("table", "case"), CASES, ids=IDS)
def test_every_matching_rule(table: CaseTable, case: dict[str, Any], tmp_path: Path) -> None:
    table.check_all_matches(case, tmp_path)


@needs_upstream
@pytest.mark.parametrize(("table", "case"), CASES, ids=IDS)
def test_first_matching_rule(table: CaseTable, case: dict[str, Any], tmp_path: Path) -> None:
    table.check_first_match(case, tmp_path)


@needs_upstream
@pytest.mark.parametrize("table", TABLES.values(), ids=TABLES.keys())
def test_cases_name_existing_rules(table: CaseTable) -> None:
    table.check_rule_names()


@pytest.mark.parametrize("table", TABLES.values(), ids=TABLES.keys())
def test_case_table_is_complete(table: CaseTable) -> None:
    table.check_table(other_tables=("bundled_cases.yaml",))


@pytest.mark.parametrize("path", sorted(K8S.data.glob("*.json")), ids=lambda p: p.stem)
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
    for attack, twin, name in K8S.twins():
        if "objectRef" in twin:  # a probe of /healthz has none
            assert attack["objectRef"]["resource"] == twin["objectRef"]["resource"], name


@pytest.mark.parametrize("path", sorted(TRAIL.data.glob("*.json")), ids=lambda p: p.stem)
def test_event_files_are_cloudtrail_records(path: Path) -> None:
    rec = json.loads(path.read_text())
    for key in ("eventVersion", "eventTime", "eventSource", "eventName", "awsRegion", "eventID"):
        assert rec[key], key
    assert rec["eventSource"].endswith(".amazonaws.com")
    assert rec["recipientAccountId"] == "123456789012"
    assert rec["userIdentity"]["type"] in ("Root", "IAMUser", "AssumedRole", "AWSService")
    assert "requestParameters" in rec and "responseElements" in rec


def test_twins_are_calls_to_the_same_service() -> None:
    """A benign twin changes one detail of its attack case, not the service called."""
    for attack, twin, name in TRAIL.twins():
        assert attack["eventSource"] == twin["eventSource"], name
