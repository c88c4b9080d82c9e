"""Hostile rule files end in an error at FILE:LINE:COL, never a crash or a stall.

Macro bombs, deep macro chains, deep parentheses, huge conditions and huge
exception/append structures are rejected by the loader's expansion bounds, and
the steps that are linear by design stay linear (no timing assertions here: the
figures are measured by bench/rules_fuzz.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from cli.main import main
from lanner import RuleLoadErrors, compile_rules, load_rules, load_rules_text
from lanner.condition.index import ValueSet, intersect_all, union_all
from lanner.loader import MAX_EXPANDED_DEPTH, MAX_RULE_NODES, MAX_TOTAL_NODES

RULE = (
    "- rule: {name}\n  desc: d\n  condition: {cond}\n  output: x %proc.name\n  priority: NOTICE\n"
)


def macro_bomb(levels: int = 18) -> str:
    """~850 bytes expanding to 2**levels checks: each macro uses the previous one twice."""
    items = ["- macro: m0\n  condition: proc.name = a\n"]
    items += [
        f"- macro: m{i}\n  condition: (m{i - 1} and m{i - 1})\n" for i in range(1, levels + 1)
    ]
    items.append(RULE.format(name="Bomb", cond=f"evt.type = execve and m{levels}"))
    return "".join(items)


def macro_chain(n: int, body: str) -> str:
    items = ["- macro: c0\n  condition: proc.name = a\n"]
    items += [f"- macro: c{i}\n  condition: {body.format(p=i - 1, i=i)}\n" for i in range(1, n + 1)]
    items.append(RULE.format(name="Chain", cond=f"evt.type = execve and c{n}"))
    return "".join(items)


def validate(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    res = CliRunner().invoke(main, ["rules", "validate", "-r", str(path)])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.output


def load_errors(text: str) -> list[str]:
    with pytest.raises(RuleLoadErrors) as info:
        load_rules_text(text, name="t.yaml")
    return [str(e) for e in info.value.errors]


# --- macro bombs ------------------------------------------------------------------------


def test_a_macro_bomb_is_an_error_at_the_macro_that_crosses_the_bound(tmp_path: Path) -> None:
    text = macro_bomb()
    assert len(text) < 900
    code, out = validate(tmp_path, text)
    assert code == 1
    where = f"{tmp_path / 'rules.yaml'}:27:3"  # macro m13: 2**14 - 1 nodes > 10,000
    assert out.splitlines() == [
        f"{where}: error: macro 'm13' expands to more than {MAX_RULE_NODES:,} nodes once its "
        "macros are inlined (and/or/not and checks; each use of a macro counts its whole "
        "condition): use a list with 'in (...)' for many values, or split it",
        "1 error(s)",
    ]


def test_a_bomb_below_the_bound_loads_with_its_macros_shared() -> None:
    rs = load_rules_text(macro_bomb(levels=10), name="t.yaml")
    m9, m10 = rs.macros["m9"], rs.macros["m10"]
    # Expanded once, referenced twice: the users of a macro hold the same tree.
    assert m10.children[0] is m9 and m10.children[1] is m9  # type: ignore[union-attr]
    engine = compile_rules(rs)
    hit = engine.evaluate({"evt.type": "execve", "proc.name": "a"}, "syscall")
    assert [a.rule for a in hit] == ["Bomb"]


def test_a_rule_whose_own_macros_cross_the_bound_is_reported_at_the_rule() -> None:
    # Each macro is small; the rule uses the biggest one twice.
    levels = MAX_RULE_NODES.bit_length() - 1  # m_levels has 2**(levels+1) - 1 nodes
    items = ["- macro: m0\n  condition: proc.name = a\n"]
    items += [f"- macro: m{i}\n  condition: (m{i - 1} and m{i - 1})\n" for i in range(1, levels)]
    items.append(RULE.format(name="Twice", cond=f"m{levels - 1} or m{levels - 1}"))
    text = "".join(items)
    line = 1 + 2 * levels
    assert load_errors(text) == [
        f"t.yaml:{line}:3: error: rule 'Twice': the condition expands to more than "
        f"{MAX_RULE_NODES:,} nodes once its macros are inlined (and/or/not and checks; each "
        "use of a macro counts its whole condition): use a list with 'in (...)' for many "
        "values, or split it"
    ]


def test_all_rules_together_are_bounded_once() -> None:
    per_rule = MAX_RULE_NODES // 2
    cond = " or ".join(f"proc.name = p{i}" for i in range(per_rule - 1))
    n = MAX_TOTAL_NODES // per_rule + 2
    text = "".join(RULE.format(name=f"r{i}", cond=cond) for i in range(n))
    errors = load_errors(text)
    crossing = MAX_TOTAL_NODES // per_rule  # 0-based index of the rule that crosses it
    assert errors == [
        f"t.yaml:{1 + 5 * crossing}:3: error: rule 'r{crossing}': all rules together expand "
        f"to more than {MAX_TOTAL_NODES:,} nodes once macros are inlined; this rule crosses "
        "the bound"
    ]


# --- depth -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["(c{p} and proc.name = x{i})", "not c{p}"], ids=["and-chain", "not-chain"]
)
def test_a_5000_deep_macro_chain_is_one_error_not_a_traceback(tmp_path: Path, body: str) -> None:
    code, out = validate(tmp_path, macro_chain(5000, body))
    assert code == 1
    assert "Traceback" not in out and "RecursionError" not in out
    line = 1 + 2 * MAX_EXPANDED_DEPTH  # the first macro nested past the bound
    assert out.splitlines() == [
        f"{tmp_path / 'rules.yaml'}:{line}:3: error: macro 'c{MAX_EXPANDED_DEPTH}' nests "
        f"and/or/not more than {MAX_EXPANDED_DEPTH} levels deep once its macros are inlined",
        "1 error(s)",
    ]


def test_a_5000_long_chain_of_aliases_loads(tmp_path: Path) -> None:
    code, out = validate(tmp_path, macro_chain(5000, "c{p}"))
    assert code == 0, out
    assert "5001 macros" in out


def test_macros_redefined_to_use_later_ones_do_not_recurse_per_macro() -> None:
    # c_i is redefined after c_{i+1} exists, so each one sees the next: resolving c0
    # walks 3,000 macros that are not yet resolved.
    n = 3000
    items = [f"- macro: c{i}\n  condition: proc.name = a{i}\n" for i in range(n + 1)]
    items += [
        f"- macro: c{i}\n  condition: c{i + 1} or proc.name = b{i}\n" for i in range(n - 1, -1, -1)
    ]
    items.append(RULE.format(name="r", cond="evt.type = execve and c0"))
    errors = load_errors("".join(items))
    assert errors[0].endswith(
        f"nests and/or/not more than {MAX_EXPANDED_DEPTH} levels deep once its macros are inlined"
    )
    assert len(errors) == 1


def test_a_macro_cycle_through_redefinitions_is_reported() -> None:
    text = (
        "- macro: a\n  condition: proc.name = x\n"
        "- macro: b\n  condition: a\n"
        "- macro: a\n  condition: b\n" + RULE.format(name="r", cond="a")
    )
    assert load_errors(text) == ["t.yaml:4:14: error: macro 'a' refers to itself"]


def test_deep_parentheses_are_one_error_not_a_traceback(tmp_path: Path) -> None:
    cond = "evt.type = execve and " + "(" * 5000 + "proc.name = a" + ")" * 5000
    code, out = validate(tmp_path, RULE.format(name="r", cond=cond))
    assert code == 1
    assert out.splitlines() == [
        f"{tmp_path / 'rules.yaml'}:3:136: error: in rule 'r': the condition is nested too "
        "deeply (more than 100 levels)",
        "1 error(s)",
    ]


def test_the_deepest_allowed_condition_compiles() -> None:
    # MAX_EXPANDED_DEPTH levels, through macros, each 'not': the compiler (recursive,
    # and Python's own parser with its limit of 200 nested parentheses) copes.
    text = macro_chain(MAX_EXPANDED_DEPTH - 3, "not c{p}")
    engine = compile_rules(load_rules_text(text, name="t.yaml"))
    assert engine.evaluate({"evt.type": "execve", "proc.name": "b"}, "syscall") != []


# --- size ------------------------------------------------------------------------------


def test_100k_or_terms_are_an_error_at_the_term_past_the_bound(tmp_path: Path) -> None:
    cond = " or ".join(f"proc.name = p{i}" for i in range(100_000))
    code, out = validate(tmp_path, RULE.format(name="r", cond=f"evt.type = execve and ({cond})"))
    assert code == 1
    col = (
        14
        + len("evt.type = execve and (")
        + len(" or ".join(f"proc.name = p{i}" for i in range(MAX_RULE_NODES - 1)))
        + len(" or ")
    )
    assert out.splitlines() == [
        f"{tmp_path / 'rules.yaml'}:3:{col}: error: in rule 'r': the condition has more than "
        f"{MAX_RULE_NODES:,} checks: use a list with 'in (...)' for many values, or split the "
        "rule",
        "1 error(s)",
    ]


def test_many_exception_values_count_towards_the_bound() -> None:
    rows = "".join(f"      - [p{i}, q{i}]\n" for i in range(MAX_RULE_NODES))
    text = (
        RULE.format(name="r", cond="evt.type = execve")
        + "  exceptions:\n    - name: e\n      fields: [proc.name, proc.pname]\n"
        + "      values:\n"
        + rows
    )
    errors = load_errors(text)
    assert errors == [
        f"t.yaml:7:7: error: exception 'e' of rule 'r' has {MAX_RULE_NODES:,} rows of 2 "
        f"field(s): more than {MAX_RULE_NODES:,} nodes; use one field with a list of values, "
        "or split the rule"
    ]


def test_exception_rows_and_the_condition_together_count_towards_the_bound() -> None:
    rows = "".join(f"      - [p{i}, q{i}]\n" for i in range(MAX_RULE_NODES // 3))
    cond = " or ".join(f"proc.name = c{i}" for i in range(MAX_RULE_NODES // 2))
    text = (
        RULE.format(name="r", cond=f"evt.type = execve and ({cond})")
        + "  exceptions:\n    - name: e\n      fields: [proc.name, proc.pname]\n"
        + "      values:\n"
        + rows
    )
    assert load_errors(text) == [
        f"t.yaml:1:3: error: rule 'r': the condition expands to more than {MAX_RULE_NODES:,} "
        "nodes once its macros are inlined (and/or/not and checks; each use of a macro counts "
        "its whole condition): use a list with 'in (...)' for many values, or split it"
    ]


def test_thousands_of_appends_keep_every_value_tag_and_location() -> None:
    n = 3000
    text = RULE.format(name="r", cond="evt.type = execve") + (
        "  tags: [t0]\n  exceptions:\n    - name: e\n      fields: proc.name\n      values: [v0]\n"
    )
    for i in range(1, n):
        text += (
            f"- rule: r\n  exceptions:\n    - name: e\n      values: [v{i}]\n"
            f"  tags: [t{i}, t0]\n  override:\n    exceptions: append\n    tags: append\n"
        )
    rs = load_rules_text(text, name="t.yaml")
    (r,) = rs.rules
    assert r.tags == tuple(f"t{i}" for i in range(n))
    engine = compile_rules(rs)
    assert engine.evaluate({"evt.type": "execve", "proc.name": f"v{n - 1}"}, "syscall") == []
    assert engine.evaluate({"evt.type": "execve", "proc.name": "other"}, "syscall") != []


# --- index inference: the n-ary set operations match the pairwise ones ------------------

_values = st.frozensets(st.sampled_from(["a", "b", "c", "d", None]), max_size=4)
_sets = st.lists(st.builds(ValueSet, _values, st.booleans()), min_size=1, max_size=6)


@given(_sets)
def test_union_all_is_the_pairwise_union(sets: list[ValueSet]) -> None:
    acc = sets[0]
    for s in sets[1:]:
        acc = acc.union(s)
    assert union_all(sets) == acc


@given(_sets)
def test_intersect_all_is_the_pairwise_intersection(sets: list[ValueSet]) -> None:
    acc = sets[0]
    for s in sets[1:]:
        acc = acc.intersection(s)
    assert intersect_all(sets) == acc


def test_upstream_rules_are_far_inside_the_bounds() -> None:
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "falco"
    if not corpus.is_dir():
        pytest.skip("upstream corpus not available")
    rs = load_rules([corpus / "falco_rules.yaml", corpus / "falco-sandbox_rules.yaml"])
    compile_rules(rs)
