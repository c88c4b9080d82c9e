"""What a broken rules file reports: every problem, one ``FILE:LINE:COL: error:`` line each,
pointing at the offending item or token; and the warnings a working file can produce."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import textwrap

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanner import LannerError, RuleLoadErrors, RuleSet, compile_rules, load_rules_text

LINE = re.compile(r"^t\.yaml(:\d+:\d+)?: error: \S.*$")
WARNING = re.compile(r"^t\.yaml:\d+:\d+: warning: \S.*$")


def load(text: str) -> RuleSet:
    return load_rules_text(textwrap.dedent(text), name="t.yaml")


def errors(text: str) -> list[str]:
    with pytest.raises(RuleLoadErrors) as info:
        load(text)
    out = [str(e) for e in info.value.errors]
    assert str(info.value) == "\n".join(out)
    return out


def compile_errors(text: str) -> list[str]:
    rs = load(text)
    with pytest.raises(RuleLoadErrors) as info:
        compile_rules(rs)
    return [str(e) for e in info.value.errors]


def rule(cond: str, name: str = "r", output: str = "o", extra: str = "") -> str:
    return (
        f"- rule: {name}\n  desc: d\n  condition: {cond}\n  output: {output}\n"
        f"  priority: INFO\n{extra}"
    )


# --- every problem, one line each ------------------------------------------------------


def test_every_problem_in_a_file_is_reported_in_order() -> None:
    errs = errors(
        rule("evt.type = open and", name="a")
        + rule("evt.type = open", name="b").replace("INFO", "LOUD")
        + "- list: l\n  items: nope\n"
        + "- macro: m\n  condition: proc.name = (\n"
        + rule("evt.type = open and undefined_macro", name="c")
        + "- rule: d\n  desc: only\n"
    )
    assert [e.split(": error: ")[0] for e in errs] == [
        "t.yaml:3:30",
        "t.yaml:10:13",
        "t.yaml:12:10",
        "t.yaml:14:26",
        "t.yaml:17:34",
        "t.yaml:20:3",
    ]
    assert all(LINE.match(e) for e in errs), errs


def test_several_problems_in_one_rule_are_all_reported() -> None:
    errs = errors(rule("evt.type = open and", output="''").replace("INFO", "LOUD"))
    assert errs == [
        "t.yaml:3:30: error: in rule 'r': expected a condition after 'and'",
        "t.yaml:4:11: error: 'output' must not be empty",
        "t.yaml:5:13: error: unknown priority 'LOUD' (expected one of: emergency, alert, "
        "critical, error, warning, notice, informational, debug)",
    ]


def test_positions_are_right_with_crlf_and_cr_line_ends() -> None:
    text = rule(">\n    evt.type = open and\n    and").replace("INFO", "LOUD")
    for eol in ("\r\n", "\r"):
        errs = errors(text.replace("\n", eol))
        assert [e.split(": error: ")[0] for e in errs] == ["t.yaml:5:5", "t.yaml:7:13"]


def test_a_condition_syntax_error_names_the_rule_and_the_problem() -> None:
    (err,) = errors(rule("evt.type = open and and"))
    assert err == (
        "t.yaml:3:34: error: in rule 'r': unexpected 'and': expected a field check, a macro or '('"
    )


@pytest.mark.parametrize(
    ("condition", "where"),
    [
        ("evt.type = open and proc.name = = x", "3:46"),
        (">\n    evt.type = open and\n      (proc.name = a or\n       proc.name = )", "6:20"),
        ("|\n    evt.type = open and\n      (proc.name = a or\n       proc.name = )", "6:20"),
        ("evt.type = open and\n    (proc.name = a or\n     proc.name = )", "5:18"),
        ('"evt.type = open and\\n  proc.name = = x"', "3:50"),
        ('"evt.type = \\"op\\u00e9n\\" and proc.name = = x"', "3:56"),
        ("'evt.type = ''open'' and proc.name = = x'", "3:51"),
        (
            "> # a comment on the header line\n    evt.type = open and\n    proc.name in (a, b",
            "5:18",
        ),
    ],
    ids=[
        "plain",
        "folded",
        "literal",
        "multiline-plain",
        "escaped-newline",
        "escapes",
        "single-quoted",
        "header-comment",
    ],
)
def test_condition_errors_point_into_the_scalar(condition: str, where: str) -> None:
    (err,) = errors(rule(condition))
    assert err.startswith(f"t.yaml:{where}: error: in rule 'r': "), err


def test_errors_point_into_appended_condition_text() -> None:
    (err,) = errors(
        rule("evt.type = open")
        + "- rule: r\n  condition: >\n    and proc.name in (a, b)\n    and and\n"
        "  override:\n    condition: append\n"
    )
    assert err.startswith("t.yaml:9:9: error: in rule 'r': unexpected 'and'")


def test_errors_point_into_macro_conditions() -> None:
    (err,) = errors(
        '- macro: m\n  condition: >\n    proc.name = a or\n    proc.name = "open\n'
        + rule("evt.type = open and m")
    )
    assert err == "t.yaml:4:17: error: in macro 'm': unterminated string: missing closing \""


def test_undefined_macros_and_lists_point_at_the_name() -> None:
    errs = errors(rule(">\n    evt.type = open and\n    nosuch and proc.name in missing_list"))
    assert errs == [
        "t.yaml:5:5: error: undefined macro 'nosuch'",
        "t.yaml:5:29: error: undefined list 'missing_list'",
    ]


# --- unknown fields (found when compiling) ---------------------------------------------


def test_an_unknown_field_names_the_field_and_the_source() -> None:
    errs = compile_errors(rule(">\n    evt.type = open and\n    proc.nmae = cat"))
    assert errs == ["t.yaml:5:5: error: rule 'r': unknown field 'proc.nmae' for source 'syscall'"]


def test_an_unknown_field_of_another_source_names_that_source() -> None:
    errs = compile_errors(rule("ka.verb = get and proc.name = x", extra="  source: k8s_audit\n"))
    assert errs == [
        "t.yaml:3:32: error: rule 'r': unknown field 'proc.name' for source 'k8s_audit'"
    ]


def test_an_unknown_field_in_a_macro_points_into_the_macro() -> None:
    errs = compile_errors(
        "- macro: m\n  condition: |\n    proc.name = a or\n    fd.nme = b\n"
        + rule("evt.type = open and m")
    )
    assert errs == ["t.yaml:4:5: error: rule 'r': unknown field 'fd.nme' for source 'syscall'"]


def test_an_unknown_field_in_appended_text_points_at_the_append() -> None:
    errs = compile_errors(
        rule("evt.type = open")
        + "- rule: r\n  condition: and fd.nme = x\n  override:\n    condition: append\n"
    )
    assert errs == ["t.yaml:7:18: error: rule 'r': unknown field 'fd.nme' for source 'syscall'"]


def test_an_unknown_field_in_the_output_points_into_the_output() -> None:
    errs = compile_errors(
        rule("evt.type = open", output=">\n    user=%user.name\n    x=%proc.nope")
    )
    assert errs == [
        "t.yaml:6:8: error: rule 'r': unknown field 'proc.nope' for source 'syscall'; "
        "did you mean '%proc.pexe' or '%proc.name'?"
    ]


def test_every_rule_with_an_unknown_field_is_reported() -> None:
    errs = compile_errors(
        rule("evt.type = open and a.b = 1", name="x")
        + rule("evt.type = open and c.d = 2", name="y")
    )
    assert [e.split(": error: ")[0] for e in errs] == ["t.yaml:3:34", "t.yaml:8:34"]


# --- YAML and structure ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("- rule: [\n", "t.yaml:2:1: error: invalid YAML: did not find expected node content"),
        (
            "- rule: r\n\tdesc: d\n",
            "t.yaml:2:1: error: invalid YAML: found a tab character that violates indentation",
        ),
        (
            "- rule: 'open\n",
            "t.yaml:2:1: error: invalid YAML: found unexpected end of stream",
        ),
        (
            "- rule: r\x00\n",
            "t.yaml:1:10: error: invalid YAML: control characters are not allowed",
        ),
        (
            "rule: r\n",
            "t.yaml:1:1: error: a rules file must be a YAML list of items "
            "(- rule:, - macro:, - list:)",
        ),
        ("- just text\n", "t.yaml:1:3: error: each item must be a mapping such as '- rule: NAME'"),
        ("- ? [a]\n  : b\n", "t.yaml:1:5: error: item keys must be plain strings"),
        (
            "- list: l\n  items: *nowhere\n",
            "t.yaml:2:10: error: invalid YAML: alias '*nowhere' refers to no complete anchor",
        ),
        (
            "- &a {list: l, items: [*a]}\n",
            "t.yaml:1:24: error: invalid YAML: alias '*a' refers to no complete anchor",
        ),
    ],
    ids=["unclosed", "tab", "quote", "nul", "not-a-list", "scalar-item", "key", "alias", "cycle"],
)
def test_bad_yaml_gives_the_yaml_position(text: str, error: str) -> None:
    assert errors(text) == [error]


def test_bad_items_do_not_hide_the_others() -> None:
    errs = errors("- just text\n- [a, b]\n" + rule("evt.type = open and and"))
    assert [e.split(": error: ")[0] for e in errs] == ["t.yaml:1:3", "t.yaml:2:3", "t.yaml:5:34"]


def test_text_that_is_not_valid_unicode_is_an_error() -> None:
    assert errors(rule("proc.name = \udcff")) == [
        "t.yaml:3:26: error: invalid text: not valid Unicode"
    ]


def test_alias_bombs_are_refused() -> None:
    lines = ["- a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"- a{i}: &a{i} [{refs}]\n")
    (err,) = errors("".join(lines))
    assert err.endswith(
        ": error: invalid YAML: the document is too large once aliases are expanded"
    )


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    # In a subprocess: before the fix, libyaml's recursive composer crashed the interpreter.
    code = (
        "from lanner import load_rules_text, RuleLoadErrors\n"
        "n = 100000\n"
        "try:\n"
        "    load_rules_text('- list: l\\n  items: ' + '[' * n + ']' * n + '\\n', 't.yaml')\n"
        "except RuleLoadErrors as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "t.yaml:2:208: error: invalid YAML: nesting deeper than 200 levels\n"


def test_names_with_line_breaks_still_give_one_line_per_error() -> None:
    (err,) = errors('- rule: "two\\nlines\\u2028here"\n')
    assert err == (
        "t.yaml:1:3: error: rule 'two\\nlines\\u2028here' needs 'condition', 'output', "
        "'desc' and 'priority' (or only 'enabled', to switch an existing rule)"
    )


# --- warnings --------------------------------------------------------------------------


def warnings_of(text: str) -> list[str]:
    rs = load(text)
    out = [str(w) for w in compile_rules(rs).warnings]
    assert all(WARNING.match(w) for w in out), out
    return out


def test_unused_macros_and_lists_are_warned_about() -> None:
    assert warnings_of(
        "- macro: spare\n  condition: proc.name = a\n- list: extra\n  items: [a]\n"
        + rule("evt.type = open")
    ) == [
        "t.yaml:1:3: warning: macro 'spare' is never used",
        "t.yaml:3:3: warning: list 'extra' is never used",
    ]


def test_lists_and_macros_used_only_by_unused_macros_count_as_used() -> None:
    # As in Falco: every macro is compiled, so what it refers to is "used".
    assert warnings_of(
        "- list: names\n  items: [a]\n- macro: inner\n  condition: proc.name in (names)\n"
        "- macro: outer\n  condition: inner\n" + rule("evt.type = open")
    ) == ["t.yaml:5:3: warning: macro 'outer' is never used"]


def test_a_list_used_only_inside_another_list_counts_as_used() -> None:
    assert (
        warnings_of(
            "- list: inner\n  items: [a]\n- list: outer\n  items: [inner, b]\n"
            + rule("evt.type = open and proc.name in (outer)")
        )
        == []
    )


def test_a_syscall_rule_without_event_types_is_warned_about() -> None:
    assert warnings_of(rule("proc.name = cat")) == [
        "t.yaml:1:3: warning: rule 'r' matches too many evt.type values; it will be "
        "evaluated on every event (significant performance penalty)"
    ]
    assert warnings_of(rule("proc.name = cat", extra="  warn_evttypes: false\n")) == []
    assert warnings_of(rule("evt.type in (open, openat) and proc.name = cat")) == []


def test_comparing_audit_fields_with_na_is_warned_about() -> None:
    assert warnings_of(
        rule('ka.verb = get and ka.user.name = "<NA>"', extra="  source: k8s_audit\n")
    ) == [
        "t.yaml:3:32: warning: rule 'r' compares 'ka.user.name' with '<NA>': a missing value "
        "never equals '<NA>'; use 'exists' instead"
    ]


def test_deprecated_forms_are_warned_about_where_they_are() -> None:
    assert warnings_of(
        rule("evt.type = open")
        + "- rule: r\n  condition: and proc.name = a\n  append: true\n"
        + "- rule: r\n  enabled: false\n"
    ) == [
        "t.yaml:6:3: warning: 'append' is deprecated: list the keys to append under "
        "'override' instead (e.g. 'override: {condition: append}')",
        "t.yaml:9:3: warning: a rule item with only 'enabled' is deprecated: use "
        "'override: {enabled: replace}'",
    ]


# --- property: any file gives a RuleSet or RuleLoadErrors, never anything else -------------

_KEYS = [
    "rule", "macro", "list", "items", "condition", "output", "desc", "priority", "source",
    "tags", "enabled", "exceptions", "append", "override", "warn_evttypes",
    "skip-if-unknown-filter", "required_engine_version", "required_plugin_versions", "name",
    "fields", "comps", "values", "version", "alternatives",
]  # fmt: skip
_WORDS = [
    "evt.type", "proc.name", "fd.sport", "ka.verb", "=", "in", "(", ")", "and", "or", "not",
    "open", "m", "l", "INFO", "append", "replace", "true", "0.10.0", "10", "k8s_audit", "", "<NA>",
    "pmatch", "%proc.name", "'x'", "exists", "val(proc.name)",
]  # fmt: skip
_FRAGMENTS = [
    "- rule: r\n", "- macro: m\n", "- list: l\n", "  condition: ", "  items: ", "  output: ",
    "  desc: d\n", "  priority: INFO\n", "  override:\n    condition: append\n", "  append: true\n",
    ">\n    ", "|\n    ", "[", "]", "{", "}", ", ", "&a ", "*a", "<<: ", "---\n", "\n", "  ", "'",
    '"', "\\", "~", "#", "evt.type = open", " and ", "not ", "proc.name in (l)", "- ", ": ", "\t",
    "  exceptions:\n    - name: e\n      fields: ", "      values: ", "\r\n", "!!str ", "? ",
]  # fmt: skip

_scalars = st.one_of(
    st.sampled_from(_WORDS), st.text(max_size=8), st.integers(-5, 100), st.booleans(), st.none()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5)
    ),
    max_leaves=12,
)
_structures = st.lists(
    st.dictionaries(st.sampled_from(_KEYS), _values, min_size=1, max_size=7), max_size=6
).map(lambda items: yaml.safe_dump(items, sort_keys=False))
_yamlish = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=4)), max_size=40).map(
    "".join
)


def _check_any_file(text: str) -> None:
    try:
        rs = load_rules_text(text, name="t.yaml")
    except RuleLoadErrors as exc:
        lines = str(exc).split("\n")
        assert len(lines) == len(exc.errors) >= 1
        assert all(LINE.match(line) for line in lines), lines
        return
    assert all(len(str(w).splitlines()) == 1 for w in rs.warnings)
    with contextlib.suppress(LannerError):
        compile_rules(rs)


_PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@_PROPERTY
@given(_structures)
def test_random_structures_never_raise_anything_else(text: str) -> None:
    _check_any_file(text)


@_PROPERTY
@given(_yamlish)
def test_random_yaml_ish_text_never_raises_anything_else(text: str) -> None:
    _check_any_file(text)


@_PROPERTY
@given(st.text(max_size=80))
def test_random_text_never_raises_anything_else(text: str) -> None:
    _check_any_file(text)
