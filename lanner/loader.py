"""Reads Falco rule files into a RuleSet: lists, macros and rules, merged and resolved.

Loading happens in two stages, as in Falco:

1. *collect*: every file, in order, item by item. Redefinition replaces an
   item in place (it keeps its original position in the rule order);
   ``append: true`` and ``override:`` merge into the existing item.
2. *resolve*: once everything is collected, each rule's condition is parsed,
   its exceptions are expanded into ``and not (...)`` clauses, macros are
   inlined and list names expanded -- all on the syntax tree.

Problems are collected, not raised one at a time: a broken file reports
every error it has, each with file, line and column.
"""

from __future__ import annotations

import difflib
import functools
import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lanner.condition.ast import (
    LIST_OPS,
    MODIFIERS,
    NUM_OPS,
    STR_OPS,
    And,
    Compare,
    Const,
    Expr,
    FieldRef,
    ListLit,
    ListRef,
    Literal,
    MacroRef,
    Node,
    Not,
    Or,
    Pos,
    Rhs,
    Transform,
)
from lanner.condition.parser import parse_condition, parse_output_field
from lanner.condition.transformers import TRANSFORMERS
from lanner.condition.walk import fold, is_boolean, preorder, rebuild_bottom_up
from lanner.errors import (
    ConditionSyntaxError,
    Diagnostic,
    LannerError,
    Location,
    RuleFileError,
    RuleLoadErrors,
)
from lanner.fields import FLAG_PRINT_ONLY
from lanner.priority import Priority
from lanner.threshold import MAX_COUNT, MIN_COUNT, Threshold, parse_window
from lanner.yamlpos import Item, Scalar, mapping_node, node_location, parse_items

# Bounds on what a condition may become once macros are inlined and exceptions added.
# Macros are shared, not copied, while loading (a macro's tree is built once and referenced),
# but every rule is compiled into code as a tree, one copy of a macro per use: a file of
# a few hundred bytes whose macros each use the previous one twice expands to 2**n
# checks. These bounds reject such a file with an error at the rule or macro that
# crosses them, in time linear in the file, before anything is compiled. Falco's own
# rules stay far below them (largest rule: 463 nodes, deepest: 7 levels; all rules of
# falco_rules.yaml + falco-sandbox_rules.yaml: ~2,200 nodes).
MAX_RULE_NODES = 10_000
"""Most nodes (and/or/not, checks) one rule's condition may expand to."""
MAX_TOTAL_NODES = 30_000
"""Most nodes all rules together may expand to (what compiling costs)."""
MAX_EXPANDED_DEPTH = 100
"""Deepest nesting of and/or/not a condition may reach with its macros inlined."""

# The rule-language version lanner implements, compared with required_engine_version.
ENGINE_VERSION = (0, 57, 0)

# Falco plugins whose fields lanner implements natively, with the version whose
# field set ours matches. required_plugin_versions is checked against these.
PROVIDED_PLUGINS: dict[str, tuple[int, int, int]] = {
    "k8saudit": (0, 18, 0),
    "k8saudit-eks": (0, 18, 0),
    "cloudtrail": (0, 10, 0),
    "json": (0, 7, 0),
    "container": (0, 4, 0),
}

RULE_KEYS = frozenset(
    {
        "rule",
        "desc",
        "condition",
        "output",
        "priority",
        "source",
        "tags",
        "enabled",
        "exceptions",
        "append",
        "override",
        "warn_evttypes",
        "skip-if-unknown-filter",
        "capture",
        "capture_duration",
        "threshold",
    }
)
MACRO_KEYS = frozenset({"macro", "condition", "append", "override", "source"})
LIST_KEYS = frozenset({"list", "items", "append", "override"})
OVERRIDE_APPENDABLE = {
    "rule": frozenset({"condition", "output", "desc", "tags", "exceptions"}),
    "macro": frozenset({"condition"}),
    "list": frozenset({"items"}),
}
OVERRIDE_REPLACEABLE = {
    "rule": frozenset(
        {
            "condition",
            "output",
            "desc",
            "priority",
            "tags",
            "exceptions",
            "enabled",
            "warn_evttypes",
            "skip-if-unknown-filter",
            "capture",
            "capture_duration",
            "threshold",
        }
    ),
    "macro": frozenset({"condition"}),
    "list": frozenset({"items"}),
}
# Every binary operator of the condition language ("==" as written) may compare an exception field.
EXCEPTION_OPS = STR_OPS | NUM_OPS | LIST_OPS | {"=="}
_THRESHOLD_KEYS = ("count", "window", "group_by")
DEFAULT_SOURCE = "syscall"


# --- collected items ---------------------------------------------------------------------


@dataclass
class Text:
    """A condition or output assembled from one or more YAML scalars (appends).

    ``locate`` maps an offset in the assembled text back to the file.
    """

    text: str
    parts: list[tuple[int, Scalar]]

    @classmethod
    def of(cls, scalar: Scalar) -> Text:
        return cls(scalar.text, [(0, scalar)])

    def append(self, scalar: Scalar) -> None:
        # Falco joins an appended condition or output with one space.
        self.text += " "
        self.parts.append((len(self.text), scalar))
        self.text += scalar.text

    def locate(self, offset: int) -> Location:
        # A binary search: every node of a condition is located, and a condition
        # appended to thousands of times must not cost nodes x appends.
        i = max(0, bisect_right(self.parts, offset, key=lambda p: p[0]) - 1)
        start, scalar = self.parts[i]
        return scalar.locate(offset - start)


@dataclass
class ListInfo:
    name: str
    items: list[str]
    location: Location
    order: int
    visibility: int = 0
    used: bool = False
    broken: bool = False  # its definition had errors (reported): expands to nothing


@dataclass
class MacroInfo:
    name: str
    cond: Text | None  # None: the definition had errors (reported)
    location: Location
    order: int
    visibility: int = 0
    used: bool = False
    ast: Expr | None = None
    resolving: bool = False
    parsed: Expr | None = None  # its condition parsed, macros not yet inlined


@dataclass
class ExceptionInfo:
    name: str
    fields: list[str] | str | None
    comps: list[str] | str | None
    values: list[Any]
    location: Location
    # Positions of each field and value, shaped like ``fields`` and ``values``.
    field_locs: Any = None
    value_locs: list[Any] = field(default_factory=list)


@dataclass
class RuleInfo:
    name: str
    location: Location
    order: int
    cond: Text | None = None
    output: Text | None = None
    desc: str = ""
    priority: Priority = Priority.DEBUG
    source: str = DEFAULT_SOURCE
    # An ordered set (Falco keeps tags as a set): appending is linear however many appends.
    tags: dict[str, None] = field(default_factory=dict)
    enabled: bool = True
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    capture: bool = False
    capture_duration: int = 0
    threshold: Threshold | None = None
    broken: bool = False  # errors were reported for it: checked, but left out of the RuleSet


@dataclass
class Rule:
    """A rule as the engine sees it: resolved condition, parsed output, metadata."""

    name: str
    desc: str
    condition: Expr
    condition_text: str
    output: str
    priority: Priority
    source: str
    tags: tuple[str, ...]
    enabled: bool
    warn_evttypes: bool
    skip_if_unknown_filter: bool
    location: Location
    output_text: Text | None = None
    cond_text: Text | None = None
    threshold: Threshold | None = None  # lanner's key: fire once per N matches (lanner.threshold)


