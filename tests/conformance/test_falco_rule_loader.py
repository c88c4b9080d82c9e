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

from lanner import RuleLoadErrors, RuleSet, compile_rules, load_rules, load_rules_text

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


# --- exceptions: a value is pasted into the condition, as Falco does -------------------------


def _same_field_exception(value: str) -> str:
    return _rule_with_exceptions(f"""\
        - name: e
          fields: [proc.name]
          comps: [=]
          values:
            - [{value}]
        """)


def _parents(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{**_open(name), "proc.pname": pname} for name, pname in pairs]


@pytest.mark.parametrize("value", ["toupper(proc.pname)", '"toupper(proc.pname)"'])
def test_a_transformer_value_compares_with_the_other_field(value: str) -> None:
    rs = _load(_same_field_exception(value))
    assert _warnings(rs) == []
    events = _parents(("BASH", "bash"), ("bash", "bash"), ("SH", "bash"))
    assert _alerting(rs, events) == [events[1], events[2]]


def test_a_val_value_compares_with_the_other_field() -> None:
    rs = _load(_same_field_exception("val(proc.pname)"))
    assert _warnings(rs) == []
    events = _parents(("bash", "bash"), ("cat", "bash"))
    assert _alerting(rs, events) == [events[1]]


def test_a_numeric_comparison_with_another_field() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: child_after_parent
          fields: [proc.pid]
          comps: [">"]
          values:
            - [val(proc.ppid)]
        """)
    )
    events = [{**_open("a"), "proc.pid": p, "proc.ppid": 10} for p in (11, 10, 9)]
    assert _alerting(rs, events) == [events[1], events[2]]


@pytest.mark.parametrize("value", ["proc.pname", '"proc.pname"'])
def test_a_field_name_value_is_a_string_and_warns(value: str) -> None:
    rs = _load(_same_field_exception(value))
    assert _warnings(rs) == [
        f"{FILE}:11:12: warning: rule 'r': 'proc.pname' may be a valid field misused as a "
        "const string value; to compare with the field's value, write val(proc.pname)"
    ]
    events = _parents(("bash", "bash"), ("proc.pname", "bash"))
    assert _alerting(rs, events) == [events[0]]


def test_a_transformer_value_with_a_blank_is_quoted_so_a_string_and_warns() -> None:
    rs = _load(_same_field_exception("toupper( proc.pname)"))
    assert _warnings(rs) == [
        f"{FILE}:11:12: warning: rule 'r': 'toupper( proc.pname)' may be a valid field "
        "transformer misused as a const string value"
    ]
    events = _parents(("BASH", "bash"), ("toupper( proc.pname)", "bash"))
    assert _alerting(rs, events) == [events[0]]


def test_a_transformer_as_the_exception_field() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: e
          fields: [tolower(proc.name)]
          comps: [=]
          values:
            - [test]
        """)
    )
    assert _warnings(rs) == []
    events = [_open("TeSt"), _open("tests")]
    assert _alerting(rs, events) == [events[1]]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (
            "toupper(proc.pnme)",
            f"{FILE}:11:12: error: rule 'r': unknown field 'proc.pnme' for source 'syscall'",
        ),
        (
            "val(proc.pname",
            f"{FILE}:11:12: error: exception 'e' of rule 'r': value 'val(proc.pname', pasted "
            "as val(proc.pname: val() takes exactly one field, like val(proc.pname)",
        ),
        (
            "nosuch(proc.pname)",
            f"{FILE}:11:12: error: exception 'e' of rule 'r': value 'nosuch(proc.pname)', "
            "pasted as nosuch(proc.pname): unknown transformer 'nosuch'",
        ),
    ],
    ids=["unknown-field", "unclosed", "unknown-transformer"],
)
def test_an_error_in_a_pasted_value_points_at_the_value(value: str, error: str) -> None:
    # Whether loading or compiling finds it, the error is the file's one error.
    with pytest.raises(RuleLoadErrors) as info:
        compile_rules(_load(_same_field_exception(value)))
    assert [str(e) for e in info.value.errors] == [error]


# --- exceptions: values with blanks, quotes and escapes ----------------------------------------


def _cmdlines(*cmdlines: str, name: str = "cat") -> list[dict[str, Any]]:
    return [{**_open(name), "proc.cmdline": c} for c in cmdlines]


def test_a_value_with_a_blank_is_one_string() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: local_curl
          fields: [proc.cmdline]
          comps: [contains]
          values:
            - [curl 127.0.0.1]
        """)
    )
    events = _cmdlines("curl 127.0.0.1/x", "curl 10.0.0.1")
    assert _alerting(rs, events) == [events[1]]


def test_a_value_written_in_quotes_is_the_text_inside_them() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: proc_name_cmdline
          fields: [proc.name, proc.cmdline]
          values:
            - [not-cat, not-cat]
            - [cat, '"cat /dev/null"']
        """)
    )
    events = _cmdlines("cat /dev/null", '"cat /dev/null"')
    assert _alerting(rs, events) == [events[1]]


