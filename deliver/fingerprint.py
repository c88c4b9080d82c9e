"""The incident fingerprint: which alerts are copies of one another.

An alert's fingerprint is its rule plus the output fields that identify the incident,
not where or when it was seen: node, time, process and thread ids, container ids and
the random suffixes Kubernetes gives pod names are left out, so the same rule firing
for the same workload on every node of a DaemonSet is one incident. Which fields count
can be set per rule (``LANNER_FINGERPRINT_FIELDS``, a JSON object ``{"rule": ["field",
...]}``): delivery configuration, never the rule files, which Falco must still load.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from deliver.alert import DeliveryAlert
from deliver.where import workload_of

ENV = "LANNER_FINGERPRINT_FIELDS"

# Fields that differ between copies of one incident. Exact names, then prefixes.
VOLATILE = frozenset(
    {
        "evt.num",
        "evt.rawtime",
        "evt.rawtime.s",
        "evt.rawtime.ns",
        "evt.reltime",
        "evt.latency",
        "proc.pid",
        "proc.ppid",
        "proc.vpid",
        "proc.pvpid",
        "proc.sid",
        "proc.vpgid",
        "proc.tty",
        "thread.tid",
        "thread.vtid",
        "fd.num",
        "fd.sport",
        "fd.lport",
        "container.id",
        "k8s.pod.id",
        "k8s.pod.uid",
        "k8s.pod.ip",
        "container.ip",
        "ct.id",
        "ct.requestid",
        "ct.sharedeventid",
        "ka.auditid",
        "ka.stage",
    }
)
VOLATILE_PREFIXES = ("evt.time", "proc.pid.", "ct.time", "ka.stage")
_POD_FIELDS = ("k8s.pod.name",)


class FingerprintConfigError(ValueError):
    """``LANNER_FINGERPRINT_FIELDS`` is not a JSON object of rule -> list of field names."""


def load_overrides(text: str | None = None) -> dict[str, tuple[str, ...]]:
    """Per-rule fingerprint fields from JSON text (default: the environment variable)."""
    raw = os.environ.get(ENV, "") if text is None else text
    if not raw.strip():
        return {}
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise FingerprintConfigError(f"{ENV}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or not all(
        isinstance(v, list) and all(isinstance(f, str) for f in v) for v in doc.values()
    ):
        raise FingerprintConfigError(f'{ENV}: expected {{"rule name": ["field", ...]}}')
    return {str(rule): tuple(fields) for rule, fields in doc.items()}


def _normal(name: str, value: Any) -> Any:
    return workload_of(value) if name in _POD_FIELDS and isinstance(value, str) else value


def identifying_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name in VOLATILE or name.startswith(VOLATILE_PREFIXES):
            continue
        out[name] = _normal(name, value)
    return out


def fingerprint(
    alert: DeliveryAlert, overrides: Mapping[str, Sequence[str]] | None = None
) -> str:
    """A hex digest naming the incident; equal for copies of one alert."""
    chosen = (overrides or {}).get(alert.rule)
    if chosen is None:
        picked = identifying_fields(alert.fields)
    else:  # the user's choice, volatile or not; pod names still mean their workload
        picked = {name: _normal(name, alert.fields.get(name)) for name in chosen}
    blob = json.dumps(
        [alert.source, alert.rule, picked], sort_keys=True, default=str, ensure_ascii=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]
