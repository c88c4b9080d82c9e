"""The sources lanner ships with, by name. A caller adds its own by passing a mapping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

from lanner.fields import Source


@cache
def builtin_sources() -> dict[str, Source]:
    """``k8s_audit``, ``aws_cloudtrail``, ``json`` and ``syscall``, built once per process."""
    from lanner.sources.aws_cloudtrail import cloudtrail_source
    from lanner.sources.json_source import json_source
    from lanner.sources.k8s_audit import k8s_audit_source
    from lanner.sources.syscall import syscall_source

    found = [
        replace(k8s_audit_source(), event_id=_str_key("auditID")),
        replace(cloudtrail_source(), event_id=_str_key("eventID")),
        json_source(),
        syscall_source(),
    ]
    return {s.name: s for s in found}


def _str_key(key: str) -> Callable[[Any], str | None]:
    def event_id(doc: Any) -> str | None:
        v = doc.get(key) if isinstance(doc, dict) else None
        return v if isinstance(v, str) and v else None

    return event_id
