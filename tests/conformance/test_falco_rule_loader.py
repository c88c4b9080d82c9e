"""Falco's rule loader, case by case: what a rules file that Falco loads does here.

Written from Falco's documented loader semantics (exceptions, ``append``/``override``,
names, sources, load warnings), one case per behaviour, each asserting what a user
sees: whether the file loads, the error or warning with its FILE:LINE:COL, and for
exceptions which events still alert.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from lanner import RuleLoadErrors, RuleSet, compile_rules, load_rules_text

FILE = "rules.yaml"


def _load(text: str) -> RuleSet:
    return load_rules_text(textwrap.dedent(text), FILE)


def _failure(text: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a file that does not load."""
    with pytest.raises(RuleLoadErrors) as info:
        _load(text)
    return [str(e) for e in info.value.errors], [str(w) for w in info.value.warnings]


def _warnings(rs: RuleSet) -> list[str]:
    return [str(w) for w in rs.warnings]


def _alerting(rs: RuleSet, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events on which the file's rule alerts."""
    engine = compile_rules(rs, match="all")
    return [ev for ev in events if engine.evaluate(ev, "syscall")]


def _rule_with_exceptions(block: str, before: str = "") -> str:
    return (
        textwrap.dedent(before)
        + "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o %proc.name\n"
        + "  priority: INFO\n  exceptions:\n"
        + textwrap.indent(textwrap.dedent(block), "    ")
    )


def _open(name: str, path: str = "/tmp/f") -> dict[str, Any]:
    return {"evt.type": "open", "proc.name": name, "fd.name": path}


# --- exceptions: comparison operators with a modifier ---------------------------------------


def test_startswith_oneof_excepts_a_value_starting_with_exactly_one_prefix() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: trusted_dirs
          fields: [fd.name]
          comps: [startswith oneof]
          values:
            - [[/opt/app/, /srv/, /srv/data/]]
        """)
    )
    events = [_open("cat", "/opt/app/x"), _open("cat", "/etc/shadow"), _open("cat", "/srv/data/x")]
    # oneof holds when exactly one value matches: /srv/data/x starts with two of them.
    assert _alerting(rs, events) == [events[1], events[2]]


def test_contains_allof_on_a_single_field_needs_every_value() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: both_words
          fields: proc.name
          comps: contains allof
          values: [ab, cd]
        """)
    )
    events = [_open("xabcdx"), _open("xabx"), _open("cdx")]
    assert _alerting(rs, events) == [events[1], events[2]]


def test_equals_oneof_with_a_bare_list_name_expands_the_list() -> None:
    rs = _load(
        _rule_with_exceptions(
            """\
            - name: known
              fields: [proc.name]
              comps: ["= oneof"]
              values:
                - [known_tools]
            """,
            before="""\
            - list: known_tools
              items: [cat, dd]
            """,
        )
    )
    events = [_open("cat"), _open("dd"), _open("nc")]
    assert _alerting(rs, events) == [events[2]]
    assert _warnings(rs) == []  # the list counts as used


def test_double_equals_oneof_is_the_same_operator() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: known
          fields: [proc.name]
          comps: ["== oneof"]
          values:
            - [[cat, dd]]
        """)
    )
    assert _alerting(rs, [_open("cat"), _open("nc")]) == [_open("nc")]


def test_regex_oneof_and_glob_oneof() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: patterns
          fields: [proc.name, fd.name]
          comps: [regex oneof, glob oneof]
          values:
            - [["ba?sh", "z[sz]h"], ["/home/*/.bashrc", "/root/*"]]
        """)
    )
    events = [_open("bash", "/home/ann/.bashrc"), _open("zsh", "/root/x"), _open("bash", "/etc")]
    assert _alerting(rs, events) == [events[2]]


def test_operators_mixed_per_field() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: mixed
          fields: [proc.name, fd.name, proc.pname]
          comps: [=, endswith anyof, in]
          values:
            - [cat, [.log, .txt], [bash, sh]]
        """)
    )
    ok = {**_open("cat", "/var/a.log"), "proc.pname": "sh"}
    events = [ok, {**ok, "proc.pname": "init"}, {**ok, "fd.name": "/var/a.bin"}]
    assert _alerting(rs, events) == [events[1], events[2]]


def test_blanks_around_the_operator_are_ignored() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: padded
          fields: [proc.name]
          comps: ["  startswith oneof \\t"]
          values:
            - [[ca, dd]]
        """)
    )
    assert _alerting(rs, [_open("cat"), _open("nc")]) == [_open("nc")]


