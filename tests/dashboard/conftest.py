"""Fixtures for the dashboard's tests: moto (the same server setup as tests/aws/), an
empty alert store table per test, and realistic Falco alerts as delivery parses them.

- ``aws`` / ``moto_endpoint``: an empty moto account per test (tests/aws/conftest.py's).
- ``alert_store``: an ``AlertStore`` over a fresh table (retention 30 days, real clock).
- ``make_alert(**overrides)``: a ``DeliveryAlert`` through ``deliver.alert.parse_alert``.
  Overrides replace top-level keys of the document (``rule``, ``priority``, ``time``,
  ``output``, ``tags``...); ``namespace``, ``pod``, ``container`` and ``account`` set the
  output fields that ``deliver.where`` reads (``output_fields`` replaces the syscall
  fields as a whole, for an audit or CloudTrail alert). Each alert gets a fresh uuid and, unless
  given, the current time in Falco's form, so it shows in a "last 24 hours" search.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from dashboard.store import AlertStore
from dashboard.table import create_alert_store_table
from deliver.alert import DeliveryAlert, parse_alert
from tests.aws.conftest import aws, moto_endpoint  # noqa: F401

TABLE = "lanner-alert-store-test"

MakeAlert = Callable[..., DeliveryAlert]

# Output fields named by a keyword of make_alert.
_FIELD_OVERRIDES = {
    "namespace": "k8s.ns.name",
    "pod": "k8s.pod.name",
    "container": "container.name",
    "account": "ct.recipientaccountid",
}


def falco_time(when: datetime) -> str:
    """``when`` as Falco writes it: UTC, nanoseconds, ``Z``."""
    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}000Z"


def new_alert(**overrides: Any) -> DeliveryAlert:
    """A syscall alert from a Kubernetes node (see the module docstring for overrides)."""
    fields: dict[str, Any] = {
        "evt.time": 1795861267123456789,
        "evt.type": "execve",
        "user.name": "root",
        "user.uid": 0,
        "proc.name": "bash",
        "proc.pname": "runc",
        "proc.cmdline": "bash -il",
        "proc.pid": 4242,
        "container.id": "3f2a1b4c5d6e",
        "container.name": "web",
        "container.image.repository": "nginx",
        "container.image.tag": "1.25",
        "k8s.ns.name": "shop",
        "k8s.pod.name": "web-6d4cf56db6-x7k2p",
    }
    for key, field in _FIELD_OVERRIDES.items():
        if key in overrides:
            fields[field] = overrides.pop(key)
    doc: dict[str, Any] = {
        "uuid": str(uuidlib.uuid4()),
        "rule": "Terminal shell in container",
        "priority": "Warning",
        "output": (
            "10:21:07.123456789: Warning A shell was spawned in a container with an attached "
            "terminal (user=root user_loginuid=-1 k8s.ns=shop k8s.pod=web-6d4cf56db6-x7k2p "
            "container=3f2a1b4c5d6e shell=bash parent=runc cmdline=bash -il terminal=34816 "
            "container_id=3f2a1b4c5d6e image=nginx)"
        ),
        "time": falco_time(datetime.now(UTC)),
        "source": "syscall",
        "hostname": "node-7.prod.example.net",
        "tags": ["container", "shell", "mitre_execution", "T1059"],
        "output_fields": fields,
    }
    doc.update(overrides)
    return parse_alert(doc)


@pytest.fixture
def make_alert() -> MakeAlert:
    return new_alert


@pytest.fixture
def alert_store(aws: str) -> AlertStore:  # noqa: F811
    client = boto3.client("dynamodb")
    create_alert_store_table(client, TABLE)
    return AlertStore(lambda: client, TABLE)