def test_escapes_are_read_inside_a_quoted_value_only() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: e
          fields: [proc.cmdline, fd.name]
          values:
            - ['"a\\tb"', 'C:\\temp']
        """)
    )
    ok = {**_open("cat", "C:\\temp"), "proc.cmdline": "a\tb"}
    events = [ok, {**ok, "proc.cmdline": "a\\tb"}]
    assert _alerting(rs, events) == [events[1]]


def test_a_value_with_a_blank_and_a_quote_does_not_load() -> None:
    # Falco wraps it in quotes without escaping the one inside: the condition breaks.
    errors, _ = _failure(_same_field_exception("'say \"hi\"'"))
    assert errors == [
        f"{FILE}:11:12: error: exception 'e' of rule 'r': value 'say \"hi\"', pasted as "
        "\"say \"hi\"\": unexpected 'hi': expected 'and', 'or' or the end of the condition"
    ]


@pytest.mark.parametrize(
    ("values", "where"),
    [("[['']]", "11:11"), ('[[[a, ""]]]', "11:15")],
    ids=["value", "in-a-list"],
)
def test_an_empty_value_is_an_error(values: str, where: str) -> None:
    errors, _ = _failure(
        _rule_with_exceptions(f"""\
        - name: e
          fields: [proc.name]
          comps: [in]
          values:
            {values}
        """)
    )
    assert errors == [
        f"{FILE}:{where}: error: exception 'e' of rule 'r': a value must not be empty"
    ]


# --- exceptions: lists, list names, single fields ----------------------------------------------

_CAT_CMDLINES = """\
- list: cat_cmdlines
  items: [cat /dev/zero, "cat /dev/null"]
"""


@pytest.mark.parametrize(
    "cell",
    ['[cat /dev/zero, "cat /dev/null"]', "(cat_cmdlines)", "cat_cmdlines"],
    ids=["list", "list-name-in-parentheses", "list-name"],
)
def test_a_list_of_values_for_in(cell: str) -> None:
    rs = _load(
        _rule_with_exceptions(
            f"""\
            - name: proc_name_cmdline
              fields: [proc.name, proc.cmdline]
              comps: [=, in]
              values:
                - [cat, {cell}]
            """,
            before=_CAT_CMDLINES if "cat_cmdlines" in cell else "",
        )
    )
    events = _cmdlines("cat /dev/zero", "cat /dev/null", "cat /etc/shadow")
    assert _alerting(rs, events) == [events[2]]
    assert _warnings(rs) == []


def test_in_with_a_single_value_is_a_one_item_list() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: e
          fields: [proc.name]
          comps: [in]
          values:
            - [cat]
        """)
    )
    assert _alerting(rs, [_open("cat"), _open("dd")]) == [_open("dd")]


def test_in_with_a_single_value_holding_a_blank_does_not_load() -> None:
    # Falco parenthesises it without quoting it: '(cat /dev/null)' is not a list.
    errors, _ = _failure(
        _rule_with_exceptions("""\
        - name: e
          fields: [proc.cmdline]
          comps: [in]
          values:
            - [cat /dev/null]
        """)
    )
    assert errors == [
        f"{FILE}:11:12: error: exception 'e' of rule 'r': value 'cat /dev/null', pasted as "
        "(cat /dev/null): expected ',' or ')' in the list, found '/dev/null'"
    ]


@pytest.mark.parametrize("comps", ["comps: in\n", ""], ids=["in", "default"])
def test_a_single_field_takes_a_flat_list_of_values(comps: str) -> None:
    rs = _load(
        _rule_with_exceptions(
            "- name: proc_cmdline\n  fields: proc.cmdline\n"
            + textwrap.indent(comps, "  ")
            + '  values:\n    - cat /dev/zero\n    - "cat /dev/null"\n'
        )
    )
    events = _cmdlines("cat /dev/zero", "cat /dev/null", "cat /etc/shadow")
    assert _alerting(rs, events) == [events[2]]


def test_a_single_field_value_with_a_comma_and_no_blank_is_two_items() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: e
          fields: proc.name
          values: ["cat,dd"]
        """)
    )
    events = [_open("cat"), _open("dd"), _open("cat,dd")]
    assert _alerting(rs, events) == [events[2]]


def test_pmatch_on_a_single_field_matches_path_prefixes() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: e
          fields: fd.name
          comps: pmatch
          values: [/var/lib, /tmp]
        """)
    )
    events = [_open("a", "/var/lib/x"), _open("a", "/tmp"), _open("a", "/var/library")]
    assert _alerting(rs, events) == [events[2]]


