"""Rule outputs as a user reads them: the text line, ``%field`` rendering, and the JSON
alert (Falco's schema, what Falcosidekick consumes, plus a deterministic ``uuid``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from lanner import RuleLoadErrors, compile_rules, load_rules_text

RAWTIME = 1_700_000_000_123_456_789  # 2023-11-14T22:13:20.123456789Z

EVENT: dict[str, Any] = {
    "evt.type": "openat",
    "evt.rawtime": RAWTIME,
    "evt.failed": False,
    "evt.arg": {"flags": "O_RDONLY|O_CLOEXEC", "dirfd": "AT_FDCWD"},
    "proc.name": "cat",
    "proc.pid": 4242,
    "proc.aname": ["cat", "bash", "sshd", "systemd"],
    "fd.name": "/etc/shadow",
    "fd.sip": "10.0.0.1",
    "fd.types": ["file", "ipv4"],
}


def rules_text(output: str, *, condition: str = "evt.type = openat", extra: str = "") -> str:
    return (
        "- rule: Read shadow\n"
        "  desc: test rule\n"
        f"  condition: {condition}\n"
        f"  output: {output}\n"
        "  priority: WARNING\n"
        f"{extra}"
    )


def alert_for(output: str, doc: dict[str, Any] = EVENT, **kwargs: Any) -> Any:
    eng = compile_rules(load_rules_text(rules_text(output, **kwargs), name="o.yaml"), hostname="h1")
    [alert] = eng.evaluate(doc, "syscall")
    return alert


def load_error(output: str) -> str:
    with pytest.raises(RuleLoadErrors) as info:
        compile_rules(load_rules_text(rules_text(output), name="o.yaml"))
    return str(info.value.errors[0])


# --- the text line ------------------------------------------------------------------------


def test_text_line_is_time_priority_and_message() -> None:
    alert = alert_for("'Shadow read by %proc.name'")
    assert alert.message == "Shadow read by cat"
    assert alert.output == "22:13:20.123456789: Warning Shadow read by cat"


@pytest.mark.parametrize(
    ("priority", "spelled"),
    [("EMERGENCY", "Emergency"), ("critical", "Critical"), ("INFO", "Informational")],
)
def test_priority_is_spelled_like_falco(priority: str, spelled: str) -> None:
    text = rules_text("x").replace("WARNING", priority)
    [alert] = compile_rules(load_rules_text(text)).evaluate(EVENT, "syscall")
    assert alert.output == f"22:13:20.123456789: {spelled} x"
    assert alert.to_dict()["priority"] == spelled


# --- field tokens -------------------------------------------------------------------------

TOKEN_CASES = [
    ("%proc.name", "cat"),
    ("%proc.pid", "4242"),
    ("%evt.failed", "false"),
    ("%fd.sip", "10.0.0.1"),
    ("%proc.aname[2]", "sshd"),
    ("%proc.aname[0]", "cat"),
    ("%evt.arg[flags]", "O_RDONLY|O_CLOEXEC"),
    ("%evt.arg.flags", "O_RDONLY|O_CLOEXEC"),
    ("%evt.arg.dirfd", "AT_FDCWD"),
    ("%fd.types", "(file,ipv4)"),  # list fields render as (a,b)
    ("%proc.aname", "(bash,sshd,systemd)"),
    ("%fd.cip", "<NA>"),  # no value
    ("%proc.aname[9]", "<NA>"),
    ("%evt.arg.nope", "<NA>"),
    ("%evt.time", "22:13:20.123456789"),
    ("%10proc.name|", "cat       |"),  # a width pads...
    ("%2proc.name|", "ca|"),  # ...and truncates
    ("%proc.name's", "cat's"),  # the longest field name wins
    ("%proc.name.", "cat."),
    ("%proc.name[2]", "cat[2]"),  # as Falco: an argument the field refuses is text
    ("(%proc.name)", "(cat)"),
    ("%proc.name%fd.name", "cat/etc/shadow"),
]


@pytest.mark.parametrize(("token", "rendered"), TOKEN_CASES)
def test_field_tokens(token: str, rendered: str) -> None:
    quoted = token.replace("'", "''")  # inside a single-quoted YAML string
    assert alert_for(f"'x {quoted}'").message == f"x {rendered}"


def test_json_pointer_arguments_in_outputs() -> None:
    text = (
        "- rule: j\n"
        "  desc: d\n"
        "  condition: json.value[/kind] = login\n"
        "  output: 'user=%json.value[/user/name] ip=%json.value[/ip] n=%json.value[/n]'\n"
        "  priority: NOTICE\n"
        "  source: json\n"
    )
    eng = compile_rules(load_rules_text(text))
    [alert] = eng.evaluate({"kind": "login", "user": {"name": "ann"}, "n": 3}, "json")
    assert alert.message == "user=ann ip=<NA> n=3"
    assert alert.output_fields == {
        "json.value[/user/name]": "ann",
        "json.value[/ip]": None,
        "json.value[/n]": "3",
    }


# --- errors -------------------------------------------------------------------------------

OUTPUT_ERROR_CASES = [
    # output as written in YAML, token the location points at, message
    (
        "'read by %proc.nope'",
        "proc.nope",
        "unknown field 'proc.nope' for source 'syscall'; "
        "did you mean '%proc.pexe' or '%proc.name'?",
    ),
    # A dotted name that is not a field is not shortened to a field plus text.
    (
        "'read %proc.name.x'",
        "proc.name.x",
        "unknown field 'proc.name.x' for source 'syscall'; "
        "did you mean '%proc.name' or '%proc.sname' or '%proc.pname'?",
    ),
    (
        "'by %fd.nmae now'",
        "fd.nmae",
        "unknown field 'fd.nmae' for source 'syscall'; "
        "did you mean '%fd.name' or '%fd.num' or '%fd.net'?",
    ),
    ("x %nope.field y", "nope.field", "unknown field 'nope.field' for source 'syscall'"),
    (
        "'x %tolower(proc.pid)'",
        "tolower",
        "transformer 'tolower' does not support pid field 'proc.pid'",
    ),
    ("'x %tolower(proc.nope)'", "tolower", "unknown field 'proc.nope' for source 'syscall'"),
    ("'50%'", "%", "an output cannot end with '%'"),
]


@pytest.mark.parametrize(("output", "token", "message"), OUTPUT_ERROR_CASES)
def test_output_errors_point_at_the_token(output: str, token: str, message: str) -> None:
    col = len("  output: ") + 1 + output.index(token)
    assert load_error(output) == f"o.yaml:4:{col}: error: rule 'Read shadow': {message}"


def test_a_cloudtrail_token_that_is_not_a_field_is_an_error_with_the_nearest_fields() -> None:
    text = (
        "- rule: Secret read\n"
        "  desc: d\n"
        "  condition: ct.name = GetSecretValue\n"
        "  output: secret %ct.request.secretid read by %ct.user\n"
        "  priority: WARNING\n"
        "  source: aws_cloudtrail\n"
    )
    with pytest.raises(RuleLoadErrors) as info:
        compile_rules(load_rules_text(text, name="o.yaml"))
    assert [str(e) for e in info.value.errors] == [
        "o.yaml:4:19: error: rule 'Secret read': unknown field 'ct.request.secretid' for "
        "source 'aws_cloudtrail'; did you mean '%ct.request' or '%ct.request.subnetid' or "
        "'%ct.request.username'?"
    ]


def test_an_invalid_token_is_an_error() -> None:
    assert load_error("'rate 100%!'") == (
        "o.yaml:4:21: error: rule 'Read shadow': invalid output token: "
        "expected a field (like proc.name) or a transformer (like tolower(proc.name))"
    )


# --- output_fields ------------------------------------------------------------------------


def test_output_fields_hold_exactly_the_output_fields_plus_evt_time() -> None:
    alert = alert_for(
        "'%proc.name (%proc.pid) read %fd.name flags=%evt.arg.flags failed=%evt.failed "
        "types=%fd.types cip=%fd.cip again %proc.name'"
    )
    fields = alert.to_dict()["output_fields"]
    assert fields == {
        "evt.time": RAWTIME,
        "proc.name": "cat",
        "proc.pid": 4242,
        "fd.name": "/etc/shadow",
        "evt.arg.flags": "O_RDONLY|O_CLOEXEC",
        "evt.failed": False,
        "fd.types": ["file", "ipv4"],
        "fd.cip": None,
    }
    assert next(iter(fields)) == "evt.time"


def test_output_without_fields_has_only_evt_time() -> None:
    assert alert_for("plain text").to_dict()["output_fields"] == {"evt.time": RAWTIME}


# --- the JSON alert -----------------------------------------------------------------------


def test_json_alert_schema() -> None:
    extra = "  tags:\n    - T1005\n    - filesystem\n    - container\n"
    alert = alert_for("'%proc.name read %fd.name'", extra=extra)
    doc = json.loads(alert.to_json())
    assert doc == alert.to_dict()
    assert set(doc) == {
        "time",
        "rule",
        "priority",
        "source",
        "hostname",
        "output",
        "tags",
        "output_fields",
        "uuid",
    }
    assert doc["time"] == "2023-11-14T22:13:20.123456789Z"
    assert doc["rule"] == "Read shadow"
    assert doc["priority"] == "Warning"
    assert doc["source"] == "syscall"
    assert doc["hostname"] == "h1"
    assert doc["output"] == "22:13:20.123456789: Warning cat read /etc/shadow"
    assert doc["tags"] == ["T1005", "container", "filesystem"]
    assert doc["output_fields"] == {
        "evt.time": RAWTIME,
        "proc.name": "cat",
        "fd.name": "/etc/shadow",
    }
    assert str(uuid.UUID(doc["uuid"])) == doc["uuid"]
    assert "\n" not in alert.to_json()


def test_hostname_comes_from_the_event_when_it_has_one() -> None:
    alert = alert_for("x", {**EVENT, "evt.hostname": "node-7"})
    assert alert.to_dict()["hostname"] == "node-7"


def test_uuid_is_deterministic_for_the_same_event_and_rule() -> None:
    text = rules_text("x") + rules_text("y").replace("Read shadow", "Other rule")
    first = compile_rules(load_rules_text(text), match="all")
    second = compile_rules(load_rules_text(text), match="all")
    a1, b1 = first.evaluate(EVENT, "syscall")
    a2, b2 = second.evaluate(dict(EVENT), "syscall")
    assert (a1.uuid, b1.uuid) == (a2.uuid, b2.uuid)
    assert a1.uuid != b1.uuid  # another rule on the same event
    later = first.evaluate({**EVENT, "evt.rawtime": RAWTIME + 1}, "syscall")[0]
    assert later.uuid != a1.uuid  # the same rule on another event
    other = first.evaluate({**EVENT, "proc.pid": 1}, "syscall")[0]
    assert other.uuid != a1.uuid
