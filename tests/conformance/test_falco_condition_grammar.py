"""Conformance with Falco's condition grammar: what Falco's filter parser accepts,
lanner accepts with the same meaning; what it rejects, lanner rejects (a rule that
lanner validates must load in Falco), with the error at the right column.

Cases are written from Falco's documented grammar and semantics (modifiers after
string operators, quoted-string escapes, operator adjacency), organised by topic.
Rejected cases give lanner's message and the 1-based column it points at.
"""

from __future__ import annotations

from typing import Any

import pytest

from lanner import compile_rules, load_rules_text
from lanner.condition.parser import parse_condition
from lanner.errors import ConditionSyntaxError, RuleLoadErrors


def _rejects(text: str) -> tuple[str, int]:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition(text)
    loc = caught.value.location
    assert loc is not None and loc.line == 1
    return caught.value.message, loc.col


# --- modifiers: oneof / anyof / allof after a string operator ---------------------------

MODIFIER_ACCEPTS = [
    "proc.name == oneof (cat, nginx)",
    "proc.name = anyof (cat, nginx)",
    "proc.name != allof (cat, nginx)",
    "proc.name == oneof ()",
    "proc.name == oneof ('cat', \"nginx\", bare)",
    "proc.name contains oneof (cat, nginx)",
    "proc.name startswith anyof (/proc/, /sys/)",
    "proc.name glob oneof (cat*, *dog)",
    "tolower(proc.name) == oneof (cat, nginx)",
    "evt.arg[0] == oneof (connect, accept)",
    # A list name instead of a parenthesised list.
    "proc.name = oneof my_list",
    "proc.name != allof my_list",
    "proc.name contains anyof my_list",
    # The modifier's own name may name the list.
    "proc.name == oneof oneof",
    # Not followed by a list: the word is a plain string value.
    "proc.name == oneof",
    "proc.name == anyof and fd.name exists",
    "(proc.name == allof) or (proc.name == oneof)",
    "proc.name == oneof_something",
    "proc.name == 'oneof'",
]


@pytest.mark.parametrize("text", MODIFIER_ACCEPTS)
def test_modifier_spellings_falco_accepts(text: str) -> None:
    parse_condition(text)


MODIFIER_REJECTS = [
    # A blank must separate the operator and the modifier...
    ("proc.name ==oneof (cat, nginx)", "a blank is needed before the modifier 'oneof'", 13),
    ("proc.name =allof (cat)", "a blank is needed before the modifier 'allof'", 12),
    # ...and the modifier and its list.
    (
        "proc.name == oneof(cat, nginx)",
        "a blank is needed between the modifier 'oneof' and its list",
        19,
    ),
    (
        "proc.name contains oneof(cat, nginx)",
        "a blank is needed between the modifier 'oneof' and its list",
        25,
    ),
    # Modifiers are lower case; other words are values, and a list after them is stray.
    (
        "proc.name == ONEOF (cat)",
        "unexpected '(': expected 'and', 'or' or the end of the condition",
        20,
    ),
    (
        "proc.name == oneof_something (cat)",
        "unexpected '(': expected 'and', 'or' or the end of the condition",
        30,
    ),
    # Only string operators take a modifier.
    ("proc.pid > oneof (1, 2)", "modifier 'oneof' cannot follow '>', only a string operator", 12),
    (
        "proc.name in oneof (cat)",
        "modifier 'oneof' cannot follow 'in', only a string operator",
        14,
    ),
    # A list must be parenthesised or named: a quoted string after a modifier is stray.
    (
        "proc.name == oneof 'cat'",
        "unexpected ''': expected 'and', 'or' or the end of the condition",
        20,
    ),
]


@pytest.mark.parametrize(("text", "message", "col"), MODIFIER_REJECTS)
def test_modifier_spellings_falco_rejects(text: str, message: str, col: int) -> None:
    assert _rejects(text) == (message, col)


K8S_EVENT: dict[str, Any] = {
    "kind": "Event",
    "apiVersion": "audit.k8s.io/v1",
    "auditID": "a-1",
    "stage": "ResponseComplete",
    "verb": "create",
    "user": {"username": "bob"},
    "objectRef": {"resource": "pods", "namespace": "web", "name": "p"},
}


@pytest.mark.parametrize(
    ("condition", "user", "fires"),
    [
        ("ka.user.name = oneof admins", "bob", True),
        ("ka.user.name = oneof admins", "carol", False),
        ("ka.user.name != allof admins", "carol", True),
        ("ka.user.name != allof admins", "alice", False),
        ("ka.user.name startswith anyof prefixes", "bob", True),
        ("ka.user.name startswith anyof prefixes", "carol", False),
    ],
)
def test_a_modifier_with_a_list_name_means_the_list_s_items(
    condition: str, user: str, fires: bool
) -> None:
    rules = f"""
- list: admins
  items: [alice, bob]
- list: prefixes
  items: [bo, al]
- rule: r
  desc: d
  condition: {condition}
  output: "%ka.user.name"
  priority: WARNING
  source: k8s_audit
"""
    engine = compile_rules(load_rules_text(rules))
    event = dict(K8S_EVENT, user={"username": user})
    assert [a.rule for a in engine.evaluate(event, "k8s_audit")] == (["r"] if fires else [])


