"""Property tests of every reader of outside input: whatever the bytes, a reader gives
records and its documented bad-input results, never another exception.

Readers: ``lanner scan``'s file reader (cli.readers), the batch decoder
(lanner.batch.unpack), the CloudTrail log object reader
(functions.cloudtrail_input.read_log) and the CloudWatch Logs payload reader
(functions.cwlogs.decode). Inputs mix JSON-like values with what broke them before:
nesting past the decoder's recursion, integers of thousands of digits, bytes that are
not UTF-8, and JSON cut or spliced at random.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import readers
from cli.readers import BadInput, Record, read_paths
from functions import cwlogs
from functions.cloudtrail_input import BadRecord, Damaged, LogRecord, read_log
from lanner import batch, boundedjson, wire

SETTINGS = settings(
    max_examples=150,
    deadline=None,  # no timing assertions: the bound is on what is raised, not how fast
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["a", "Records", "items", "kind", "eventTime", "p", "e"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@st.composite
def deep_texts(draw: st.DrawFn) -> str:
    """Nesting from a few levels to past json's recursion limit, arrays and objects mixed."""
    # Hypothesis favours small numbers: the limits are named so that every run meets them.
    levels = draw(
        st.integers(min_value=1, max_value=80) | st.sampled_from([64, 65, 100, 1000, 1500])
    )
    opens = draw(st.lists(st.sampled_from(['{"a":', "["]), min_size=levels, max_size=levels))
    closes = ["}" if o.startswith("{") else "]" for o in reversed(opens)]
    return "".join(opens) + draw(st.sampled_from(["1", '"x"', "null", "{}"])) + "".join(closes)


huge_numbers = (
    st.integers(min_value=1, max_value=100) | st.sampled_from([400, 4300, 4301, 6000])
).map(lambda n: "-" * (n % 2) + "7" * n)
texts = (
    json_values.map(json.dumps)
    | deep_texts()
    | huge_numbers
    | huge_numbers.map(lambda n: '{"eventTime":"t","eventSource":"s","n":' + n + "}")
)


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """A file's or a record's bytes: one text, a Records wrapper, JSON lines, damaged."""
    parts = draw(st.lists(texts, min_size=1, max_size=4))
    shape = draw(st.sampled_from(["one", "records", "lines", "array"]))
    if shape == "one":
        text = parts[0]
    elif shape == "records":
        text = '{"Records":[' + ",".join(parts) + "]}"
    elif shape == "array":
        text = "[" + ",\n".join(parts) + "]"
    else:
        text = "\n".join(parts) + "\n"
    data = text.encode("utf-8")
    damage = draw(st.sampled_from(["none", "cut", "splice"]))
    if damage == "cut" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "splice":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


inputs = documents() | st.binary(max_size=200)


def _shallow(doc: Any) -> bool:
    return boundedjson.depth(doc) <= boundedjson.MAX_DEPTH


@pytest.mark.parametrize("backend", ["orjson", "json"])
def test_lanner_scan_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    if backend == "orjson":
        monkeypatch.setattr(readers, "_loads", pytest.importorskip("orjson").loads)
    else:
        monkeypatch.setattr(readers, "_loads", json.loads)

    @SETTINGS
    @given(data=inputs, gz=st.booleans(), source=st.sampled_from([None, "aws_cloudtrail"]))
    def check(data: bytes, gz: bool, source: str | None) -> None:
        path = tmp_path / "input.json"
        path.write_bytes(gzip.compress(data) if gz else data)
        for item in read_paths([path], source):
            assert isinstance(item, Record | BadInput)
            if isinstance(item, Record):
                assert isinstance(item.doc, dict) and _shallow(item.doc)
            else:
                assert item.origin.startswith(str(path)) and item.message

    check()


@SETTINGS
@given(lines=st.lists(documents(), max_size=4), header=st.booleans())
def test_batch_unpack(lines: list[bytes], header: bool) -> None:
    head = [json.dumps(wire.HEADER).encode()] if header else []
    data = batch.MAGIC + zlib.compress(b"\n".join(head + lines))
    try:
        out = batch.unpack(data)
    except batch.BatchError as exc:
        assert str(exc)
        return
    assert all(_shallow(d) for d in out.events + out.alerts)


@SETTINGS
@given(data=inputs, gz=st.booleans(), chunk=st.sampled_from([7, 64, 4096]))
def test_cloudtrail_object_reader(data: bytes, gz: bool, chunk: int) -> None:
    body = io.BytesIO(gzip.compress(data) if gz else data)
    items = list(read_log(body, chunk=chunk))
    assert all(isinstance(i, LogRecord | BadRecord | Damaged) for i in items)
    assert not any(isinstance(i, Damaged) for i in items[:-1])  # damage ends a file
    for item in items:
        if isinstance(item, LogRecord):
            assert isinstance(item.doc, dict) and _shallow(item.doc)
        elif isinstance(item, BadRecord):
            assert item.reason


@SETTINGS
@given(data=inputs, wrap=st.sampled_from(["payload", "messages", "raw"]))
def test_cloudwatch_logs_payload_reader(data: bytes, wrap: str) -> None:
    if wrap == "messages":  # a well-formed payload whose log events are the input
        doc = {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": "/aws/eks/demo/cluster",
            "logStream": "kube-apiserver-audit-1",
            "subscriptionFilters": ["f"],
            "logEvents": [{"id": "1", "timestamp": 1, "message": data.decode("utf-8", "replace")}],
        }
        data = json.dumps(doc).encode()
    if wrap == "raw":
        event: Any = {"awslogs": {"data": data.decode("latin-1")}}
    else:
        event = {"awslogs": {"data": base64.b64encode(gzip.compress(data)).decode()}}
    try:
        payload = cwlogs.decode(event)
    except cwlogs.PayloadError as exc:
        assert str(exc)
        return
    assert all(isinstance(e.message, str) for e in payload.log_events)
