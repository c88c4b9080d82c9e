"""``lanner sensor --config FILE``: the sensor's options in a YAML file.

The file is one YAML mapping; each key is the long name of a ``lanner sensor`` option
without its ``--`` (``spool-max-mb``, ``kinesis-stream``...), ``rules`` is ``-r``, and
``only-tags`` and ``disabled-tags`` are ``-t`` and ``-T``. A value is a string, a number, a
boolean (``true``/``false``, also ``yes``/``no``, ``on``/``off``) or, for ``rules``,
``only-tags`` and ``disabled-tags``, a list (or one string). ``null``, or nothing after the
colon, is "none" where the option may be absent (``kinesis-stream``, ``record``...).
Relative paths are relative to the file's folder, not to the working directory. Example
(the DaemonSet's ConfigMap mounts it at ``/etc/lanner/sensor.yaml``)::

    # lanner sensor --config /etc/lanner/sensor.yaml
    rules:                          # -r, in this order; a folder means its *.yaml files
      - /etc/lanner/rules/
    min-priority: notice
    json: true
    metrics-listen: 0.0.0.0:9376
    kinesis-stream: lanner-events
    spool-dir: /var/lib/lanner/spool
    spool-max-mb: 256
    k8s-api-url: https://kubernetes.default.svc
    disabled-tags: [mitre_discovery]    # -T; or only-tags: [...] for -t (not both)

Every key: rules, json, record, min-priority, duration, host-root, heartbeat,
k8s-api-url, k8s-token, k8s-ca, node-name, kubelet-url, kubelet-token, kubelet-ca,
metrics-listen, only-tags, disabled-tags, kinesis-stream, spool-dir, spool-max-mb,
no-prefilter. ``check`` and ``config`` are commands, not settings, and
``kubelet-insecure`` is gone: each is refused with the reason.

Precedence: an option given on the command line wins over the file, the file over the
option's default. A list given on the command line (``-r``, ``-t``, ``-T``) replaces the
file's, as Falco's ``-r`` replaces its ``rules_files``; ``only-tags`` and ``disabled-tags``
end up together only if one comes from each, which is refused like ``-t`` with ``-T``.
A flag the file turns on (``json: true``) cannot be turned off on the command line (the
flags have no ``--no-`` form). An environment variable an option reads as its default
($HOST_ROOT, $NODE_NAME, $LANNER_HEARTBEAT, $LANNER_KUBELET_URL) is a default: the file
wins over it.

Everything wrong with a file is reported at once, each problem as
``FILE:LINE:COL: error: message`` (the key's position for an unknown key, the value's for
a bad value); the file is read with a size bound and only the shape above is accepted
(no nesting, anchors or aliases), so no file can cost more than a glance.

API (pydantic is imported with this module: import it only when ``--config`` is given).
Click does the merging: the file's settings become the command's ``default_map``, which
click ranks below the command line (``ParameterSource.DEFAULT_MAP``) and above the
options' own defaults. In an eager ``--config`` option's callback::

    from sensor.config import ConfigError, load_config

    try:
        config = load_config(value)              # SensorConfig; ConfigError: every problem
    except ConfigError as exc:
        ...                                      # print exc.lines (inert already), exit 2
    ctx.default_map = {**(ctx.default_map or {}), **config.default_map()}

``default_map()`` is keyed by the command's parameter names (``PARAMETERS`` maps the
file's keys to them), with the values click's option types then check again.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from deliver.inert import inert
from lanner import Location, Priority
from sensor.listen import parse_listen

MAX_CONFIG_BYTES = 64 * 1024
"""Largest configuration file read (a full one is under 2 KB)."""

try:  # libyaml's parser when there is one; both are iterative (no recursion on nesting)
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
# A field the file does not set stays out of ``model_fields_set``: its command-line default
# applies. The value is never read, hence None whatever the field's type.
_NOT_SET: Any = None
# Keys that name no parameter of their own spelling.
_KEYS = {"rule_paths": "rules", "as_json": "json"}
# Options that are not settings, with the reason a user is told.
_REFUSED = {
    "check": "'check' is a command (lanner sensor --check), not a setting",
    "config": "a configuration file cannot name another one",
    "kubelet-insecure": "'kubelet-insecure' was removed: it sent the service-account "
    "token to an unverified endpoint; give kubelet-ca (the cluster's CA) or use k8s-api-url",
}
# Options holding a path: a relative one is relative to the configuration file's folder.
_PATHS = frozenset(
    {
        "rule_paths",
        "record",
        "host_root",
        "heartbeat",
        "kubelet_token",
        "kubelet_ca",
        "k8s_token",
        "k8s_ca",
        "spool_dir",
    }
)


def _key(name: str) -> str:
    return _KEYS.get(name, name.replace("_", "-"))


class ConfigError(Exception):
    """The configuration file cannot be used; ``lines`` says why, one problem a line."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class SensorConfig(BaseModel):
    """The settings a file gives: field names are ``lanner sensor``'s parameter names, the
    file's keys their aliases; ``model_fields_set`` is what the file set."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=_key)

    rule_paths: tuple[str, ...] = _NOT_SET
    as_json: bool = _NOT_SET
    record: str | None = _NOT_SET
    min_priority: str = _NOT_SET
    duration: float | None = _NOT_SET
    host_root: str = _NOT_SET
    heartbeat: str = _NOT_SET
    k8s_api_url: str | None = _NOT_SET
    k8s_token: str = _NOT_SET
    k8s_ca: str = _NOT_SET
    node_name: str | None = _NOT_SET
    kubelet_url: str | None = _NOT_SET
    kubelet_token: str = _NOT_SET
    kubelet_ca: str = _NOT_SET
    metrics_listen: str | None = _NOT_SET
    only_tags: tuple[str, ...] = _NOT_SET
    disabled_tags: tuple[str, ...] = _NOT_SET
    kinesis_stream: str | None = _NOT_SET
    spool_dir: str = _NOT_SET
    spool_max_mb: int = _NOT_SET
    no_prefilter: bool = _NOT_SET

    @field_validator("rule_paths", "only_tags", "disabled_tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("min_priority")
    @classmethod
    def _priority(cls, value: str) -> str:
        return Priority.parse(value).name.lower()  # click's Choice gives the lower-case name

    @field_validator("duration")
    @classmethod
    def _seconds(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError("must be a number of seconds greater than 0")
        return value

    @field_validator("spool_max_mb")
    @classmethod
    def _megabytes(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("metrics_listen")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)  # a ListenError is a ValueError: pydantic reports it
        return value

    def default_map(self) -> dict[str, Any]:
        """What the file sets, by parameter name: click's ``default_map`` for the command."""
        return {name: getattr(self, name) for name in self.model_fields_set}


