"""The one reader of nested JSON shared by the JSON sources (``lanner.sources.jsonptr``).

Values are checked the way a rule sees them: through a compiled condition (the
generated code inlines the dict lookups of a string at a fixed path) and through
the alert's ``output_fields`` (the field's extractor), which must agree.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from lanner import builtin_sources, compile_rules, load_rules_text
from lanner.event import Event
from lanner.fields import Arg, FieldDef, InlinePath

DOC: dict[str, Any] = {
    "user": {"name": "alice", "id": 1001, "admin": False, "tags": ["a", "b"]},
    "gone": None,
    "empty": "",
    "a/b": "slash",
    "m~n": "tilde",
    "~1": "escaped twice",
    "items": [{"k": "first"}, {"k": "second"}],
}


def _rule(source: str, condition: str, field: str) -> str:
    return textwrap.dedent(
        f"""\
        - rule: probe
          desc: probe
          condition: {condition}
          output: "v=%{field}"
          priority: INFO
          source: {source}
        """
    )


def seen(field: str, doc: Any, source: str = "json") -> Any:
    """The value of ``field`` in the alert of an always-true rule (None: no value)."""
    rs = load_rules_text(_rule(source, "evt.num >= 0", field), name="probe.yaml")
    (alert,) = compile_rules(rs).evaluate(doc, source)
    return alert.output_fields[field]


def holds(condition: str, doc: Any, source: str = "json") -> bool:
    rs = load_rules_text(_rule(source, condition, "evt.source"), name="probe.yaml")
    return [a.rule for a in compile_rules(rs).evaluate(doc, source)] == ["probe"]


def test_pointer_escapes_name_keys_with_slash_and_tilde() -> None:
    assert seen("json.value[/a~1b]", DOC) == "slash"
    assert seen("json.value[/m~0n]", DOC) == "tilde"
    # "~01" is "~1" once unescaped, not "/": ~1 is decoded before ~0.
    assert seen("json.value[/~01]", DOC) == "escaped twice"
    assert holds('json.value[/a~1b] = slash and json.value[/~01] = "escaped twice"', DOC)


def test_array_steps_take_decimal_indices() -> None:
    assert seen("json.value[/items/1/k]", DOC) == "second"
    assert seen("json.value[/user/tags/0]", DOC) == "a"
    assert holds("json.value[/items/0/k] = first", DOC)
    for pointer in ("/items/2/k", "/items/-/k", "/items/k", "/items/²/k", "/user/tags/-1"):
        assert seen(f"json.value[{pointer}]", DOC) is None, pointer
        assert not holds(f"json.value[{pointer}] exists", DOC), pointer


def test_a_document_that_is_an_array_is_walked_from_its_first_step() -> None:
    doc = ["top", {"k": "v"}]
    assert seen("json.value[/0]", doc) == "top"
    assert seen("json.value[/1/k]", doc) == "v"
    assert holds("json.value[/0] = top", doc)


def test_missing_null_and_scalar_steps_have_no_value() -> None:
    for pointer in ("/gone", "/nope", "/gone/x", "/user/name/x", "/user/id/x"):
        assert seen(f"json.value[{pointer}]", DOC) is None, pointer
        assert not holds(f"json.value[{pointer}] exists", DOC), pointer
    # An empty string is a value, unlike null.
    assert seen("json.value[/empty]", DOC) == ""
    assert holds('json.value[/empty] = ""', DOC)


def test_values_that_are_not_strings_are_their_json_text() -> None:
    assert seen("json.value[/user/id]", DOC) == "1001"
    assert seen("json.value[/user/admin]", DOC) == "false"
    assert seen("json.value[/user/tags]", DOC) == '["a","b"]'
    assert holds("json.value[/user/id] = 1001 and json.value[/user/admin] = false", DOC)


def test_the_walk_is_bounded_by_the_pointer_not_the_document() -> None:
    deep: Any = "bottom"
    for _ in range(200):
        deep = {"d": deep}
    doc = {"root": deep}
    assert seen("json.value[/root" + "/d" * 200 + "]", doc) == "bottom"
    assert seen("json.value[/root" + "/d" * 201 + "]", doc) is None
    # A short pointer stops where it is told to: the rest is rendered, not walked into.
    assert seen("json.value[/root/d/d/d/d/d/d/d/d]", {"root": {"d": "x"}}) is None


def test_a_k8s_field_reads_only_audit_events() -> None:
    event = {"auditID": "1", "verb": "create", "objectRef": {"resource": "pods"}}
    assert seen("ka.verb", event, "k8s_audit") == "create"
    assert holds("ka.target.resource = pods", event, "k8s_audit")
    # The same path without an auditID is not an audit event: no ka.* value, though
    # json.value still reads it.
    other = {k: v for k, v in event.items() if k != "auditID"}
    assert seen("ka.verb", other, "k8s_audit") is None
    assert not holds("ka.verb = create", other, "k8s_audit")
    assert holds("jevt.value[/verb] = create", other, "k8s_audit")


def test_a_three_step_k8s_path_reads_like_the_shorter_ones() -> None:
    pod = {"auditID": "1", "requestObject": {"spec": {"hostPID": True, "hostIPC": "yes"}}}
    assert seen("ka.req.pod.host_pid", pod, "k8s_audit") == "true"
    assert holds("ka.req.pod.host_pid = true and ka.req.pod.host_ipc = yes", pod, "k8s_audit")
    assert seen("ka.req.pod.host_network", pod, "k8s_audit") is None


def test_a_cloudtrail_field_on_odd_records() -> None:
    assert seen("ct.name", {"eventName": "CreateUser"}, "aws_cloudtrail") == "CreateUser"
    assert seen("ct.request.policy", {"requestParameters": []}, "aws_cloudtrail") is None
    assert seen("ct.request.policy", {"requestParameters": "x"}, "aws_cloudtrail") is None
    assert seen("ct.error", {"errorCode": 403}, "aws_cloudtrail") == "403"
    assert holds("ct.error = 403", {"errorCode": 403}, "aws_cloudtrail")


# --- the declaration the compiler relies on ---------------------------------------


def _sample_arg(f: FieldDef) -> str | None:
    if f.name.endswith(".value") and f.arg is Arg.KEY:
        return "/probe/at"
    return {Arg.KEY: "x", Arg.INDEX: "0"}.get(f.arg)


def _arg(f: FieldDef) -> str:
    arg = _sample_arg(f)
    return "" if arg is None else f"[{arg}]"


def _bound(f: FieldDef) -> Any:
    """The extractor of a field, with a sample argument where it needs one."""
    return f.extractor(_sample_arg(f))


def _inline_fields() -> list[tuple[str, FieldDef, InlinePath]]:
    out = []
    for name, src in sorted(builtin_sources().items()):
        for f in src.fields:
            x = _bound(f)
            if isinstance(x, InlinePath):
                out.append((name, f, x))
    return out


def test_every_inlined_field_declares_the_path_its_extractor_reads() -> None:
    found = _inline_fields()
    assert found
    for source, f, path in found:
        doc: Any = "probe value"
        for key in reversed(path.keys):
            doc = {key: doc}
        if path.guard is not None:
            doc.setdefault(path.guard, "g")
        src = builtin_sources()[source]
        condition = f'{f.name}{_arg(f)} = "probe value"'
        assert path(Event(doc, src)) == "probe value", f.name
        assert holds(condition, doc, source), f.name
        if path.guard is not None:
            del doc[path.guard]
            assert path(Event(doc, src)) is None, f.name
            assert not holds(condition, doc, source), f.name


def test_the_hot_fields_are_inlined() -> None:
    inlined = {(s, f.name) for s, f, _ in _inline_fields()}
    for source, src in builtin_sources().items():
        if source != "syscall":
            assert {(source, n) for n in src.index_fields} <= inlined
    assert ("k8s_audit", "jevt.value") in inlined
    assert ("aws_cloudtrail", "ct.src") in inlined


def test_no_extractor_carries_attributes_of_its_own() -> None:
    for source, src in builtin_sources().items():
        for f in src.fields:
            x = _bound(f)
            assert not hasattr(x, "__dict__") or not vars(x), (source, f.name)


@pytest.mark.parametrize(
    ("source", "doc", "expected"),
    [
        ("k8s_audit", {"auditID": "a-1"}, "a-1"),
        ("k8s_audit", {"auditID": ""}, None),
        ("aws_cloudtrail", {"eventID": "e-1"}, "e-1"),
        ("aws_cloudtrail", {"eventID": 7}, None),
        ("json", {"id": "x"}, None),
    ],
)
def test_each_source_declares_its_event_id(source: str, doc: Any, expected: Any) -> None:
    read = builtin_sources()[source].event_id
    assert (read(doc) if read is not None else None) == expected
