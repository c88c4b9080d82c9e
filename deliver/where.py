"""Where an alert happened, read from its hostname and output fields.

Free of pydantic on purpose: the detectors' publisher reads it on every alert, and a
detector's cold start should not pay for the delivery side's models.
"""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NA = "<NA>"
# <workload>-<replicaset hash>-<5 chars> (Deployment) or <workload>-<5 chars> (DaemonSet,
# ReplicaSet): the generated tail names a pod, not a workload.
_POD_SUFFIX = re.compile(r"-(?:[a-f0-9]{8,10}-)?[a-z0-9]{5}$")


def workload_of(pod: str) -> str:
    return _POD_SUFFIX.sub("", pod)


@dataclass(frozen=True, slots=True)
class Where:
    """Where an alert happened, from its hostname and output fields."""

    node: str = ""
    namespace: str = ""
    pod: str = ""
    container: str = ""
    account: str = ""
    region: str = ""
    hosts: int = 0  # a summary over several hosts: how many (then no single node)

    def parts(self) -> list[tuple[str, str]]:
        named = [
            ("on", f"{self.hosts} hosts" if self.hosts > 1 else ""),
            ("node", self.node),
            ("namespace", self.namespace),
            ("pod", self.pod),
            ("container", self.container),
            ("account", self.account),
            ("region", self.region),
        ]
        return [(k, v) for k, v in named if v]

    def text(self) -> str:
        """``node n1 / namespace prod / pod web-1``, or ``account 1234 / region eu-west-1``."""
        return " / ".join(f"{k} {v}" for k, v in self.parts()) or "unknown"


# Output fields that say where, per source, in order of preference. One table: the
# Slack/PagerDuty/Security Hub renderings and the SNS message attributes read it.
WHERE_FIELDS: dict[str, tuple[str, ...]] = {
    "namespace": ("k8s.ns.name", "ka.target.namespace"),
    "pod": ("k8s.pod.name",),
    "container": ("container.name",),
    "account": ("ct.recipientaccountid", "ct.user.accountid"),
    "region": ("ct.region",),
}


def _first_field(fields: Mapping[str, Any], names: tuple[str, ...]) -> str:
    for name in names:
        value = fields.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value)
            if text and text != NA and text != "host":
                return text
    return ""


def where_of(hostname: str, fields: Mapping[str, Any], source: str = "") -> Where:
    found = {k: _first_field(fields, names) for k, names in WHERE_FIELDS.items()}
    # An audit or CloudTrail alert's hostname is the detector function: not a place.
    node = hostname if source in ("", "syscall") else ""
    return Where(
        node=node,
        namespace=found["namespace"],
        pod=found["pod"],
        container=found["container"],
        account=found["account"],
        region=found["region"],
    )


def alert_uuid(doc: Mapping[str, Any]) -> str:
    """A stable id for an alert document that has none: the same document, the same id."""
    blob = json.dumps(doc, sort_keys=True, default=str).encode()
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_OID, blob.hex()))
