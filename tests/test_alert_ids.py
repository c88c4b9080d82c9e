"""Alert uuids are derived from the record itself, never from the clock.

The publisher's dedup table and every retry rely on a record giving the same alert
uuid each time it is evaluated. A record whose time does not parse still gets a
displayed time (the evaluation's wall clock), but its uuid must not follow that
clock, or each Lambda retry publishes the alert again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from lanner import Alert, Engine, builtin_sources, load_rules
from lanner.loader import RuleSet

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
T1 = 1_700_000_000_000_000_000
T2 = 1_800_000_000_123_456_789


@cache
def _rules() -> RuleSet:
    return load_rules([REPO / "rules"])


def engine(clock: int) -> Engine:
    """An engine over the bundled rules whose wall clock always says ``clock``."""
    return Engine(_rules(), builtin_sources(), hostname="test", clock=lambda: clock)


def record(path: str, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / path).read_text())
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def only(alerts: list[Alert]) -> Alert:
    assert len(alerts) == 1, [a.rule for a in alerts]
    return alerts[0]


CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "cloudtrail time not a time": (
        "aws_cloudtrail",
        "cloudtrail/stop_logging.json",
        {"eventTime": "not a time"},
    ),
    "cloudtrail time cut after the dot": (
        "aws_cloudtrail",
        "cloudtrail/stop_logging.json",
        {"eventTime": "2026-11-28T10:04:12."},
    ),
    "cloudtrail no time, no eventID": (
        "aws_cloudtrail",
        "cloudtrail/stop_logging.json",
        {"eventTime": None, "eventID": None},
    ),
    "audit stageTimestamp garbage": (
        "k8s_audit",
        "k8s_audit/exec_pod.json",
        {"stageTimestamp": "\x00garbage", "requestReceivedTimestamp": 12},
    ),
    "audit no time, empty auditID": (
        "k8s_audit",
        "k8s_audit/exec_pod.json",
        {"stageTimestamp": None, "requestReceivedTimestamp": None, "auditID": ""},
    ),
    "syscall evt.rawtime not a number": (
        "syscall",
        "syscall/dev_tcp_reverse_shell.json",
        {"evt.rawtime": "soon"},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_record_without_a_usable_time_gets_the_same_uuid_at_any_clock(case: str) -> None:
    source, path, changes = CASES[case]
    doc = record(path, **changes)
    first = only(engine(T1).evaluate(doc, source))
    again = only(engine(T2).evaluate(json.loads(json.dumps(doc)), source))
    assert first.uuid == again.uuid
    # What the alert shows is still when it was seen.
    assert (first.time_ns, again.time_ns) == (T1, T2)


def test_records_that_differ_get_different_uuids_without_a_time() -> None:
    doc = record("cloudtrail/stop_logging.json", eventTime="not a time", eventID=None)
    other = dict(doc, sourceIPAddress="198.51.100.99")
    assert (
        only(engine(T1).evaluate(doc, "aws_cloudtrail")).uuid
        != only(engine(T1).evaluate(other, "aws_cloudtrail")).uuid
    )


def test_the_same_event_id_at_another_time_is_another_alert() -> None:
    doc = record("cloudtrail/stop_logging.json")
    later = dict(doc, eventTime="2026-11-28T11:00:00Z")
    a = only(engine(T1).evaluate(doc, "aws_cloudtrail"))
    b = only(engine(T1).evaluate(later, "aws_cloudtrail"))
    assert a.uuid != b.uuid
    assert a.uuid == only(engine(T2).evaluate(doc, "aws_cloudtrail")).uuid


def test_a_source_whose_time_reader_fails_still_alerts_with_a_stable_uuid() -> None:
    # A pluggable source's event_time is code the engine does not own: a failure
    # there is "no usable time", never an exception out of evaluate().
    from dataclasses import replace

    def broken(_doc: Any) -> int | None:
        raise IndexError("string index out of range")

    sources = dict(builtin_sources())
    sources["aws_cloudtrail"] = replace(sources["aws_cloudtrail"], event_time=broken)
    doc = record("cloudtrail/stop_logging.json")

    def make(clock: int) -> Callable[[], list[Alert]]:
        eng = Engine(_rules(), sources, hostname="t", clock=lambda: clock)
        return lambda: eng.evaluate(doc, "aws_cloudtrail")

    first, again = only(make(T1)()), only(make(T2)())
    assert first.uuid == again.uuid and first.time_ns == T1


def test_a_time_cut_after_its_decimal_point_is_no_time_not_a_crash() -> None:
    from lanner.sources.json_source import _parse

    assert _parse("2024-05-01T10:00:00.") is None
