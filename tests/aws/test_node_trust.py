"""Nodes are not trusted for cloud alerts: the Kinesis detector on moto, attacked by
a compromised node.

A node may only make its own kinds of alert (syscall alerts and the sensor's "syscall
event drop"), they are attributed to the node that sent the record (its Kinesis
partition key, which the sensor sets to the node name), and their uuids live in a
namespace of the node's own: a node can neither speak for CloudTrail or the audit log,
nor take another source's or another node's place in the dedup table.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_kinesis_detector import batch
from test_runtime import SYSCALL_DATA, FakeContext, Stack, make_stack

from functions import cloudtrail_detector, kinesis_detector
from functions.runtime import get_runtime, reset_runtime
from sensor.run import drop_alert_for

DATA = Path(__file__).resolve().parent / "data"
KINESIS = json.loads((DATA / "kinesis-event.json").read_text())
STOP_LOGGING = json.loads((DATA / "cloudtrail" / "eventbridge_stop_logging.json").read_text())
NODE = "node-7.prod.example.net"
ORIGIN = "lanner-events/shardId-000000000000/"


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    yield make_stack(monkeypatch)
    reset_runtime()


def from_node(data: bytes, seq: str, node: str = NODE) -> dict[str, Any]:
    """A Kinesis record as Lambda gets it, put by ``node`` (its partition key)."""
    r = copy.deepcopy(KINESIS["Records"][0])
    r["kinesis"]["data"] = base64.b64encode(data).decode()
    r["kinesis"]["sequenceNumber"] = seq
    r["kinesis"]["partitionKey"] = node
    r["eventID"] = f"shardId-000000000000:{seq}"
    return r


def kinesis(*records: dict[str, Any]) -> Any:
    return kinesis_detector.handler({"Records": list(records)}, FakeContext())


def real_stop_logging_uuid() -> str:
    """What the CloudTrail detector will call the StopLogging alert: uuids are
    deterministic, so an attacker can compute them as well."""
    [real] = get_runtime().engine().evaluate(STOP_LOGGING["detail"], "aws_cloudtrail")
    return real.uuid


def drop(
    hostname: str = NODE, uuid: str = "0b8c7e59-3f2a-4d1e-9c6b-5a4f3e2d1c0b"
) -> dict[str, Any]:
    """The sensor's own "syscall event drop" alert, as sensor.run makes it."""
    doc = drop_alert_for({"ringbuf_full": 12}, 12, hostname).to_dict()
    doc["uuid"] = uuid
    return doc


def test_a_node_cannot_forge_a_cloudtrail_alert_nor_take_its_dedup_slot(stack: Stack) -> None:
    forged = {
        "uuid": real_stop_logging_uuid(),
        "output": "10:04:12.000000000: Emergency AWS root account used",
        "priority": "Emergency",
        "rule": "AWS Root Account Used",
        "time": "2026-11-28T10:04:12.000000000Z",
        "output_fields": {"ct.user": "root"},
        "source": "aws_cloudtrail",
        "tags": ["aws"],
        "hostname": "lanner-cloudtrail-detector",
    }
    assert kinesis(from_node(batch(alerts=(forged,)), "501")) == {"batchItemFailures": []}

    assert stack.alerts() == []  # the forgery is not published...
    [q] = stack.quarantined()  # ...it is kept, with why and where it came from
    assert q["origin"] == ORIGIN + "501"
    assert q["source"] == "syscall"
    assert q["reason"] == (
        f"node alert 0 from {NODE}: source 'aws_cloudtrail' is not a node's to report "
        "(nodes report syscall alerts and 'Falco internal: syscall event drop')"
    )
    assert json.loads(q["payload"]) == forged

    # The real alert still goes out: the node never held its dedup slot.
    result = cloudtrail_detector.handler(STOP_LOGGING, FakeContext())
    assert (result["alerts"], result["duplicates"]) == (1, 0)
    [real] = stack.alerts()
    assert real["alert"]["rule"] == "AWS CloudTrail Trail Stopped Or Deleted"
    assert real["alert"]["priority"] == "Critical"
    assert real["alert"]["uuid"] == forged["uuid"]


