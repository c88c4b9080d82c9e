"""PagerDuty Events API v2 against a stand-in on 127.0.0.1 that records events and checks
them the way PagerDuty does (required fields, severity values, summary and size limits)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standins import SHELL, Seen, StandIn, falco_alert, summary_of, with_retries

from cli.endpoints import Reply
from deliver.alert import DeliveryAlert, parse_alert
from deliver.fingerprint import fingerprint
from deliver.pagerduty import (
    EVENT_BUDGET,
    MAX_EVENT_BYTES,
    PagerDutyDestination,
    event_time,
    load_routing_key_file,
)
from deliver.severity import SEVERITIES
from lanner.priority import Priority

KEY = "R0123456789abcdef0123456789abcde"  # 32 characters, as PagerDuty's keys are
assert len(KEY) == 32

CLOUDTRAIL = {
    "output": "Console login without MFA (user=alice ip=203.0.113.9 account=123456789012)",
    "priority": "Warning",
    "rule": "Console Login Without MFA",
    "time": "2026-01-02T08:00:00Z",
    "source": "aws_cloudtrail",
    "hostname": "lanner-cloudtrail-detector",
    "tags": ["aws", "identity"],
    "output_fields": {
        "ct.user": "alice",
        "ct.region": "eu-west-1",
        "ct.user.accountid": "123456789012",
    },
}

SEVERITY_VALUES = {"critical", "error", "warning", "info"}


class PagerDuty(StandIn):
    """Answers like PagerDuty: 202 for a valid event, 400 for an invalid one; what is
    scripted first. ``events``: the events it took."""

    def __init__(self) -> None:
        super().__init__(path="/v2/enqueue")
        self.events: list[dict[str, Any]] = []

    def check(self, event: Any) -> list[str]:
        errors = []
        if not isinstance(event, dict):
            return ["Event object is not a JSON object"]
        if len(str(event.get("routing_key", ""))) != 32:
            errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
        if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        if len(str(event.get("dedup_key", ""))) > 255:
            errors.append("'dedup_key' is too long")
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is missing or not an object"]
        for name in ("summary", "source", "severity"):
            if not payload.get(name):
                errors.append(f"'payload.{name}' is missing or blank")
        if len(str(payload.get("summary", ""))) > 1024:
            errors.append("'payload.summary' is too long")
        if payload.get("severity") not in SEVERITY_VALUES:
            errors.append(
                "'payload.severity' is invalid (must be critical, error, warning or info)"
            )
        return errors

    def answer(self, request: Seen) -> Reply:
        raw = request.body
        try:
            event = json.loads(raw)  # strict enough: NaN would be refused below
            errors = self.check(event)
            if b"NaN" in raw or b"Infinity" in raw:
                errors.append("Event object is not valid JSON")
        except ValueError:
            event, errors = None, ["Event object is not valid JSON"]
        if len(raw) > MAX_EVENT_BYTES:
            errors.append("Event object is larger than 512 KB")
        headers = {"Content-Type": "application/json"}
        if errors:
            doc = {"status": "invalid event", "message": "Event object is invalid"}
            return Reply(400, json.dumps({**doc, "errors": errors}), headers)
        self.events.append(event)
        doc = {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}
        return Reply(202, json.dumps(doc), headers)


@pytest.fixture
def pd() -> Iterator[PagerDuty]:
    with PagerDuty() as stand_in:
        yield stand_in


def _alert(base: dict[str, Any] = SHELL, **changes: Any) -> DeliveryAlert:
    return falco_alert(base, **changes)


def _send(pd: PagerDuty, alert: DeliveryAlert, fp: str | None = None) -> dict[str, Any]:
    answer = PagerDutyDestination(KEY, url=pd.url).send(alert, fp or fingerprint(alert))
    assert answer.ok, answer.describe()
    assert answer.status == 202
    return pd.events[-1]


def test_trigger_event_fields(pd: PagerDuty) -> None:
    alert = _alert()
    fp = fingerprint(alert)
    event = _send(pd, alert, fp)
    assert event["routing_key"] == KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == fp
    p = event["payload"]
    assert p["summary"] == (
        "[Critical] Terminal shell in container — node ip-10-0-1-23 / namespace prod / "
        "pod web-7d9f8b6c4d-x2x9q / container web: Shell spawned in a container "
        "(user=root container=web pod=web-7d9f8b6c4d-x2x9q ns=prod cmd=bash -i)"
    )
    assert (
        p["source"]
        == "node ip-10-0-1-23 / namespace prod / pod web-7d9f8b6c4d-x2x9q / container web"
    )
    assert p["severity"] == "critical"
    assert p["timestamp"] == "2026-01-02T12:34:56.123456+00:00"
    assert p["component"] == "syscall"
    assert p["group"] == "prod"
    assert p["class"] == "Terminal shell in container"
    d = p["custom_details"]
    assert d["output"] == SHELL["output"]
    assert d["output_fields"] == SHELL["output_fields"]
    assert d["tags"] == SHELL["tags"]
    assert d["uuid"] == alert.uuid
    assert d["hostname"] == "ip-10-0-1-23"
    assert "repeat" not in d and "truncated" not in d


def test_cloudtrail_alert_groups_by_account(pd: PagerDuty) -> None:
    event = _send(pd, _alert(CLOUDTRAIL))
    p = event["payload"]
    assert p["source"] == "account 123456789012 / region eu-west-1"
    assert p["group"] == "123456789012"
    assert p["component"] == "aws_cloudtrail"
    assert p["severity"] == "warning"
    assert p["timestamp"] == "2026-01-02T08:00:00.000000+00:00"
    assert p["summary"].startswith("[Warning] Console Login Without MFA — account 123456789012")


def test_bare_alert_still_has_a_source(pd: PagerDuty) -> None:
    event = _send(pd, parse_alert({"rule": "r", "priority": "Notice"}))
    p = event["payload"]
    assert p["source"] == "unknown"
    assert p["summary"] == "[Notice] r — unknown"
    assert "timestamp" not in p and "component" not in p and "group" not in p
    event = _send(
        pd,
        parse_alert({"rule": "r", "priority": "Notice", "hostname": "h1", "source": "k8s_audit"}),
    )
    assert event["payload"]["source"] == "h1"


@pytest.mark.parametrize("priority", list(Priority))
def test_severity_for_each_priority(pd: PagerDuty, priority: Priority) -> None:
    event = _send(pd, _alert(priority=str(priority)))
    assert event["payload"]["severity"] == SEVERITIES[priority].pagerduty
    assert event["payload"]["summary"].startswith(f"[{priority}] ")
    assert event["payload"]["custom_details"]["priority"] == str(priority)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T12:34:56.123456789Z", "2026-01-02T12:34:56.123456+00:00"),
        ("2026-01-02T14:34:56+02:00", "2026-01-02T12:34:56.000000+00:00"),
        ("2026-01-02T12:34:56", "2026-01-02T12:34:56.000000+00:00"),
        ("", None),
        ("yesterday", None),
        ("1767357296", None),
        ("2026-13-02T12:34:56Z", None),
    ],
)
def test_event_time(text: str, expected: str | None) -> None:
    assert event_time(text) == expected


def test_unparseable_time_is_left_out(pd: PagerDuty) -> None:
    assert "timestamp" not in _send(pd, _alert(time="around noon"))["payload"]


def test_copies_share_a_dedup_key_and_incidents_do_not(pd: PagerDuty) -> None:
    first = _alert()
    fields = {
        "proc.pid": 9999,
        "container.id": "ffffffffffff",
        "k8s.pod.name": "web-7d9f8b6c4d-kk2lp",
        "evt.time": 1767357399000000000,
    }
    copy = _alert(hostname="ip-10-0-9-9", time="2026-01-02T12:40:00Z", fields=fields)
    other = _alert(fields={"proc.cmdline": "sh -c id"})
    keys = [_send(pd, a)["dedup_key"] for a in (first, copy, other)]
    assert first.uuid != copy.uuid
    assert keys[0] == keys[1] == fingerprint(first)
    assert keys[2] != keys[0]
    other_rule = _alert(rule="Netcat remote code execution in container")
    assert _send(pd, other_rule)["dedup_key"] != keys[0]


def test_no_fingerprint_falls_back_to_the_uuid(pd: PagerDuty) -> None:
    alert = _alert()
    PagerDutyDestination(KEY, url=pd.url).send(alert, "")
    assert pd.events[-1]["dedup_key"] == alert.uuid


def _summary(alert: DeliveryAlert, count: int, hosts: set[str]) -> DeliveryAlert:
    first_seen, last_seen = "2026-01-02T12:34:56.123456789Z", "2026-01-02T12:39:02.000000000Z"
    return summary_of(alert, count, hosts, first_seen, last_seen, key=fingerprint(alert))


def test_summary_says_how_often_where_and_when(pd: PagerDuty) -> None:
    first = _alert()
    summary = _summary(first, 12, {"ip-10-0-1-23", "ip-10-0-2-7", "ip-10-0-3-1"})
    event = _send(pd, summary, fingerprint(first))
    p = event["payload"]
    assert event["dedup_key"] == fingerprint(first)  # updates the first alert's incident
    assert p["summary"].startswith(
        "[Critical] Terminal shell in container — repeated 12 times on 3 hosts between "
        "2026-01-02T12:34:56.123456789Z and 2026-01-02T12:39:02.000000000Z — "
        "namespace prod / pod web-* / container web: Shell spawned"  # the workload's pods
    )
    assert "node" not in p["source"]  # three nodes: none of them is the place
    rep = p["custom_details"]["repeat"]
    assert rep["count"] == 12 and rep["hosts"] == 3
    assert rep["host_names"] == ["ip-10-0-1-23", "ip-10-0-2-7", "ip-10-0-3-1"]
    assert rep["first_seen"] == "2026-01-02T12:34:56.123456789Z"
    assert rep["last_seen"] == "2026-01-02T12:39:02.000000000Z"
    assert p["custom_details"]["uuid"] == summary.uuid != first.uuid


def test_summary_on_one_host_keeps_the_node(pd: PagerDuty) -> None:
    summary = _summary(_alert(), 2, {"ip-10-0-1-23"})
    p = _send(pd, summary)["payload"]
    assert "repeated 2 times on 1 host between" in p["summary"]
    assert p["source"].startswith("node ip-10-0-1-23 / ")


def test_hostile_huge_alert_stays_under_the_limit(pd: PagerDuty) -> None:
    huge = "😈" * 60_000 + "\n\x00\x1b[31m"
    fields: dict[str, Any] = {f"field.{i}": "x" * 20_000 for i in range(40)}
    fields["k" * 5000] = "long key"
    fields["nested"] = [{"a": ["b" * 10_000] * 10}] * 5
    fields["proc.cmdline"] = huge
    fields["nan"] = float("nan")
    fields["inf"] = [float("inf"), -float("inf")]
    for i in range(2000):
        fields[f"many.{i}"] = i
    alert = parse_alert(
        {
            "rule": "Hostile\nrule " + "r" * 4000,
            "priority": "Error",
            "output": "12:00:00.000000000: Error " + huge,
            "hostname": "h\r\nX-Injected: 1",
            "tags": ["t" * 1000] * 500,
            "output_fields": fields,
        }
    )
    event = _send(pd, alert)
    size = len(pd.requests[-1].body)
    assert size <= EVENT_BUDGET < MAX_EVENT_BYTES
    p = event["payload"]
    assert len(p["summary"]) <= 1024 and p["summary"].endswith("…[cut]")
    assert "\n" not in p["summary"] and "\x00" not in p["summary"] and "\x1b" not in p["summary"]
    assert "\n" not in p["source"] and len(p["source"]) <= 255
    d = p["custom_details"]
    assert "…[cut, " in d["output"]
    assert d["output_fields"]["proc.cmdline"].startswith("😈😈😈")
    assert "…[cut, " in d["output_fields"]["proc.cmdline"]
    assert d["output_fields"]["nan"] == "nan" and d["output_fields"]["inf"] == ["inf", "-inf"]
    assert len(d["output_fields"]) <= 200
    assert len(d["tags"]) == 64 and all(len(t) <= 255 for t in d["tags"])
    assert d["truncated"]
    assert "output" in d["truncated"]
    assert any("more fields left out" in t for t in d["truncated"])
    assert any(isinstance(v, str) and v.startswith("[dropped") for v in d["output_fields"].values())


def test_within_budget_alert_is_not_cut(pd: PagerDuty) -> None:
    fields = {f"f{i}": "v" * 4000 for i in range(20)}  # 80 KB of fields: fits
    d = _send(pd, _alert(output_fields=fields))["payload"]["custom_details"]
    assert d["output_fields"] == fields
    assert "truncated" not in d


def test_400_is_permanent_with_pagerdutys_message(pd: PagerDuty) -> None:
    bad = PagerDutyDestination("R0123456789abcdef0123456789abcd", url=pd.url)  # 31 characters
    outcome, waits = with_retries(bad, _alert())
    assert outcome.permanent and not outcome.delivered and outcome.attempts == 1
    assert waits == []
    text = outcome.answer.describe()
    assert text.startswith("HTTP 400: Event object is invalid")
    assert "Length of 'routing_key' is incorrect" in text
    assert pd.events == []


def test_429_then_202(pd: PagerDuty) -> None:
    pd.script(
        Reply(
            429,
            '{"status":"throttle event","message":"Requests for this service are arriving too quickly. Please retry later."}',
        )
    )
    dest = PagerDutyDestination(KEY, url=pd.url)
    outcome, waits = with_retries(dest, _alert())
    assert outcome.delivered and outcome.attempts == 2
    assert len(waits) == 1 and 0 <= waits[0] <= 1.0  # no Retry-After: backoff
    assert len(pd.events) == 1


def test_429_with_retry_after(pd: PagerDuty) -> None:
    pd.script(Reply(429, "{}", {"Retry-After": "3"}), Reply(502, "<html>bad gateway</html>"))
    dest = PagerDutyDestination(KEY, url=pd.url)
    outcome, waits = with_retries(dest, _alert())
    assert outcome.delivered and outcome.attempts == 3
    assert waits[0] == 3.0 and 0 <= waits[1] <= 2.0


def test_throttled_past_the_deadline_is_handed_back(pd: PagerDuty) -> None:
    pd.script(
        Reply(429, '{"status":"throttle event","message":"slow down"}', {"Retry-After": "120"})
    )
    dest = PagerDutyDestination(KEY, url=pd.url)
    outcome, waits = with_retries(dest, _alert())
    assert waits == []  # 120 s is more than one call sleeps through: the caller defers it
    assert not outcome.delivered and not outcome.permanent
    assert outcome.retry_after == 120.0
    assert outcome.answer.describe() == "HTTP 429: slow down"


@pytest.mark.parametrize("key", ["", "   ", "has space inside", "tab\tkey", "ключ", "k" * 129])
def test_routing_key_is_checked_and_never_echoed(key: str) -> None:
    with pytest.raises(ValueError, match="PagerDuty routing key") as err:
        PagerDutyDestination(key)
    if key.strip():
        assert key.strip() not in str(err.value)


def test_bad_url_is_refused() -> None:
    with pytest.raises(ValueError):
        PagerDutyDestination(KEY, url="file:///etc/passwd")


def test_repr_hides_the_key() -> None:
    assert KEY not in repr(PagerDutyDestination(KEY))


def test_routing_key_file(tmp_path: Path) -> None:
    f = tmp_path / "key"
    f.write_text(f"\n {KEY} \n")
    assert load_routing_key_file(f) == KEY
    with pytest.raises(ValueError, match="no such file"):
        load_routing_key_file(tmp_path / "absent")
    f.write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_routing_key_file(f)
    f.write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="not an ASCII"):
        load_routing_key_file(f)
    f.write_text("two words")
    with pytest.raises(ValueError, match="printable") as err:
        load_routing_key_file(f)
    assert "two words" not in str(err.value)
