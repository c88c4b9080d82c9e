"""Rule exceptions: how they become ``and not (...)`` clauses, how they append, and errors."""

from __future__ import annotations

import textwrap

import pytest

from lanner import RuleLoadErrors, RuleSet, compile_rules, load_rules_text
from lanner.condition.ast import And, Expr
from lanner.condition.parser import parse_condition
from lanner.loader import MAX_RULE_NODES

HEAD = """\
- rule: r
  desc: d
  condition: evt.type = open
  output: o
  priority: INFO
"""


def load(text: str) -> RuleSet:
    return load_rules_text(textwrap.dedent(text), name="t.yaml")


def with_exceptions(block: str, before: str = "") -> RuleSet:
    return load(before + HEAD + "  exceptions:\n" + textwrap.indent(textwrap.dedent(block), "    "))


def errors(text: str) -> list[str]:
    with pytest.raises(RuleLoadErrors) as info:
        load(text)
    return [str(e) for e in info.value.errors]


def exception_errors(block: str) -> list[str]:
    return errors(HEAD + "  exceptions:\n" + textwrap.indent(textwrap.dedent(block), "    "))


def excepted(rs: RuleSet) -> Expr:
    """The exception part of the only rule's condition."""
    cond = rs.rules[0].condition
    assert isinstance(cond, And)
    base, exc = cond.children
    assert base == parse_condition("evt.type = open")
    return exc


def fires(rs: RuleSet, **doc: object) -> bool:
    event = {"evt.type": "open", **{k.replace("__", "."): v for k, v in doc.items()}}
    return bool(compile_rules(rs, match="all").evaluate(event, "syscall"))


# --- how exceptions become conditions --------------------------------------------------


def test_fields_comps_and_value_tuples_become_and_not_of_ored_ands() -> None:
    rs = with_exceptions(
        """\
        - name: tools
          fields: [proc.name, fd.name]
          comps: [=, startswith]
          values:
            - [cp, /tmp/]
            - [mv, /var/]
        """
    )
    assert excepted(rs) == parse_condition(
        "not ((proc.name = cp and fd.name startswith /tmp/) or "
        "(proc.name = mv and fd.name startswith /var/))"
    )
    assert fires(rs, proc__name="cp", fd__name="/etc/passwd")
    assert not fires(rs, proc__name="cp", fd__name="/tmp/x")
    assert not fires(rs, proc__name="mv", fd__name="/var/log")
    assert fires(rs, proc__name="mv", fd__name="/tmp/x")


def test_comps_default_to_equals() -> None:
    rs = with_exceptions(
        """\
        - name: pair
          fields: [proc.name, proc.pname]
          values: [[cat, bash]]
        """
    )
    assert excepted(rs) == parse_condition("not (proc.name = cat and proc.pname = bash)")
    assert not fires(rs, proc__name="cat", proc__pname="bash")
    assert fires(rs, proc__name="cat", proc__pname="zsh")


def test_a_single_field_takes_a_flat_list_of_values_with_in() -> None:
    rs = with_exceptions(
        """\
        - name: names
          fields: proc.name
          values: [cat, "my app"]
        """
    )
    assert excepted(rs) == parse_condition("not proc.name in (cat, 'my app')")
    assert not fires(rs, proc__name="my app")
    assert fires(rs, proc__name="my")


@pytest.mark.parametrize("comp", ["pmatch", "intersects"])
def test_a_single_field_may_use_pmatch_or_intersects(comp: str) -> None:
    rs = with_exceptions(
        f"""\
        - name: dirs
          fields: fd.name
          comps: {comp}
          values: [/tmp, /var]
        """
    )
    assert excepted(rs) == parse_condition(f"not fd.name {comp} (/tmp, /var)")


def test_pmatch_exceptions_match_path_prefixes() -> None:
    rs = with_exceptions(
        """\
        - name: dirs
          fields: fd.name
          comps: pmatch
          values: [/tmp]
        """
    )
    assert not fires(rs, fd__name="/tmp/x/y")
    assert fires(rs, fd__name="/etc/x")


