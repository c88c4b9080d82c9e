"""The engine: a RuleSet compiled for its sources, evaluating one event at a time.

Per source, rules are kept in load order and indexed by the values of the
source's index fields (``evt.type`` for syscalls, ``ka.verb`` and
``ka.target.resource`` for audit events, ``ct.name`` for CloudTrail), so an
event only meets the rules that can fire on it.

``Engine.prefilter`` gives a producer that knows some fields of an event early (the
sensor, before it builds the process part) a test of whether any rule can match it
at all (:class:`PreFilter`, from ``lanner.condition.prefilter``).
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lanner.condition.ast import Compare, Expr, FieldRef, ListLit, Literal, Transform
from lanner.condition.compiler import Compiler, Predicate
from lanner.condition.index import ValueSet, infer
from lanner.condition.parser import parse_output_field
from lanner.condition.prefilter import FALSE, TRUE, necessary
from lanner.condition.walk import is_boolean, preorder
from lanner.errors import (
    CompileError,
    Diagnostic,
    FieldArgumentError,
    LannerError,
    RuleLoadErrors,
    UnknownFieldError,
)
from lanner.event import Event, FieldKey
from lanner.fields import Source
from lanner.loader import Rule, RuleSet
from lanner.output import NA, Alert, OutputFormat, compile_output, did_you_mean, render_value
from lanner.priority import Priority
from lanner.sources.generic import event_time_ns
from lanner.threshold import InMemoryStore, Threshold, ThresholdStore, bucket_of

_ALERT_NS = uuid.UUID("5b0f3c7e-9a43-4c55-8f5e-0d6a3c1e4b21")
_CANDIDATE_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True)
class Counting:
    """A threshold rule's spec and the function reading its group_by values."""

    spec: Threshold
    group: Callable[[Event], tuple[Any, ...]]


@dataclass(slots=True)
class CompiledRule:
    rule: Rule
    predicate: Predicate
    output: OutputFormat
    index: tuple[ValueSet, ...]
    order: int
    # Set for a threshold rule: its matches go through the engine's store.
    counting: Counting | None = None


@dataclass
class EngineStats:
    """Counters a caller can export as metrics."""

    events: int = 0
    alerts: int = 0
    rule_errors: int = 0
    last_errors: list[str] = field(default_factory=list)


class _Group:
    """The rules an event with given index values can meet, and one function evaluating them."""

    __slots__ = ("fn", "rules")

    def __init__(self, rules: tuple[CompiledRule, ...], fn: Callable[..., Any]) -> None:
        self.rules = rules
        self.fn = fn


class _SourceRules:
    """The compiled, enabled rules of one source, indexed by the values of its index fields.

    Each distinct set of candidate rules is compiled once into a group function
    (see ``Compiler.compile_group``), memoised by the index values that lead to it.
    """

    def __init__(
        self,
        source: Source,
        rules: list[CompiledRule],
        compiler: Compiler,
        keys: tuple[FieldKey, ...],
        first: bool,
    ) -> None:
        self.source = source
        self.rules = rules
        self.compiler = compiler
        self.keys = keys
        # Index values are read straight from their extractors: the group function
        # gets them as arguments, so the event's cache need not hold them.
        self.values = compiler.compile_values(keys)
        self.first = first
        self.by_values: dict[tuple[Any, ...], _Group] = {}
        self._by_rules: dict[tuple[int, ...], _Group] = {}
        self._all = self._group(tuple(rules))

    def _group(self, rules: tuple[CompiledRule, ...]) -> _Group:
        ident = tuple(r.order for r in rules)
        found = self._by_rules.get(ident)
        if found is None:
            fn = self.compiler.compile_group(
                [r.rule.condition for r in rules],
                self.keys,
                self.first,
                f"group{len(self._by_rules)}",
            )
            found = self._by_rules[ident] = _Group(rules, fn)
        return found

    def lookup(self, values: tuple[Any, ...]) -> _Group:
        try:
            found = self.by_values.get(values)
        except TypeError:  # an unhashable value (a list): no pre-selection
            return self._all
        if found is None:
            rules = tuple(
                r
                for r in self.rules
                if all(s.admits(v) for s, v in zip(r.index, values, strict=True))
            )
            found = self._group(rules)
            if len(self.by_values) >= _CANDIDATE_CACHE_MAX:
                self.by_values.clear()  # values are attacker-influenced: stay bounded
            self.by_values[values] = found
        return found


