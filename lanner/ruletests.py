"""Rule tests: events each rule must fire on, and near misses it must stay quiet on.

A test file is a YAML list of items, read with the rule loader's positions and bounds::

    - rule: AWS CloudTrail Logging Stopped
      fires:
        - about: An IAM user stops the trail        # optional, shown on failure
          event: {eventName: StopLogging, ...}      # or file: events/x.json(l), or events: [...]
          repeat: 20                                # optional: the events N times over
          output_fields: {ct.user: eve}             # optional: values the alert must show
      quiet:
        - event: {...}

Inline events are read as JSON would read them (YAML 1.2's core schema: ``true``, ``12``
and ``null`` are typed, quoted text and ``No`` stay text), so an inline event and the same
event in a .json file are the same document. Each example runs alone, on a clean state,
against every loaded rule compiled with ``match="all"``; only the named rule's alerts count.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lanner.boundedjson import JsonInputError, check
from lanner.engine import Engine
from lanner.errors import LannerError, Location, RuleFileError, RuleLoadErrors
from lanner.loader import RuleSet
from lanner.output import Alert, render_value
from lanner.sources.catalog import builtin_sources
from lanner.threshold import InMemoryStore
from lanner.yamlpos import MAX_NODES, NULL_TAG, node_location, parse_items

__all__ = [
    "Example",
    "ExampleFailure",
    "RuleResult",
    "RuleTests",
    "load_rule_tests",
    "rule_test_files",
    "run_rule_tests",
]

MAX_FILE_BYTES = 16 * 1024 * 1024
"""The largest test file or event file read: a test is a handful of records."""
MAX_REPEAT = 100_000
MAX_EVALUATIONS = 1_000_000
"""Events evaluated for one example, repeats included."""

_EXAMPLE_KINDS = ("fires", "quiet")
_ITEM_KEYS = ("rule", *_EXAMPLE_KINDS)
_EXAMPLE_KEYS = ("about", "event", "file", "events", "repeat", "output_fields")
_EVENT_KEYS = ("event", "file", "events")
_MERGE_TAG = "tag:yaml.org,2002:merge"
# YAML 1.2 core schema: what JSON would call a boolean or a number.
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"[-+]?[0-9]+")
_INT_BASED = re.compile(r"0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_FLOAT_SPECIAL = {".inf": "inf", "+.inf": "inf", "-.inf": "-inf", ".nan": "nan"}


@dataclass(frozen=True, slots=True)
class Example:
    """One example: the events, in order, on which ``rule`` must fire (or stay quiet)."""

    rule: str
    kind: str  # "fires" or "quiet"
    events: tuple[dict[str, Any], ...]
    repeat: int
    output_fields: tuple[tuple[str, str], ...]  # field, expected text
    about: str | None
    location: Location

    def describe(self) -> str:
        """``FILE:LINE:COL: fires "about"``: where the example is, for a failure line."""
        about = f' "{self.about}"' if self.about else ""
        return f"{self.location}: {self.kind}{about}"


@dataclass
class RuleTests:
    """Every example of the test files, by rule name in the order they were read."""

    examples: dict[str, list[Example]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    example: Example
    reason: str  # "did not fire", "fired on a quiet example: ..."

    def __str__(self) -> str:
        return f"{self.example.describe()}: {self.reason}"


@dataclass(frozen=True, slots=True)
class RuleResult:
    """What one rule's examples gave."""

    rule: str
    source: str
    fires: int  # examples of each kind
    quiet: int
    failures: tuple[ExampleFailure, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        """The kinds of example the rule has none of."""
        return tuple(
            k for k, n in zip(_EXAMPLE_KINDS, (self.fires, self.quiet), strict=True) if not n
        )

    @property
    def status(self) -> str:
        """PASS, FAIL, UNTESTED (no example) or INCOMPLETE (no fires or no quiet example)."""
        if self.failures:
            return "FAIL"
        if not self.fires and not self.quiet:
            return "UNTESTED"
        return "INCOMPLETE" if self.missing else "PASS"


# --- reading -----------------------------------------------------------------------------------


def rule_test_files(root: Path) -> list[Path]:
    """The test files under ``root`` (any depth, in path order), or ``root`` itself if a file."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_rule_tests(paths: Iterable[Path], ruleset: RuleSet) -> RuleTests:
    """The examples of the test files ``paths`` for the rules of ``ruleset``.

    Raises RuleLoadErrors listing every problem found, each at its FILE:LINE:COL.
    """
    reader = _Reader({r.name: r.source for r in ruleset.rules})
    tests = RuleTests()
    for path in paths:
        tests.files.append(str(path))
        for example in reader.read_file(path):
            tests.examples.setdefault(example.rule, []).append(example)
    if reader.errors:
        raise RuleLoadErrors(list(reader.errors))
    return tests


class _Bad(Exception):
    def __init__(self, message: str, where: Location) -> None:
        super().__init__(message)
        self.error = RuleFileError(message, where)


class _Reader:
    def __init__(self, rules: dict[str, str]) -> None:
        self.rules = rules
        self.errors: list[LannerError] = []

    def read_file(self, path: Path) -> Iterator[Example]:
        name = str(path)
        try:
            text = _read_text(path)
        except _Bad as exc:
            self.errors.append(exc.error)
            return
        items, errors = parse_items(text, name)
        self.errors.extend(errors)
        for item in items:
            try:
                yield from self._item(item.node, name, path.parent)
            except _Bad as exc:
                self.errors.append(exc.error)

    def _item(self, node: yaml.MappingNode, name: str, base: Path) -> Iterator[Example]:
        fields = _fields(node, name, _ITEM_KEYS, "a rule test", self.errors)
        rule_node = fields.get("rule")
        if rule_node is None:
            raise _Bad("a rule test starts with 'rule: NAME'", node_location(node, name))
        rule = _text(rule_node, name, "rule")
        if rule not in self.rules:
            close = difflib.get_close_matches(rule, list(self.rules), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise _Bad(f"rule '{rule}' is not a loaded rule{hint}", node_location(rule_node, name))
        if not any(k in fields for k in _EXAMPLE_KINDS):
            raise _Bad(f"rule '{rule}': no 'fires' or 'quiet' examples", node_location(node, name))
        out: list[Example] = []
        for kind in _EXAMPLE_KINDS:
            seq = fields.get(kind)
            if seq is None:
                continue
            if not isinstance(seq, yaml.SequenceNode):
                raise _Bad(f"'{kind}' must be a list of examples", node_location(seq, name))
            for child in seq.value:
                try:
                    out.append(self._example(child, rule, kind, name, base))
                except _Bad as exc:
                    self.errors.append(exc.error)
        yield from out

    def _example(self, node: yaml.Node, rule: str, kind: str, name: str, base: Path) -> Example:
        where = node_location(node, name)
        if not isinstance(node, yaml.MappingNode):
            raise _Bad(
                f"each '{kind}' example must be a mapping with event:, file: or events:", where
            )
        fields = _fields(node, name, _EXAMPLE_KEYS, "an example", self.errors)
        given = [k for k in _EVENT_KEYS if k in fields]
        if len(given) != 1:
            what = "neither" if not given else "more than one of"
            raise _Bad(f"an example needs one of event:, file: or events: ({what} given)", where)
        budget = [MAX_NODES]
        source_key = given[0]
        value_node = fields[source_key]
        if source_key == "event":
            events = [_document(value_node, name, budget, "'event'")]
        elif source_key == "events":
            if not isinstance(value_node, yaml.SequenceNode) or not value_node.value:
                raise _Bad(
                    "'events' must be a non-empty list of events", node_location(value_node, name)
                )
            events = [_document(n, name, budget, "each of 'events'") for n in value_node.value]
        else:
            events = _event_file(
                base, _text(value_node, name, "file"), node_location(value_node, name)
            )
        repeat = 1
        if "repeat" in fields:
            repeat = _count(fields["repeat"], name)
        if len(events) * repeat > MAX_EVALUATIONS:
            raise _Bad(
                f"{len(events)} event(s) repeated {repeat} times: more than {MAX_EVALUATIONS}",
                where,
            )
        expected: list[tuple[str, str]] = []
        if "output_fields" in fields:
            of = fields["output_fields"]
            if kind == "quiet":
                raise _Bad(
                    "a quiet example has no alert: output_fields cannot apply",
                    node_location(of, name),
                )
            if not isinstance(of, yaml.MappingNode):
                raise _Bad(
                    "'output_fields' must map field names to values", node_location(of, name)
                )
            for k, v in _pairs(of, name):
                expected.append((_key(k, name), _expected_text(v, name)))
        about = _text(fields["about"], name, "about") if "about" in fields else None
        return Example(rule, kind, tuple(events), repeat, tuple(expected), about, where)


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _Bad(f"{size} bytes: more than {MAX_FILE_BYTES}", Location(str(path)))
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _Bad(
            f"not UTF-8 text: {exc.reason} at byte {exc.start}", Location(str(path))
        ) from None
    except OSError as exc:
        raise _Bad(f"cannot read: {exc.strerror or exc}", Location(str(path))) from None


def _pairs(node: yaml.MappingNode, name: str) -> list[tuple[yaml.Node, yaml.Node]]:
    """A mapping's key and value nodes, ``<<`` merges applied (keys given here win), so a
    near miss can be written as the attack with one key changed."""
    explicit: list[tuple[yaml.Node, yaml.Node]] = []
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.tag == _MERGE_TAG:
            for src in v.value if isinstance(v, yaml.SequenceNode) else [v]:
                if not isinstance(src, yaml.MappingNode):
                    raise _Bad("a merge key ('<<') needs a mapping", node_location(src, name))
                merged.extend(_pairs(src, name))
        else:
            explicit.append((k, v))
    seen = {k.value for k, _ in explicit if isinstance(k, yaml.ScalarNode)}
    for k, v in merged:
        if k.value not in seen:
            explicit.append((k, v))
            seen.add(k.value)
    return explicit


def _key(node: yaml.Node, name: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag == NULL_TAG:
        raise _Bad("keys must be plain strings", node_location(node, name))
    return str(node.value)


def _fields(
    node: yaml.MappingNode,
    name: str,
    allowed: tuple[str, ...],
    what: str,
    errors: list[LannerError],
) -> dict[str, yaml.Node]:
    """The known keys of a mapping; unknown and repeated keys are reported in ``errors``
    and the rest is still read, so one run shows every mistake."""
    out: dict[str, yaml.Node] = {}
    for k, v in _pairs(node, name):
        key = _key(k, name)
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            msg = f"unknown key '{key}' in {what} (known: {', '.join(allowed)}){hint}"
            errors.append(RuleFileError(msg, node_location(k, name)))
        elif key in out:
            errors.append(RuleFileError(f"key '{key}' is given twice", node_location(k, name)))
        else:
            out[key] = v
    return out


def _text(node: yaml.Node, name: str, key: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag == NULL_TAG:
        raise _Bad(f"'{key}' must be text", node_location(node, name))
    return str(node.value)


def _count(node: yaml.Node, name: str) -> int:
    text = node.value if isinstance(node, yaml.ScalarNode) else ""
    if not re.fullmatch("[0-9]{1,6}", str(text)) or not 1 <= int(text) <= MAX_REPEAT:
        raise _Bad(
            f"'repeat' must be a whole number from 1 to {MAX_REPEAT}", node_location(node, name)
        )
    return int(text)


def _expected_text(node: yaml.Node, name: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _Bad(
            "an expected output field value must be a single value (compared as text)",
            node_location(node, name),
        )
    return "<NA>" if node.tag == NULL_TAG else str(node.value)


def _document(node: yaml.Node, name: str, budget: list[int], what: str) -> dict[str, Any]:
    if not isinstance(node, yaml.MappingNode):
        raise _Bad(f"{what} must be an event document (a mapping)", node_location(node, name))
    doc = _value(node, name, budget)
    assert isinstance(doc, dict)
    return doc


def _value(node: yaml.Node, name: str, budget: list[int]) -> Any:
    """A YAML node as the JSON value it writes (the composer bounds the depth)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _Bad("the event is too large once aliases are expanded", node_location(node, name))
    if isinstance(node, yaml.SequenceNode):
        return [_value(c, name, budget) for c in node.value]
    if isinstance(node, yaml.MappingNode):
        return {_key(k, name): _value(v, name, budget) for k, v in _pairs(node, name)}
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node, name)


