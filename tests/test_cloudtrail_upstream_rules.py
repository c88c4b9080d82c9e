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
import yaml

DATA = Path(__file__).parent / "data" / "cloudtrail"
UPSTREAM = Path(__file__).resolve().parents[2] / "shared/corpus/falco/aws_cloudtrail_rules.yaml"
SOURCE = "aws_cloudtrail"

CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "cases.yaml").read_text())
CASE_IDS = [f"{i:02d}-{c['event'].removesuffix('.json')}" for i, c in enumerate(CASES)]

needs_upstream = pytest.mark.skipif(
    not UPSTREAM.exists(), reason="upstream Falco rules (/work/shared) not available"
)


def rule_names(path: Path) -> set[str]:
    return {item["rule"] for item in yaml.safe_load(path.read_text()) if "rule" in item}


def compile_files(paths: list[Path], match: str) -> Any:
    from lanner import compile_rules, load_rules

    return compile_rules(load_rules([str(p) for p in paths]), match=match)


@pytest.fixture(scope="module")
def engines() -> dict[str, Any]:
    return {match: compile_files([UPSTREAM], match) for match in ("all", "first")}


def engine_for(case: dict[str, Any], engines: dict[str, Any], match: str, tmp: Path) -> Any:
    """The shared engine, or one with the case's overrides loaded after the upstream file."""
    if not case.get("overrides"):
        return engines[match]
    extra = tmp / "overrides.yaml"
    extra.write_text(yaml.safe_dump(case["overrides"], sort_keys=False))
    return compile_files([UPSTREAM, extra], match)


def alerts_for(case: dict[str, Any], engine: Any) -> dict[str, Any]:
    doc = json.loads((DATA / case["event"]).read_text())
    alerts = engine.evaluate(doc, SOURCE)
    assert all(a.source == SOURCE for a in alerts)
    return {a.rule: a for a in alerts}


@needs_upstream
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_every_matching_rule(case: dict[str, Any], engines: Any, tmp_path: Path) -> None:
    """With match="all", each expected rule fires with its output fields; the others do not."""
    by_rule = alerts_for(case, engine_for(case, engines, "all", tmp_path))
    for want in case.get("expect") or []:
        name = want["rule"]
        assert name in by_rule, f"{name!r} did not fire; fired: {sorted(by_rule)}"
        alert = by_rule[name]
        for field, value in (want.get("output_fields") or {}).items():
            assert field in alert.output_fields, f"{name}: no output field {field}"
            assert str(alert.output_fields[field]) == str(value), f"{name}: {field}"
            assert str(value) in alert.output, f"{name}: {value!r} not in {alert.output!r}"
    for name in case.get("expect_not") or []:
        assert name not in by_rule, f"{name!r} fired on {case['event']}"


@needs_upstream
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_first_matching_rule(case: dict[str, Any], engines: Any, tmp_path: Path) -> None:
    """With Falco's default match="first", the first expected rule (in file order) wins."""
    by_rule = alerts_for(case, engine_for(case, engines, "first", tmp_path))
    assert len(by_rule) <= 1
    if case.get("expect"):
        assert list(by_rule) == [case["expect"][0]["rule"]]
    for name in case.get("expect_not") or []:
        assert name not in by_rule


# --- the case table itself ---------------------------------------------------------------


def test_every_case_has_an_expectation() -> None:
    for case_id, case in zip(CASE_IDS, CASES, strict=True):
        assert case.get("expect") or case.get("expect_not"), case_id
        assert (DATA / case["event"]).is_file(), case_id


def test_every_event_file_is_used() -> None:
    used = {c["event"] for c in CASES}
    used |= {c["event"] for c in yaml.safe_load((DATA / "bundled_cases.yaml").read_text())}
    assert {p.name for p in DATA.glob("*.json")} == used


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
    twins = sorted(DATA.glob("*.benign*.json"))
    assert twins
    for twin in twins:
        attack = DATA / (twin.name.split(".benign")[0] + ".json")
        a, b = json.loads(attack.read_text()), json.loads(twin.read_text())
        assert a["eventSource"] == b["eventSource"], twin.name


@needs_upstream
def test_cases_name_existing_rules() -> None:
    known = rule_names(UPSTREAM)
    for case_id, case in zip(CASE_IDS, CASES, strict=True):
        named = [w["rule"] for w in case.get("expect") or []] + list(case.get("expect_not") or [])
        assert set(named) <= known, (case_id, set(named) - known)