def test_a_modifier_naming_an_undefined_list_is_an_error_at_the_name() -> None:
    rules = (
        "- rule: r\n  desc: d\n  condition: ka.user.name = oneof nosuch\n"
        "  output: o\n  priority: WARNING\n  source: k8s_audit\n"
    )
    with pytest.raises(RuleLoadErrors) as caught:
        load_rules_text(rules, "r.yaml")
    assert [str(e) for e in caught.value.errors] == ["r.yaml:3:35: error: undefined list 'nosuch'"]


# --- quoted strings: escapes as libsinsp reads them --------------------------------------

ESCAPES = [
    ('"\\x00"', "\x00"),
    ('"\\x41\\x42"', "AB"),
    ('"\\xc3\\xa9"', "\u00e9"),  # bytes, read as UTF-8 like event strings
    ('"\\xff"', "\udcff"),  # an invalid byte stays a byte
    ('"tab\\tnl\\ncr\\rbs\\bff\\f"', "tab\tnl\ncr\rbs\bff\f"),
    ('"back\\\\slash a\\/b"', "back\\slash a/b"),
    ('"say \\"hi\\""', 'say "hi"'),
    ("'it\\'s'", "it's"),
    ('"a\\ b"', "a\\b"),  # a backslash before a blank is a backslash; the blank goes
    ('"a\\\\"b"', 'a\\"b'),  # a quote after a backslash never ends the string
]


@pytest.mark.parametrize(("quoted", "value"), ESCAPES)
def test_escapes_in_quoted_strings(quoted: str, value: str) -> None:
    cmp = parse_condition(f"evt.buffer = {quoted}")
    assert cmp.rhs is not None and getattr(cmp.rhs, "value", None) == value


ESCAPE_REJECTS = [
    ('a.b = "\\d"', "unsupported escape sequence \\d in a quoted string", 8),
    ('a.b = "\\x4"', "truncated escape \\x: it takes two hex digits, like \\x00", 8),
    ('a.b = "\\xzz"', "invalid escape \\xzz: it takes two hex digits", 8),
    ("a.b = 'a \\\" b'", 'invalid escape \\" in a \'-quoted string: write " alone', 10),
    ('a.b = "a \\\' b"', "invalid escape \\' in a \"-quoted string: write ' alone", 10),
    ('a.b = "ends with a backslash\\\\"', 'unterminated string: missing closing "', 7),
]


@pytest.mark.parametrize(("text", "message", "col"), ESCAPE_REJECTS)
def test_escapes_falco_rejects(text: str, message: str, col: int) -> None:
    assert _rejects(text) == (message, col)


# --- adjacency: where blanks are needed --------------------------------------------------

ADJACENCY_ACCEPTS = [
    "fd.name exists and a",
    "fd.name existsand a",
    "fd.name existsor a",
    "(fd.name exists)and a",
    "(fd.name exists)and(a)",
    "not(fd.name exists)",
    "fd.name in(a, b)",
    "fd.name =value",
    "fd.name !=value",
    "fd.num >=1",
]


@pytest.mark.parametrize("text", ADJACENCY_ACCEPTS)
def test_adjacency_falco_accepts(text: str) -> None:
    parse_condition(text)


def test_existsand_means_exists_and() -> None:
    assert parse_condition("fd.name existsand a") == parse_condition("fd.name exists and a")


ADJACENCY_REJECTS = [
    (
        "fd.name exists something",
        "unexpected 'something': expected 'and', 'or' or the end of the condition",
        16,
    ),
    ("fd.name existsx", "unexpected 'x': expected 'and', 'or' or the end of the condition", 15),
    (
        "fd.name startswithvalue",
        "unknown operator 'startswithvalue' (a word operator is followed by a blank)",
        9,
    ),
    (
        "fd.name exists andx",
        "unexpected 'andx': expected 'and', 'or' or the end of the condition",
        16,
    ),
]


@pytest.mark.parametrize(("text", "message", "col"), ADJACENCY_REJECTS)
def test_adjacency_falco_rejects(text: str, message: str, col: int) -> None:
    assert _rejects(text) == (message, col)


# --- blanks: libsinsp's set (space, tab, CR, LF, backspace) -----------------------------


@pytest.mark.parametrize("blank", [" ", "\t", "\r", "\n", "\b"])
def test_blanks_falco_accepts_between_tokens(blank: str) -> None:
    assert parse_condition(f"fd.name{blank}={blank}a{blank}and{blank}fd.num{blank}>{blank}1") == (
        parse_condition("fd.name = a and fd.num > 1")
    )


@pytest.mark.parametrize("blank", ["\f", "\v"])
def test_form_feed_and_vertical_tab_are_not_blanks(blank: str) -> None:
    # Falco would not load the rule, so lanner must not validate it.
    # "a<FF>and" is one bare value, so the parser stops at what follows it.
    assert _rejects(f"fd.name = a{blank}and fd.num > 1") == (
        "unexpected 'fd.num': expected 'and', 'or' or the end of the condition",
        17,
    )


# --- positions: errors in a rule file name the file, line and column ---------------------


def test_a_grammar_error_points_into_the_rule_file() -> None:
    rules = (
        "- rule: r\n  desc: d\n  condition: >\n    ka.verb = create and\n"
        "    ka.user.name ==oneof (a, b)\n  output: o\n  priority: WARNING\n"
        "  source: k8s_audit\n"
    )
    with pytest.raises(RuleLoadErrors) as caught:
        load_rules_text(rules, "g.yaml")
    assert [str(e) for e in caught.value.errors] == [
        "g.yaml:5:20: error: in rule 'r': a blank is needed before the modifier 'oneof'"
    ]