def _scalar(node: yaml.ScalarNode, name: str) -> Any:
    if node.tag == NULL_TAG:
        return None
    text = str(node.value)
    if node.style:  # quoted or block: text, whatever it reads
        return text
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    try:
        if _INT.fullmatch(text):
            return int(text)
        if _INT_BASED.fullmatch(text):
            return int(text, 0)
    except ValueError:  # more digits than Python converts
        raise _Bad("a number too large to read", node_location(node, name)) from None
    if _FLOAT.fullmatch(text):
        return float(text)
    if text in _FLOAT_SPECIAL:
        return float(_FLOAT_SPECIAL[text])
    return text


def _event_file(base: Path, ref: str, named_at: Location) -> list[dict[str, Any]]:
    """The documents of an event file: .json one, .jsonl one a line. Errors point into the
    event file, and say which test names it."""
    path = base / ref
    shown = str(path)
    also = f" (named at {named_at})"
    if path.suffix not in (".json", ".jsonl"):
        raise _Bad(f"event file '{ref}' must be .json or .jsonl", named_at)
    if not path.is_file():
        raise _Bad(f"event file '{ref}' does not exist ({shown})", named_at)
    try:
        text = _read_text(path)
    except _Bad as exc:
        raise _Bad(f"{exc.error.message}{also}", Location(shown)) from None
    if path.suffix == ".json":
        chunks = [(1, text)]
    else:
        chunks = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
        if not chunks:
            raise _Bad(f"no events in the file{also}", Location(shown))
    docs = []
    for line, chunk in chunks:
        try:
            doc = check(json.loads(chunk), text=chunk)
        except json.JSONDecodeError as exc:
            at = Location(shown, line + exc.lineno - 1, exc.colno)
            raise _Bad(f"not JSON: {exc.msg}{also}", at) from None
        except (RecursionError, JsonInputError, ValueError) as exc:
            msg = (
                str(exc)
                if isinstance(exc, JsonInputError)
                else "nests too deep or a number too large"
            )
            raise _Bad(f"not usable JSON: {msg}{also}", Location(shown, line, 1)) from None
        if not isinstance(doc, dict):
            raise _Bad(f"an event must be a JSON object{also}", Location(shown, line, 1))
        docs.append(doc)
    return docs


