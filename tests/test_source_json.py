"""The json source: JSON-pointer fields, whole-document rendering and event time."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lanner.errors import FieldArgumentError
from lanner.event import Event
from lanner.fields import Arg
from lanner.sources.json_source import epoch_to_ns, json_source, parse_rfc3339

SRC = json_source()

DOC: dict[str, Any] = {
    "time": "2024-05-01T10:00:00.250Z",
    "user": {"name": "alice", "id": 1001, "admin": False, "tags": ["a", "b"]},
    "ratio": 2.5,
    "gone": None,
    "a/b": "slash",
    "m~n": "tilde",
    "items": [{"k": "first"}, {"k": "second"}],
    "note": "café",
}


def x(doc: Any, name: str, arg: str | None = None) -> Any:
    field = SRC.fields.get(name)
    assert field is not None, name
    return field.extractor(arg)(Event(doc, SRC))


def test_source_identity() -> None:
    assert SRC.name == "json"
    for name in ("evt.time", "evt.num", "json.value", "json.obj", "json.rawtime", "jevt.value"):
        assert name in SRC.fields
    f = SRC.fields.get("json.value")
    assert f is not None and f.arg is Arg.KEY
    assert x(DOC, "evt.source") == "json"
    assert SRC.hostname(DOC) is None


def test_every_field_has_a_description() -> None:
    assert [f.name for f in SRC.fields if not f.desc.strip()] == []


def test_json_value_renders_like_falco() -> None:
    assert x(DOC, "json.value", "/user/name") == "alice"
    assert x(DOC, "json.value", "/user/id") == "1001"
    assert x(DOC, "json.value", "/user/admin") == "false"
    assert x(DOC, "json.value", "/ratio") == "2.5"
    assert x(DOC, "json.value", "/user/tags") == '["a","b"]'
    assert x(DOC, "json.value", "/items/1") == '{"k":"second"}'
    assert x(DOC, "json.value", "/items/0/k") == "first"
    assert x(DOC, "json.value", "/note") == "café"
    assert x(DOC, "jevt.value", "/user/name") == "alice"


def test_json_value_pointer_escapes() -> None:
    assert x(DOC, "json.value", "/a~1b") == "slash"
    assert x(DOC, "json.value", "/m~0n") == "tilde"


def test_json_value_missing_and_null_have_no_value() -> None:
    assert x(DOC, "json.value", "/gone") is None
    assert x(DOC, "json.value", "/nope") is None
    assert x(DOC, "json.value", "/items/7/k") is None
    assert x(DOC, "json.value", "/user/name/deeper") is None
    assert x([1, 2], "json.value", "/x") is None
    assert x("text", "json.value", "/x") is None


def test_json_value_needs_a_pointer() -> None:
    f = SRC.fields.get("json.value")
    assert f is not None
    for bad in (None, "", "user/name"):
        with pytest.raises(FieldArgumentError):
            f.extractor(bad)


def test_json_obj_is_indented_json() -> None:
    obj = x({"value": "hello"}, "json.obj")
    assert obj == '{\n  "value": "hello"\n}'
    assert json.loads(x(DOC, "jevt.obj")) == DOC
    assert x(None, "json.obj") is None


def test_info_is_one_line() -> None:
    info = SRC.info(DOC)
    assert info is not None and "\n" not in info
    assert json.loads(info) == DOC


# --------------------------------------------------------------------------
# Event time


def t(doc: Any) -> int | None:
    return SRC.event_time(doc)


def test_time_rfc3339() -> None:
    assert t(DOC) == 1714557600_250000000
    assert t({"time": "2024-05-01T12:00:00+02:00"}) == 1714557600_000000000
    assert t({"time": "2024-05-01t10:00:00.000000001z"}) == 1714557600_000000001
    assert x(DOC, "evt.time") == "10:00:00.250000000"
    assert x(DOC, "json.rawtime") == "1714557600250000000"
    assert x(DOC, "jevt.rawtime") == "1714557600250000000"


def test_time_epoch_numbers_by_magnitude() -> None:
    assert t({"time": 1700000000}) == 1700000000_000000000
    assert t({"time": 1700000000.5}) == 1700000000_500000000
    assert t({"time": 1700000000123}) == 1700000000_123000000
    assert t({"time": 1700000000123456}) == 1700000000_123456000
    assert t({"time": 1700000000123456789}) == 1700000000_123456789
    assert t({"timestamp": "1700000000"}) == 1700000000_000000000


def test_time_falls_back_to_timestamp() -> None:
    assert t({"timestamp": "2024-05-01T10:00:00Z"}) == 1714557600_000000000
    assert t({"time": "not a time", "timestamp": 1714557600}) == 1714557600_000000000
    assert t({"time": 1714557600, "timestamp": 1}) == 1714557600_000000000


def test_no_time() -> None:
    for doc in (
        {},
        {"time": None},
        {"time": True},
        {"time": -5},
        {"time": float("nan")},
        {"time": "2024-13-01T00:00:00Z"},
        {"time": {"sec": 1}},
        {"when": "2024-05-01T10:00:00Z"},
        [],
        "2024-05-01T10:00:00Z",
        None,
    ):
        assert t(doc) is None, doc
    assert x({}, "json.rawtime") is None
    assert x({}, "evt.time") is None


def test_parse_rfc3339() -> None:
    assert parse_rfc3339("1970-01-01T00:00:00Z") == 0
    assert parse_rfc3339("1970-01-01T00:00:00.000000001Z") == 1
    assert parse_rfc3339("1970-01-01T01:00:00+01:00") == 0
    assert parse_rfc3339("1969-12-31T23:00:00-01:00") == 0
    for bad in (
        "1970-01-01T00:00:00",  # no zone
        "1970-01-01T00:00:60Z",
        "1970-01-01T24:00:00Z",
        "1970-01-01T00:00:00+24:00",
        "1970-01-01T00:00:00.Z",
        "1970-01-01T00:00:00.0000000001Z",
        "70-01-01T00:00:00Z",
    ):
        assert parse_rfc3339(bad) is None, bad


def test_epoch_to_ns_bounds() -> None:
    assert epoch_to_ns(0) == 0
    assert epoch_to_ns(10**19) is None  # beyond int64 nanoseconds
    assert epoch_to_ns(float("inf")) is None
    assert epoch_to_ns(10**400) is None


@pytest.mark.parametrize("doc", [None, [], "x", 1, {}, {"time": []}, {"a": {"b": [None]}}])
def test_odd_documents_never_raise(doc: Any) -> None:
    ev = Event(doc, SRC)
    for f in SRC.fields:
        arg = "/a/b/0" if f.arg is Arg.KEY else None
        value = f.extractor(arg)(ev)
        assert value is None or type(value) in (str, int, bool), (f.name, value)
