"""The detectors' configuration, read once from the environment.

The variable names are the contract between ``template.yaml``, the functions and
``lanner demo``. A plain pydantic model filled from ``os.environ`` rather than
pydantic-settings: the same validation, without the ~65 ms pydantic-settings adds
to every cold start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lanner.priority import Priority


def bundled_rules_dir() -> Path:
    """``rules/`` next to the ``functions`` package (where the deployment package puts it)."""
    return Path(__file__).resolve().parent.parent / "rules"


class SettingsError(ValueError):
    """The environment is missing a required variable or holds a bad value."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    alert_topic_arn: str = Field(alias="LANNER_ALERT_TOPIC_ARN", min_length=1)
    dedup_table: str = Field(alias="LANNER_DEDUP_TABLE", min_length=1)
    quarantine_queue_url: str = Field(alias="LANNER_QUARANTINE_QUEUE_URL", min_length=1)
    rules_dir: Path = Field(alias="LANNER_RULES_DIR", default_factory=bundled_rules_dir)
    rules_s3_uri: str | None = Field(alias="LANNER_RULES_S3_URI", default=None)
    rules_refresh_seconds: float = Field(alias="LANNER_RULES_REFRESH_SECONDS", default=60, ge=0)
    min_priority: Priority = Field(alias="LANNER_MIN_PRIORITY", default=Priority.DEBUG)
    dedup_ttl_seconds: int = Field(alias="LANNER_DEDUP_TTL_SECONDS", default=86400, gt=0)

    @field_validator("rules_s3_uri", mode="before")
    @classmethod
    def _s3_uri(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # an empty variable (a template default) means "no override"
        if not isinstance(value, str) or not value.startswith("s3://") or len(value) <= 5:
            raise ValueError("must look like s3://bucket/prefix/")
        return value

    @field_validator("min_priority", mode="before")
    @classmethod
    def _priority(cls, value: object) -> object:
        return Priority.parse(value) if isinstance(value, str) else value

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
        values = {k: v for k, v in env.items() if k.startswith("LANNER_")}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                name = ".".join(str(p) for p in err["loc"]) or "settings"
                problems.append(f"{name}: {err['msg']}")
            raise SettingsError("bad detector environment: " + "; ".join(problems)) from None
