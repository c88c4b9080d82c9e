"""An alert as delivery reads it: Falco's JSON alert schema, checked at the trust boundary.

Alerts reach delivery from our own detectors, from Falco and Falcosidekick (the intake),
from ``lanner notify``'s input, and from SQS. All of them are parsed here, with size and
depth bounded before anything else looks at them; ``AlertError`` says what is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from deliver.where import Where, alert_uuid, where_of, workload_of
from lanner import Priority, boundedjson

MAX_ALERT_BYTES = 256 * 1024  # SNS's message limit: nothing larger ever reaches a topic
MAX_DEPTH = 32
# MITRE ATT&CK technique ids as Falco's rules tag them (T1059, T1059.004).
_ATTACK = re.compile(r"^T\d{4}(?:\.\d{3})?$")


class AlertError(ValueError):
    """Input that is not a Falco alert; the message says why."""


class Repeat(BaseModel):
    """How often an incident happened in one deduplication window (summaries only)."""

    model_config = ConfigDict(extra="ignore")

    count: int = Field(ge=1)
    hosts: int = Field(ge=0)
    host_names: list[str] = Field(default_factory=list, max_length=100)
    first_seen: str
    last_seen: str
    window_seconds: int = Field(ge=0)


class FalcoAlert(BaseModel):
    """Falco's JSON output (``json_output: true``), Falcosidekick's payload, and ours."""

    model_config = ConfigDict(extra="allow")

    rule: str = Field(min_length=1, max_length=4096)
    priority: Priority
    output: str = ""
    time: str = ""
    source: str = ""
    hostname: str = ""
    tags: list[str] = Field(default_factory=list)
    output_fields: dict[str, Any] = Field(default_factory=dict)
    uuid: str | None = None
    repeat: Repeat | None = None

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: Any) -> Priority:
        if isinstance(value, Priority):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 7:
            return Priority(value)  # Falcosidekick's numeric form
        return Priority.parse(str(value))

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("output_fields", mode="before")
    @classmethod
    def _fields(cls, value: Any) -> Any:
        return {} if value is None else value


@dataclass(frozen=True, slots=True)
class DeliveryAlert:
    """A checked alert: the document as received (what a webhook is sent) and typed views."""

    doc: dict[str, Any]
    rule: str
    priority: Priority
    output: str
    time: str
    source: str
    hostname: str
    tags: tuple[str, ...]
    fields: dict[str, Any]
    uuid: str
    where: Where
    repeat: Repeat | None

    @property
    def attack_ids(self) -> tuple[str, ...]:
        return tuple(t for t in self.tags if _ATTACK.match(t))

    @property
    def message(self) -> str:
        """The output without Falco's ``HH:MM:SS.nnnnnnnnn: Priority`` prefix."""
        head, sep, rest = self.output.partition(": ")
        if sep and head[:2].isdigit() and ":" in head:
            word, _, tail = rest.partition(" ")
            if word.lower() == str(self.priority).lower():
                return tail
        return self.output

    @property
    def is_summary(self) -> bool:
        return self.repeat is not None

    def to_json(self) -> str:
        return json.dumps(self.doc, separators=(",", ":"), ensure_ascii=False, default=str)


def _where(model: FalcoAlert) -> Where:
    where = where_of(model.hostname, model.output_fields, model.source)
    if model.repeat is not None and model.repeat.hosts > 1:
        where = _several(where, model.repeat.hosts)
    return where


def _several(where: Where, hosts: int) -> Where:
    """Where a summary over several hosts happened: no one node, the workload's pods."""
    pod = f"{workload_of(where.pod)}-*" if where.pod else ""
    return replace(where, node="", pod=pod, hosts=hosts)


def checked_alert(doc: dict[str, Any]) -> DeliveryAlert:
    """An alert document whose rule and priority the publisher has checked already (our
    engine's alerts, node alerts through ``AlertMessage.of``), without the cost of the
    full validation that ``parse_alert`` gives input from outside."""
    priority = Priority.parse(str(doc["priority"]))
    fields = doc.get("output_fields")
    fields = fields if isinstance(fields, dict) else {}
    tags = doc.get("tags")
    repeat = Repeat.model_validate(doc["repeat"]) if doc.get("repeat") else None
    hostname, source = str(doc.get("hostname") or ""), str(doc.get("source") or "")
    where = where_of(hostname, fields, source)
    if repeat is not None and repeat.hosts > 1:
        where = _several(where, repeat.hosts)
    return DeliveryAlert(
        doc=doc,
        rule=str(doc["rule"]),
        priority=priority,
        output=str(doc.get("output") or ""),
        time=str(doc.get("time") or ""),
        source=source,
        hostname=hostname,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list | tuple) else (),
        fields=fields,
        uuid=str(doc.get("uuid") or alert_uuid(doc)),
        where=where,
        repeat=repeat,
    )


def parse_alert(data: bytes | str | Mapping[str, Any]) -> DeliveryAlert:
    """A Falco alert from JSON text or a decoded document; AlertError says what is wrong."""
    if isinstance(data, bytes | str):
        size = len(data.encode("utf-8", "replace") if isinstance(data, str) else data)
        if size > MAX_ALERT_BYTES:
            raise AlertError(f"alert is {size} bytes, more than {MAX_ALERT_BYTES}")
        try:
            doc = boundedjson.loads(data, max_depth=MAX_DEPTH)
        except boundedjson.JsonInputError as exc:
            bounded = str(exc).startswith(("nests", "a number"))  # JSON, but past the bounds
            raise AlertError(f"alert {exc}" if bounded else f"not JSON: {exc}") from None
    else:
        doc = dict(data)
    if not isinstance(doc, dict):
        raise AlertError(f"not a JSON object but {type(doc).__name__}")
    try:
        boundedjson.check(doc, MAX_DEPTH)
    except boundedjson.JsonInputError as exc:
        raise AlertError(f"alert {exc}") from None
    try:
        model = FalcoAlert.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "alert"
        raise AlertError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
    ident = model.uuid or alert_uuid(doc)
    doc["uuid"] = ident
    doc["priority"] = str(model.priority)
    tags = tuple(str(t) for t in model.tags)
    return DeliveryAlert(
        doc=doc,
        rule=model.rule,
        priority=model.priority,
        output=model.output,
        time=model.time,
        source=model.source,
        hostname=model.hostname,
        tags=tags,
        fields=model.output_fields,
        uuid=ident,
        where=_where(model),
        repeat=model.repeat,
    )
