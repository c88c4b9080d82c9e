"""Falco fields that rule files mention and lanner's sensor cannot always fill.

libsinsp declares them (``thread.cpu*`` and ``proc.fdusage`` are its float fields,
``evt.around`` a time-window filter) and Falco's upstream tests use them, so a rule file
that names one must load here too. Where the event lacks the value the field is
Falco's "cannot be extracted": no comparison on it matches, and outputs show ``<NA>``.
``%container.info`` is Falco's deprecated output placeholder, printed as nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

import lanner

OPEN: dict[str, Any] = {
    "evt.type": "open",
    "evt.rawtime": 1_404_996_934_793_590_564,
    "proc.name": "cat",
    "proc.fdopencount": 12,
}


def _engine(condition: str, output: str = "hit") -> lanner.Engine:
    text = (
        f"- rule: r\n  desc: d\n  condition: {condition}\n  output: {output}\n"
        "  priority: WARNING\n  source: syscall\n"
    )
    return lanner.compile_rules(lanner.load_rules_text(text), hostname="node-1")


def _messages(engine: lanner.Engine, doc: dict[str, Any]) -> list[str]:
    return [a.message for a in engine.evaluate(doc, "syscall")]


@pytest.mark.parametrize(
    "condition",
    [
        "thread.cpu > 1",
        "thread.cpu exists",
        "thread.cpu in (1, 2)",
        "thread.cpu.user >= 0",
        "thread.cpu.system != 5",
        "proc.fdusage > 50",
        "proc.fdusage exists",
        "evt.around[1404996934793590564] = 1000",
    ],
)
def test_rule_naming_the_field_loads_and_misses_events_without_it(condition: str) -> None:
    engine = _engine(f"evt.type = open and {condition}")
    assert _messages(engine, OPEN) == []


@pytest.mark.parametrize("field", ["thread.cpu", "thread.cpu.user", "thread.cpu.system"])
def test_float_field_without_a_value_prints_na(field: str) -> None:
    engine = _engine("evt.type = open", f"cpu=%{field} proc=%proc.name")
    alerts = engine.evaluate(OPEN, "syscall")
    assert [a.message for a in alerts] == ["cpu=<NA> proc=cat"]
    assert alerts[0].output_fields[field] is None


def test_thread_cpu_is_a_number_field() -> None:
    # Falco parses integer constants only for its float fields, and refuses text operators.
    with pytest.raises(lanner.RuleLoadErrors, match=r"<string>:3:\d+: .*'contains'.*thread\.cpu"):
        _engine("evt.type = open and thread.cpu contains 1")
    with pytest.raises(lanner.RuleLoadErrors, match=r"<string>:3:\d+: .*'high'.*thread\.cpu"):
        _engine("evt.type = open and thread.cpu = high")


def test_fd_usage_is_open_fds_over_the_limit() -> None:
    engine = _engine("evt.type = open and proc.fdusage >= 50", "usage=%proc.fdusage")
    assert _messages(engine, {**OPEN, "proc.fdlimit": 24}) == ["usage=50.0"]
    assert _messages(engine, {**OPEN, "proc.fdlimit": 1024}) == []
    assert _messages(_engine("evt.type = open", "usage=%proc.fdusage"), OPEN) == ["usage=<NA>"]


def test_evt_around_needs_its_time_argument() -> None:
    with pytest.raises(lanner.RuleLoadErrors, match=r"<string>:3:\d+: .*evt\.around"):
        _engine("evt.type = open and evt.around = 1000")


def test_container_info_placeholder_prints_nothing() -> None:
    engine = _engine("evt.type = open", "out 1 (%container.info) by %proc.name")
    assert _messages(engine, OPEN) == ["out 1 () by cat"]
