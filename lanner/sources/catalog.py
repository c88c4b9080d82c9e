"""The sources lanner ships with, by name. A caller adds its own by passing a mapping."""

from __future__ import annotations

from functools import cache

from lanner.fields import Source


@cache
def builtin_sources() -> dict[str, Source]:
    """``k8s_audit``, ``aws_cloudtrail``, ``json`` and ``syscall``, built once per process."""
    from lanner.sources.aws_cloudtrail import cloudtrail_source
    from lanner.sources.json_source import json_source
    from lanner.sources.k8s_audit import k8s_audit_source
    from lanner.sources.syscall import syscall_source

    found = [k8s_audit_source(), cloudtrail_source(), json_source(), syscall_source()]
    return {s.name: s for s in found}