def test_list_values_for_list_operators() -> None:
    rs = with_exceptions(
        """\
        - name: shells_in_tmp
          fields: [proc.name, fd.directory]
          comps: [in, in]
          values:
            - [[bash, sh], [/tmp, /dev/shm]]
        """
    )
    assert excepted(rs) == parse_condition(
        "not (proc.name in (bash, sh) and fd.directory in (/tmp, /dev/shm))"
    )
    assert not fires(rs, proc__name="sh", fd__directory="/dev/shm")
    assert fires(rs, proc__name="sh", fd__directory="/etc")


def test_a_value_naming_a_list_expands_to_its_items() -> None:
    lists = "- list: shells\n  items: [bash, sh]\n- list: dirs\n  items: [/tmp]\n"
    rs = with_exceptions(
        """\
        - name: multi
          fields: [proc.name, fd.directory]
          comps: [in, in]
          values: [[shells, dirs]]
        - name: single
          fields: proc.pname
          values: [shells, sshd]
        """,
        before=lists,
    )
    assert excepted(rs) == parse_condition(
        "not (proc.name in (bash, sh) and fd.directory in (/tmp)) "
        "and not proc.pname in (bash, sh, sshd)"
    )
    assert not fires(rs, proc__name="bash", fd__directory="/tmp", proc__pname="init")
    assert not fires(rs, proc__name="vi", fd__directory="/etc", proc__pname="sh")
    assert fires(rs, proc__name="vi", fd__directory="/etc", proc__pname="init")
    # The lists are used by the exceptions, so there is no "unused list" warning.
    assert [str(w) for w in rs.warnings] == []


def test_empty_values_add_nothing() -> None:
    rs = with_exceptions(
        """\
        - name: nothing_yet
          fields: [proc.name]
        - name: nothing_either
          fields: proc.name
          values: []
        """
    )
    assert rs.rules[0].condition == parse_condition("evt.type = open")


def test_typed_fields_compare_with_their_own_types() -> None:
    rs = with_exceptions(
        """\
        - name: web
          fields: [fd.sport, fd.sip]
          comps: [in, "="]
          values: [[[80, 443], 10.0.0.1]]
        """
    )
    assert not fires(rs, fd__sport=443, fd__sip="10.0.0.1")
    assert fires(rs, fd__sport=22, fd__sip="10.0.0.1")
    assert fires(rs, fd__sport=443, fd__sip="10.0.0.2")


def test_unquoted_equals_comps_are_accepted() -> None:
    # '=' on its own is a YAML 1.1 "value" tag; Falco's rule files write it bare.
    rs = with_exceptions(
        """\
        - name: eq
          fields: [proc.name, proc.pname]
          comps: [=, startswith]
          values: [[cat, bash]]
        """
    )
    assert excepted(rs) == parse_condition("not (proc.name = cat and proc.pname startswith bash)")


def test_several_exceptions_each_add_a_clause() -> None:
    rs = with_exceptions(
        """\
        - name: one
          fields: proc.name
          values: [cat]
        - name: two
          fields: proc.pname
          values: [bash]
        """
    )
    assert not fires(rs, proc__name="cat", proc__pname="x")
    assert not fires(rs, proc__name="x", proc__pname="bash")
    assert fires(rs, proc__name="x", proc__pname="x")


# --- appending -------------------------------------------------------------------------


BASE = (
    HEAD
    + """\
  exceptions:
    - name: known
      fields: [proc.name, proc.pname]
      values: [[cat, bash]]
"""
)


@pytest.mark.parametrize("how", ["  append: true\n", "  override:\n    exceptions: append\n"])
def test_appending_to_an_existing_exception_adds_values(how: str) -> None:
    rs = load(
        BASE + "- rule: r\n  exceptions:\n    - name: known\n      values: [[dog, zsh]]\n" + how
    )
    assert excepted(rs) == parse_condition(
        "not ((proc.name = cat and proc.pname = bash) or (proc.name = dog and proc.pname = zsh))"
    )
    assert not fires(rs, proc__name="dog", proc__pname="zsh")


def test_appending_a_new_exception_adds_it() -> None:
    rs = load(
        BASE + "- rule: r\n  exceptions:\n    - name: fresh\n      fields: fd.name\n"
        "      values: [/etc/hosts]\n  override:\n    exceptions: append\n"
    )
    assert not fires(rs, proc__name="x", proc__pname="y", fd__name="/etc/hosts")
    assert not fires(rs, proc__name="cat", proc__pname="bash", fd__name="/x")
    assert fires(rs, proc__name="x", proc__pname="y", fd__name="/x")