@dataclass
class RuleSet:
    """Everything loaded from a set of rule files, resolved and ready to compile."""

    rules: list[Rule]
    lists: dict[str, list[str]]
    macros: dict[str, Expr]
    warnings: list[Diagnostic]
    files: list[str]
    required_engine_version: tuple[int, int, int] | None = None

    def sources(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.rules:
            seen.setdefault(r.source, None)
        return list(seen)


# --- stage 1: collect ----------------------------------------------------------------------

# Names Falco accepts (its reader checks them with these expressions).
_MACRO_NAME = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_LIST_NAME = re.compile(r"[^()\"'\s=,]+")
_SEMVER = re.compile(r"\s*(\d+)\.(\d+)\.(\d+)")
_UINT32 = re.compile(r"\d{1,10}")


_ITEM_KINDS = ("rule", "macro", "list", "required_engine_version", "required_plugin_versions")


def _missing(item: Item) -> str:
    """The hint for an override file validated alone: what it extends is in the files
    it extends, which must load first."""
    name = item.location.file or "this-file.yaml"
    return (
        " (if it is defined in another file, load that one first, as in "
        f"'lanner rules validate -r rules/ -r {name}')"
    )


def _nearest(words: Iterable[str], choices: Iterable[str]) -> str:
    """'; did you mean X?' for the first of ``words`` close to one of ``choices``."""
    for w in words:
        close = difflib.get_close_matches(w, list(choices), n=1, cutoff=0.6)
        if close:
            return f"; did you mean '{close[0]}'?"
    return ""


def _semver(text: str) -> tuple[int, int, int] | None:
    """Falco reads versions as "%u.%u.%u" (anything may follow: "0.10.0-rc1")."""
    m = _SEMVER.match(text)
    if m is None:
        return None
    return int(m[1]), int(m[2]), int(m[3])


class _Collector:
    def __init__(self) -> None:
        self.lists: dict[str, ListInfo] = {}
        self.macros: dict[str, MacroInfo] = {}
        self.rules: dict[str, RuleInfo] = {}
        self.errors: list[LannerError] = []
        self.warnings: list[Diagnostic] = []
        self.engine_version: tuple[int, int, int] | None = None
        self._order = 0

    def next_order(self) -> int:
        self._order += 1
        return self._order

    def error(self, message: str, where: Location | Scalar | Item) -> None:
        loc = where if isinstance(where, Location) else where.location
        self.errors.append(RuleFileError(message, loc))

    def warn(self, message: str, where: Location | Scalar | Item, code: str = "warning") -> None:
        loc = where if isinstance(where, Location) else where.location
        self.warnings.append(Diagnostic(message, loc, code))

    # -- items --

    def add_file(self, text: str, name: str) -> None:
        items, errors = parse_items(text, name)
        self.errors.extend(errors)
        for item in items:
            self.add_item(item)

    def add_item(self, item: Item) -> None:
        for key, loc in item.duplicates:
            self.warn(
                f"key '{key}' is repeated in this item; the first one is used", loc, "duplicate-key"
            )
        # Falco's precedence when an item has several kinds of key.
        f = item.fields
        if "required_engine_version" in f:
            self._engine_version(f["required_engine_version"])
        elif "required_plugin_versions" in f:
            self._plugin_versions(f["required_plugin_versions"])
        elif "list" in f:
            self._list(item)
        elif "macro" in f:
            self._macro(item)
        elif "rule" in f:
            self._rule(item)
        else:
            keys = ", ".join(sorted(f)) or "nothing"
            self.warn(
                f"unknown top-level item ({keys}); skipped: an item starts with one of "
                f"{', '.join(_ITEM_KINDS)}{_nearest(f, _ITEM_KINDS)}",
                item,
                "unknown-item",
            )

    def _unknown_keys(self, item: Item, allowed: frozenset[str], kind: str) -> None:
        for key, sc in item.fields.items():
            if key not in allowed:
                self.warn(
                    f"unknown key '{key}' in {kind}; ignored{_nearest([key], allowed)}",
                    sc,
                    "unknown-key",
                )

    def _name(self, item: Item, key: str) -> str | None:
        sc = item.fields[key]
        if not sc.is_scalar or sc.is_null or not sc.text.strip():
            self.error(f"'{key}' must be a non-empty string", sc)
            return None
        return sc.text

    def _str(self, item: Item, key: str) -> Scalar | None:
        """The scalar of a string key; None (with an error) when it is not a non-empty string."""
        sc = item.fields.get(key)
        if sc is None:
            return None
        if not sc.is_scalar or sc.is_null:
            self.error(f"'{key}' must be a string", sc)
            return None
        if not sc.text.strip():
            self.error(f"'{key}' must not be empty", sc)
            return None
        return sc

    def _bool(self, item: Item, key: str, default: bool) -> bool:
        sc = item.fields.get(key)
        if sc is None:
            return default
        value = sc.as_bool()
        if value is None:
            self.error(f"'{key}' must be true or false", sc)
            return default
        return value

    def _strings(self, sc: Scalar, what: str) -> list[str] | None:
        """A sequence of scalars as strings (list items, tags); None with an error otherwise."""
        if not isinstance(sc.node, yaml.SequenceNode) or not isinstance(sc.value, list):
            self.error(f"{what} must be a sequence of values", sc)
            return None
        for node, v in zip(sc.node.value, sc.value, strict=True):
            if not isinstance(v, str):
                kind = "empty (null)" if v is None else "not a single value"
                self.error(f"an entry of {what} is {kind}", node_location(node, sc.file))
                return None
        return list(sc.value)

    def _merge_mode(self, item: Item, kind: str) -> tuple[bool, dict[str, str]] | None:
        """(append?, override map key -> 'append'|'replace'); None when invalid (reported)."""
        errors = len(self.errors)
        append = self._bool(item, "append", False)
        if append:
            self.warn(
                "'append' is deprecated: list the keys to append under 'override' instead "
                "(e.g. 'override: {condition: append}')",
                item,
                "deprecated",
            )
        ov: dict[str, str] = {}
        sc = item.fields.get("override")
        if sc is None:
            return (append, ov) if len(self.errors) == errors else None
        if not isinstance(sc.node, yaml.MappingNode) or not isinstance(sc.value, dict):
            self.error("'override' must map keys to 'append' or 'replace'", sc)
            return None
        key_nodes = {
            str(k.value): (k, v) for k, v in sc.node.value if isinstance(k, yaml.ScalarNode)
        }
        for key, mode in sc.value.items():
            knode, vnode = key_nodes.get(key, (sc.node, sc.node))
            if mode == "append":
                allowed = OVERRIDE_APPENDABLE[kind]
            elif mode == "replace":
                allowed = OVERRIDE_REPLACEABLE[kind]
            else:
                self.error(
                    f"override of '{key}' must be 'append' or 'replace', not '{mode}'",
                    node_location(vnode, sc.file),
                )
                continue
            if key not in allowed:
                hint = ", use 'replace' instead" if key in OVERRIDE_REPLACEABLE[kind] else ""
                self.error(
                    f"key '{key}' of a {kind} cannot be overridden with '{mode}'{hint}",
                    node_location(knode, sc.file),
                )
                continue
            if key not in item.fields:
                self.error(
                    f"'override' names '{key}' but the {kind} does not define it",
                    node_location(knode, sc.file),
                )
                continue
            ov[key] = mode
        if append and sc.value:
            self.error("'append' and 'override' cannot be used together", item.fields["append"])
        for key in item.fields:
            if key in (kind, "override", "append") or key in sc.value:
                continue
            if key in OVERRIDE_REPLACEABLE[kind] | OVERRIDE_APPENDABLE[kind]:
                self.error(
                    f"key '{key}' is defined but not listed under 'override'",
                    item.fields[key],
                )
        if len(self.errors) != errors:
            return None
        return append, ov

    # -- list --

    def _list(self, item: Item) -> None:
        self._unknown_keys(item, LIST_KEYS, "list")
        name = self._name(item, "list")
        if name is None:
            return
        if not _LIST_NAME.fullmatch(name):
            # Falco loads it anyway: its name is pasted over in condition text (see _splice).
            self.warn(
                f"list '{name}' has an invalid name: a list name may not contain blanks, "
                "quotes, parentheses, '=' or ','",
                item.fields["list"],
                "invalid-list-name",
            )
        merge = self._merge_mode(item, "list")
        sc = item.fields.get("items")
        if sc is None:
            self.error(f"list '{name}' has no 'items'", item)
            return
        items = self._strings(sc, f"'items' of list '{name}'")
        if merge is None or items is None:
            self._define_list(name, [], item, broken=True)
            return
        append, ov = merge
        if append or ov.get("items") == "append":
            prev = self.lists.get(name)
            if prev is None:
                self.error(
                    f"list '{name}' uses 'append' but no list by that name exists{_missing(item)}",
                    item,
                )
                return
            prev.items.extend(items)
            prev.visibility = self.next_order()
            return
        self._define_list(name, items, item)

    def _define_list(self, name: str, items: list[str], item: Item, broken: bool = False) -> None:
        prev = self.lists.get(name)
        if prev is not None:
            prev.items = items
            prev.location = item.location
            prev.visibility = self.next_order()
            prev.broken = broken
        else:
            order = self.next_order()
            self.lists[name] = ListInfo(name, items, item.location, order, order, broken=broken)

    # -- macro --

    def _macro(self, item: Item) -> None:
        self._unknown_keys(item, MACRO_KEYS, "macro")
        name = self._name(item, "macro")
        if name is None:
            return
        if not _MACRO_NAME.fullmatch(name):
            # Falco loads it anyway (no condition can name it).
            self.warn(
                f"macro '{name}' has an invalid name: a macro name is a letter followed by "
                "letters, digits or '_', and no condition can use this one",
                item.fields["macro"],
                "invalid-macro-name",
            )
        merge = self._merge_mode(item, "macro")
        if "condition" not in item.fields:
            self.error(f"macro '{name}' has no 'condition'", item)
            return
        sc = self._str(item, "condition")
        if merge is None or sc is None:
            self._define_macro(name, None, item)
            return
        append, ov = merge
        prev = self.macros.get(name)
        if append or ov.get("condition") == "append":
            if prev is None:
                self.error(
                    f"macro '{name}' uses 'append' but no macro by that name exists"
                    + _missing(item),
                    item,
                )
                return
            if prev.cond is not None:
                prev.cond.append(sc)
            prev.visibility = self.next_order()
            return
        self._define_macro(name, sc, item)

    def _define_macro(self, name: str, sc: Scalar | None, item: Item) -> None:
        # ``sc`` None: a broken definition; it exists (no cascade of "undefined
        # macro" errors) but is never compiled.
        cond = Text.of(sc) if sc is not None else None
        prev = self.macros.get(name)
        if prev is not None:
            prev.cond = cond
            prev.location = item.location
            prev.visibility = self.next_order()
        else:
            order = self.next_order()
            self.macros[name] = MacroInfo(name, cond, item.location, order, order)

    # -- rule --

    def _rule(self, item: Item) -> None:
        self._unknown_keys(item, RULE_KEYS, "rule")
        name = self._name(item, "rule")
        if name is None:
            return
        merge = self._merge_mode(item, "rule")
        if merge is None:
            return
        append, ov = merge
        prev = self.rules.get(name)
        if append or ov:
            if prev is None:
                how = "'append' or 'override: {key: append}'"
                if not append and "append" not in ov.values():
                    how = "'override: {key: replace}'"
                self.error(
                    f"rule '{name}' uses {how} but no rule by that name exists{_missing(item)}",
                    item,
                )
                return
            self._merge_rule(prev, item, append, ov)
            return
        f = item.fields
        if not any(k in f for k in ("condition", "output", "desc", "priority")):
            # Falco's short form: an existing rule switched on or off.
            if "enabled" not in f:
                self.error(
                    f"rule '{name}' needs 'condition', 'output', 'desc' and 'priority' "
                    "(or only 'enabled', to switch an existing rule)",
                    item,
                )
                return
            self.warn(
                "a rule item with only 'enabled' is deprecated: use 'override: {enabled: replace}'",
                item,
                "deprecated",
            )
            if prev is None:
                self.error(
                    f"rule '{name}' sets 'enabled' but no rule by that name exists{_missing(item)}",
                    item,
                )
                return
            prev.enabled = self._bool(item, "enabled", prev.enabled)
            return
        info = RuleInfo(name, item.location, prev.order if prev else self.next_order())
        missing = [k for k in ("condition", "output", "desc", "priority") if k not in f]
        if missing:
            self.error(f"rule '{name}' is missing required key(s): {', '.join(missing)}", item)
            info.broken = True
        errors = len(self.errors)
        self._fill_rule(info, item)
        if len(self.errors) != errors:
            info.broken = True
        if prev is not None and prev.source != info.source:
            self._source_conflict(prev, info.source, f.get("source", item))
            return
        self.rules[name] = info

    def _source_conflict(self, prev: RuleInfo, source: str, where: Scalar | Item) -> None:
        self.error(
            f"rule '{prev.name}' has been re-defined with a different source: '{source}' "
            f"here, '{prev.source}' where it is defined",
            where,
        )

    def _fill_rule(self, info: RuleInfo, item: Item, keys: Iterable[str] | None = None) -> None:
        f = item.fields
        wanted = set(f) if keys is None else set(keys)
        if "condition" in wanted and (sc := self._str(item, "condition")):
            info.cond = Text.of(sc)
        if "output" in wanted and (sc := self._str(item, "output")):
            info.output = Text.of(sc)
        if "desc" in wanted and (sc := self._str(item, "desc")):
            info.desc = sc.text
        if "priority" in wanted and (sc := self._str(item, "priority")):
            try:
                info.priority = Priority.parse(sc.text)
            except ValueError as exc:
                self.error(str(exc), sc)
        if "source" in wanted and (sc := self._str(item, "source")):
            info.source = sc.text.strip()
        if "tags" in wanted:
            info.tags = self._tags(f["tags"])
        if "enabled" in wanted:
            info.enabled = self._bool(item, "enabled", True)
        if "warn_evttypes" in wanted:
            info.warn_evttypes = self._bool(item, "warn_evttypes", True)
        if "skip-if-unknown-filter" in wanted:
            info.skip_if_unknown_filter = self._bool(item, "skip-if-unknown-filter", False)
        if "capture" in wanted:
            info.capture = self._bool(item, "capture", False)
        if "capture_duration" in wanted:
            sc = f["capture_duration"]
            if sc.is_scalar and sc.text.strip().isdigit():
                info.capture_duration = int(sc.text)
            else:
                self.error("'capture_duration' must be a non-negative integer", sc)
        if "exceptions" in wanted:
            info.exceptions = self._exceptions(f["exceptions"], info.name, appending=False)
        if "threshold" in wanted:
            info.threshold = self._threshold(f["threshold"])

    def _threshold(self, sc: Scalar) -> Threshold | None:
        """The ``threshold`` mapping; None with errors where it is wrong. Its mistakes
        are errors, not warnings: a misspelt key would silently count something else."""
        if sc.is_null:
            return None
        if not isinstance(sc.node, yaml.MappingNode) or not isinstance(sc.value, dict):
            self.error(
                "'threshold' must be a mapping like {count: 20, window: 5m, group_by: [ct.user]}",
                sc,
            )
            return None
        keys = {str(k.value): k for k, _ in sc.node.value if isinstance(k, yaml.ScalarNode)}
        nodes = {str(k.value): v for k, v in sc.node.value if isinstance(k, yaml.ScalarNode)}

        def at(node: yaml.Node) -> Location:
            return node_location(node, sc.file)

        errors = len(self.errors)
        for key in nodes:
            if key not in _THRESHOLD_KEYS:
                self.error(
                    f"unknown key '{key}' in 'threshold'{_nearest([key], _THRESHOLD_KEYS)}",
                    at(keys[key]),
                )
        for key in ("count", "window"):
            if key not in nodes:
                self.error(f"'threshold' needs '{key}'", sc)
        count = 0
        if (node := nodes.get("count")) is not None:
            text = node.value if isinstance(node, yaml.ScalarNode) else "..."
            if _UINT32.fullmatch(text) and MIN_COUNT <= int(text) <= MAX_COUNT:
                count = int(text)
            else:
                self.error(
                    f"'count' must be a whole number from {MIN_COUNT} to {MAX_COUNT}, "
                    f"not '{text}'",
                    at(node),
                )
        window, window_text = 0, ""
        if (node := nodes.get("window")) is not None:
            window_text = node.value.strip() if isinstance(node, yaml.ScalarNode) else "..."
            try:
                window = parse_window(window_text)
            except ValueError as exc:
                self.error(str(exc), at(node))
        group_by: list[str] = []
        locations: list[Location] = []
        node = nodes.get("group_by")
        value = sc.value.get("group_by")
        if node is not None and not (isinstance(node, yaml.ScalarNode) and value is None):
            if not isinstance(node, yaml.SequenceNode) or not isinstance(value, list):
                self.error("'group_by' must be a list of field names", at(node))
            else:
                for entry, v in zip(node.value, value, strict=True):
                    if not isinstance(v, str) or not v.strip():
                        self.error("an entry of 'group_by' must be a field name", at(entry))
                    elif v.strip() in group_by:
                        self.error(f"'group_by' names '{v.strip()}' twice", at(entry))
                    else:
                        group_by.append(v.strip())
                        locations.append(at(entry))
        if len(self.errors) != errors:
            return None
        return Threshold(count, window, window_text, tuple(group_by), tuple(locations))

    def _tags(self, sc: Scalar) -> dict[str, None]:
        tags = self._strings(sc, "'tags'")
        # Falco keeps tags as a set: each once.
        return dict.fromkeys(tags) if tags else {}

    def _merge_rule(self, prev: RuleInfo, item: Item, append: bool, ov: dict[str, str]) -> None:
        f = item.fields
        # Falco compares the sources when the condition changes (an empty one is no source).
        src = f.get("source")
        if (append or "condition" in ov) and src is not None and src.is_scalar:
            source = "" if src.is_null else src.text.strip()
            if source and source != prev.source:
                self._source_conflict(prev, source, src)
                return
        if append:
            # Falco's legacy append only ever extended the condition and the exceptions.
            ov = {k: "append" for k in ("condition", "exceptions") if k in f}
            if not ov:
                self.error(
                    f"appended rule '{prev.name}' has neither 'condition' nor 'exceptions'", item
                )
            for k in f:
                if k not in ("rule", "append", "condition", "exceptions", "source"):
                    self.warn(
                        f"key '{k}' is ignored in an 'append: true' rule", f[k], "ignored-key"
                    )
        errors = len(self.errors)
        for key, mode in ov.items():
            if mode == "replace":
                self._fill_rule(prev, item, keys=[key])
                continue
            if key == "condition" and (sc := self._str(item, "condition")):
                if prev.cond is None:
                    prev.cond = Text.of(sc)
                else:
                    prev.cond.append(sc)
            elif key == "output" and (sc := self._str(item, "output")):
                if prev.output is None:
                    prev.output = Text.of(sc)
                else:
                    prev.output.append(sc)
            elif key == "desc" and (sc := self._str(item, "desc")):
                prev.desc = f"{prev.desc} {sc.text}".strip()
            elif key == "tags":
                prev.tags.update(self._tags(f["tags"]))
            elif key == "exceptions":
                self._append_exceptions(prev, f["exceptions"])
        if len(self.errors) != errors:
            prev.broken = True

    # -- exceptions --

    def _exceptions(self, sc: Scalar, rule: str, appending: bool) -> list[ExceptionInfo]:
        if sc.is_null:
            return []
        if not isinstance(sc.node, yaml.SequenceNode) or not isinstance(sc.value, list):
            self.error(f"'exceptions' of rule '{rule}' must be a sequence", sc)
            return []
        out: list[ExceptionInfo] = []
        names: set[str] = set()
        for node, raw in zip(sc.node.value, sc.value, strict=True):
            loc = node_location(node, sc.file)
            name = raw.get("name") if isinstance(raw, dict) else None
            if not isinstance(name, str) or not name.strip():
                self.error(f"each exception of rule '{rule}' needs a 'name'", loc)
                continue
            if name in names:
                # Falco keeps both: each excepts what it lists.
                self.warn(
                    f"multiple definitions of exception '{name}' in rule '{rule}'",
                    loc,
                    "exception-name-not-unique",
                )
            names.add(name)
            for k in sorted(set(raw) - {"name", "fields", "comps", "values"}):
                self.warn(f"unknown key '{k}' in exception '{name}'; ignored", loc, "unknown-key")
            exc = ExceptionInfo(name, raw.get("fields"), raw.get("comps"), [], loc)
            exc.field_locs = _locs(mapping_node(node, "fields"), sc.file, loc)
            if "values" in raw:
                values = raw["values"]
                vnode = mapping_node(node, "values")
                if not isinstance(values, list) or vnode is None:
                    self.error(
                        f"exception '{name}' of rule '{rule}': 'values' must be a sequence", loc
                    )
                    continue
                # Own copies: appends extend them in place.
                exc.values = list(values)
                exc.value_locs = _locs(vnode, sc.file, loc)
            elif appending:
                self.warn(f"exception '{name}' is appended with no values", loc, "no-values")
            if self._check_exception(exc, rule, require_fields=not appending):
                out.append(exc)
        return out

    def _check_exception(self, e: ExceptionInfo, rule: str, require_fields: bool) -> bool:
        where = f"exception '{e.name}' of rule '{rule}'"

        def bad(message: str) -> bool:
            self.error(f"{where}: {message}", e.location)
            return False

        if e.fields is None:
            if require_fields:
                return bad("it has no 'fields'")
            if e.comps is not None:
                return True  # reported by the append, which has the context
            # Values are checked against the fields of the exception they extend.
            return True
        if isinstance(e.fields, str):
            if not e.fields.strip():
                return bad("'fields' must not be empty")
            if e.comps is not None and not isinstance(e.comps, str):
                return bad("'fields' is one field, so 'comps' must be one operator")
            comp = e.comps if e.comps is not None else "in"
            read = _comparison(comp)
            if read is None or not _takes_list(read):
                return bad(
                    "when 'fields' is one field, 'comps' must be one of in, pmatch, intersects "
                    f"or an operator with a modifier, like 'startswith oneof' (got '{comp}')"
                )
            e.comps = _comp_text(read)
            return self._check_values(e, where)
        if not isinstance(e.fields, list) or not all(
            isinstance(x, str) and x.strip() for x in e.fields
        ):
            return bad("'fields' must be a field name or a list of field names")
        if not e.fields:
            return bad("'fields' must not be empty")
        comps = e.comps if e.comps is not None else ["="] * len(e.fields)
        if not isinstance(comps, list) or len(comps) != len(e.fields):
            return bad("'fields' and 'comps' must have the same number of entries")
        reads = [_comparison(c) for c in comps]
        for c, r in zip(comps, reads, strict=True):
            if r is None:
                return bad(f"'{c}' is not a supported comparison operator")
        e.comps = [_comp_text(r) for r in reads if r is not None]
        return self._check_values(e, where)

    def _check_values(self, e: ExceptionInfo, where: str) -> bool:
        def bad(message: str, at: Any) -> bool:
            self.error(f"{where}: {message}", _at(at, e.location))
            return False

        if isinstance(e.fields, str):
            for v, loc in zip(e.values, e.value_locs, strict=True):
                if not isinstance(v, str):
                    return bad("with one field, each value must be a single string", loc)
                if not v:
                    return bad(_EMPTY_VALUE, loc)
            return True
        n = len(e.fields) if isinstance(e.fields, list) else None
        for row, rloc in zip(e.values, e.value_locs, strict=True):
            if not isinstance(row, list) or (n is not None and len(row) != n):
                return bad(
                    f"each entry of 'values' must be a list of {n} value(s), one per field", rloc
                )
            comps = e.comps if isinstance(e.comps, list) else [None] * len(row)
            cell_locs = rloc if isinstance(rloc, list) else [rloc] * len(row)
            for cell, comp, cloc in zip(row, comps, cell_locs, strict=False):
                if isinstance(cell, list):
                    if comp is not None and not _takes_list(_comparison(comp)):
                        return bad(f"operator '{comp}' takes one value, not a list", cloc)
                    if not all(isinstance(x, str) for x in cell):
                        return bad("a list of values may only hold single values", cloc)
                    if not all(cell):
                        empty = cell.index("")
                        return bad(_EMPTY_VALUE, cloc[empty] if isinstance(cloc, list) else cloc)
                elif not isinstance(cell, str):
                    return bad("a value is empty (null) or not a single value", cloc)
                elif not cell:
                    return bad(_EMPTY_VALUE, cloc)
        return True

    def _append_exceptions(self, prev: RuleInfo, sc: Scalar) -> None:
        # Two exceptions of one name (a warning): as in Falco, values go to the first.
        by_name: dict[str, ExceptionInfo] = {}
        for old_e in prev.exceptions:
            by_name.setdefault(old_e.name, old_e)
        for e in self._exceptions(sc, prev.name, appending=True):
            old = by_name.get(e.name)
            if old is None:
                if e.fields is None or not e.values:
                    self.error(
                        f"exception '{e.name}' appended to rule '{prev.name}' is new, "
                        "so it needs 'fields' and 'values'",
                        e.location,
                    )
                    continue
                if self._check_exception(e, prev.name, require_fields=True):
                    prev.exceptions.append(e)
                    by_name[e.name] = e
                continue
            if e.fields is not None or e.comps is not None:
                self.error(
                    f"exception '{e.name}' already exists in rule '{prev.name}': "
                    "only 'values' can be appended to it, not 'fields' or 'comps'",
                    e.location,
                )
                continue
            probe = ExceptionInfo(
                e.name, old.fields, old.comps, e.values, e.location, old.field_locs, e.value_locs
            )
            if self._check_values(probe, f"exception '{e.name}' of rule '{prev.name}'"):
                # In place: copying the whole list on every append made thousands of
                # appends to one exception quadratic.
                old.values.extend(e.values)
                old.value_locs.extend(e.value_locs)

    # -- versions --

    def _engine_version(self, sc: Scalar) -> None:
        text = sc.text.strip() if sc.is_scalar and not sc.is_null else ""
        req: tuple[int, int, int] | None
        if _UINT32.fullmatch(text) and int(text) < 2**32:
            req = (0, int(text), 0)  # the old integer form means 0.N.0
        else:
            req = _semver(text)
        if req is None:
            shown = f"'{text}'" if sc.is_scalar else "a sequence or mapping"
            self.error(
                f"required_engine_version {shown} is not a number or a semantic version (x.y.z)",
                sc,
            )
            return
        if req[0] != ENGINE_VERSION[0] or req > ENGINE_VERSION:
            have = ".".join(map(str, ENGINE_VERSION))
            self.error(
                f"rules require engine version {'.'.join(map(str, req))}, lanner implements {have}",
                sc,
            )
        if self.engine_version is None or req > self.engine_version:
            self.engine_version = req

    def _plugin_versions(self, sc: Scalar) -> None:
        if not isinstance(sc.node, yaml.SequenceNode) or not isinstance(sc.value, list):
            self.error("required_plugin_versions must be a sequence of {name, version}", sc)
            return
        for node, entry in zip(sc.node.value, sc.value, strict=True):
            loc = node_location(node, sc.file)
            choices = self._plugin_choices(entry, node, loc, sc.file)
            if choices is None:
                continue
            ok = False
            for name, want in choices:
                have = PROVIDED_PLUGINS.get(name)
                if have is not None and have[0] == want[0] and have >= want:
                    ok = True
                    break
            if not ok:
                name, want = choices[0]
                self.warn(
                    f"plugin '{name}' {'.'.join(map(str, want))} is required; lanner provides "
                    "its own fields instead of plugins, and has no equivalent for this one",
                    loc,
                    "plugin-version",
                )

    def _plugin_choices(
        self, entry: Any, node: yaml.Node, loc: Location, file: str | None
    ) -> list[tuple[str, tuple[int, int, int]]] | None:
        """A requirement and its alternatives as (name, version), or None (reported)."""
        if not isinstance(entry, dict):
            self.error("each required plugin must be a mapping with 'name' and 'version'", loc)
            return None
        raw = [(entry, loc)]
        alts = entry.get("alternatives")
        if alts is not None:
            anode = mapping_node(node, "alternatives")
            if not isinstance(alts, list) or not isinstance(anode, yaml.SequenceNode):
                self.error("the 'alternatives' of a required plugin must be a sequence", loc)
                return None
            raw += [(a, node_location(n, file)) for a, n in zip(alts, anode.value, strict=True)]
        out: list[tuple[str, tuple[int, int, int]]] = []
        for choice, cloc in raw:
            if not isinstance(choice, dict):
                self.error("a required plugin alternative must be a mapping", cloc)
                return None
            name, version = choice.get("name"), choice.get("version")
            if not isinstance(name, str) or not name or not isinstance(version, str):
                self.error("each required plugin needs a 'name' and a 'version'", cloc)
                return None
            want = _semver(version)
            if want is None:
                self.error(f"invalid required version '{version}' for plugin '{name}'", cloc)
                return None
            if any(n == name for n, _ in out):
                self.error(f"plugin '{name}' is listed twice among alternatives", cloc)
                return None
            out.append((name, want))
        return out


# Falco refuses an empty string anywhere in an exception (pasted, it would leave a gap).
_EMPTY_VALUE = "a value must not be empty"
# Operators a modifier may follow: the string comparisons (Falco's rule).
_MODIFIABLE_OPS = STR_OPS | {"=="}


def _comparison(comp: Any) -> tuple[str, str | None] | None:
    """An exception's comparison as Falco reads it: blanks around it ignored, then
    an operator, or an operator, one space and a modifier ('startswith oneof');
    (operator, modifier), or None if it is neither."""
    if not isinstance(comp, str):
        return None
    text = comp.strip(" \t\r\n")
    if text in EXCEPTION_OPS:
        return text, None
    op, blank, mod = text.partition(" ")
    if blank and op in _MODIFIABLE_OPS and mod in MODIFIERS:
        return op, mod
    return None


def _comp_text(read: tuple[str, str | None]) -> str:
    op, mod = read
    return op if mod is None else f"{op} {mod}"


def _operator(comp: str) -> tuple[str, str | None]:
    """A checked comparison as the (operator, modifier) of a Compare node."""
    read = _comparison(comp)
    assert read is not None  # checked when the exception was collected
    op, mod = read
    return ("=" if op == "==" else op), mod


def _takes_list(read: tuple[str, str | None] | None) -> bool:
    """The comparison compares with a parenthesised list (a bare value is one item or
    names a list): a list operator, or any operator with a modifier."""
    return read is not None and (read[0] in LIST_OPS or read[1] is not None)


class _Locs(list[Any]):
    """The locations of a sequence's entries, and (``at``) of the sequence itself."""

    at: Location


def _locs(node: yaml.Node | None, file: str | None, default: Location) -> Any:
    """Locations shaped like the node's plain value: a Location per scalar, lists for
    sequences (the positions of exception fields and values)."""
    if node is None:
        return default
    if isinstance(node, yaml.SequenceNode):
        out = _Locs(_locs(c, file, default) for c in node.value)
        out.at = node_location(node, file)
        return out
    return node_location(node, file)


def _at(loc: Any, default: Location) -> Location:
    if isinstance(loc, Location):
        return loc
    return getattr(loc, "at", default)


def _unquote(item: str) -> str:
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "\"'":
        q = item[0]
        body = item[1:-1]
        return body.replace("\\" + q, q).replace("\\\\", "\\")
    return item


def _scalar_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


# --- stage 2: resolve ---------------------------------------------------------------------


_Metrics = tuple[Node, int, int, bool]


class _Resolver:
    def __init__(self, col: _Collector) -> None:
        self.col = col
        self.lists: dict[str, list[str]] = {}
        # id(node) -> (node, expanded size, expanded depth, holds an oversized macro) of
        # every measured node; the node is kept so that its id is not reused. Shared
        # macro trees are measured once.
        self._metrics: dict[int, _Metrics] = {}
        self.total_nodes = 0

    # -- lists --

    def list_items(self, name: str) -> list[str] | None:
        """A list's items with the names of earlier-defined lists expanded.

        As in Falco this goes one level deep, and only lists defined before
        the referring list's last definition count; other items are values.
        """
        if name in self.lists:
            return self.lists[name]
        info = self.col.lists.get(name)
        if info is None:
            return None
        out: list[str] = []
        for item in info.items:
            sub = self.col.lists.get(item)
            if sub is not None and sub.order < info.visibility and sub is not info:
                out.extend(sub.items)
            else:
                out.append(item)
        self.lists[name] = out
        return out

    # -- conditions --

    def parse(self, text: Text, what: str) -> Expr | None:
        """The condition's tree, every node placed in the file (None: reported)."""
        try:
            return parse_condition(text.text, MAX_RULE_NODES, text.locate)
        except ConditionSyntaxError as exc:
            self.col.errors.append(ConditionSyntaxError(f"{what}: {exc.message}", exc.location))
            return None

    def macro(self, name: str, visibility: int | None, mark: bool = True) -> Expr | None:
        info = self.col.macros.get(name)
        if info is None or (visibility is not None and info.order >= visibility):
            # A macro sees only macros defined before its own (last) definition.
            return None
        if mark:
            info.used = True
        if info.ast is not None:
            return info.ast
        if info.cond is None:  # broken definition, already reported
            info.ast = Const(False)
            return info.ast
        if info.resolving:
            self.col.error(f"macro '{name}' refers to itself", info.location)
            return Const(False)
        self._resolve_macros(info)
        assert info.ast is not None
        return info.ast

    def _resolve_macros(self, root: MacroInfo) -> None:
        """Resolves ``root`` after the macros it uses, deepest first, with an explicit
        stack: a chain of thousands of macros must not recurse once per macro. Each
        macro is then resolved once; its users reference the same tree."""
        stack = [root]
        while stack:
            info = stack[-1]
            if info.ast is not None:
                stack.pop()
                continue
            if info.cond is None:
                info.ast = Const(False)
                stack.pop()
                continue
            if not info.resolving:
                info.resolving = True
                info.parsed = self.parse(info.cond, f"in macro '{info.name}'")
            dep = self._unresolved_dependency(info)
            if dep is not None:
                stack.append(dep)
                continue
            stack.pop()
            try:
                parsed = info.parsed
                info.ast = Const(False) if parsed is None else self.resolve(parsed, info.visibility)
            finally:
                info.resolving = False
                info.parsed = None
            problem = self.too_big(info.ast)
            if problem or self.measure(info.ast)[2]:
                if problem:
                    self.col.error(f"macro '{info.name}' {problem}", info.location)
                # Its users are not reported again (this error is the cause), and none
                # of them is compiled.
                info.ast = Const(False)
                self._metrics[id(info.ast)] = (info.ast, 1, 1, True)

    def _unresolved_dependency(self, info: MacroInfo) -> MacroInfo | None:
        """A macro ``info`` uses that is neither resolved nor being resolved."""
        if info.parsed is None:
            return None
        for e in preorder(info.parsed, is_boolean):
            match e:
                case MacroRef(name=name):
                    dep = self.col.macros.get(name)
                    if (
                        dep is not None
                        and dep.order < info.visibility
                        and dep.ast is None
                        and dep.cond is not None
                        and not dep.resolving
                    ):
                        return dep
        return None

    def measure(self, root: Expr) -> tuple[int, int, bool]:
        """(nodes, depth) of ``root`` with every macro inlined, counting each use of a
        shared tree, computed over the shared trees (linear in what was written) and
        without recursion. Sizes are capped just above MAX_TOTAL_NODES. The flag: it
        uses a macro already reported as too big."""

        def combine(node: Node, kids: list[_Metrics]) -> _Metrics:
            size = min(MAX_TOTAL_NODES + 1, 1 + sum(k[1] for k in kids))
            depth = 1 + max((k[2] for k in kids), default=0)
            return node, size, depth, any(k[3] for k in kids)

        _node, size, depth, reported = fold(root, combine, is_boolean, self._metrics)
        return size, depth, reported

    def too_big(self, e: Expr) -> str | None:
        """Why ``e`` exceeds the expansion bounds, or None."""
        size, depth, reported = self.measure(e)
        if reported:
            return None
        if size > MAX_RULE_NODES:
            return (
                f"expands to more than {MAX_RULE_NODES:,} nodes once its macros are inlined "
                f"(and/or/not and checks; each use of a macro counts its whole condition): "
                "use a list with 'in (...)' for many values, or split it"
            )
        if depth > MAX_EXPANDED_DEPTH:
            return (
                f"nests and/or/not more than {MAX_EXPANDED_DEPTH} levels deep once its "
                "macros are inlined"
            )
        return None

    def resolve(self, e: Expr, visibility: int | None = None) -> Expr:
        """Inlines macros and expands list names. Nodes keep their positions; a
        macro's tree is shared by its users, placed in the macro's text.

        ``visibility`` limits which macros are visible (for a macro's body); rules
        see every macro.
        """

        def rewrite(node: Node) -> Node:
            match node:
                case MacroRef():
                    return self._inline(node, visibility)
                case Compare():
                    return self._compare(node)
            return node

        out = rebuild_bottom_up(e, rewrite, is_boolean)
        assert isinstance(out, And | Or | Not | Compare | MacroRef | Const)
        return out

    def _inline(self, ref: MacroRef, visibility: int | None) -> Expr:
        name = ref.name
        info = self.col.macros.get(name)
        visible = info is not None and (visibility is None or info.order < visibility)
        if info is not None and visible and info.resolving:
            self.col.errors.append(
                RuleFileError(f"macro '{name}' refers to itself", ref.pos.location)
            )
            return Const(False)
        found = self.macro(name, visibility)
        if found is None:
            self.col.errors.append(RuleFileError(f"undefined macro '{name}'", ref.pos.location))
            return Const(False)
        return found

    def _compare(self, c: Compare) -> Compare:
        rhs = c.rhs
        if isinstance(rhs, ListRef):
            items = self.list_items(rhs.name)
            if items is None:
                self.col.errors.append(
                    RuleFileError(f"undefined list '{rhs.name}'", rhs.pos.location)
                )
                items = []
            new = ListLit(tuple(self._item(i, rhs) for i in items), rhs.pos)
            return Compare(c.lhs, c.op, new, c.modifier, c.pos)
        if isinstance(rhs, ListLit):
            expanded: list[Literal] = []
            changed = False
            for lit in rhs.items:
                items = self.list_items(lit.value) if lit.value in self.col.lists else None
                if items is None:
                    expanded.append(lit)
                else:
                    changed = True
                    expanded.extend(self._item(i, lit) for i in items)
            if changed:
                new = ListLit(tuple(expanded), rhs.pos)
                return Compare(c.lhs, c.op, new, c.modifier, c.pos)
        return c

    def _item(self, item: str, ref: ListRef | Literal) -> Literal:
        """A list item as the value it stands for in a condition, placed where the
        list is named (errors about it point at what the rule wrote).

        Falco pastes list items into the condition text, so an item written
        with quotes (``'"10.0.0.0/8"'``) means the unquoted value.
        """
        return Literal(_unquote(item), ref.pos)

    # -- exceptions --

    def exceptions_expr(self, rule: RuleInfo) -> Expr | None:
        """``not (...)`` clauses for a rule's exceptions, each node placed at the YAML
        field or value it came from."""
        clauses: list[Expr] = []
        for e in rule.exceptions:
            if not e.values:
                continue
            width = len(e.fields) + 1 if isinstance(e.fields, list) else 1
            if len(e.values) * width > MAX_RULE_NODES:
                # Refused before its clause is built: the rows alone cross the bound.
                if isinstance(e.fields, list):
                    what = f"rows of {width - 1} field(s)"
                    advice = "use one field with a list of values, or "
                else:
                    what, advice = "values of its one field", ""
                self.col.errors.append(
                    RuleFileError(
                        f"exception '{e.name}' of rule '{rule.name}' has {len(e.values):,} "
                        f"{what}: more than {MAX_RULE_NODES:,} nodes; {advice}split the rule",
                        e.location,
                    )
                )
                continue
            try:
                clause = self._exception(e)
            except LannerError as exc:
                self.col.errors.append(
                    RuleFileError(
                        f"exception '{e.name}' of rule '{rule.name}': {exc.message}",
                        exc.location or e.location,
                    )
                )
                continue
            clauses.append(Not(clause, Pos.at(e.location)))
        if not clauses:
            return None
        return And(tuple(clauses), clauses[0].pos) if len(clauses) > 1 else clauses[0]

    def _exception(self, e: ExceptionInfo) -> Expr:
        # Falco pastes each value into the condition text and parses the result, so a
        # value reads as the condition grammar reads it: ``val(proc.pname)`` and
        # ``toupper(proc.pname)`` compare with another field, ``'"a b"'`` is ``a b``.
        epos = Pos.at(e.location)
        if isinstance(e.fields, str):
            floc = e.field_locs if isinstance(e.field_locs, Location) else e.location
            lhs = self._field(e.fields, floc)
            op, mod = _operator(e.comps if isinstance(e.comps, str) else "in")
            items: list[Literal] = []
            for v, loc in zip(e.values, _flat_locs(e, e.value_locs), strict=False):
                items += _list_item(_scalar_text(v), _at(loc, e.location))
            return self._compare(Compare(lhs, op, ListLit(tuple(items), epos), mod, epos))
        assert isinstance(e.fields, list) and isinstance(e.comps, list)
        field_locs = _flat_locs(e, e.field_locs)
        alts: list[Expr] = []
        for row, row_locs in zip(e.values, _flat_locs(e, e.value_locs), strict=False):
            cell_locs = row_locs if isinstance(row_locs, list) else [row_locs] * len(row)
            terms: list[Expr] = []
            for fname, floc, comp, cell, cloc in zip(
                e.fields, field_locs, e.comps, row, cell_locs, strict=False
            ):
                lhs = self._field(fname, floc)
                op, mod = _operator(comp)
                at = _at(cloc, e.location)
                rhs: Rhs
                if isinstance(cell, list):
                    locs = cloc if isinstance(cloc, list) else [cloc] * len(cell)
                    items = []
                    for v, loc in zip(cell, locs, strict=False):
                        items += _list_item(_scalar_text(v), _at(loc, at))
                    rhs = ListLit(tuple(items), Pos.at(at))
                elif op in LIST_OPS or mod is not None:
                    rhs = _bare_list(_scalar_text(cell), at)
                else:
                    rhs = _one_value(comp, _scalar_text(cell), at)
                # A check stands where its exception does; its operands where they are written.
                terms.append(self._compare(Compare(lhs, op, rhs, mod, epos)))
            alts.append(terms[0] if len(terms) == 1 else And(tuple(terms), terms[0].pos))
        return _or(alts)

    def _field(self, text: str, loc: Any) -> FieldRef | Transform:
        """An exception's field; all of it placed at the YAML entry naming it."""
        where = loc if isinstance(loc, Location) else None
        try:
            expr, end = parse_output_field(
                text.strip(), 0, None if where is None else lambda _offset: where
            )
        except ConditionSyntaxError:
            raise RuleFileError(f"'{text}' is not a field name", where) from None
        if end != len(text.strip()):
            raise RuleFileError(f"'{text}' is not a field name", where)
        return expr


def _flat_locs(e: ExceptionInfo, locs: Any) -> list[Any]:
    """``locs`` as a list (a lone Location, or nothing, repeated for every entry)."""
    if isinstance(locs, list):
        return locs
    n = max(len(e.values), len(e.fields) if isinstance(e.fields, list) else 1)
    return [locs if isinstance(locs, Location) else e.location] * n


def _or(alts: list[Expr]) -> Expr:
    if not alts:
        return Const(False)
    return alts[0] if len(alts) == 1 else Or(tuple(alts))


# --- exception values as Falco pastes them ------------------------------------------------------

# A value Falco's pasting leaves as the same single value, read back without parsing
# (the common case, kept fast for exceptions with thousands of values): no quote,
# parenthesis, '=', ',' or backslash, and no blank but the space Falco quotes around.
_PLAIN_VALUE = re.compile(r"[^()\"'=,\\\t\n\r\x08]+")
# The field of the check a value is pasted into: only what follows the operator is kept.
_PASTE_FIELD = "x.x"


def _pasted(comp: str, text: str, value: str, at: Location) -> Rhs:
    """What ``<field> <comp> <text>`` compares its field with; every node and error
    placed at the value as written."""
    try:
        check = parse_condition(f"{_PASTE_FIELD} {comp} {text}", locate=lambda _offset: at)
    except ConditionSyntaxError as exc:
        raise RuleFileError(f"value '{value}', pasted as {text}: {exc.message}", at) from None
    op, mod = _operator(comp)
    if not isinstance(check, Compare) or (check.op, check.modifier) != (op, mod):
        raise RuleFileError(f"value '{value}', pasted as {text}: it is not one value", at)
    assert check.rhs is not None  # binary operators only
    return check.rhs


def _one_value(comp: str, value: str, at: Location) -> Rhs:
    """A value where one is expected: a string, ``val(field)`` or a transformer call."""
    op, _ = _operator(comp)
    if op not in NUM_OPS and _PLAIN_VALUE.fullmatch(value):
        return Literal(value, Pos.at(at))
    return _pasted(comp, _quote_item(value), value, at)


def _bare_list(value: str, at: Location) -> ListLit:
    """A single value where a list is expected: parenthesised (not quoted), so it is a
    list name, one item, or a ``(a, b)`` list written as one string."""
    if _PLAIN_VALUE.fullmatch(value) and " " not in value:
        return ListLit((Literal(value, Pos.at(at)),), Pos.at(at))
    rhs = _pasted("in", value if value.startswith("(") else f"({value})", value, at)
    assert isinstance(rhs, ListLit)  # a '(' after 'in' is always a list
    return rhs


def _list_item(value: str, at: Location) -> tuple[Literal, ...]:
    """The items one value of a list stands for, quoted as Falco quotes it."""
    if _PLAIN_VALUE.fullmatch(value):
        return (Literal(value, Pos.at(at)),)
    rhs = _pasted("in", f"({_quote_item(value)})", value, at)
    assert isinstance(rhs, ListLit)
    return rhs.items


# --- public entry points --------------------------------------------------------------------


def load_rules(
    paths: Iterable[str | Path] = (), *, texts: Iterable[tuple[str, str]] = ()
) -> RuleSet:
    """Loads rule files in order (a directory means its ``*.yaml``/``*.yml`` files in name
    order), then ``texts`` as ``(name, yaml_text)`` pairs, and resolves them.

    Raises RuleLoadErrors listing every problem found.
    """
    col = _Collector()
    files: list[str] = []
    for path in _expand(paths, col):
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            col.errors.append(RuleFileError(f"cannot read rules file: {exc}", Location(str(path))))
            continue
        files.append(str(path))
        col.add_file(text, str(path))
    for name, text in texts:
        files.append(name)
        col.add_file(text, name)
    return _resolve(col, files)


def load_rules_text(text: str, name: str = "<string>") -> RuleSet:
    """Loads one rules document given as text."""
    return load_rules(texts=[(name, text)])


def _expand(paths: Iterable[str | Path], col: _Collector) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(
                c for c in path.iterdir() if c.suffix in (".yaml", ".yml") and c.is_file()
            )
            if not found:
                col.errors.append(
                    RuleFileError("no *.yaml rules files in directory", Location(str(path)))
                )
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            col.errors.append(RuleFileError("no such file or directory", Location(str(path))))
    return out


# --- what Falco warns about in a rule's condition -------------------------------------------

# Fields Falco deprecates (enter events are no longer captured), with why.
_DEPRECATED_FIELDS = {
    "evt.dir": (
        "without enter events 'evt.dir = <' is always true and 'evt.dir = >' always "
        "false: remove the check on evt.dir"
    ),
    **dict.fromkeys(
        ("evt.latency", "evt.latency.s", "evt.latency.ns", "evt.latency.human", "evt.wait_latency"),
        "it is not available without enter events",
    ),
}
_OUTPUT_DEPRECATED = re.compile(
    "%\\{?(" + "|".join(re.escape(f) for f in _DEPRECATED_FIELDS) + ")(?![\\w.\\[])"
)
# What a field looks like (libsinsp's field-name grammar, with an optional [argument]).
_FIELD_SHAPE = re.compile(r"([a-zA-Z]+\w*(?:\.[a-zA-Z]+\w*)+)(?:\[([^\]]*)\])?")
_VALUE_TRANSFORMERS = frozenset(TRANSFORMERS) | {"val"}


# What a subtree holds that may deserve a warning: deprecated fields, and constants
# shaped like a field or a transformer call. The node is kept so that its id stays its own.
_Suspects = tuple[Node, tuple[FieldRef | Literal, ...]]


def _suspects(node: Node, kids: list[_Suspects]) -> _Suspects:
    found: tuple[FieldRef | Literal, ...] = ()
    for k in kids:
        if k[1]:
            found += k[1]
    if isinstance(node, Compare):
        # The operands are searched here, not folded: they are many and rarely suspect.
        for operand in preorder(node, lambda n: not isinstance(n, ListLit)):
            if isinstance(operand, FieldRef) and operand.name in _DEPRECATED_FIELDS:
                found += (operand,)
        rhs = node.rhs
        for lit in rhs.items if isinstance(rhs, ListLit) else (rhs,):
            if isinstance(lit, Literal) and _looks_misused(lit.value):
                found += (lit,)
    return node, found


def _condition_warnings(
    col: _Collector, rule: RuleInfo, cond: Expr, memo: dict[int, _Suspects]
) -> None:
    """Falco's warnings on a rule's condition (macros inlined, exceptions added) and
    output: deprecated fields, and values that look like a field or a transformer
    (a string constant where the user probably meant ``val(field)``). ``memo`` is
    shared by all rules: a macro's tree is searched once, not at every use."""
    deprecated: dict[str, Location | None] = {}
    values: dict[int, Literal] = {}
    for node in fold(cond, _suspects, is_boolean, memo)[1]:
        if isinstance(node, FieldRef):
            deprecated.setdefault(node.name, node.pos.location)
        else:
            values.setdefault(id(node), node)
    for name, where in deprecated.items():
        col.warn(
            f"rule '{rule.name}' uses the deprecated field '{name}': {_DEPRECATED_FIELDS[name]}",
            where or rule.location,
            "deprecated",
        )
    for lit in values.values():
        why = _misused_value(lit.value, rule.source)
        if why:
            where = lit.pos.location or rule.location
            col.warn(f"rule '{rule.name}': {why}", where, "condition-value")
    if rule.output is not None:
        for m in _OUTPUT_DEPRECATED.finditer(rule.output.text):
            col.warn(
                f"rule '{rule.name}' uses the deprecated field '{m[1]}' in its output",
                rule.output.locate(m.start()),
                "deprecated",
            )
        placeholders = _placeholders(rule.source) if "%" in rule.output.text else None
        for m in placeholders.finditer(rule.output.text) if placeholders else ():
            col.warn(
                f"rule '{rule.name}': %{m[1]} is deprecated and no more useful, and will be "
                "dropped by Falco 1.0.0. The container plugin will automatically add "
                "required fields to the output message.",
                rule.output.locate(m.start()),
                "deprecated",
            )


@functools.cache
def _placeholders(source: str) -> re.Pattern[str] | None:
    """The output tokens of the source's print-only fields (``%container.info``),
    which compiling removes from the output, as Falco's loader does, with this warning."""
    from lanner.sources.catalog import builtin_sources

    src = builtin_sources().get(source)
    names = [f.name for f in src.fields if FLAG_PRINT_ONLY in f.flags] if src else []
    if not names:
        return None
    # As the output parser reads a token: a field name ends before a word character
    # or a dot followed by a letter.
    alternatives = "|".join(re.escape(n) for n in names)
    return re.compile(f"%({alternatives})(?!\\w|\\.[A-Za-z])")


def _looks_misused(value: str) -> bool:
    bare = "".join(value.split())
    return _FIELD_SHAPE.fullmatch(bare) is not None or (
        bare.endswith(")") and bare.partition("(")[0] in _VALUE_TRANSFORMERS
    )


def _misused_value(value: str, source: str) -> str | None:
    """Why a constant looks like a mistake (Falco's checks, on the value without blanks)."""
    bare = "".join(value.split())
    m = _FIELD_SHAPE.fullmatch(bare)
    if m and _is_field(source, m[1], m[2]):
        return (
            f"'{value}' may be a valid field misused as a const string value; to compare "
            f"with the field's value, write val({bare})"
        )
    call = bare.partition("(")[0]
    if call in _VALUE_TRANSFORMERS and bare.endswith(")") and len(bare) > len(call) + 1:
        return f"'{value}' may be a valid field transformer misused as a const string value"
    return None


def _is_field(source: str, name: str, arg: str | None) -> bool:
    # Only values shaped like a field get here: the source's fields are looked up
    # (and the built-in sources built) only then.
    from lanner.sources.catalog import builtin_sources

    src = builtin_sources().get(source)
    found = src.fields.resolve(name, arg) if src is not None else None
    # A print-only field is no field to Falco: val() of it would not load either.
    return found is not None and FLAG_PRINT_ONLY not in found[0].flags


# --- lists with invalid names -----------------------------------------------------------------


class _Pasted(Text):
    """A condition with lists pasted over their names: offsets map back through
    ``origin`` (an original offset per character) to the text as written."""

    def __init__(self, text: str, base: Text, origin: list[int]) -> None:
        super().__init__(text, base.parts)
        self.base = base
        self.origin = origin

    def locate(self, offset: int) -> Location:
        if not self.origin:
            return self.base.locate(0)
        return self.base.locate(self.origin[min(max(offset, 0), len(self.origin) - 1)])


_BLANKS = " \t\n\r"
_NAME_DELIMS = _BLANKS + "(),="


def _paste_odd_lists(col: _Collector, res: _Resolver) -> None:
    """Lists whose names the condition grammar cannot read as one value (``test list``):
    Falco pastes every list's items over its name in the condition text before parsing,
    so such a list still works where its name is written between delimiters. Lists
    with ordinary names are expanded on the syntax tree instead (same result)."""
    odd = sorted(
        (li for li in col.lists.values() if not _LIST_NAME.fullmatch(li.name)),
        key=lambda li: li.order,
    )
    if not odd:
        return
    holders: list[MacroInfo | RuleInfo] = [*col.macros.values(), *col.rules.values()]
    for h in holders:
        if h.cond is None or not any(li.name in h.cond.text for li in odd):
            continue
        text, origin = h.cond.text, list(range(len(h.cond.text)))
        for li in odd:
            text, origin, used = _paste(text, origin, li.name, res.list_items(li.name) or [])
            li.used = li.used or used
        h.cond = _Pasted(text, h.cond, origin)


def _paste(
    text: str, origin: list[int], name: str, items: list[str]
) -> tuple[str, list[int], bool]:
    """Falco's textual list substitution, keeping each character's original offset."""
    used = False
    start = text.find(name)
    while start != -1:
        end = start + len(name)
        if (start == 0 or text[start - 1] in _NAME_DELIMS) and (
            end >= len(text) or text[end] in _NAME_DELIMS
        ):
            at = origin[start]
            while start > 0 and text[start - 1] in _BLANKS:
                start -= 1
            while end < len(text) and text[end] in _BLANKS:
                end += 1
            sub = ", ".join(_quote_item(i) for i in items)
            if not sub:  # an empty list also takes one of the commas around it
                if start > 0 and text[start - 1] == ",":
                    start -= 1
                elif end < len(text) and text[end] == ",":
                    end += 1
            lead = " " if start > 0 else ""
            pasted = lead + sub + " "
            text = text[:start] + pasted + text[end:]
            origin = origin[:start] + [at] * len(pasted) + origin[end:]
            start += len(sub) + 1
            used = True
        start = text.find(name, start + 1)
    return text, origin, used


def _quote_item(item: str) -> str:
    # As Falco pastes an item: quoted when it holds a blank and is not quoted already.
    return f'"{item}"' if " " in item and item[:1] not in ("'", '"') else item


def _resolve(col: _Collector, files: list[str]) -> RuleSet:
    res = _Resolver(col)
    _paste_odd_lists(col, res)
    suspects: dict[int, _Suspects] = {}
    # Macros first, in definition order: each one's references are then mostly
    # resolved already, which keeps long chains of macros from recursing deeply.
    # Like Falco, this also reports errors in macros no rule uses.
    for m in sorted(col.macros.values(), key=lambda m: m.order):
        res.macro(m.name, None, mark=False)
    rules: list[Rule] = []
    for info in sorted(col.rules.values(), key=lambda r: r.order):
        if info.cond is None or (info.output is None and not info.broken):
            if not info.broken:  # a broken rule's errors are reported already
                col.error(f"rule '{info.name}' has no condition or output", info.location)
            continue
        parsed = res.parse(info.cond, f"in rule '{info.name}'")
        if parsed is None:
            continue
        cond = res.resolve(parsed)
        exc = res.exceptions_expr(info)
        if exc is not None:
            cond = And((cond, exc))
        problem = res.too_big(cond)
        if problem:
            col.error(f"rule '{info.name}': the condition {problem}", info.location)
            continue
        if res.measure(cond)[2]:
            continue  # it uses a macro reported as too big
        if res.total_nodes <= MAX_TOTAL_NODES:
            res.total_nodes += res.measure(cond)[0]
            if res.total_nodes > MAX_TOTAL_NODES:
                # Reported once, at the rule that crosses the bound.
                col.error(
                    f"rule '{info.name}': all rules together expand to more than "
                    f"{MAX_TOTAL_NODES:,} nodes once macros are inlined; this rule crosses "
                    "the bound",
                    info.location,
                )
        if info.broken or info.output is None:  # resolved only to report its errors
            continue
        _condition_warnings(col, info, cond, suspects)
        rules.append(
            Rule(
                name=info.name,
                desc=info.desc,
                condition=cond,
                condition_text=info.cond.text,
                output=info.output.text.strip(),
                priority=info.priority,
                source=info.source,
                tags=tuple(info.tags),
                enabled=info.enabled,
                warn_evttypes=info.warn_evttypes,
                skip_if_unknown_filter=info.skip_if_unknown_filter,
                location=info.location,
                output_text=info.output,
                cond_text=info.cond,
                threshold=info.threshold,
            )
        )
    for name, m in col.macros.items():
        if not m.used and m.cond is not None:
            col.warn(f"macro '{name}' is never used", m.location, "unused-macro")
    used_lists = _lists_used(col)
    for name, li in col.lists.items():
        if name not in used_lists and not li.broken:
            col.warn(f"list '{name}' is never used", li.location, "unused-list")
    col.warnings = [
        Diagnostic(_escape(w.message), w.location, w.code) if _needs_escape(w.message) else w
        for w in col.warnings
    ]
    if col.errors:
        # Every stage in one run: the rules that did load are compiled too, so unknown
        # fields and bad output tokens are reported with the file's other errors, not
        # one round of fixes later.
        col.errors.extend(_compile_errors(rules, col.engine_version))
        raise RuleLoadErrors(
            [_one_line(e) for e in _in_file_order(col.errors, files)], col.warnings
        )
    return RuleSet(
        rules=rules,
        lists={n: res.list_items(n) or [] for n in col.lists},
        macros={n: m.ast for n, m in col.macros.items() if m.ast is not None},
        warnings=col.warnings,
        files=files,
        required_engine_version=col.engine_version,
    )


def _compile_errors(rules: list[Rule], version: tuple[int, int, int] | None) -> list[LannerError]:
    """The errors compiling ``rules`` for the built-in sources reports (rules of other
    sources are skipped, as compiling skips them)."""
    from lanner.engine import Engine  # the engine imports this module
    from lanner.sources.catalog import builtin_sources

    partial = RuleSet(rules, {}, {}, [], [], version)
    try:
        Engine(partial, builtin_sources())
    except RuleLoadErrors as exc:
        return list(exc.errors)
    return []


_DELIMS = re.compile(r"[ \t\n\r(),=]+")


def _lists_used(col: _Collector) -> set[str]:
    """Lists Falco counts as used: named in any macro's or rule's condition or exception
    (as a word between blanks, parentheses, commas or '='), or expanded in another list."""
    words: set[str] = set()
    for r in col.rules.values():
        if r.cond is not None:
            words.update(_DELIMS.split(r.cond.text))
        for e in r.exceptions:
            # Pasted into the condition: '(shells)' names the list as 'shells' does.
            for value in _strings_in(e.values):
                words.update(_DELIMS.split(value))
    for m in col.macros.values():
        if m.cond is not None:
            words.update(_DELIMS.split(m.cond.text))
    used = {n for n, li in col.lists.items() if n in words or li.used}
    for info in col.lists.values():
        for item in info.items:
            sub = col.lists.get(item)
            if sub is not None and sub.order < info.visibility and sub is not info:
                used.add(item)
    return used


def _strings_in(v: Any) -> Iterable[str]:
    if isinstance(v, list):
        for x in v:
            yield from _strings_in(x)
    elif isinstance(v, str):
        yield v


def _in_file_order(errors: list[LannerError], files: list[str]) -> list[LannerError]:
    """Errors sorted by file (in load order), line and column; the sort is stable."""
    rank = {f: i for i, f in enumerate(files)}

    def key(e: LannerError) -> tuple[int, int, int]:
        loc = e.location or Location()
        return rank.get(loc.file or "", -1), loc.line, loc.col

    return sorted(errors, key=key)


# Names and values in messages come from the file; a line break in one must not
# split a "FILE:LINE:COL: error: ..." line.
_CONTROL = {i: f"\\x{i:02x}" for i in range(32)} | {
    0x0A: "\\n",
    0x0D: "\\r",
    0x09: "\\t",
    0x7F: "\\x7f",
    0x85: "\\x85",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def _needs_escape(message: str) -> bool:
    return len(message.splitlines()) > 1 or any(ord(c) in _CONTROL for c in message)


def _escape(message: str) -> str:
    return message.translate(_CONTROL)


def _one_line(e: LannerError) -> LannerError:
    if not _needs_escape(e.message):
        return e
    clone = e.with_location(e.location) if e.location is not None else e
    clone.message = _escape(e.message)
    Exception.__init__(clone, clone.message)
    return clone
