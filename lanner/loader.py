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

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanner.condition.ast import (
    And,
    Compare,
    Const,
    Expr,
    FieldRef,
    FieldValue,
    ListLit,
    ListRef,
    Literal,
    MacroRef,
    Not,
    Or,
    Pos,
    Transform,
)
from lanner.condition.parser import parse_condition, parse_output_field
from lanner.errors import (
    ConditionSyntaxError,
    Diagnostic,
    LannerError,
    Location,
    RuleFileError,
    RuleLoadErrors,
)
from lanner.priority import Priority
from lanner.yamlpos import Item, Scalar, parse_items

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
            "capture",
            "capture_duration",
            "source",
        }
    ),
    "macro": frozenset({"condition"}),
    "list": frozenset({"items"}),
}
EXCEPTION_OPS = frozenset(
    {
        "=",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "contains",
        "icontains",
        "bcontains",
        "startswith",
        "bstartswith",
        "endswith",
        "glob",
        "iglob",
        "regex",
        "in",
        "intersects",
        "pmatch",
    }
)
_LIST_OPS = frozenset({"in", "intersects", "pmatch"})
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
        return cls(str(scalar.value), [(0, scalar)])

    def append(self, scalar: Scalar) -> None:
        # Falco joins an appended condition or output with one space.
        self.text += " "
        self.parts.append((len(self.text), scalar))
        self.text += str(scalar.value)

    def locate(self, offset: int) -> Location:
        start, scalar = self.parts[0]
        for s, sc in self.parts:
            if s <= offset:
                start, scalar = s, sc
        return scalar.locate(offset - start)


@dataclass
class ListInfo:
    name: str
    items: list[str]
    location: Location
    order: int
    visibility: int = 0
    used: bool = False


@dataclass
class MacroInfo:
    name: str
    cond: Text
    location: Location
    order: int
    visibility: int = 0
    used: bool = False
    ast: Expr | None = None
    resolving: bool = False


@dataclass
class ExceptionInfo:
    name: str
    fields: list[str] | str | None
    comps: list[str] | str | None
    values: list[Any]
    location: Location
    fields_scalar: Scalar | None = None


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
    tags: list[str] = field(default_factory=list)
    enabled: bool = True
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    capture: bool = False
    capture_duration: int = 0


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