@pytest.mark.parametrize(
    "comp",
    ["startswith  oneof", "=  oneof", "in oneof", ">= oneof", "startswith someof"],
)
def test_a_modifier_needs_a_string_operator_and_one_space(comp: str) -> None:
    errors, _ = _failure(
        _rule_with_exceptions(f"""\
        - name: bad
          fields: [proc.name]
          comps: ["{comp}"]
          values:
            - [[a]]
        """)
    )
    assert errors == [
        f"{FILE}:7:7: error: exception 'bad' of rule 'r': '{comp}' is not a supported "
        "comparison operator"
    ]


# --- names: invalid macro and list names, repeated exception names --------------------------


def test_an_invalid_macro_name_is_a_warning() -> None:
    rs = _load("""\
        - macro: test-macro
          condition: evt.type = close
        - rule: r
          desc: d
          condition: evt.type = open
          output: o
          priority: INFO
        """)
    assert _warnings(rs)[0] == (
        f"{FILE}:1:10: warning: macro 'test-macro' has an invalid name: a macro name is a "
        "letter followed by letters, digits or '_', and no condition can use this one"
    )
    assert [r.name for r in rs.rules] == ["r"]


def test_a_list_with_a_blank_in_its_name_loads_and_works_where_written() -> None:
    rs = _load("""\
        - list: test list
          items: [open, openat, openat2]
        - rule: r
          desc: d
          condition: evt.type in (test list)
          output: o
          priority: INFO
        """)
    assert _warnings(rs) == [
        f"{FILE}:1:9: warning: list 'test list' has an invalid name: a list name may not "
        "contain blanks, quotes, parentheses, '=' or ','"
    ]
    events = [{"evt.type": "openat2"}, {"evt.type": "close"}]
    assert _alerting(rs, events) == [events[0]]


def test_errors_after_a_pasted_list_keep_their_column() -> None:
    errors, _ = _failure("""\
        - list: test list
          items: [open, openat, openat2]
        - rule: r
          desc: d
          condition: evt.type in (test list) and and
          output: o
          priority: INFO
        """)
    # Column 42 is the second 'and' as written, though the list's items now stand before it.
    (error,) = errors
    assert error.startswith(f"{FILE}:5:42: error: in rule 'r': ")


def test_two_exceptions_of_one_name_warn_and_both_apply() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: twice
          fields: [proc.name]
          comps: [contains]
          values:
            - [cat]
        - name: twice
          fields: [proc.name]
          comps: [endswith]
          values:
            - [dd]
        """)
    )
    assert _warnings(rs) == [
        f"{FILE}:12:7: warning: multiple definitions of exception 'twice' in rule 'r'"
    ]
    events = [_open("concat"), _open("xdd"), _open("nc")]
    assert _alerting(rs, events) == [events[2]]


# --- append: the deprecation warning comes with the errors -----------------------------------

_LEGIT = """\
- rule: legit
  desc: d
  condition: evt.type = close
  output: o
  priority: INFO
"""
_DEPRECATED_APPEND = (
    f"{FILE}:6:3: warning: 'append' is deprecated: list the keys to append under 'override' "
    "instead (e.g. 'override: {condition: append}')"
)


def test_append_warning_is_reported_with_the_load_error() -> None:
    errors, warnings = _failure(
        _LEGIT
        + """\
- rule: legit
  condition: and proc.name = cat
  append: true
  override:
    condition: append
"""
    )
    assert errors == [f"{FILE}:8:11: error: 'append' and 'override' cannot be used together"]
    assert warnings == [_DEPRECATED_APPEND]


def test_append_warning_is_reported_with_a_compile_error() -> None:
    rs = _load(_LEGIT + "- rule: legit\n  condition: and proc.nme = cat\n  append: true\n")
    with pytest.raises(RuleLoadErrors) as info:
        compile_rules(rs)
    assert [str(w) for w in info.value.warnings] == [_DEPRECATED_APPEND]


# --- a rule redefined for another source ------------------------------------------------------

_K8S_RULE = """\
- rule: trick
  desc: d
  condition: ka.verb = get
  output: o
  priority: INFO
  source: k8s_audit