# --- running -----------------------------------------------------------------------------------


def run_rule_tests(ruleset: RuleSet, tests: RuleTests) -> list[RuleResult]:
    """Each enabled rule's results (and any disabled rule that has examples), in load order.

    Raises RuleLoadErrors when the rules do not compile.
    """
    engine, fresh_state = _test_engine(ruleset)
    results = []
    for rule in ruleset.rules:
        examples = tests.examples.get(rule.name, [])
        if not rule.enabled and not examples:
            continue
        failures = []
        for ex in examples:
            fresh_state()
            reason = _run_example(engine, ex, rule.source)
            if reason is not None:
                failures.append(ExampleFailure(ex, reason))
        count = {k: sum(1 for e in examples if e.kind == k) for k in _EXAMPLE_KINDS}
        results.append(
            RuleResult(rule.name, rule.source, count["fires"], count["quiet"], tuple(failures))
        )
    return results


def _test_engine(ruleset: RuleSet) -> tuple[Engine, Callable[[], None]]:
    """The engine every example runs on, and what gives the next example a clean state.

    Every rule is compiled with ``match="all"``, so one rule's match cannot hide
    another's. The state an example can leave behind is threshold counts: they live in
    one in-memory store, emptied before each example.
    """
    store = InMemoryStore()
    engine = Engine(ruleset, builtin_sources(), match="all", store=store)
    return engine, store.clear


