"""Property tests: on any text the parser returns a tree or raises ConditionSyntaxError."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanner.condition.ast import Pos
from lanner.condition.parser import parse_condition, parse_output_field
from lanner.errors import ConditionSyntaxError

TOKENS = [
    "a",
    "spawned_process",
    "proc.name",
    "fd.name[1]",
    "jevt.value[/a/b]",
    'x.y["a b"]',
    "(",
    ")",
    "and",
    "or",
    "not",
    "not(",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "intersects",
    "pmatch",
    "contains",
    "startswith",
    "regex",
    "exists",
    "oneof",
    "anyof",
    "allof",
    "(a, 'b')",
    "()",
    ",",
    "'q'",
    '"d\\"q"',
    "'\\\\'",
    "'\\x'",
    '"',
    "'",
    "tolower(",
    "len(",
    "join(",
    "concat(",
    "val(",
    "b64",
    "123",
    "-1.5e+3",
    "0x1f",
    "[",
    "]",
    "\\",
    "*.log",
    "/bin/sh",
]

SEPARATORS = st.sampled_from(["", " ", "  ", "\n", "\t", "\r\n"])

grammarish = st.lists(st.tuples(st.sampled_from(TOKENS), SEPARATORS), max_size=25).map(
    lambda parts: "".join(tok + sep for tok, sep in parts)
)

BLANK = st.sampled_from([" ", "  ", "\n  ", "\t", "\r\n"])
FIELD = st.sampled_from(["proc.name", "fd.name[1]", "jevt.value[/a/b]", "tolower(fd.name)"])
VALUE = st.sampled_from(["bash", "'a b'", '"q\\"x"', "*.log", "-1.5", "0x1f", "val(a.b)"])
CHECK = st.one_of(
    st.sampled_from(["spawned_process", "a", "notb", "fd.name exists"]),
    st.builds(
        "{}{}{}{}{}".format, FIELD, BLANK, st.sampled_from(["=", "!=", "contains"]), BLANK, VALUE
    ),
    st.builds("{} in{}(a,{}'b' )".format, FIELD, BLANK, BLANK),
    st.builds("{} startswith anyof{}(x, y)".format, FIELD, BLANK),
)
valid = st.recursive(
    CHECK,
    lambda inner: st.one_of(
        st.builds("{}{}{}{}{}".format, inner, BLANK, st.sampled_from(["and", "or"]), BLANK, inner),
        st.builds("({}{}{})".format, BLANK, inner, BLANK),
        st.builds("not{}{}".format, BLANK, inner),
    ),
    max_leaves=12,
)
any_text = st.one_of(st.text(max_size=80), grammarish, valid)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _positions(node: Any) -> list[Pos]:
    """Every Pos in a tree."""
    out: list[Pos] = []
    if isinstance(node, tuple):
        for item in node:
            out.extend(_positions(item))
    elif is_dataclass(node) and not isinstance(node, Pos):
        for f in fields(node):
            value = getattr(node, f.name)
            if isinstance(value, Pos):
                out.append(value)
            else:
                out.extend(_positions(value))
    return out


def _check_positions(text: str, node: Any) -> None:
    for pos in _positions(node):
        assert 0 <= pos.offset < len(text)
        assert text[pos.offset] not in " \t\r\n"
        before = text[: pos.offset]
        line_start = max(before.rfind("\n"), before.rfind("\r")) + 1
        assert pos.col == pos.offset - line_start + 1
        assert pos.line == before.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1


@FAST
@given(any_text)
def test_parse_condition_returns_a_tree_or_a_syntax_error(text: str) -> None:
    try:
        tree = parse_condition(text)
    except ConditionSyntaxError as exc:
        assert exc.location is not None and exc.location.line >= 1 and exc.location.col >= 1
        return
    _check_positions(text, tree)


@FAST
@given(valid)
def test_conditions_built_from_the_grammar_parse(text: str) -> None:
    _check_positions(text, parse_condition(text))


@FAST
@given(any_text, st.integers(min_value=-2, max_value=90))
def test_parse_output_field_returns_a_field_or_a_syntax_error(text: str, start: int) -> None:
    try:
        expr, end = parse_output_field(text, start)
    except ConditionSyntaxError as exc:
        assert exc.location is not None
        return
    assert start < end <= len(text)
    assert expr.pos.offset == start
    _check_positions(text, expr)
