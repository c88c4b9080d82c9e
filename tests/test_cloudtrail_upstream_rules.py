"""Falco's upstream aws_cloudtrail rules on recorded CloudTrail records.

The cases live in tests/data/cloudtrail/cases.yaml: each names a CloudTrail record and the
rules that must (``expect``) and must not (``expect_not``) fire on it, with values the
alert's output fields must carry. Most attack cases have a benign twin, the same
call with one thing changed, on which the rule stays silent.

Each case runs twice: with ``match="all"`` every expected rule must fire; with
Falco's default ``match="first"`` only the first expected rule (in file order) does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rulecases import CaseTable

DATA = Path(__file__).parent / "data" / "cloudtrail"
UPSTREAM = Path(__file__).resolve().parents[2] / "shared/corpus/falco/aws_cloudtrail_rules.yaml"
TABLE = CaseTable(DATA, UPSTREAM, "aws_cloudtrail")

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
    for attack, twin, name in TABLE.twins():
        assert attack["eventSource"] == twin["eventSource"], name