class Engine:
    """Evaluates events against compiled rules and returns alerts.

    ``match="first"`` stops at the first matching rule of an event, as
    Falco does by default; ``"all"`` reports every matching rule.

    Threshold rules (``lanner.threshold``) count their matches in ``store`` (in
    memory unless one is given; assign a fresh one to forget every count) and alert
    once the count is reached. A match that does not reach it is no match for
    ``"first"``: the event goes on to the rules after it.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        sources: Mapping[str, Source],
        *,
        min_priority: Priority = Priority.DEBUG,
        match: str = "first",
        hostname: str | None = None,
        clock: Callable[[], int] = time.time_ns,
        only_sources: Iterable[str] | None = None,
        store: ThresholdStore | None = None,
    ) -> None:
        if match not in ("first", "all"):
            raise ValueError("match must be 'first' or 'all'")
        self.ruleset = ruleset
        self.sources = dict(sources)
        self.min_priority = min_priority
        self.first_match = match == "first"
        self.hostname = hostname or platform.node()
        self.clock = clock
        self.store: ThresholdStore = store if store is not None else InMemoryStore()
        self.warnings: list[Diagnostic] = list(ruleset.warnings)
        self.stats = EngineStats()
        self._by_source: dict[str, _SourceRules] = {}
        self._num = 0
        # A process that serves one source (a detector Lambda) compiles only its rules.
        self._only = None if only_sources is None else frozenset(only_sources)
        # The event time is extracted once per event, like any field (rules may use it too).
        self._compile()

    # --- compilation ---

    def _compile(self) -> None:
        errors: list[LannerError] = []
        compilers: dict[str, Compiler] = {}
        compiled: dict[str, list[CompiledRule]] = {}
        for order, rule in enumerate(self.ruleset.rules):
            if self._only is not None and rule.source not in self._only:
                continue
            source = self.sources.get(rule.source)
            if source is None:
                self.warnings.append(
                    Diagnostic(
                        f"rule '{rule.name}' is for unknown source '{rule.source}'; skipped",
                        rule.location,
                        "unknown-source",
                    )
                )
                continue
            compiler = compilers.setdefault(rule.source, Compiler(source))
            try:
                cr = self._compile_rule(rule, compiler, source, order)
            except LannerError as exc:
                located = self._locate(exc, rule)
                if rule.skip_if_unknown_filter and isinstance(
                    exc, UnknownFieldError | FieldArgumentError
                ):
                    self.warnings.append(
                        Diagnostic(
                            f"rule '{rule.name}' skipped: {exc.message}",
                            located.location,
                            "unknown-filter",
                        )
                    )
                    continue
                errors.append(located)
                continue
            self._warn_rule(rule, source, cr)
            if rule.enabled and rule.priority.at_least(self.min_priority):
                compiled.setdefault(rule.source, []).append(cr)
        if errors:
            raise RuleLoadErrors(errors, self.warnings)
        for name, rules in compiled.items():
            source = self.sources[name]
            compiler = compilers[name]
            keys = []
            for fname in source.index_fields:
                fdef = source.fields.get(fname)
                if fdef is None or fdef.is_list:
                    continue
                keys.append(compiler.bind(FieldRef(fname)).key)
            self._by_source[name] = _SourceRules(
                source, rules, compiler, tuple(keys), self.first_match
            )

    def _compile_rule(
        self, rule: Rule, compiler: Compiler, source: Source, order: int
    ) -> CompiledRule:
        predicate = compiler.compile(rule.condition, rule.name)
        out_text = rule.output_text
        locate = None
        if out_text is not None:
            # The output was stripped; map offsets back through the original text.
            lead = len(out_text.text) - len(out_text.text.lstrip())

            def locate(off: int) -> Any:
                return out_text.locate(off + lead)

        output = compile_output(rule.output, compiler, locate)
        index = tuple(
            infer(rule.condition, f)
            for f in source.index_fields
            if (fd := source.fields.get(f)) is not None and not fd.is_list
        )
        counting = None
        if rule.threshold is not None:
            counting = _counting(rule.threshold, compiler, rule)
        return CompiledRule(rule, predicate, output, index, order, counting)

    def _locate(self, exc: LannerError, rule: Rule) -> LannerError:
        # A node parsed from a file carries its place in it; one parsed from a bare
        # string (a rule built by code) does not, and the rule's place stands in.
        loc = exc.location if exc.location is not None and exc.location.file else None
        # One line per error, whatever the rule name or the offending value holds.
        message = f"rule '{rule.name}': {exc.message}".replace("\r", "\\r").replace("\n", "\\n")
        err = type(exc)(message, loc or rule.location)
        return err

    def _warn_rule(self, rule: Rule, source: Source, cr: CompiledRule) -> None:
        if source.index_fields[:1] == ("evt.type",) and rule.warn_evttypes and cr.index:
            s = cr.index[0]
            if s.negated:
                self.warnings.append(
                    Diagnostic(
                        f"rule '{rule.name}' matches too many evt.type values; "
                        "it will be evaluated on every event (significant performance penalty)",
                        rule.location,
                        "no-evttype",
                    )
                )
        for c in _compares(rule.condition):
            if _is_unsafe_na(c):
                self.warnings.append(
                    Diagnostic(
                        f"rule '{rule.name}' compares '{c.lhs}' with '<NA>': a missing value "
                        "never equals '<NA>'; use 'exists' instead",
                        c.pos.location if c.pos.file else rule.location,
                        "unsafe-na-check",
                    )
                )

    # --- evaluation ---

    def candidates(self, ev: Event) -> tuple[CompiledRule, ...]:
        """The rules ``ev`` meets after index pre-selection, in evaluation order."""
        sr = self._by_source.get(ev.source.name)
        if sr is None:
            return ()
        return sr.lookup(sr.values(ev)).rules

    def index_values(self, source: str, field: str) -> frozenset[str] | None:
        """The values of index field ``field`` on which some enabled rule of ``source``
        can match, or None when some rule can match any value. The sensor asks this for
        ``evt.type``: it is the set of syscalls worth capturing at all."""
        sr = self._by_source.get(source)
        if sr is None:
            return frozenset()
        fields = [
            f for f in sr.source.index_fields if (fd := sr.source.fields.get(f)) and not fd.is_list
        ]
        if field not in fields:
            return None
        i = fields.index(field)
        out: set[str] = set()
        for cr in sr.rules:
            vs = cr.index[i]
            if vs.negated:
                return None
            out |= {v for v in vs.values if isinstance(v, str)}
        return frozenset(out)

    def compared_values(self, source: str, fields: Collection[str]) -> tuple[str, ...]:
        """The values enabled rules of ``source`` compare any of ``fields`` with by ``=``,
        ``!=`` or ``in`` (lists expanded), in rule order, each once. The sensor asks this
        for ``fd.sip.name`` and its kin: the domain names to resolve, as Falco does."""
        sr = self._by_source.get(source)
        wanted = frozenset(fields)
        out: dict[str, None] = {}
        for cr in sr.rules if sr else ():
            for c in _compares(cr.rule.condition):
                if not isinstance(c.lhs, FieldRef) or c.lhs.name not in wanted:
                    continue
                if c.op in ("=", "!=") and isinstance(c.rhs, Literal):
                    out[c.rhs.value] = None
                elif c.op == "in" and isinstance(c.rhs, ListLit):
                    out.update(dict.fromkeys(item.value for item in c.rhs.items))
        return tuple(out)

    def prefilter(self, source: str, fields: Collection[str]) -> PreFilter:
        """A test of whether any enabled rule of ``source`` can match an event, given only
        the fields named in ``fields`` (by their registry names: ``fd.name``,
        ``evt.arg``...), for a producer that can give those early and cheaply.

        The producer must give each of them exactly as the full event would: the test is
        then false only for events on which no rule can match (see ``PreFilter``)."""
        return PreFilter(self, source, frozenset(fields))

    def rules_for(self, source: str) -> list[CompiledRule]:
        sr = self._by_source.get(source)
        return list(sr.rules) if sr else []

    def evaluate(self, doc: Any, source: str) -> list[Alert]:
        """Alerts for one decoded event of ``source`` (empty when nothing matches)."""
        sr = self._by_source.get(source)
        if sr is None:
            src = self.sources.get(source)
            if src is None:
                raise KeyError(f"unknown source '{source}'")
            self.stats.events += 1
            return []
        self._num += 1
        return self._run(sr, Event(doc, sr.source, self._num))

    def evaluate_event(self, ev: Event) -> list[Alert]:
        """Alerts for an Event already built (its ``source`` says which rules apply)."""
        sr = self._by_source.get(ev.source.name)
        if sr is None:
            self.stats.events += 1
            return []
        return self._run(sr, ev)

    def _run(self, sr: _SourceRules, ev: Event) -> list[Alert]:
        # The per-event hot path: index values, the memoised group, one call.
        self.stats.events += 1
        values = sr.values(ev)
        try:
            group = sr.by_values[values]
        except KeyError:
            group = sr.lookup(values)
        except TypeError:  # an unhashable index value (a list): no pre-selection
            group = sr.lookup(values)
        try:
            found = group.fn(ev, *values)
        except Exception:
            # One bad document must not stop a batch: find the rule that failed.
            return self._evaluate_slowly(group.rules, ev)
        if type(found) is int:
            if found < 0:
                return []
            cr = group.rules[found]
            if cr.counting is not None:
                return self._first_counted(sr, group.rules, found, ev, values)
            self.stats.alerts += 1
            return [self._alert(cr, ev)]
        if not found:
            return []
        alerts = []
        for i in found:
            cr = group.rules[i]
            if cr.counting is None:
                alerts.append(self._alert(cr, ev))
            elif (counted := self._counted(cr, ev)) is not None:
                alerts.append(counted)
        self.stats.alerts += len(alerts)
        return alerts

    def _first_counted(
        self,
        sr: _SourceRules,
        rules: tuple[CompiledRule, ...],
        i: int,
        ev: Event,
        values: tuple[Any, ...],
    ) -> list[Alert]:
        """``match="first"`` from a threshold rule that matched: unless this match
        reaches its count, the rules after it are evaluated (one group of theirs,
        compiled once and memoised like any other)."""
        while True:
            cr = rules[i]
            alert = self._alert(cr, ev) if cr.counting is None else self._counted(cr, ev)
            if alert is not None:
                self.stats.alerts += 1
                return [alert]
            rules = rules[i + 1 :]
            if not rules:
                return []
            try:
                i = sr._group(rules).fn(ev, *values)
            except Exception:
                return self._evaluate_slowly(rules, ev)
            if i < 0:
                return []

    def _evaluate_slowly(self, rules: tuple[CompiledRule, ...], ev: Event) -> list[Alert]:
        """Rule by rule, so that a rule failing on this event is counted and skipped."""
        alerts: list[Alert] = []
        for cr in rules:
            try:
                hit = cr.predicate(ev)
            except Exception as exc:
                self._rule_error(cr, exc)
                continue
            if hit:
                alert = self._alert(cr, ev) if cr.counting is None else self._counted(cr, ev)
                if alert is None:
                    continue  # counted, below its threshold: not a match yet
                alerts.append(alert)
                if self.first_match:
                    break
        self.stats.alerts += len(alerts)
        return alerts

    def _rule_error(self, cr: CompiledRule, exc: Exception) -> None:
        self.stats.rule_errors += 1
        msg = f"rule '{cr.rule.name}': {type(exc).__name__}: {exc}"
        if len(self.stats.last_errors) >= 20:
            self.stats.last_errors.pop(0)
        self.stats.last_errors.append(msg)

    def _counted(self, cr: CompiledRule, ev: Event) -> Alert | None:
        """A threshold rule's match, counted: its alert when this match reaches the
        count in its group and window, else None. A store failure (ThresholdStoreError)
        is raised: the caller must retry the event, not lose it."""
        counting = cr.counting
        assert counting is not None
        spec = counting.spec
        ts = _record_time(ev)
        try:  # a missing value renders as NA ("<NA>"): a group of its own
            group = tuple(render_value(v) for v in counting.group(ev))
        except Exception as exc:
            # A value that cannot be read is a missing one, as in a condition: the match
            # still counts (in the "<NA>" group), never lost to a hostile field.
            self._rule_error(cr, exc)
            group = (NA,) * len(counting.spec.group_by)
        bucket = bucket_of(cr.rule.name, spec, group, ts if ts is not None else self.clock())
        # The alert's uuid is what identifies the event to the store: the same record
        # seen again (a retry, a second delivery path) counts once there.
        if not self.store.hit(bucket, spec.count, _alert_uuid(cr.rule.name, ev.source, ev.doc, ts)):
            return None
        alert = self._alert(cr, ev)
        alert.message = f"{alert.message} {spec.describe()}"
        alert.output_fields["threshold.count"] = spec.count
        alert.output_fields["threshold.window"] = spec.window_text
        return alert

    def _alert(self, cr: CompiledRule, ev: Event) -> Alert:
        src = ev.source
        try:
            message, fields = cr.output.format(ev)
        except Exception as exc:
            self._rule_error(cr, exc)
            message, fields = cr.rule.output, {}
        ts = _record_time(ev)
        # A record without a usable time is shown at the time it was seen, but its
        # uuid is made without it (see _alert_uuid): a retry must give the same uuid.
        time_ns = ts if ts is not None else self.clock()
        host = src.hostname(ev.doc) or self.hostname
        return Alert(
            time_ns=time_ns,
            rule=cr.rule.name,
            priority=cr.rule.priority,
            source=src.name,
            hostname=host,
            message=message,
            tags=cr.rule.tags,
            output_fields=fields,
            uuid=_alert_uuid(cr.rule.name, src, ev.doc, ts),
        )


class PreFilter:
    """Whether any rule of one source can match an event of which only some fields are known.

    Each rule's condition is reduced to its necessary condition over the known fields
    (``lanner.condition.prefilter.necessary``); per set of candidate rules (the engine's
    index, when its fields are known), their reduced conditions are compiled into one
    function by the engine's own compiler. A rule whose reduced condition is ``true``
    (it tests only other fields) lets every event of its candidates through.

    ``can_match(doc)`` reads only the known fields of ``doc``: for an event it returns
    false, the full document would raise no alert. An error while testing lets the
    event through. ``skip()`` counts such an event as evaluated, with no alert, as
    ``Engine.evaluate`` would have (``evt.num`` of later events stays the same).
    """

    def __init__(self, engine: Engine, source: str, fields: frozenset[str]) -> None:
        self.fields = fields
        self._engine = engine
        self._sr = engine._by_source.get(source)
        # candidate rules (by order) -> True, False or the compiled test of their conditions
        self._by_rules: dict[tuple[int, ...], Any] = {}
        self._by_values: dict[tuple[Any, ...], Any] = {}
        self._reduced: dict[int, Expr] = {}
        #: rules the known fields cannot decide beyond the index (``evt.type``): every
        #: event of their types passes
        self.undecided: tuple[str, ...] = ()
        self._keyed = False
        if self._sr is None:
            return
        src = self._sr.source

        def known_in(names: frozenset[str]) -> Callable[[FieldRef], bool]:
            def known(ref: FieldRef) -> bool:
                found = src.fields.resolve(ref.name, ref.arg)
                return found is not None and found[0].name in names and found[0].test is None

            return known

        known = known_in(fields)
        for cr in self._sr.rules:
            self._reduced[cr.order] = necessary(cr.rule.condition, known)
        # The engine's index narrows the candidates only when its fields are known early.
        index = [
            f for f in src.index_fields if (fd := src.fields.get(f)) is not None and not fd.is_list
        ]
        self._keyed = all(f in fields for f in index)
        beyond_index = known_in(fields - frozenset(index))
        self.undecided = tuple(
            cr.rule.name
            for cr in self._sr.rules
            if self._reduced[cr.order] is TRUE or necessary(cr.rule.condition, beyond_index) is TRUE
        )

    def can_match(self, doc: Any) -> bool:
        sr = self._sr
        if sr is None:
            return False
        ev = Event(doc, sr.source)
        values = sr.values(ev) if self._keyed else ()
        try:
            test = self._by_values[values]
        except KeyError:
            test = self._lookup(values)
        except TypeError:  # an unhashable index value (a list): every rule a candidate
            test = self._test(sr.rules)
        if test is True or test is False:
            return test
        try:
            return bool(test(ev, *values) >= 0)
        except Exception:
            return True  # the engine will find out which rule fails, and count it

    def skip(self) -> None:
        """Counts an event ``can_match`` refused as evaluated, with no alert."""
        engine = self._engine
        engine.stats.events += 1
        if self._sr is not None:
            engine._num += 1

    def _lookup(self, values: tuple[Any, ...]) -> Any:
        assert self._sr is not None
        rules = self._sr.lookup(values).rules if self._keyed else tuple(self._sr.rules)
        test = self._test(rules)
        if len(self._by_values) >= _CANDIDATE_CACHE_MAX:
            self._by_values.clear()  # values are attacker-influenced: stay bounded
        self._by_values[values] = test
        return test

    def _test(self, rules: Iterable[CompiledRule]) -> Any:
        assert self._sr is not None
        rules = tuple(rules)
        ident = tuple(r.order for r in rules)
        found = self._by_rules.get(ident)
        if found is not None:
            return found
        # Only whether one holds matters: rules reduced to the same test (two rules on the
        # same sensitive files, told apart by the process) need it once.
        conds = list(dict.fromkeys(c for r in rules if (c := self._reduced[r.order]) is not FALSE))
        if not conds:
            found = False
        elif any(c is TRUE for c in conds):
            found = True
        else:
            keys = self._sr.keys if self._keyed else ()
            name = f"prefilter{len(self._by_rules)}"
            found = self._sr.compiler.compile_group(conds, keys, True, name)
        self._by_rules[ident] = found
        return found


def _counting(spec: Threshold, compiler: Compiler, rule: Rule) -> Counting:
    """Binds a threshold's group_by fields; an unknown one is reported where it is written."""
    keys: list[FieldKey] = []
    for i, name in enumerate(spec.group_by):
        where = spec.group_locations[i] if i < len(spec.group_locations) else rule.location
        try:
            expr, end = parse_output_field(name, 0)
            if end != len(name):
                raise CompileError(f"'group_by' entry '{name}' is not one field", where)
            keys.append(compiler.bind(expr).key)
        except LannerError as exc:
            message = f"threshold group_by: {exc.message}"
            if isinstance(exc, UnknownFieldError):
                message += did_you_mean(name, compiler, mark="")
            raise type(exc)(message, where) from None
    return Counting(spec, compiler.compile_values(tuple(keys)))