PARAMETERS: dict[str, str] = {_key(name): name for name in SensorConfig.model_fields}
"""The file's keys -> ``lanner sensor``'s parameter names (as click names them)."""


def load_config(path: str | os.PathLike[str]) -> SensorConfig:
    """The settings in the YAML file at ``path``; ConfigError lists every problem."""
    file = os.fspath(path)
    entries = _entries(_text(file), file)
    problems: list[tuple[Location, str]] = []
    known: dict[str, _Entry] = {}
    for key, entry in entries.items():
        if key in PARAMETERS:
            known[key] = entry
        elif key in _REFUSED:
            problems.append((entry.key_at, _REFUSED[key]))
        else:
            close = difflib.get_close_matches(key, list(PARAMETERS), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append((entry.key_at, f"unknown option '{key}'{hint}"))
    config = None
    try:
        config = SensorConfig.model_validate({k: e.value for k, e in known.items()})
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, known, file))
    if problems or config is None:
        problems.sort(key=lambda p: (p[0].line, p[0].col))
        raise ConfigError([_line(at, message) for at, message in problems])
    base = os.path.dirname(os.path.abspath(file))
    return config.model_copy(update=_resolved(config, base))


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    """One ``key: value`` of the file: the value as text (None for null; a list of them for
    a YAML list), and where the key, the value and each list item are."""

    key_at: Location
    value: Any
    value_at: Location
    items_at: tuple[Location, ...] = ()


class _Refused(Exception):
    def __init__(self, message: str, at: Location) -> None:
        super().__init__(message)
        self.message = message
        self.at = at