"""
_OTHER_SOURCE = (
    "error: rule 'trick' has been re-defined with a different source: 'syscall' here, "
    "'k8s_audit' where it is defined"
)


@pytest.mark.parametrize(
    ("second", "where"),
    [
        (
            "- rule: trick\n  desc: d\n  condition: and 1 = 2\n  output: o\n  priority: INFO\n"
            "  source: syscall\n",
            "12:11",
        ),
        ("- rule: trick\n  condition: and 1 = 2\n  source: syscall\n  append: true\n", "9:11"),
        (
            "- rule: trick\n  condition: 1 = 2\n  override:\n    condition: replace\n"
            "  source: syscall\n",
            "11:11",
        ),
    ],
    ids=["redefined", "appended", "condition-replaced"],
)
def test_another_source_is_its_own_error_not_a_parse_error(second: str, where: str) -> None:
    errors, _ = _failure(_K8S_RULE + second)
    assert errors == [f"{FILE}:{where}: {_OTHER_SOURCE}"]


@pytest.mark.parametrize("empty", ["", '""'])
def test_an_empty_source_on_an_append_is_no_source(empty: str) -> None:
    rs = _load(
        _LEGIT + f"- rule: legit\n  condition: and proc.name = cat\n  source: {empty}\n"
        "  append: true\n"
    )
    assert rs.rules[0].condition_text == "evt.type = close and proc.name = cat"


# --- warnings Falco gives on conditions and outputs --------------------------------------------


def test_a_field_name_written_as_a_value_warns() -> None:
    rs = _load("""\
        - rule: r
          desc: d
          condition: evt.type = open and proc.name = proc.pname
          output: o
          priority: INFO
        """)
    assert _warnings(rs) == [
        f"{FILE}:3:46: warning: rule 'r': 'proc.pname' may be a valid field misused as a const "
        "string value; to compare with the field's value, write val(proc.pname)"
    ]
    # It is still the string "proc.pname", as in Falco.
    same = {"evt.type": "open", "proc.name": "bash", "proc.pname": "bash"}
    assert _alerting(rs, [same, {**same, "proc.name": "proc.pname"}]) == [
        {**same, "proc.name": "proc.pname"}
    ]


def test_a_field_name_as_an_exception_value_warns_at_the_value() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: e
          fields: [proc.name]
          comps: [=]
          values:
            - ["proc.pname "]
        """)
    )
    assert _warnings(rs) == [
        f"{FILE}:11:12: warning: rule 'r': 'proc.pname ' may be a valid field misused as a "
        "const string value; to compare with the field's value, write val(proc.pname)"
    ]


def test_a_quoted_transformer_written_as_a_value_warns() -> None:
    rs = _load("""\
        - rule: r
          desc: d
          condition: evt.type = open and proc.name = "toupper( proc.pname)"
          output: o
          priority: INFO
        """)
    assert _warnings(rs) == [
        f"{FILE}:3:46: warning: rule 'r': 'toupper( proc.pname)' may be a valid field "
        "transformer misused as a const string value"
    ]


def test_ordinary_dotted_values_do_not_warn() -> None:
    rs = _load("""\
        - rule: r
          desc: d
          condition: evt.type = open and proc.name in (docker.io, a.b.c) and proc.exe = val(proc.pname)
          output: o
          priority: INFO
        """)
    assert _warnings(rs) == []


def test_evt_dir_in_a_condition_is_deprecated_where_it_is_written() -> None:
    rs = _load("""\
        - macro: spawned
          condition: evt.type in (execve, execveat) and evt.dir = <
        - rule: r
          desc: d
          condition: spawned and proc.name = bash
          output: o
          priority: INFO
        """)
    assert _warnings(rs) == [
        f"{FILE}:2:49: warning: rule 'r' uses the deprecated field 'evt.dir': without enter "
        "events 'evt.dir = <' is always true and 'evt.dir = >' always false: remove the check "
        "on evt.dir"
    ]


def test_evt_dir_in_an_output_is_deprecated() -> None:
    rs = _load("""\
        - rule: r
          desc: d
          condition: evt.type = close
          output: user=%user.name dir=%evt.dir
          priority: INFO
        """)
    assert _warnings(rs) == [
        f"{FILE}:4:31: warning: rule 'r' uses the deprecated field 'evt.dir' in its output"
    ]


def _evttype_warnings(condition: str) -> list[str]:
    rs = _load(f"- rule: r\n  desc: d\n  condition: {condition}\n  output: o\n  priority: INFO\n")
    return [str(w) for w in compile_rules(rs).warnings if w.code == "no-evttype"]


def test_a_rule_on_every_event_type_warns() -> None:
    assert _evttype_warnings("evt.type != open and proc.name = cat") == [
        f"{FILE}:1:3: warning: rule 'r' matches too many evt.type values; it will be "
        "evaluated on every event (significant performance penalty)"
    ]


def test_a_rule_that_can_never_match_does_not_warn_about_event_types() -> None:
    assert _evttype_warnings("evt.type = open and evt.type = close") == []