@pytest.mark.parametrize("key", ["fields: [proc.name, proc.pname]", "comps: [=, =]"])
def test_appending_fields_or_comps_to_an_existing_exception_is_an_error(key: str) -> None:
    errs = errors(
        BASE + f"- rule: r\n  exceptions:\n    - name: known\n      {key}\n      values: [[a, b]]\n"
        "  append: true\n"
    )
    assert errs == [
        "t.yaml:12:7: error: exception 'known' already exists in rule 'r': only 'values' "
        "can be appended to it, not 'fields' or 'comps'"
    ]


@pytest.mark.parametrize(
    "body", ["fields: proc.name", "values: [[a]]"], ids=["no values", "no fields"]
)
def test_a_new_appended_exception_needs_fields_and_values(body: str) -> None:
    errs = errors(
        BASE + f"- rule: r\n  exceptions:\n    - name: fresh\n      {body}\n  append: true\n"
    )
    assert errs == [
        "t.yaml:12:7: error: exception 'fresh' appended to rule 'r' is new, "
        "so it needs 'fields' and 'values'"
    ]


def test_appending_values_of_the_wrong_shape_is_an_error() -> None:
    errs = errors(
        BASE + "- rule: r\n  exceptions:\n    - name: known\n      values: [[a]]\n  append: true\n"
    )
    assert errs == [
        "t.yaml:13:16: error: exception 'known' of rule 'r': each entry of 'values' must be "
        "a list of 2 value(s), one per field"
    ]


def test_appending_an_exception_without_values_warns() -> None:
    rs = load(BASE + "- rule: r\n  exceptions:\n    - name: known\n  append: true\n")
    assert "t.yaml:12:7: warning: exception 'known' is appended with no values" in [
        str(w) for w in rs.warnings
    ]


def test_replacing_exceptions_drops_the_old_ones() -> None:
    rs = load(
        BASE + "- rule: r\n  exceptions:\n    - name: other\n      fields: proc.name\n"
        "      values: [dog]\n  override:\n    exceptions: replace\n"
    )
    assert excepted(rs) == parse_condition("not proc.name in (dog)")


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "error"),
    [
        (
            "- name: e\n  fields: [proc.name, fd.name]\n  comps: [=]\n  values: [[a, b]]\n",
            "t.yaml:7:7: error: exception 'e' of rule 'r': 'fields' and 'comps' must have the "
            "same number of entries",
        ),
        (
            "- name: e\n  fields: [proc.name]\n  comps: [like]\n  values: [[a]]\n",
            "t.yaml:7:7: error: exception 'e' of rule 'r': 'like' is not a supported "
            "comparison operator",
        ),
        (
            "- name: e\n  fields: proc.name\n  comps: startswith\n  values: [a]\n",
            "t.yaml:7:7: error: exception 'e' of rule 'r': when 'fields' is one field, 'comps' "
            "must be one of in, pmatch, intersects or an operator with a modifier, like "
            "'startswith oneof' (got 'startswith')",
        ),
        (
            "- name: e\n  fields: proc.name\n  comps: [in]\n  values: [a]\n",
            "t.yaml:7:7: error: exception 'e' of rule 'r': 'fields' is one field, so 'comps' "
            "must be one operator",
        ),
        (
            "- name: e\n  fields: [proc.name, fd.name]\n  values:\n    - [a, b]\n    - [c]\n",
            "t.yaml:11:11: error: exception 'e' of rule 'r': each entry of 'values' must be a "
            "list of 2 value(s), one per field",
        ),
        (
            "- name: e\n  fields: [proc.name]\n  values: [a]\n",
            "t.yaml:9:16: error: exception 'e' of rule 'r': each entry of 'values' must be a "
            "list of 1 value(s), one per field",
        ),
        (
            "- name: e\n  fields: [proc.name]\n  values: [[[a, b]]]\n",
            "t.yaml:9:17: error: exception 'e' of rule 'r': operator '=' takes one value, "
            "not a list",
        ),
        (
            "- name: e\n  fields: proc.name\n  values: [[a, b]]\n",
            "t.yaml:9:16: error: exception 'e' of rule 'r': with one field, each value must be "
            "a single string",
        ),
        (
            "- name: e\n  fields: [proc.name]\n  values: [[~]]\n",
            "t.yaml:9:17: error: exception 'e' of rule 'r': a value is empty (null) or not a "
            "single value",
        ),
        (
            "- name: e\n  values: [[a]]\n",
            "t.yaml:7:7: error: exception 'e' of rule 'r': it has no 'fields'",
        ),
        (
            "- name: e\n  fields: []\n  values: []\n",
            "t.yaml:7:7: error: exception 'e' of rule 'r': 'fields' must not be empty",
        ),
        (
            "- fields: proc.name\n  values: [a]\n",
            "t.yaml:7:7: error: each exception of rule 'r' needs a 'name'",
        ),
        (
            "- name: e\n  fields: proc.name\n  values: a\n",
            "t.yaml:7:7: error: exception 'e' of rule 'r': 'values' must be a sequence",
        ),
    ],
)
def test_malformed_exceptions_are_errors(block: str, error: str) -> None:
    assert exception_errors(block) == [error]