@dataclass
class RuleSet:
    """Everything loaded from a set of rule files, resolved and ready to compile."""

    rules: list[Rule]
    lists: dict[str, list[str]]
    macros: dict[str, Expr]
    warnings: list[Diagnostic]
    files: list[str]
    required_engine_version: tuple[int, int, int] | None = None
    # Where each syntax-tree node came from, for errors found while compiling.
    node_locations: dict[int, Location] = field(default_factory=dict)

    def sources(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.rules:
            seen.setdefault(r.source, None)
        return list(seen)


# --- stage 1: collect ----------------------------------------------------------------------


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
        try:
            items = parse_items(text, name)
        except RuleFileError as exc:
            self.errors.append(exc)
            return
        for item in items:
            self.add_item(item)

    def add_item(self, item: Item) -> None:
        f = item.fields
        if "rule" in f:
            self._rule(item)
        elif "macro" in f:
            self._macro(item)
        elif "list" in f:
            self._list(item)
        elif "required_engine_version" in f:
            self._engine_version(f["required_engine_version"])
        elif "required_plugin_versions" in f:
            self._plugin_versions(f["required_plugin_versions"])
        else:
            keys = ", ".join(sorted(f)) or "nothing"
            self.warn(f"unknown top-level item ({keys}); skipped", item, "unknown-item")

    def _unknown_keys(self, item: Item, allowed: frozenset[str], kind: str) -> None:
        for key, sc in item.fields.items():
            if key not in allowed:
                self.warn(f"unknown key '{key}' in {kind}; ignored", sc, "unknown-key")

    def _name(self, item: Item, key: str) -> str | None:
        sc = item.fields[key]
        if not isinstance(sc.value, str) or not sc.value.strip():
            self.error(f"'{key}' must be a non-empty string", sc)
            return None
        return sc.value

    def _str(self, item: Item, key: str) -> Scalar | None:
        sc = item.fields.get(key)
        if sc is None:
            return None
        if isinstance(sc.value, bool) or sc.value is None or isinstance(sc.value, list | dict):
            self.error(f"'{key}' must be a string", sc)
            return None
        return sc

    def _bool(self, item: Item, key: str, default: bool) -> bool:
        sc = item.fields.get(key)
        if sc is None:
            return default
        if not isinstance(sc.value, bool):
            self.error(f"'{key}' must be true or false", sc)
            return default
        return sc.value

    def _merge_mode(self, item: Item, kind: str) -> tuple[bool, dict[str, str]]:
        """(append?, override map key -> 'append'|'replace'), validated."""
        append = self._bool(item, "append", False)
        ov: dict[str, str] = {}
        sc = item.fields.get("override")
        if sc is None:
            return append, ov
        if append:
            self.error("'append' and 'override' cannot be used together", sc)
            return False, ov
        if not isinstance(sc.value, dict):
            self.error("'override' must map keys to 'append' or 'replace'", sc)
            return False, ov
        for key, mode in sc.value.items():
            if mode == "append":
                allowed = OVERRIDE_APPENDABLE[kind]
            elif mode == "replace":
                allowed = OVERRIDE_REPLACEABLE[kind]
            else:
                self.error(f"override of '{key}' must be 'append' or 'replace', not '{mode}'", sc)
                continue
            if key not in allowed:
                self.error(f"key '{key}' cannot be overridden with '{mode}' in a {kind}", sc)
                continue
            if key not in item.fields:
                self.error(f"'override' names '{key}' but the {kind} does not define it", sc)
                continue
            ov[key] = mode
        for key in item.fields:
            if key in (kind, "override") or key in ov:
                continue
            if key in OVERRIDE_REPLACEABLE[kind] | OVERRIDE_APPENDABLE[kind]:
                self.error(
                    f"key '{key}' is defined but not listed under 'override'",
                    item.fields[key],
                )
        return False, ov

    # -- list --

    def _list(self, item: Item) -> None:
        self._unknown_keys(item, LIST_KEYS, "list")
        name = self._name(item, "list")
        if name is None:
            return
        sc = item.fields.get("items")
        if sc is None:
            self.error(f"list '{name}' has no 'items'", item)
            return
        values = sc.value if sc.value is not None else []
        if not isinstance(values, list) or any(isinstance(v, list | dict) for v in values):
            self.error(f"'items' of list '{name}' must be a sequence of values", sc)
            return
        items = [_scalar_text(v) for v in values]
        append, ov = self._merge_mode(item, "list")
        if append or ov.get("items") == "append":
            prev = self.lists.get(name)
            if prev is None:
                self.error(f"list '{name}' has 'append' but no list by that name exists", item)
                return
            prev.items.extend(items)
            prev.visibility = self.next_order()
            return
        prev = self.lists.get(name)
        if prev is not None:
            prev.items = items
            prev.location = item.location
            prev.visibility = self.next_order()
        else:
            order = self.next_order()
            self.lists[name] = ListInfo(name, items, item.location, order, order)

    # -- macro --

    def _macro(self, item: Item) -> None:
        self._unknown_keys(item, MACRO_KEYS, "macro")
        name = self._name(item, "macro")
        if name is None:
            return
        sc = self._str(item, "condition")
        if sc is None:
            if "condition" not in item.fields:
                self.error(f"macro '{name}' has no 'condition'", item)
            return
        append, ov = self._merge_mode(item, "macro")
        prev = self.macros.get(name)
        if append or ov.get("condition") == "append":
            if prev is None:
                self.error(f"macro '{name}' has 'append' but no macro by that name exists", item)
                return
            prev.cond.append(sc)
            prev.visibility = self.next_order()
            return
        if prev is not None:
            prev.cond = Text.of(sc)
            prev.location = item.location
            prev.visibility = self.next_order()
        else:
            order = self.next_order()
            self.macros[name] = MacroInfo(name, Text.of(sc), item.location, order, order)

    # -- rule --

    def _rule(self, item: Item) -> None:
        self._unknown_keys(item, RULE_KEYS, "rule")
        name = self._name(item, "rule")
        if name is None:
            return
        append, ov = self._merge_mode(item, "rule")
        prev = self.rules.get(name)
        if append or ov:
            if prev is None:
                self.error(f"rule '{name}' has 'append' but no rule by that name exists", item)
                return
            self._merge_rule(prev, item, append, ov)
            return
        keys = set(item.fields) - {"rule"}
        if keys <= {"enabled"} and keys:
            # Falco's short form: an existing rule switched on or off.
            self.warn(
                "a rule item with only 'enabled' is deprecated: use "
                "'override: {enabled: replace}'",
                item,
                "deprecated",
            )
            if prev is None:
                self.error(f"rule '{name}' sets 'enabled' but no rule by that name exists", item)
                return
            prev.enabled = self._bool(item, "enabled", prev.enabled)
            return
        info = RuleInfo(name, item.location, prev.order if prev else self.next_order())
        missing = [k for k in ("condition", "output", "desc", "priority") if k not in item.fields]
        if missing:
            self.error(f"rule '{name}' is missing required key(s): {', '.join(missing)}", item)
            return
        self._fill_rule(info, item, replace_all=True)
        if prev is not None and prev.source != info.source:
            self.error(
                f"rule '{name}' is redefined with source '{info.source}' "
                f"but was defined with source '{prev.source}'",
                item,
            )
            return
        self.rules[name] = info

    def _fill_rule(
        self, info: RuleInfo, item: Item, replace_all: bool, keys: Iterable[str] | None = None
    ) -> None:
        f = item.fields
        wanted = set(f) if keys is None else set(keys)
        if "condition" in wanted and (sc := self._str(item, "condition")):
            info.cond = Text.of(sc)
        if "output" in wanted and (sc := self._str(item, "output")):
            info.output = Text.of(sc)
        if "desc" in wanted and (sc := self._str(item, "desc")):
            info.desc = str(sc.value)
        if "priority" in wanted and (sc := self._str(item, "priority")):
            try:
                info.priority = Priority.parse(str(sc.value))
            except ValueError as exc:
                self.error(str(exc), sc)
        if "source" in wanted and (sc := self._str(item, "source")):
            info.source = str(sc.value)
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
            v = f["capture_duration"].value
            if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
                info.capture_duration = v
            else:
                self.error("'capture_duration' must be a non-negative integer", f["capture_duration"])
        if "exceptions" in wanted:
            info.exceptions = self._exceptions(f["exceptions"], info.name, require_fields=True)

    def _tags(self, sc: Scalar) -> list[str]:
        if sc.value is None:
            return []
        if not isinstance(sc.value, list) or any(isinstance(t, list | dict) for t in sc.value):
            self.error("'tags' must be a list of strings", sc)
            return []
        return [_scalar_text(t) for t in sc.value]

    def _merge_rule(self, prev: RuleInfo, item: Item, append: bool, ov: dict[str, str]) -> None:
        f = item.fields
        if append:
            self.warn(
                "'append' is deprecated: list the keys to append under 'override' instead "
                "(e.g. 'override: {condition: append}')",
                item,
                "deprecated",
            )
            # Falco's legacy append only ever extended the condition and the exceptions.
            ov = {k: "append" for k in ("condition", "exceptions") if k in f}
            if not ov:
                self.error(f"appended rule '{prev.name}' has neither 'condition' nor 'exceptions'", item)
            for k in f:
                if k not in ("rule", "append", "condition", "exceptions"):
                    self.warn(f"key '{k}' is ignored in an 'append: true' rule", f[k], "ignored-key")
        for key, mode in ov.items():
            if mode == "replace":
                self._fill_rule(prev, item, replace_all=False, keys=[key])
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
                prev.desc = f"{prev.desc} {sc.value}".strip()
            elif key == "tags":
                for t in self._tags(f["tags"]):
                    if t not in prev.tags:
                        prev.tags.append(t)
            elif key == "exceptions":
                self._append_exceptions(prev, f["exceptions"])

    # -- exceptions --

    def _exceptions(self, sc: Scalar, rule: str, require_fields: bool) -> list[ExceptionInfo]:
        if sc.value is None:
            return []
        if not isinstance(sc.value, list):
            self.error(f"'exceptions' of rule '{rule}' must be a list", sc)
            return []
        out: list[ExceptionInfo] = []
        seq = sc.node.value  # type: ignore[attr-defined]
        for i, raw in enumerate(sc.value):
            node = seq[i]
            loc = Location(sc.file, node.start_mark.line + 1, node.start_mark.column + 1)
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                self.error(f"each exception of rule '{rule}' needs a 'name'", loc)
                continue
            unknown = set(raw) - {"name", "fields", "comps", "values"}
            for k in sorted(unknown):
                self.warn(f"unknown key '{k}' in exception '{raw['name']}'; ignored", loc)
            exc = ExceptionInfo(
                raw["name"], raw.get("fields"), raw.get("comps"), raw.get("values") or [], loc
            )
            if self._check_exception(exc, rule, require_fields):
                out.append(exc)
        return out

    def _check_exception(self, e: ExceptionInfo, rule: str, require_fields: bool) -> bool:
        where = f"exception '{e.name}' of rule '{rule}'"
        if e.fields is None:
            if require_fields:
                self.error(f"{where} has no 'fields'", e.location)
                return False
            return True
        if isinstance(e.fields, str):
            if e.comps is not None and not isinstance(e.comps, str):
                self.error(f"{where}: 'fields' is one field, so 'comps' must be one operator", e.location)
                return False
            comp = e.comps or "in"
            if comp not in _LIST_OPS:
                self.error(
                    f"{where}: when 'fields' is one field, 'comps' must be one of "
                    f"in, pmatch, intersects (got '{comp}')",
                    e.location,
                )
                return False
            if not isinstance(e.values, list):
                self.error(f"{where}: 'values' must be a list", e.location)
                return False
            return True
        if not isinstance(e.fields, list) or not all(isinstance(x, str) for x in e.fields):
            self.error(f"{where}: 'fields' must be a field name or a list of them", e.location)
            return False
        comps = e.comps if e.comps is not None else ["="] * len(e.fields)
        if not isinstance(comps, list) or len(comps) != len(e.fields):
            self.error(
                f"{where}: 'fields' and 'comps' must have the same number of entries", e.location
            )
            return False
        for c in comps:
            if c not in EXCEPTION_OPS:
                self.error(f"{where}: unknown comparison operator '{c}'", e.location)
                return False
        e.comps = comps
        if not isinstance(e.values, list):
            self.error(f"{where}: 'values' must be a list", e.location)
            return False
        for v in e.values:
            if not isinstance(v, list) or len(v) != len(e.fields):
                self.error(
                    f"{where}: each entry of 'values' must be a list of {len(e.fields)} value(s), "
                    f"one per field; got {v!r}",
                    e.location,
                )
                return False
        return True

    def _append_exceptions(self, prev: RuleInfo, sc: Scalar) -> None:
        by_name = {e.name: e for e in prev.exceptions}
        for e in self._exceptions(sc, prev.name, require_fields=False):
            old = by_name.get(e.name)
            if old is None:
                if e.fields is None or not e.values:
                    self.error(
                        f"exception '{e.name}' appended to rule '{prev.name}' is new, "
                        "so it needs 'fields' and 'values'",
                        e.location,
                    )
                    continue
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
            probe = ExceptionInfo(e.name, old.fields, old.comps, e.values, e.location)
            if self._check_exception(probe, prev.name, require_fields=True):
                old.values = list(old.values) + list(e.values)

    # -- versions --

    def _engine_version(self, sc: Scalar) -> None:
        v = sc.value
        try:
            if isinstance(v, int) and not isinstance(v, bool):
                req = (0, v, 0)
            else:
                parts = [int(p) for p in str(v).strip().split(".")]
                if len(parts) != 3:
                    raise ValueError
                req = (parts[0], parts[1], parts[2])
        except ValueError:
            self.error(f"required_engine_version '{v}' is not a number or a semantic version", sc)
            return
        if req > ENGINE_VERSION:
            have = ".".join(map(str, ENGINE_VERSION))
            self.error(
                f"rules require engine version {'.'.join(map(str, req))}, lanner implements {have}",
                sc,
            )
        if self.engine_version is None or req > self.engine_version:
            self.engine_version = req

    def _plugin_versions(self, sc: Scalar) -> None:
        if not isinstance(sc.value, list):
            self.error("required_plugin_versions must be a list of {name, version}", sc)
            return
        for entry in sc.value:
            if not isinstance(entry, dict) or "name" not in entry or "version" not in entry:
                self.error("each required plugin needs 'name' and 'version'", sc)
                continue
            choices = [entry] + [a for a in entry.get("alternatives") or [] if isinstance(a, dict)]
            ok = False
            for c in choices:
                have = PROVIDED_PLUGINS.get(str(c.get("name")))
                try:
                    want = tuple(int(x) for x in str(c.get("version")).split("."))
                except ValueError:
                    self.error(f"plugin version '{c.get('version')}' is not a semantic version", sc)
                    ok = True
                    break
                if have is not None and have[0] == want[0] and have >= want:
                    ok = True
                    break
            if not ok:
                self.warn(
                    f"plugin '{entry['name']}' {entry['version']} is required; lanner provides "
                    "its own fields instead of plugins, and has no equivalent for this one",
                    sc,
                    "plugin-version",
                )


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


_SIMPLE_VALUE = re.compile(r"^[^\s(),=\"']+$")


class _Resolver:
    def __init__(self, col: _Collector) -> None:
        self.col = col
        self.lists: dict[str, list[str]] = {}
        self.node_locations: dict[int, Location] = {}

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
        info.used = True
        out: list[str] = []
        for item in info.items:
            sub = self.col.lists.get(item)
            if sub is not None and sub.order < info.visibility and sub is not info:
                sub.used = True
                out.extend(sub.items)
            else:
                out.append(item)
        self.lists[name] = out
        return out

    # -- conditions --

    def parse(self, text: Text, what: str) -> Expr | None:
        try:
            return parse_condition(text.text)
        except ConditionSyntaxError as exc:
            off = _offset_of(text.text, exc.location)
            self.col.errors.append(
                ConditionSyntaxError(f"{what}: {exc.message}", text.locate(off))
            )
            return None

    def macro(self, name: str, visibility: int | None) -> Expr | None:
        info = self.col.macros.get(name)
        if info is None or (visibility is not None and info.order >= visibility):
            # A macro sees only macros defined before its own (last) definition.
            return None
        info.used = True
        if info.ast is not None:
            return info.ast
        if info.resolving:
            self.col.error(f"macro '{name}' refers to itself", info.location)
            return Const(False)
        info.resolving = True
        try:
            parsed = self.parse(info.cond, f"in macro '{name}'")
            info.ast = (
                Const(False) if parsed is None else self.resolve(parsed, info.cond, info.visibility)
            )
        finally:
            info.resolving = False
        return info.ast

    def resolve(self, e: Expr, text: Text, visibility: int | None = None) -> Expr:
        """Inlines macros and expands list names; records each node's file location.

        ``visibility`` limits which macros are visible (for a macro's body); rules
        see every macro.
        """
        out: Expr
        match e:
            case And(children=cs):
                out = And(tuple(self.resolve(c, text, visibility) for c in cs), e.pos)
            case Or(children=cs):
                out = Or(tuple(self.resolve(c, text, visibility) for c in cs), e.pos)
            case Not(child=c):
                out = Not(self.resolve(c, text, visibility), e.pos)
            case MacroRef(name=name):
                found = self.macro(name, visibility)
                if found is None:
                    self.col.errors.append(
                        RuleFileError(f"undefined macro '{name}'", text.locate(e.pos.offset))
                    )
                    return Const(False)
                return found
            case Compare():
                out = self._compare(e, text)
            case _:
                out = e
        self.node_locations.setdefault(id(out), text.locate(e.pos.offset))
        return out

    def _compare(self, c: Compare, text: Text) -> Compare:
        self._locate_values(c, text)
        rhs = c.rhs
        if isinstance(rhs, ListRef):
            items = self.list_items(rhs.name)
            if items is None:
                self.col.errors.append(
                    RuleFileError(f"undefined list '{rhs.name}'", text.locate(rhs.pos.offset))
                )
                items = []
            new = ListLit(tuple(self._item(i, rhs, text) for i in items), rhs.pos)
            self.node_locations[id(new)] = text.locate(rhs.pos.offset)
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
                    expanded.extend(self._item(i, lit, text) for i in items)
            if changed:
                new = ListLit(tuple(expanded), rhs.pos)
                self.node_locations[id(new)] = text.locate(rhs.pos.offset)
                return Compare(c.lhs, c.op, new, c.modifier, c.pos)
        return c

    def _item(self, item: str, ref: Any, text: Text) -> Literal:
        """A list item as the value it stands for in a condition.

        Falco pastes list items into the condition text, so an item written
        with quotes (``'"10.0.0.0/8"'``) means the unquoted value.
        """
        lit = Literal(_unquote(item), ref.pos)
        self.node_locations[id(lit)] = text.locate(ref.pos.offset)
        return lit

    def _locate_values(self, c: Compare, text: Text) -> None:
        """Remember where the operands are: unknown fields and bad values point at them."""
        for node in _operand_nodes(c):
            self.node_locations.setdefault(id(node), text.locate(node.pos.offset))

    # -- exceptions --

    def exceptions_expr(self, rule: RuleInfo, text: Text) -> Expr | None:
        clauses: list[Expr] = []
        for e in rule.exceptions:
            if not e.values:
                continue
            try:
                clause = self._exception(e)
            except LannerError as exc:
                self.col.errors.append(
                    RuleFileError(f"exception '{e.name}' of rule '{rule.name}': {exc.message}", e.location)
                )
                continue
            for node in _walk(clause):
                self.node_locations.setdefault(id(node), e.location)
            clauses.append(Not(clause))
        if not clauses:
            return None
        return And(tuple(clauses)) if len(clauses) > 1 else clauses[0]

    def _exception(self, e: ExceptionInfo) -> Expr:
        if isinstance(e.fields, str):
            lhs = _field_expr(e.fields)
            comp = e.comps if isinstance(e.comps, str) else "in"
            comp = "=" if comp == "==" else comp
            vals = [_scalar_text(v) for v in e.values]
            if comp in _LIST_OPS:
                return self._compare(
                    Compare(lhs, comp, ListLit(tuple(Literal(v) for v in vals))), _NO_TEXT
                )
            return _or([self._single(lhs, comp, v) for v in vals])
        assert isinstance(e.fields, list) and isinstance(e.comps, list)
        alts: list[Expr] = []
        for row in e.values:
            terms: list[Expr] = []
            for fname, comp, value in zip(e.fields, e.comps, row, strict=True):
                lhs = _field_expr(fname)
                comp = "=" if comp == "==" else comp
                if comp in _LIST_OPS:
                    if isinstance(value, list):
                        lit = ListLit(tuple(Literal(_scalar_text(v)) for v in value))
                        terms.append(self._compare(Compare(lhs, comp, lit), _NO_TEXT))
                    else:
                        # A bare value with a list operator names a list (or is one item).
                        v = _scalar_text(value)
                        lit = ListLit((Literal(v),))
                        terms.append(self._compare(Compare(lhs, comp, lit), _NO_TEXT))
                else:
                    if isinstance(value, list):
                        raise RuleFileError(
                            f"operator '{comp}' of field '{fname}' takes one value, not a list"
                        )
                    terms.append(self._single(lhs, comp, _scalar_text(value)))
            alts.append(terms[0] if len(terms) == 1 else And(tuple(terms)))
        return _or(alts)

    def _single(self, lhs: FieldRef | Transform, comp: str, value: str) -> Expr:
        # A value naming a macro-free list is still just a value here, as in Falco.
        return Compare(lhs, comp, Literal(value))


class _NoText(Text):
    def locate(self, offset: int) -> Location:
        return Location()


_NO_TEXT = _NoText("", [])


def _or(alts: list[Expr]) -> Expr:
    if not alts:
        return Const(False)
    return alts[0] if len(alts) == 1 else Or(tuple(alts))


def _field_expr(text: str) -> FieldRef | Transform:
    try:
        expr, end = parse_output_field(text.strip(), 0)
    except ConditionSyntaxError:
        raise RuleFileError(f"'{text}' is not a field name") from None
    if end != len(text.strip()):
        raise RuleFileError(f"'{text}' is not a field name")
    return expr


def _operand_nodes(c: Compare) -> list[Any]:
    out: list[Any] = []

    def value(v: Any) -> None:
        out.append(v)
        if isinstance(v, Transform):
            for a in v.args:
                value(a)
        elif isinstance(v, FieldValue):
            value(v.expr)
        elif isinstance(v, ListLit):
            out.extend(v.items)

    value(c.lhs)
    if c.rhs is not None:
        value(c.rhs)
    return out


def _walk(e: Any) -> Iterable[Any]:
    yield e
    match e:
        case And(children=cs) | Or(children=cs):
            for c in cs:
                yield from _walk(c)
        case Not(child=c):
            yield from _walk(c)
        case Compare():
            yield from _operand_nodes(e)


def _offset_of(text: str, loc: Location | None) -> int:
    """The offset of a 1-based (line, col) inside ``text``."""
    if loc is None or loc.line <= 0:
        return 0
    lines = text.split("\n")
    off = sum(len(line) + 1 for line in lines[: loc.line - 1])
    return min(len(text), off + max(0, loc.col - 1))


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
                col.errors.append(RuleFileError("no *.yaml rules files in directory", Location(str(path))))
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            col.errors.append(RuleFileError("no such file or directory", Location(str(path))))
    return out


def _resolve(col: _Collector, files: list[str]) -> RuleSet:
    res = _Resolver(col)
    rules: list[Rule] = []
    for info in sorted(col.rules.values(), key=lambda r: r.order):
        if info.cond is None or info.output is None:
            col.error(f"rule '{info.name}' has no condition or output", info.location)
            continue
        parsed = res.parse(info.cond, f"in rule '{info.name}'")
        if parsed is None:
            continue
        cond = res.resolve(parsed, info.cond)
        exc = res.exceptions_expr(info, info.cond)
        if exc is not None:
            cond = And((cond, exc))
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
            )
        )
    # Macros no rule reached are still parsed and resolved, so their errors show.
    for name, m in col.macros.items():
        if m.ast is None and not m.resolving:
            was_used = m.used
            res.macro(name, None)
            m.used = was_used
    for name, m in col.macros.items():
        if not m.used:
            col.warn(f"macro '{name}' is never used", m.location, "unused-macro")
    for name, li in col.lists.items():
        res.list_items(name)
    used_lists = _lists_used(col, res)
    for name, li in col.lists.items():
        if name not in used_lists:
            col.warn(f"list '{name}' is never used", li.location, "unused-list")
    if col.errors:
        raise RuleLoadErrors(col.errors)
    return RuleSet(
        rules=rules,
        lists={n: res.lists.get(n, li.items) for n, li in col.lists.items()},
        macros={n: m.ast for n, m in col.macros.items() if m.ast is not None},
        warnings=col.warnings,
        files=files,
        required_engine_version=col.engine_version,
        node_locations=res.node_locations,
    )


def _lists_used(col: _Collector, res: _Resolver) -> set[str]:
    """Lists referenced by a used macro, a rule, an exception, or another used list."""
    used: set[str] = set()
    texts = [r.cond.text for r in col.rules.values() if r.cond]
    texts += [m.cond.text for m in col.macros.values() if m.used]
    for r in col.rules.values():
        for e in r.exceptions:
            texts.append(repr(e.values))
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.\-]*", " ".join(texts)))
    frontier = [n for n in col.lists if n in words]
    while frontier:
        n = frontier.pop()
        if n in used:
            continue
        used.add(n)
        frontier.extend(i for i in col.lists[n].items if i in col.lists)
    return used
