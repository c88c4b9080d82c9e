"""Falco fields that rule files mention and lanner's sensor cannot always fill.

libsinsp declares them (``thread.cpu*`` and ``proc.fdusage`` are its float fields,
``evt.around`` a time-window filter) and Falco's upstream tests use them, so a rule file
that names one must load here too. Where the event lacks the value the field is
Falco's "cannot be extracted": no comparison on it matches, and outputs show ``<NA>``.
Doubles print with one decimal, as libsinsp's "%.1lf".

``evt.around[T] = D`` (sinsp_filtercheck_event.cpp) holds when T, a time in ns, is at
most D milliseconds before or after the event's time; only '=' is accepted, and it is no
value: no transformer, no field on either side.

``%container.info`` is Falco's deprecated output placeholder: its rule loader removes the
token with a warning. It is no filter field (the container plugin has none by that name).
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
        "evt.around[1404996924793590564] = 1000",  # 10 s before the event
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


# --- evt.around -------------------------------------------------------------------------------

T = OPEN["evt.rawtime"]
_RULE_LINE = "  condition: evt.type = open and "  # the condition's line 3 starts with this


def _load_error(condition: str) -> str:
    with pytest.raises(lanner.RuleLoadErrors) as info:
        _engine(f"evt.type = open and {condition}")
    return str(info.value.errors[0])


def _at(condition: str, token: str) -> str:
    return f"<string>:3:{len(_RULE_LINE) + condition.index(token) + 1}"


@pytest.mark.parametrize(
    ("offset_ns", "expected"),
    [
        (0, True),
        (999_999_999, True),
        (1_000_000_000, True),  # D = 1000 ms either side, bounds included
        (-1_000_000_000, True),
        (1_000_000_001, False),
        (-1_000_000_001, False),
    ],
)
def test_evt_around_holds_within_d_milliseconds_of_t(offset_ns: int, expected: bool) -> None:
    engine = _engine(f"evt.type = open and evt.around[{T}] = 1000")
    doc = {**OPEN, "evt.rawtime": T + offset_ns}
    assert _messages(engine, doc) == (["hit"] if expected else [])


def test_evt_around_is_a_test_that_negates_and_combines() -> None:
    engine = _engine(f"evt.type = open and not evt.around[{T}] = 0")
    assert _messages(engine, OPEN) == []
    assert _messages(engine, {**OPEN, "evt.rawtime": T + 1}) == ["hit"]


def test_evt_around_exists_is_a_window_of_zero() -> None:
    # libsinsp runs its window test whatever the operator; exists gives it no delta.
    engine = _engine(f"evt.type = open and evt.around[{T}] exists")
    assert _messages(engine, OPEN) == ["hit"]
    assert _messages(engine, {**OPEN, "evt.rawtime": T + 1}) == []


def test_evt_around_without_an_event_time_misses() -> None:
    engine = _engine(f"evt.type = open and evt.around[{T}] = 1000")
    assert _messages(engine, {k: v for k, v in OPEN.items() if k != "evt.rawtime"}) == []


def test_evt_around_prints_as_na() -> None:
    engine = _engine("evt.type = open", f"'around=%evt.around[{T}]'")
    assert _messages(engine, OPEN) == ["around=<NA>"]


@pytest.mark.parametrize("op", ["!= 1000", "> 1000", "<= 1000", "in (1000)", "contains 1"])
def test_evt_around_takes_only_equals(op: str) -> None:
    condition = f"evt.around[{T}] {op}"
    assert _load_error(condition) == (
        f"{_at(condition, 'evt.around')}: error: rule 'r': 'evt.around[{T}]' supports only "
        "the '=' comparison operator"
    )


def test_evt_around_is_no_value_for_another_field_or_a_transformer() -> None:
    condition = f"evt.around[{T}] = val(proc.pid)"
    assert _load_error(condition) == (
        f"{_at(condition, 'evt.around')}: error: rule 'r': field 'evt.around[{T}]' doesn't "
        "support right-hand side fields"
    )
    condition = f"proc.pid = val(evt.around[{T}])"
    assert _load_error(condition) == (
        f"{_at(condition, 'evt.around')}: error: rule 'r': field 'evt.around[{T}]' can't be "
        "used as a right-hand side field"
    )
    condition = f"tolower(evt.around[{T}]) = 1"
    assert _load_error(condition) == (
        f"{_at(condition, 'evt.around')}: error: rule 'r': field 'evt.around[{T}]' does not "
        "support transformers ('tolower')"
    )


def test_evt_around_numbers_are_unsigned_decimals() -> None:
    condition = f"evt.around[{T}] = 0x10"
    assert _load_error(condition) == (
        f"{_at(condition, '0x10')}: error: rule 'r': '0x10' is not a valid uint64 value for "
        f"'evt.around[{T}]'"
    )
    condition = "evt.around[1.5] = 10"
    assert _load_error(condition) == (
        f"{_at(condition, 'evt.around')}: error: rule 'r': field 'evt.around' takes a numeric "
        "index, not '1.5'"
    )


# --- container.info ---------------------------------------------------------------------------

_PLACEHOLDER = (
    "unknown field 'container.info': it is only an output placeholder ('%container.info'), "
    "not a field to filter on or transform"
)


@pytest.mark.parametrize(
    "condition",
    [
        "container.info = x",
        "container.info exists",
        "proc.name = val(container.info)",
        "tolower(container.info) = x",
    ],
)
def test_container_info_is_no_filter_field(condition: str) -> None:
    token = "container.info" if "(" not in condition else condition[condition.index("(") + 1 :]
    assert _load_error(condition) == f"{_at(condition, token)}: error: rule 'r': {_PLACEHOLDER}"


def test_a_rule_filtering_on_container_info_is_skipped_if_unknown_filters_may_be() -> None:
    text = (
        "- rule: r\n  desc: d\n  condition: evt.type = open and container.info = x\n"
        "  output: hit\n  priority: WARNING\n  skip-if-unknown-filter: true\n"
    )
    engine = lanner.compile_rules(lanner.load_rules_text(text), hostname="node-1")
    assert [str(w) for w in engine.warnings] == [
        f"<string>:3:34: warning: rule 'r' skipped: {_PLACEHOLDER}"
    ]


def test_container_info_placeholder_is_removed_with_a_warning() -> None:
    text = (
        "- rule: r\n  desc: d\n  condition: evt.type = open\n"
        "  output: out 1 (%container.info) by %proc.name\n  priority: WARNING\n"
    )
    rules = lanner.load_rules_text(text, name="f.yaml")
    assert [str(w) for w in rules.warnings] == [
        "f.yaml:4:18: warning: rule 'r': %container.info is deprecated and no more useful, "
        "and will be dropped by Falco 1.0.0. The container plugin will automatically add "
        "required fields to the output message."
    ]
    alert = lanner.compile_rules(rules, hostname="node-1").evaluate(OPEN, "syscall")[0]
    assert alert.message == "out 1 () by cat"
    assert alert.output_fields == {"proc.name": "cat"}


def test_container_info_with_a_width_is_an_unknown_field() -> None:
    # Falco's loader removes '%container.info' only as written; '%20container.info' stays.
    with pytest.raises(lanner.RuleLoadErrors, match=r"<string>:4:\d+: .*unknown field 'contai"):
        _engine("evt.type = open", "'x %20container.info'")


# --- doubles in outputs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cpu", "text"),
    [(2.5, "2.5"), (1 / 3, "0.3"), (0.04, "0.0"), (99.96, "100.0"), (7, "7.0"), (0.0, "0.0")],
)
def test_doubles_print_with_one_decimal_and_keep_the_number(cpu: float, text: str) -> None:
    engine = _engine("evt.type = procinfo", "cpu=%thread.cpu")
    alert = engine.evaluate({**OPEN, "evt.type": "procinfo", "thread.cpu": cpu}, "syscall")[0]
    assert alert.message == f"cpu={text}"
    assert alert.output_fields == {"thread.cpu": cpu}


def test_fd_usage_prints_one_decimal() -> None:
    engine = _engine("evt.type = open", "usage=%proc.fdusage")
    alert = engine.evaluate({**OPEN, "proc.fdlimit": 36}, "syscall")[0]
    assert alert.message == "usage=33.3"
    assert alert.output_fields == {"proc.fdusage": 12 * 100 / 36}


def test_container_info_as_a_constant_is_no_misused_field() -> None:
    # Falco warns about a constant shaped like one of its fields; container.info is none.
    text = (
        "- rule: r\n  desc: d\n  condition: evt.type = open and proc.name = container.info\n"
        "  output: hit\n  priority: WARNING\n"
    )
    assert lanner.load_rules_text(text).warnings == []