def test_exceptions_must_be_a_sequence() -> None:
    assert exception_errors("name: e\n") == [
        "t.yaml:7:5: error: 'exceptions' of rule 'r' must be a sequence"
    ]


def test_every_bad_exception_is_reported() -> None:
    errs = exception_errors(
        "- name: a\n  fields: [proc.name]\n  comps: [~=]\n  values: []\n"
        "- name: b\n  fields: proc.name\n  comps: glob\n"
    )
    assert [e.split(": error: ")[0] for e in errs] == ["t.yaml:7:7", "t.yaml:11:7"]


def test_an_unknown_field_points_at_the_field_in_the_exception() -> None:
    rs = with_exceptions(
        """\
        - name: e
          fields: [proc.name, proc.nosuch]
          values: [[a, b]]
        """
    )
    with pytest.raises(RuleLoadErrors) as info:
        compile_rules(rs)
    assert [str(e) for e in info.value.errors] == [
        "t.yaml:8:27: error: rule 'r': unknown field 'proc.nosuch' for source 'syscall'"
    ]


def test_an_unknown_single_field_points_at_it() -> None:
    rs = with_exceptions("- name: e\n  fields: ka.verb\n  values: [get]\n")
    with pytest.raises(RuleLoadErrors) as info:
        compile_rules(rs)
    assert [str(e) for e in info.value.errors] == [
        "t.yaml:8:15: error: rule 'r': unknown field 'ka.verb' for source 'syscall'"
    ]


def test_a_bad_value_for_a_typed_field_points_at_the_value() -> None:
    rs = with_exceptions(
        """\
        - name: ports
          fields: [proc.name, fd.sport]
          comps: [=, in]
          values:
            - [a, [80, nosuchservice]]
        """
    )
    with pytest.raises(RuleLoadErrors) as info:
        compile_rules(rs)
    (err,) = [str(e) for e in info.value.errors]
    assert err.startswith("t.yaml:11:20: error: rule 'r': 'nosuchservice' ")


def test_a_field_that_is_not_a_field_name_is_an_error() -> None:
    errs = exception_errors("- name: e\n  fields: [proc.name, 'not a field']\n  values: [[a, b]]\n")
    assert errs == [
        "t.yaml:8:27: error: exception 'e' of rule 'r': 'not a field' is not a field name"
    ]


def test_too_many_values_of_one_field_say_so() -> None:
    values = "".join(f"    - v{i}\n" for i in range(MAX_RULE_NODES + 1))
    errs = exception_errors("- name: e\n  fields: proc.name\n  values:\n" + values)
    assert errs == [
        f"t.yaml:7:7: error: exception 'e' of rule 'r' has {MAX_RULE_NODES + 1:,} values of "
        f"its one field: more than {MAX_RULE_NODES:,} nodes; split the rule"
    ]


def test_values_pasted_as_falco_pastes_them_keep_their_own_positions() -> None:
    # Each value is read on its own: the second one's error is placed at it.
    errs = exception_errors(
        "- name: e\n  fields: [proc.name, proc.pname]\n  values:\n"
        "    - [val(proc.exe), '\"a\"']\n    - [b, 'x\"y z']\n"
    )
    assert errs == [
        "t.yaml:11:15: error: exception 'e' of rule 'r': value 'x\"y z', pasted as \"x\"y z\": "
        "unexpected 'y': expected 'and', 'or' or the end of the condition"
    ]