def test_a_nodes_drop_alert_goes_out_once_as_the_node_that_sent_it(stack: Stack) -> None:
    claimed = drop(hostname="lanner-cloudtrail-detector")
    data = batch(alerts=(claimed,))
    assert kinesis(from_node(data, "601")) == {"batchItemFailures": []}
    [got] = stack.alerts()
    alert = got["alert"]
    assert alert["rule"] == "Falco internal: syscall event drop"
    assert alert["priority"] == "Critical" and alert["source"] == "internal"
    # Attributed to the partition key, not to what the node wrote (which is kept).
    assert alert["hostname"] == NODE and got["attributes"]["hostname"] == NODE
    assert alert["output_fields"]["lanner.claimed_hostname"] == "lanner-cloudtrail-detector"
    assert alert["output_fields"]["n_drops"] == 12
    # Its uuid is the node's own, in a namespace no other source's or node's alert uses.
    assert alert["uuid"] != claimed["uuid"]
    assert stack.quarantined() == []

    # Lambda retries the record (or the node resends it): nothing goes out twice.
    assert kinesis(from_node(data, "602")) == {"batchItemFailures": []}
    assert stack.alerts() == []


def test_a_node_that_writes_its_own_name_shows_no_claim(stack: Stack) -> None:
    kinesis(from_node(batch(alerts=(drop(),)), "651"))
    [got] = stack.alerts()
    assert got["alert"]["hostname"] == NODE
    assert "lanner.claimed_hostname" not in got["alert"]["output_fields"]


def test_nodes_cannot_take_each_others_dedup_slots(stack: Stack) -> None:
    same = drop(uuid="11111111-2222-5333-8444-555555555555")
    kinesis(from_node(batch(alerts=(same,)), "701", node="node-a"))
    kinesis(from_node(batch(alerts=(dict(same, hostname="node-b"),)), "702", node="node-b"))
    got = stack.alerts()
    assert sorted(m["alert"]["hostname"] for m in got) == ["node-a", "node-b"]
    assert len({m["alert"]["uuid"] for m in got}) == 2


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"rule": "Falco internal: plugins disabled"},
            "rule 'Falco internal: plugins disabled' of source 'internal' is not a node's to report",
        ),
        ({"source": "k8s_audit"}, "source 'k8s_audit' is not a node's to report"),
        ({"source": None}, "source None is not a node's to report"),
        (
            {
                "repeat": {
                    "count": 9,
                    "hosts": 1,
                    "first_seen": "a",
                    "last_seen": "b",
                    "window_seconds": 60,
                }
            },
            "a summary ('repeat') is made by the publisher, not by a node",
        ),
        ({"tags": "internal"}, "tags: Input should be a valid list"),
        ({"priority": "loud"}, "priority: unknown priority 'loud'"),
    ],
)
def test_anything_else_a_node_sends_is_quarantined_not_published(
    stack: Stack, change: dict[str, Any], reason: str
) -> None:
    bad = {**drop(), **change}
    good = drop(uuid="22222222-2222-5333-8444-555555555555")
    assert kinesis(from_node(batch(alerts=(bad, good)), "801")) == {"batchItemFailures": []}
    assert [m["alert"]["rule"] for m in stack.alerts()] == ["Falco internal: syscall event drop"]
    [q] = stack.quarantined()
    assert q["reason"].startswith(f"node alert 0 from {NODE}: ")
    assert reason in q["reason"]
    assert q["origin"] == ORIGIN + "801"


def test_a_syscall_alert_made_on_the_node_is_the_nodes(stack: Stack) -> None:
    mine = {
        "uuid": "33333333-2222-5333-8444-555555555555",
        "output": "10:00:00.000000000: Warning Something on the node",
        "priority": "Warning",
        "rule": "Node Rule",
        "time": "2026-11-28T10:00:00.000000000Z",
        "output_fields": {"proc.name": "nc"},
        "source": "syscall",
        "tags": [],
        "hostname": NODE,
    }
    kinesis(from_node(batch(alerts=(mine,)), "851"))
    [got] = stack.alerts()
    assert (got["alert"]["rule"], got["alert"]["hostname"]) == ("Node Rule", NODE)
    assert got["alert"]["uuid"] != mine["uuid"]


def test_alerts_on_a_nodes_events_are_attributed_to_the_node(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without incident windows, which would count the second copy as a repeat of the
    # first: what is checked here is the dedup table's claims.
    monkeypatch.setenv("LANNER_DEDUP_WINDOW_SECONDS", "0")
    reset_runtime()
    # The event says it happened on another host; the record came from NODE.
    event = json.loads((SYSCALL_DATA / "dev_tcp_reverse_shell.json").read_text())
    event["evt.hostname"] = "node-b"
    kinesis(from_node(batch(event), "901"))
    kinesis(from_node(batch(event), "902", node="node-b"))
    got = stack.alerts()
    assert sorted(m["alert"]["hostname"] for m in got) == [NODE, "node-b"]
    # The same event from two nodes: two alerts, neither suppresses the other.
    assert len({m["alert"]["uuid"] for m in got}) == 2
