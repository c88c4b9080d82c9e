"""A test source with one field per type, and the one-rule helpers the operator and
transformer tests share: rules YAML -> compile_rules -> evaluate, as a user meets them."""

from __future__ import annotations

from typing import Any

import pytest

from lanner import (
    Arg,
    FieldDef,
    FieldRegistry,
    FieldType,
    RuleLoadErrors,
    Source,
    compile_rules,
    load_rules_text,
)


def _getter(key: str) -> Any:
    def bind(_arg: str | None) -> Any:
        def extract(ev: Any) -> Any:
            v = ev.doc.get(key)
            return tuple(v) if isinstance(v, list) else v

        return extract

    return bind


_T = FieldType
# A source with one field per type, each reading the document key after "t.".
TYPED = Source(
    name="t",
    fields=FieldRegistry(
        FieldDef(name, ftype, name, _getter(name[2:]), Arg.NONE, is_list)
        for name, ftype, is_list in (
            ("t.str", _T.STRING, False),
            ("t.other", _T.STRING, False),
            ("t.path", _T.FSPATH, False),
            ("t.int", _T.INT, False),
            ("t.uint", _T.UINT, False),
            ("t.pid", _T.PID, False),
            ("t.bool", _T.BOOL, False),
            ("t.ip", _T.IPADDR, False),
            ("t.ip2", _T.IPADDR, False),
            ("t.net", _T.IPNET, False),
            ("t.bytes", _T.BYTES, False),
            ("t.list", _T.STRING, True),
            ("t.list2", _T.STRING, True),
            ("t.nums", _T.UINT, True),
            ("t.dbl", _T.DOUBLE, False),
            ("t.port", _T.PORT, False),
            ("t.args", _T.STRING, True),
        )
    ),
)

CONDITION_LINE = 4
CONDITION_COL = 5  # conditions are written as a block scalar, indented by 4


def rules_text(condition: str, output: str = "hit", source: str = "t") -> str:
    return (
        "- rule: r\n"
        "  desc: test rule\n"
        "  condition: |-\n"
        f"    {condition}\n"
        f"  output: {output}\n"
        "  priority: WARNING\n"
        f"  source: {source}\n"
    )


def engine(condition: str, source: str = "t", output: str = "hit") -> Any:
    ruleset = load_rules_text(rules_text(condition, output, source), name="t.yaml")
    return compile_rules(ruleset, sources=[TYPED], match="all")


def matches(condition: str, doc: dict[str, Any], source: str = "t") -> bool:
    alerts = engine(condition, source).evaluate(doc, source)
    return [a.rule for a in alerts] == ["r"]


def load_error(condition: str, source: str = "t") -> str:
    with pytest.raises(RuleLoadErrors) as info:
        engine(condition, source)
    return str(info.value.errors[0])


def at(condition: str, token: str) -> str:
    """FILE:LINE:COL of the first occurrence of ``token`` in a one-line condition."""
    return f"t.yaml:{CONDITION_LINE}:{CONDITION_COL + condition.index(token)}"
