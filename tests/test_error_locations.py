"""Compile errors point at FILE:LINE:COL of what the user wrote, however many rules
are loaded together, and wherever the offending text is: a rule, a macro shared by
several rules, a list, an exception, an appended condition, another file."""

from __future__ import annotations

import pytest

from lanner.engine import Engine
from lanner.errors import RuleLoadErrors
from lanner.loader import load_rules
from lanner.sources.catalog import builtin_sources


def _errors(*files: tuple[str, str]) -> list[str]:
    """Every error loading and compiling ``files``, as the user reads them."""
    with pytest.raises(RuleLoadErrors) as caught:
        Engine(load_rules(texts=files), builtin_sources())
    return [str(e) for e in caught.value.errors]


def _at(text: str, needle: str, nth: int = 0) -> str:
    """'LINE:COL' of the ``nth`` occurrence of ``needle`` in ``text``."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    line = text.count("\n", 0, i) + 1
    return f"{line}:{i - (text.rfind(chr(10), 0, i) + 1) + 1}"


def _rule(name: str, condition: str, extra: str = "") -> str:
    return (
        f"- rule: {name}\n  desc: d\n  condition: {condition}\n  output: o\n"
        f"  priority: WARNING\n{extra}"
    )


def test_each_of_many_errors_points_at_its_own_rule() -> None:
    # Rules whose lists are expanded, each followed by a rule with a bad value: the
    # value must never be reported at another rule's list name.
    n = 200
    parts = ["- list: shells\n  items: [bash, sh, zsh]\n"]
    for i in range(n):
        parts.append(_rule(f"good{i}", "proc.name in shells and evt.type = open"))
        parts.append(_rule(f"bad{i}", f"evt.type = open and proc.pid = x{i}"))
    text = "".join(parts)
    got = _errors(("many.yaml", text))
    want = [
        f"many.yaml:{_at(text, f'x{i}' + chr(10))}: error: rule 'bad{i}': "
        f"'x{i}' is not a valid pid value for 'proc.pid'"
        for i in range(n)
    ]
    assert sorted(got) == sorted(want)


def test_an_error_in_a_macro_points_into_the_macro_for_every_rule_using_it() -> None:
    text = (
        "- macro: bad_pid\n  condition: proc.pid = notanumber\n"
        "- macro: uses_it\n  condition: evt.type = open and bad_pid\n"
        + _rule("r1", "bad_pid")
        + _rule("r2", "evt.type = close and uses_it")
    )
    where = _at(text, "notanumber")
    assert _errors(("m.yaml", text)) == [
        f"m.yaml:{where}: error: rule 'r1': 'notanumber' is not a valid pid value for 'proc.pid'",
        f"m.yaml:{where}: error: rule 'r2': 'notanumber' is not a valid pid value for 'proc.pid'",
    ]


def test_a_bad_list_item_points_at_where_the_rule_names_the_list() -> None:
    text = (
        "- list: pids\n  items: [80, init]\n"
        + _rule("by_name", "evt.type = connect and proc.pid in pids")
        + "- rule: in_parens\n  desc: d\n  condition: >\n    evt.type = connect and\n"
        "      proc.pid in (443, pids)\n  output: o\n  priority: WARNING\n"
    )
    assert _errors(("l.yaml", text)) == [
        f"l.yaml:{_at(text, 'pids', 1)}: error: rule 'by_name': "
        "'init' is not a valid pid value for 'proc.pid'",
        f"l.yaml:{_at(text, 'pids', 2)}: error: rule 'in_parens': "
        "'init' is not a valid pid value for 'proc.pid'",
    ]


def test_errors_in_exceptions_point_at_the_field_or_value() -> None:
    text = _rule(
        "bad_value",
        "evt.type = open",
        "  exceptions:\n    - name: e1\n      fields: [proc.name, proc.pid]\n"
        "      values:\n        - [bash, abc]\n",
    ) + _rule(
        "bad_field",
        "evt.type = open",
        "  exceptions:\n    - name: e2\n      fields: [proc.name, proc.nosuch]\n"
        "      values: [[bash, x]]\n",
    )
    got = _errors(("e.yaml", text))
    assert got[0] == (
        f"e.yaml:{_at(text, 'abc')}: error: rule 'bad_value': "
        "'abc' is not a valid pid value for 'proc.pid'"
    )
    assert got[1].startswith(
        f"e.yaml:{_at(text, 'proc.nosuch')}: error: rule 'bad_field': unknown field 'proc.nosuch'"
    )
    assert len(got) == 2


def test_an_error_in_an_appended_condition_points_into_the_appending_file() -> None:
    first = _rule("r", "evt.type = open")
    second = "- rule: r\n  condition: and proc.pid = xyz\n  override:\n    condition: append\n"
    assert _errors(("base.yaml", first), ("local.yaml", second)) == [
        f"local.yaml:{_at(second, 'xyz')}: error: rule 'r': "
        "'xyz' is not a valid pid value for 'proc.pid'"
    ]


def test_files_loaded_together_each_name_their_own_errors() -> None:
    a = "- list: shells\n  items: [bash]\n" + _rule("a1", "evt.type = open and proc.pid = one")
    b = "\n\n" + _rule("b1", "proc.name in shells and evt.type = open and proc.ppid = two")
    c = _rule("c1", "evt.type = open and  proc.vpid = three")
    got = _errors(("a.yaml", a), ("b.yaml", b), ("c.yaml", c))
    assert got == [
        f"a.yaml:{_at(a, 'one')}: error: rule 'a1': 'one' is not a valid pid value for 'proc.pid'",
        f"b.yaml:{_at(b, 'two')}: error: rule 'b1': 'two' is not a valid pid value for 'proc.ppid'",
        f"c.yaml:{_at(c, 'three')}: error: rule 'c1': "
        "'three' is not a valid pid value for 'proc.vpid'",
    ]