def _text(file: str) -> str:
    """The file's text, read with the size bound."""
    try:
        with open(file, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError([_line(Location(file), f"cannot read it: {exc.strerror}")]) from None
    if len(data) > MAX_CONFIG_BYTES:
        limit = f"{MAX_CONFIG_BYTES // 1024} KB"
        raise ConfigError([_line(Location(file), f"larger than {limit}: not a settings file")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([_line(Location(file), f"not UTF-8 (byte {exc.start})")]) from None


def _entries(text: str, file: str) -> dict[str, _Entry]:
    """The file's ``key: value`` entries; ConfigError for YAML that is not of the accepted
    shape (one mapping of scalars and lists of scalars) or that repeats a key."""
    entries: dict[str, _Entry] = {}
    problems: list[str] = []
    try:
        for key, entry in _walk(text, file):
            if key in entries:
                first = entries[key].key_at.line
                problems.append(_line(entry.key_at, f"'{key}' given twice (first at line {first})"))
            else:
                entries[key] = entry
    except _Refused as exc:
        problems.append(_line(exc.at, exc.message))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = _at(mark, file) if mark is not None else Location(file)
        problems.append(_line(at, f"invalid YAML: {exc.problem or exc.context}"))
    except yaml.YAMLError as exc:  # a character YAML does not allow, before any mark
        problems.append(_line(Location(file), f"invalid YAML: {exc}"))
    if problems:
        raise ConfigError(problems)
    return entries


_SHAPE = "the configuration must be a mapping of option: value"
_VALUE = "a value must be a string, a number, a boolean or a list of them"
_ITEM = "a list item must be a string, a number or a boolean"


def _walk(text: str, file: str) -> Iterator[tuple[str, _Entry]]:
    """(key, entry) for each entry, from the parser's events: the accepted shape is two
    levels deep, so anything deeper is refused at its first event, never built."""
    depth = 0  # 0: the document; 1: in its mapping; 2: in a value's list
    key: tuple[str, Location] | None = None
    items: list[tuple[Any, Location]] = []
    list_at = Location(file)
    documents = 0
    for ev in yaml.parse(text, Loader=_Loader):
        at = _at(ev.start_mark, file) if ev.start_mark is not None else Location(file)
        if isinstance(ev, yaml.StreamStartEvent | yaml.StreamEndEvent | yaml.DocumentEndEvent):
            continue
        if isinstance(ev, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _Refused("one YAML document only (a second one starts here)", at)
            continue
        if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
            raise _Refused("anchors and aliases (&name, *name) are not supported here", at)
        if isinstance(ev, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            kind = "a mapping" if isinstance(ev, yaml.MappingStartEvent) else "a list"
            if depth == 0 and kind == "a mapping":
                depth = 1
            elif depth == 0:
                raise _Refused(f"{_SHAPE}, not {kind}", at)
            elif key is None:
                raise _Refused(f"an option's name must be a name, not {kind}", at)
            elif depth == 1 and kind == "a list":
                depth, items, list_at = 2, [], at
            elif depth == 1:
                raise _Refused(f"{key[0]}: {_VALUE}, not {kind}", at)
            else:
                raise _Refused(f"{key[0]}: {_ITEM}, not {kind}", at)
        elif isinstance(ev, yaml.MappingEndEvent):
            depth = 0
        elif isinstance(ev, yaml.SequenceEndEvent):
            assert key is not None
            values = [v for v, _ in items]
            yield key[0], _Entry(key[1], values, list_at, tuple(a for _, a in items))
            depth, key = 1, None
        elif isinstance(ev, yaml.ScalarEvent):
            value = None if ev.implicit[0] and not ev.style and ev.value in _NULLS else ev.value
            if depth == 0:
                if value is not None:
                    raise _Refused(f"{_SHAPE}, not a single value", at)
            elif depth == 2:
                items.append((value, at))
            elif key is None:
                key = (str(ev.value), at)
            else:
                yield key[0], _Entry(key[1], value, at)
                key = None


def _validation_problems(
    exc: ValidationError, known: Mapping[str, _Entry], file: str
) -> list[tuple[Location, str]]:
    """pydantic's errors placed at the value (or the list item) they are about."""
    out = []
    for err in exc.errors():
        loc = err["loc"]
        key = str(loc[0]) if loc else ""
        entry = known.get(key)
        at = Location(file)
        if entry is not None:
            at = entry.value_at
            if len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(entry.items_at):
                at = entry.items_at[loc[1]]
        if err["type"] == "value_error":  # ours: the message says what is wrong
            message = str(err["msg"]).removeprefix("Value error, ")
        else:  # pydantic's: "Input should be a valid integer...", with what it got
            value = err.get("input")
            shown = " (got null)" if value is None else f" (got {value!r})"
            message = str(err["msg"]) + (shown if value is None or isinstance(value, str) else "")
        out.append((at, f"{key}: {message}"))
    return out


def _resolved(config: SensorConfig, base: str) -> dict[str, Any]:
    """The path settings made absolute against ``base`` (the file's folder)."""
    out: dict[str, Any] = {}
    for name in _PATHS & config.model_fields_set:
        value = getattr(config, name)
        if isinstance(value, tuple):
            out[name] = tuple(os.path.join(base, v) for v in value)
        elif isinstance(value, str) and value:
            out[name] = os.path.join(base, value)
    return out


def _at(mark: Any, file: str) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def _line(at: Location, message: str) -> str:
    return inert(f"{at}: error: {message}")
