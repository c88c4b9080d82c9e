"""lanner's rule core: Falco's rule language, compiled to Python.

The public surface, used by the CLI, the sensor and every Lambda::

    from lanner import load_rules, compile_rules
    ruleset = load_rules(["rules/"])          # RuleLoadErrors on problems
    engine = compile_rules(ruleset)           # RuleLoadErrors on unknown fields...
    for alert in engine.evaluate(doc, "k8s_audit"):
        print(alert.output)                   # or alert.to_json(): Falco's schema

New sources plug in by passing ``sources=`` (name -> ``Source``: a field
registry plus how to read time and host) to ``compile_rules``.

A producer that knows some fields of an event before the rest (the sensor) asks
``engine.prefilter(source, fields)`` for a ``PreFilter``: ``can_match(doc)`` is
false only when no rule can match, whatever the other fields turn out to be.

The public API is the names in ``__all__`` and these modules, no other: the
sensor, the Lambdas, the delivery code and the command line import the core
through them only (tests/test_layers.py checks every import)::

    lanner.wire         the recorded form of enriched syscall events
    lanner.batch        many of them in one compressed Kinesis record
    lanner.boundedjson  JSON from outside, read with depth and size bounds
    lanner.resources    where the bundled rules, samples and BPF sources are
    lanner.ruletests    rule tests: examples each rule must fire on and stay quiet on
    lanner.selection    rules chosen by tag, as Falco's -t/-T choose them
    lanner.threshold    threshold rules' counting: the store a detector keeps it in

Everything else (``lanner.engine``, ``lanner.loader``, ``lanner.condition``...)
is the core's inside, free to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lanner.engine import Engine, EngineStats, PreFilter
from lanner.errors import Diagnostic, LannerError, Location, RuleLoadErrors, json_kind
from lanner.event import Event
from lanner.fields import Arg, FieldDef, FieldRegistry, FieldType, Source
from lanner.loader import Rule, RuleSet, load_rules, load_rules_text
from lanner.output import Alert, format_alert
from lanner.priority import Priority
from lanner.sources.catalog import builtin_sources
from lanner.threshold import ThresholdStore


def compile_rules(
    ruleset: RuleSet,
    *,
    sources: Mapping[str, Source] | Iterable[Source] | None = None,
    min_priority: Priority | str = Priority.DEBUG,
    match: str = "first",
    hostname: str | None = None,
    only_sources: Iterable[str] | None = None,
    store: ThresholdStore | None = None,
) -> Engine:
    """Compiles a loaded RuleSet for evaluation.

    ``sources`` defaults to the built-in ones; pass a mapping or an iterable of
    ``Source`` to add or replace sources. ``min_priority`` drops less severe
    rules; ``match`` is ``"first"`` (Falco's default) or ``"all"``.
    ``only_sources`` compiles just the rules of those sources (the others are
    loaded, not compiled): a process that evaluates one source starts faster.
    ``store`` keeps the counts of threshold rules (``lanner.threshold``; in memory
    when None).
    """
    catalog: dict[str, Source] = dict(builtin_sources())
    if sources is not None:
        items = sources.values() if isinstance(sources, Mapping) else sources
        catalog.update({s.name: s for s in items})
    if isinstance(min_priority, str):
        min_priority = Priority.parse(min_priority)
    return Engine(
        ruleset,
        catalog,
        min_priority=min_priority,
        match=match,
        hostname=hostname,
        only_sources=only_sources,
        store=store,
    )


__all__ = [
    "Alert",
    "Arg",
    "Diagnostic",
    "Engine",
    "EngineStats",
    "Event",
    "FieldDef",
    "FieldRegistry",
    "FieldType",
    "LannerError",
    "Location",
    "PreFilter",
    "Priority",
    "Rule",
    "RuleLoadErrors",
    "RuleSet",
    "Source",
    "builtin_sources",
    "compile_rules",
    "format_alert",
    "json_kind",
    "load_rules",
    "load_rules_text",
]