def _record_time(ev: Event) -> int | None:
    """The event's own time, or None when it has no usable one. A source's time reader is
    pluggable code that reads hostile text: its failure means "no time", never an
    exception that would cost the whole batch its alerts."""
    try:
        return event_time_ns(ev)
    except Exception:
        ev.time_ns = None  # read once: the output fields see "no time" too
        return None


def _alert_uuid(rule: str, src: Source, doc: Any, time_ns: int | None) -> str:
    """A deterministic id: the same rule on the same event always gives the same uuid,
    so a retried delivery can be recognised downstream. Made only of the record itself
    (its event id or its content, and its own time when it has one): never of the
    wall clock, which differs on every retry."""
    ident = src.event_id(doc) if src.event_id is not None else None
    if ident is None:
        try:
            blob = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
        except (TypeError, ValueError):
            blob = repr(doc)
        ident = hashlib.sha256(blob.encode("utf-8", "surrogateescape")).hexdigest()
    # "-" (never a number) when the record has no time: the same id at any clock.
    when = "-" if time_ns is None else str(time_ns)
    name = f"{rule}\x00{src.name}\x00{ident}\x00{when}".encode("utf-8", "surrogateescape")
    # RFC 4122 version 5 (SHA-1, name-based), built by hand: uuid.uuid5 costs
    # three times as much, and every alert pays for it.
    h = bytearray(hashlib.sha1(_ALERT_NS.bytes + name, usedforsecurity=False).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _compares(e: Expr) -> Iterable[Compare]:
    for node in preorder(e, is_boolean):
        if isinstance(node, Compare):
            yield node


def _is_unsafe_na(c: Compare) -> bool:
    lhs = c.lhs
    if not isinstance(lhs, FieldRef) or not lhs.name.startswith(("ka.", "jevt.")):
        return False
    if c.op not in ("=", "!=", "in", "intersects", "pmatch"):
        return False
    rhs = c.rhs
    if isinstance(rhs, Literal):
        return rhs.value == "<NA>"
    if isinstance(rhs, ListLit):
        return any(i.value == "<NA>" for i in rhs.items)
    return False


__all__ = ["CompileError", "CompiledRule", "Engine", "EngineStats", "PreFilter", "Transform"]
