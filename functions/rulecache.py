"""The detectors' rules: the bundled ones, plus an optional S3 override.

Every ``*.yaml``/``*.yml`` object under ``LANNER_RULES_S3_URI`` loads after the
bundled rules, in key order, so users append to or override lists, macros and
rules without a redeploy. The objects' ETags are checked at most every
``refresh_seconds``; the engine is rebuilt only when they change. An override that
does not load is logged with every ``FILE:LINE:COL`` error and counted
(RuleErrors), and the last engine that did load keeps serving: a bad push never
stops detection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lanner import (
    Engine,
    LannerError,
    Location,
    Priority,
    RuleLoadErrors,
    compile_rules,
    load_rules,
)

RULE_SUFFIXES = (".yaml", ".yml")
# Largest rules object read from S3. Falco's largest rules file is ~95 KB; loading costs
# memory in proportion to the text (YAML nodes with positions), so an object of hundreds
# of MB would take the detector's memory before any rule bound could reject it.
MAX_OBJECT_BYTES = 4 * 1024 * 1024
# Objects as (key, etag): what identifies one version of the override.
Signature = tuple[tuple[str, str], ...]


def _errors(exc: LannerError) -> list[str]:
    return [str(e) for e in exc.errors] if isinstance(exc, RuleLoadErrors) else [str(exc)]


class RuleCache:
    """Builds the engine once per container and swaps it when the S3 override changes."""

    def __init__(
        self,
        rules_dir: Path,
        *,
        s3: Callable[[], Any] | None = None,
        s3_location: tuple[str, str] | None = None,
        refresh_seconds: float = 60,
        min_priority: Priority = Priority.DEBUG,
        hostname: str | None = None,
        sources: Callable[[], frozenset[str] | None] = lambda: None,
        count: Callable[[str, float], None] | None = None,
        logger: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules_dir = rules_dir
        self._s3 = s3
        self.s3_location = s3_location
        self.refresh_seconds = refresh_seconds
        self.min_priority = min_priority
        self.hostname = hostname
        self._sources = sources
        self._built_for: frozenset[str] | None = None
        self._count = count
        self._log = logger
        self._clock = clock
        self._engine: Engine | None = None
        self._signature: Signature = ()  # of the override the engine was built with
        self._rejected: Signature | None = None  # an override that failed: not retried
        self._checked = 0.0

    @property
    def override(self) -> Signature:
        """The S3 objects (key, etag) the current engine includes."""
        return self._signature

    def engine(self) -> Engine:
        """The current engine; checks the override when it is due. Never raises for a
        bad override (only when the bundled rules themselves do not load)."""
        now = self._clock()
        if self._engine is not None and self._sources() != self._built_for:
            # A detector for another source was imported since (one process serving
            # several, as `lanner demo` does): build again for all of them.
            self._engine, self._signature = None, ()
        if self._engine is None:
            self._checked = now
            self._engine = self._first_engine()
        elif self.s3_location is not None and now - self._checked >= self.refresh_seconds:
            self._checked = now
            self._refresh()
        return self._engine

    def _first_engine(self) -> Engine:
        if self.s3_location is not None:
            found = self._refresh()
            if found is not None:
                return found
        # Bundled rules that do not load are a broken deployment: raise, loudly.
        return self._compile([])

    def _refresh(self) -> Engine | None:
        """Rebuilds the engine if the override changed; returns the new engine, if any."""
        try:
            listing = self._list()
        except Exception as exc:
            self._error(f"cannot list rules at {self._uri()}: {exc}; keeping the current rules")
            return None
        if listing == self._signature and self._engine is not None:
            return None
        if listing == self._rejected:
            return None  # already reported; wait for a fixed version
        try:
            texts = [(f"{self._uri(key)}", self._get(key)) for key, _etag in listing]
        except LannerError as exc:
            self._reject(listing, _errors(exc))
            return None
        except Exception as exc:  # S3 itself failed: try again at the next refresh
            self._error(f"cannot read rules at {self._uri()}: {exc}; keeping the current rules")
            return None
        try:
            engine = self._compile(texts)
        except LannerError as exc:
            self._reject(listing, _errors(exc))
            return None
        except Exception as exc:
            # Loading is deterministic: whatever failed will fail the same way at every
            # refresh, so this version is rejected too, not rebuilt every minute.
            self._reject(listing, [f"{self._uri()}: error: {type(exc).__name__}: {exc}"])
            return None
        self._engine, self._signature, self._rejected = engine, listing, None
        if self._log is not None:
            self._log.info(
                f"rules loaded: bundled + {len(listing)} object(s) from {self._uri()}",
                extra={"objects": [k for k, _ in listing]},
            )
        return engine

    def _reject(self, listing: Signature, errors: list[str]) -> None:
        self._rejected = listing
        self._error(
            f"rules override at {self._uri()} does not load; keeping the current rules", errors
        )

    def _compile(self, texts: list[tuple[str, str]]) -> Engine:
        ruleset = load_rules([self.rules_dir], texts=texts)
        self._built_for = self._sources()
        return compile_rules(
            ruleset,
            min_priority=self.min_priority,
            hostname=self.hostname,
            only_sources=self._sources(),
        )

    def _list(self) -> Signature:
        assert self.s3_location is not None and self._s3 is not None
        bucket, prefix = self.s3_location
        found: list[tuple[str, str]] = []
        pages = self._s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                key = str(obj["Key"])
                if key.endswith(RULE_SUFFIXES):
                    found.append((key, str(obj.get("ETag", ""))))
        return tuple(sorted(found))

    def _get(self, key: str) -> str:
        assert self.s3_location is not None and self._s3 is not None
        stream = self._s3().get_object(Bucket=self.s3_location[0], Key=key)["Body"]
        body = stream.read(MAX_OBJECT_BYTES + 1)
        if len(body) > MAX_OBJECT_BYTES:
            raise LannerError(
                f"rules object is larger than {MAX_OBJECT_BYTES:,} bytes; split it",
                Location(self._uri(key)),
            )
        try:
            return str(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise LannerError(f"rules file is not UTF-8: {exc}", Location(self._uri(key))) from None

    def _uri(self, key: str | None = None) -> str:
        bucket, prefix = self.s3_location or ("", "")
        return f"s3://{bucket}/{key if key is not None else prefix}"

    def _error(self, message: str, errors: list[str] | None = None) -> None:
        if self._count is not None:
            self._count("RuleErrors", len(errors) if errors else 1)
        if self._log is not None:
            self._log.error(message, extra={"errors": errors or []})
