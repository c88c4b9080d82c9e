"""The detectors' configuration, read once from the environment.

The variable names are the contract between ``template.yaml``, the functions and
``lanner demo``. A plain dataclass, checked by hand: importing pydantic costs a
detector 60-90 ms of every cold start, and these eight variables come from our own
template, not from an untrusted caller. Every bad or missing variable is named in
one SettingsError.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lanner import Priority

T = TypeVar("T")


def bundled_rules_dir() -> Path:
    """``rules/`` next to the ``functions`` package (where the deployment package puts it)."""
    return Path(__file__).resolve().parent.parent / "rules"


class SettingsError(ValueError):
    """The environment is missing a required variable or holds a bad value."""


@dataclass(frozen=True, slots=True)
class Settings:
    alert_topic_arn: str
    dedup_table: str
    quarantine_queue_url: str
    rules_dir: Path = field(default_factory=bundled_rules_dir)
    rules_s3_uri: str | None = None
    rules_refresh_seconds: float = 60
    min_priority: Priority = Priority.DEBUG
    dedup_ttl_seconds: int = 86400
    dedup_window_seconds: float = 300
    fingerprint_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def rules_s3_location(self) -> tuple[str, str] | None:
        """``(bucket, prefix)`` of the override, or None."""
        if self.rules_s3_uri is None:
            return None
        bucket, _, prefix = self.rules_s3_uri[len("s3://") :].partition("/")
        return bucket, prefix

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads the LANNER_* variables; SettingsError names every bad or missing one."""
        env = os.environ if environ is None else environ
        problems: list[str] = []
        values: dict[str, Any] = {}

        def read(attr: str, name: str, parse: Callable[[str], T] | None, required: bool) -> None:
            raw = env.get(name)
            if raw is None or (not required and not raw.strip()):
                if required:
                    problems.append(f"{name}: required, not set")
                return  # unset or empty: the default (an empty template parameter)
            if required and not raw.strip():
                problems.append(f"{name}: must not be empty")
                return
            try:
                values[attr] = parse(raw) if parse is not None else raw
            except ValueError as exc:
                problems.append(f"{name}: {exc}")

        read("alert_topic_arn", "LANNER_ALERT_TOPIC_ARN", None, True)
        read("dedup_table", "LANNER_DEDUP_TABLE", None, True)
        read("quarantine_queue_url", "LANNER_QUARANTINE_QUEUE_URL", None, True)
        read("rules_dir", "LANNER_RULES_DIR", Path, False)
        read("rules_s3_uri", "LANNER_RULES_S3_URI", _s3_uri, False)
        read("rules_refresh_seconds", "LANNER_RULES_REFRESH_SECONDS", _seconds(0), False)
        read("min_priority", "LANNER_MIN_PRIORITY", _priority, False)
        read("dedup_ttl_seconds", "LANNER_DEDUP_TTL_SECONDS", _positive_int, False)
        read("dedup_window_seconds", "LANNER_DEDUP_WINDOW_SECONDS", _seconds(0), False)
        read("fingerprint_fields", "LANNER_FINGERPRINT_FIELDS", _fingerprint_fields, False)
        if problems:
            raise SettingsError("bad detector environment: " + "; ".join(problems))
        return cls(**values)


def _s3_uri(value: str) -> str:
    if not value.startswith("s3://") or len(value) <= 5:
        raise ValueError(f"must look like s3://bucket/prefix/, got {value!r}")
    return value


def _seconds(minimum: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            n = float(value)
        except ValueError:
            raise ValueError(f"not a number: {value!r}") from None
        if not math.isfinite(n) or n < minimum:
            raise ValueError(f"must be a number >= {minimum:g}, got {value!r}")
        return n

    return parse


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"not a whole number: {value!r}") from None
    if n <= 0:
        raise ValueError(f"must be greater than 0, got {value!r}")
    return n


def _priority(value: str) -> Priority:
    try:
        return Priority.parse(value)
    except (KeyError, ValueError):
        raise ValueError(f"not a priority (emergency ... debug): {value!r}") from None


def _fingerprint_fields(value: str) -> dict[str, tuple[str, ...]]:
    from deliver.fingerprint import FingerprintConfigError, load_overrides

    try:
        return load_overrides(value)
    except FingerprintConfigError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None