def test_comps_default_to_equals_for_a_list_of_fields() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: e
          fields: [proc.name, fd.name]
          values:
            - [ca, /tmp/f]
        """)
    )
    events = [_open("ca"), _open("cat")]
    assert _alerting(rs, events) == [events[1]]


def test_an_exception_without_values_excepts_nothing() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: proc_name
          fields: [proc.name]
        - name: proc_name_cmdline
          fields: [proc.name, proc.cmdline]
        """)
    )
    assert _alerting(rs, [_open("cat")]) == [_open("cat")]


def test_any_matching_exception_excepts_the_event() -> None:
    rs = _load(
        _rule_with_exceptions("""\
        - name: proc_name
          fields: [proc.name]
          values: [[not-cat]]
        - name: proc_name_cmdline
          fields: [proc.name, proc.cmdline]
          values: [[not-cat, "cat /dev/null"]]
        - name: proc_name_cmdline_pname
          fields: [proc.name, proc.cmdline, proc.pname]
          values: [[cat, "cat /dev/null", bash]]
        """)
    )
    ok = {**_cmdlines("cat /dev/null")[0], "proc.pname": "bash"}
    events = [ok, {**ok, "proc.pname": "sh"}]
    assert _alerting(rs, events) == [events[1]]


# --- exceptions: values appended ---------------------------------------------------------------

_DECLARED = """\
- rule: r
  desc: d
  condition: evt.type = open
  output: o
  priority: INFO
  exceptions:
    - name: proc_name
      fields: [proc.name]
    - name: proc_name_contains
      fields: [proc.name]
      comps: [contains]
    - name: proc_cmdline
      fields: proc.cmdline
      values: [cat /dev/zero]
"""


def _appended(*blocks: str) -> RuleSet:
    return load_rules_text(_DECLARED + "".join(blocks), FILE)


def _append(exceptions: str) -> str:
    return "- rule: r\n  exceptions:\n" + textwrap.indent(exceptions, "    ") + "  append: true\n"


def test_values_appended_to_a_declared_exception_use_its_comparison() -> None:
    rs = _appended(_append("- name: proc_name_contains\n  values: [[at]]\n"))
    events = [_open("cat"), _open("dd")]
    assert _alerting(rs, events) == [events[1]]


def test_values_appended_twice_both_apply() -> None:
    rs = _appended(
        _append("- name: proc_name\n  values: [[not-cat]]\n"),
        _append("- name: proc_name\n  values: [[cat]]\n"),
    )
    events = [_open("cat"), _open("not-cat"), _open("dd")]
    assert _alerting(rs, events) == [events[2]]


def test_values_appended_to_a_single_field_exception() -> None:
    rs = _appended(_append('- name: proc_cmdline\n  values: ["cat /dev/null"]\n'))
    events = _cmdlines("cat /dev/zero", "cat /dev/null", "cat /etc/shadow")
    assert _alerting(rs, events) == [events[2]]


@pytest.mark.parametrize("fields", ["proc.cmdline", "[proc.cmdline]"])
def test_a_new_exception_appended_with_its_fields(fields: str) -> None:
    values = '["cat /dev/null"]' if fields == "proc.cmdline" else '[["cat /dev/null"]]'
    rs = _appended(_append(f"- name: proc_cmdline_2\n  fields: {fields}\n  values: {values}\n"))
    events = _cmdlines("cat /dev/zero", "cat /dev/null", "cat /etc/shadow")
    assert _alerting(rs, events) == [events[2]]


def test_a_new_exception_appended_without_fields_is_an_error() -> None:
    with pytest.raises(RuleLoadErrors) as info:
        _appended(_append('- name: proc_cmdline_2\n  values: ["cat /dev/null"]\n'))
    assert [str(e) for e in info.value.errors] == [
        f"{FILE}:17:7: error: exception 'proc_cmdline_2' appended to rule 'r' is new, so it "
        "needs 'fields' and 'values'"
    ]


def test_values_appended_from_another_file_apply_and_report_errors_there() -> None:
    local = "- rule: r\n  exceptions:\n    - name: proc_name\n      values:\n"
    rs = load_rules(
        texts=[
            ("base.yaml", _DECLARED),
            ("local.yaml", local + "        - [val(proc.pname)]\n  append: true\n"),
        ]
    )
    events = _parents(("bash", "bash"), ("cat", "bash"))
    assert _alerting(rs, events) == [events[1]]
    with pytest.raises(RuleLoadErrors) as info:
        load_rules(
            texts=[
                ("base.yaml", _DECLARED),
                ("local.yaml", local + "        - [val(proc.pname]\n  append: true\n"),
            ]
        )
    (error,) = [str(e) for e in info.value.errors]
    assert error.startswith("local.yaml:5:12: error: exception 'proc_name' of rule 'r': ")
