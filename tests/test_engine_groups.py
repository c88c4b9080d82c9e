"""The engine's fast path (grouped rules, fields read inline from the document) must
give exactly the alerts of evaluating each rule's own predicate, on odd documents too."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lanner import compile_rules, load_rules_text
from lanner.event import Event

RULES = """
- list: trusted_users
  items: [admin, "system:kube-controller-manager"]
- macro: final
  condition: jevt.value[/stage] = ResponseComplete
- rule: Untrusted exec
  desc: d
  condition: final and ka.verb = create and ka.target.subresource = exec and not ka.user.name in (trusted_users)
  output: "exec by %ka.user.name into %ka.target.namespace/%ka.target.name (%ka.auth.decision)"
  priority: WARNING
  source: k8s_audit
- rule: Anything by bob
  desc: d
  condition: final and ka.user.name = bob
  output: "bob did %ka.verb on %ka.target.resource"
  priority: NOTICE
  source: k8s_audit
- rule: Denied
  desc: d
  condition: ka.auth.decision = forbid and ka.uri startswith /api
  output: "denied %ka.uri"
  priority: INFO
  source: k8s_audit
"""

BASE: dict[str, Any] = {
    "kind": "Event",
    "apiVersion": "audit.k8s.io/v1",
    "auditID": "a-1",
    "stage": "ResponseComplete",
    "verb": "create",
    "requestURI": "/api/v1/namespaces/web/pods/p/exec?command=sh",
    "user": {"username": "bob"},
    "objectRef": {"resource": "pods", "namespace": "web", "name": "p", "subresource": "exec"},
    "annotations": {"authorization.k8s.io/decision": "allow"},
}


def _variant(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    node = doc
    for k in path[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


_DELETE = object()

ODD = [
    BASE,
    _variant(("auditID",), _DELETE),  # no auditID: every ka.* field is missing
    _variant(("user",), ["bob"]),  # a list where an object belongs
    _variant(("user", "username"), 7),  # a number where a string belongs
    _variant(("user", "username"), None),
    _variant(("user", "username"), "admin"),
    _variant(("objectRef",), "pods"),
    _variant(("objectRef", "subresource"), _DELETE),
    _variant(("stage",), {"not": "a string"}),
    _variant(("annotations", "authorization.k8s.io/decision"), "forbid"),
    _variant(("annotations",), None),
    _variant(("requestURI",), 42),
    _variant(("verb",), _DELETE),
    ["not", "an", "object"],
    "a string",
]


@pytest.mark.parametrize("match", ["first", "all"])
@pytest.mark.parametrize("doc", ODD, ids=range(len(ODD)))
def test_grouped_evaluation_equals_rule_by_rule(doc: Any, match: str) -> None:
    engine = compile_rules(load_rules_text(RULES, "t.yaml"), match=match, hostname="h")
    fast = [(a.rule, a.message, a.output_fields) for a in engine.evaluate(doc, "k8s_audit")]
    src = engine.sources["k8s_audit"]
    slow = []
    for cr in engine.rules_for("k8s_audit"):
        ev = Event(doc, src)
        if cr.predicate(ev):
            message, fields = cr.output.format(ev)
            slow.append((cr.rule.name, message, fields))
            if match == "first":
                break
    assert fast == slow


def test_fast_path_alert_fields() -> None:
    engine = compile_rules(load_rules_text(RULES, "t.yaml"), match="all", hostname="h")
    alerts = engine.evaluate(BASE, "k8s_audit")
    assert [a.rule for a in alerts] == ["Untrusted exec", "Anything by bob"]
    assert alerts[0].message == "exec by bob into web/p (allow)"
    assert alerts[1].output_fields == {
        "ka.verb": "create",
        "ka.target.resource": "pods",
    }
    # A number where the user name belongs is rendered as text, as the field's extractor does.
    numeric = engine.evaluate(_variant(("user", "username"), 7), "k8s_audit")
    assert [a.message for a in numeric] == ["exec by 7 into web/p (allow)"]


# A check that reads nothing (a modifier over an empty list) followed, in the same
# 'or', by a check of the same field: the group function must still read the field.
EMPTY_MODIFIER_RULES = """
- list: no_prefixes
  items: []
- rule: Empty prefixes or bob
  desc: d
  condition: ka.verb = create and (ka.user.name startswith anyof (no_prefixes) or ka.user.name = bob)
  output: "%ka.user.name"
  priority: WARNING
  source: k8s_audit
"""


@pytest.mark.parametrize("match", ["first", "all"])
def test_a_check_that_reads_nothing_does_not_count_as_a_read(match: str) -> None:
    engine = compile_rules(load_rules_text(EMPTY_MODIFIER_RULES, "t.yaml"), match=match)
    assert [a.message for a in engine.evaluate(BASE, "k8s_audit")] == ["bob"]


# Every way a check reads a field twice (its guard, then its test; both sides of a
# field-to-field check) in one group function, against each rule's own predicate.
TWICE_RULES = """
- rule: Field against itself
  desc: d
  condition: ka.user.name = val(ka.user.name) and ka.verb != get
  output: same
  priority: WARNING
  source: k8s_audit
- rule: Guarded operators
  desc: d
  condition: >
    ka.user.name != alice and ka.user.name startswith b and ka.uri contains exec
    and ka.user.name glob "b*" and ka.verb in (create, patch)
  output: guarded
  priority: WARNING
  source: k8s_audit
- rule: Modifier then plain
  desc: d
  condition: (ka.user.name endswith oneof (ob, b) or ka.user.name = carol) and ka.verb = create
  output: modifier
  priority: WARNING
  source: k8s_audit
"""


@pytest.mark.parametrize("doc", ODD, ids=range(len(ODD)))
def test_fields_read_twice_in_a_group_equal_rule_by_rule(doc: Any) -> None:
    engine = compile_rules(load_rules_text(TWICE_RULES, "t.yaml"), match="all", hostname="h")
    fast = [a.rule for a in engine.evaluate(doc, "k8s_audit")]
    src = engine.sources["k8s_audit"]
    slow = [cr.rule.name for cr in engine.rules_for("k8s_audit") if cr.predicate(Event(doc, src))]
    assert fast == slow