def _run_example(engine: Engine, ex: Example, source: str) -> str | None:
    """None when the example passes, else why it does not."""
    errors_before = engine.stats.rule_errors
    alerts: list[Alert] = []
    for _ in range(ex.repeat):
        for doc in ex.events:
            alerts.extend(a for a in engine.evaluate(doc, source) if a.rule == ex.rule)
    failed = ""
    if engine.stats.rule_errors > errors_before and engine.stats.last_errors:
        failed = f" (an evaluation error: {engine.stats.last_errors[-1]})"
    if ex.kind == "quiet":
        if not alerts:
            return None
        return f"fired on a quiet example: {alerts[0].output}"
    if not alerts:
        if not any(cr.rule.name == ex.rule for cr in engine.rules_for(source)):
            return "did not fire: the rule is not enabled"
        return f"did not fire{failed}"
    mismatches: list[str] = []
    for alert in alerts:
        mismatches = _mismatches(alert, ex.output_fields)
        if not mismatches:
            return None
    return "fired, but " + "; ".join(mismatches)


def _mismatches(alert: Alert, expected: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for name, want in expected:
        if name not in alert.output_fields:
            shown = ", ".join(alert.output_fields) or "none"
            out.append(f"the alert has no output field {name} (it has: {shown})")
            continue
        got = _as_text(alert.output_fields[name])
        if got != want:
            out.append(f"output field {name} was {got!r}, not {want!r}")
    return out


def _as_text(value: Any) -> str:
    """An output field's value as the output line shows it (lists as ``(a,b)``)."""
    if isinstance(value, list):
        return render_value(tuple(_as_text(v) for v in value))
    return render_value(value)
