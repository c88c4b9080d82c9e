"""What every detector Lambda shares: settings, the engine, the publisher, the
quarantine queue, logs and metrics.

Built once per container (``get_runtime()``) and kept for every invocation: the
engine compiles once, and the AWS clients are only made when first needed (a
detector that sees no alert and no bad record never builds an SNS, DynamoDB or
SQS client; boto3 itself is imported then).

Metrics (namespace "lanner", dimension "source", one EMF blob per invocation):
``evaluate`` counts EventsIn and DetectLatencyMs (and ThresholdStoreErrors, raising
the ThresholdStoreError so the record is retried), ``publisher.publish`` counts
AlertsOut and AlertsDuplicate, ``quarantine.put`` counts BadRecords, the rule
cache counts RuleErrors. Detectors do not count these again.

A detector reads::

    @detector_handler("k8s_audit")
    def handler(event, context):
        rt = get_runtime()
        alerts = rt.evaluate(docs, "k8s_audit")
        rt.publisher.publish(alerts)          # PublishError -> let the invocation/record fail
        rt.quarantine.put("k8s_audit", reason, payload, origin)
"""

from __future__ import annotations

import functools
import os
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from deliver.dedup import Deduplicator
from functions.dedup_table import DynamoWindowStore
from functions.publish import AlertMessage, InvalidAlert, Publisher, PublishError, PublishResult
from functions.quarantine import Quarantine, QuarantineError
from functions.rulecache import RuleCache
from functions.settings import Settings, SettingsError
from functions.threshold_store import DynamoThresholdStore
from lanner import Alert, Engine
from lanner.threshold import ThresholdStoreError

NAMESPACE = "lanner"

# Module level so handlers can be decorated at import; both are cheap to build.
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "lanner")
metrics = Metrics(namespace=NAMESPACE)

# Short timeouts and few retries: a publish must finish well inside the dedup lease,
# and a Lambda retry is a better retry than a minute-long hang.
_CLIENT_CONFIG = {
    "connect_timeout": 3,
    "read_timeout": 10,
    "retries": {"max_attempts": 3, "mode": "standard"},
}

F = TypeVar("F", bound=Callable[..., Any])


class Clients:
    """boto3 clients made on first use. ``set(name, client)`` puts a fake or a Stubber-wrapped
    client in place (tests, ``lanner demo``)."""

    def __init__(self, single_attempt: frozenset[str] = frozenset()) -> None:
        self._made: dict[str, Any] = {}
        # Clients whose callers retry themselves (a destination's send_with_retries):
        # one attempt each, or botocore's retries would stack on top of ours.
        self._single_attempt = single_attempt

    def get(self, name: str) -> Any:
        client = self._made.get(name)
        if client is None:
            import boto3  # here, not at import: most invocations never need a client
            from botocore.config import Config

            if name in self._single_attempt:
                from deliver.aws_answer import single_attempt_config

                config = single_attempt_config()
            else:
                config = Config(**_CLIENT_CONFIG)
            client = boto3.client(name, config=config)
            self._made[name] = client
        return client

    def set(self, name: str, client: Any) -> None:
        self._made[name] = client

    def factory(self, name: str) -> Callable[[], Any]:
        return lambda: self.get(name)


class Runtime:
    """The per-container state of a detector. See the module docstring."""

    def __init__(self, settings: Settings, clients: Clients | None = None) -> None:
        self.settings = settings
        self._counts: dict[str, float] = {}
        self.clients = clients or Clients()
        self.logger = logger
        self.metrics = metrics
        self.rules = RuleCache(
            settings.rules_dir,
            s3=self.clients.factory("s3"),
            s3_location=settings.rules_s3_location,
            refresh_seconds=settings.rules_refresh_seconds,
            min_priority=settings.min_priority,
            # Alerts of sources without a host of their own (audit logs) say which
            # function saw them.
            hostname=os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or None,
            sources=served_sources,
            count=self.count,
            logger=logger,
        )
        # Windows of repeated incidents (deliver.dedup) in the same table as the claims.
        self.dedup = (
            Deduplicator(
                DynamoWindowStore(self.clients.factory("dynamodb"), settings.dedup_table),
                settings.dedup_window_seconds,
            )
            if settings.dedup_window_seconds > 0
            else None
        )
        self.publisher = Publisher(
            self.clients.factory("sns"),
            self.clients.factory("dynamodb"),
            settings.alert_topic_arn,
            settings.dedup_table,
            ttl_seconds=settings.dedup_ttl_seconds,
            count=self.count,
            logger=logger,
            deadline=time_left,
            dedup=self.dedup,
            fingerprint_fields=settings.fingerprint_fields,
        )
        self.quarantine = Quarantine(
            self.clients.factory("sqs"), settings.quarantine_queue_url, count=self.count
        )
        # Threshold rules count in the dedup table too, shared by every container.
        self.thresholds = DynamoThresholdStore(
            self.clients.factory("dynamodb"), settings.dedup_table
        )

    def engine(self) -> Engine:
        """The current engine (bundled rules + the S3 override, refreshed by ETag),
        counting its threshold rules in DynamoDB: every engine the cache builds does."""
        engine = self.rules.engine()
        engine.store = self.thresholds
        return engine

    def count(self, name: str, value: float) -> None:
        # Summed here and added once per invocation (flush_counts): powertools'
        # add_metric costs ~30 µs, and a 10,000-record batch would call it 20,000 times.
        self._counts[name] = self._counts.get(name, 0.0) + value

    def flush_counts(self) -> None:
        for name, value in self._counts.items():
            unit = MetricUnit.Milliseconds if name == "DetectLatencyMs" else MetricUnit.Count
            metrics.add_metric(name=name, unit=unit, value=value)
        self._counts.clear()

    def evaluate(self, docs: Iterable[Any], source: str) -> list[Alert]:
        """Alerts for decoded events of ``source``; counts EventsIn and DetectLatencyMs."""
        engine = self.engine()
        start = time.perf_counter()
        alerts: list[Alert] = []
        n = 0
        try:
            for doc in docs:
                n += 1
                alerts.extend(engine.evaluate(doc, source))
        except ThresholdStoreError as exc:
            # Not a bad record: the state is unreachable. The caller's record or
            # invocation fails and is retried; a retry counts each event once.
            self.count("ThresholdStoreErrors", 1)
            logger.warning(f"threshold state unavailable, the batch will be retried: {exc}")
            raise
        finally:
            self.count("EventsIn", n)
        self.count("DetectLatencyMs", (time.perf_counter() - start) * 1000)
        return alerts


_runtime: Runtime | None = None
# When the running invocation must be done (time.monotonic()), from its Lambda context.
_deadline: float | None = None
# Time kept back for what follows a publish: marking claims, the metrics flush.
_DEADLINE_MARGIN_S = 5.0


def time_left() -> float | None:
    """Seconds the running invocation may still spend waiting; None outside Lambda."""
    return None if _deadline is None else _deadline - time.monotonic()


# The sources of the detectors imported in this process (one in a Lambda): the engine
# compiles only their rules, which shortens every cold start.
_served: set[str] = set()


def served_sources() -> frozenset[str] | None:
    return frozenset(_served) if _served else None


def get_runtime() -> Runtime:
    """The container's Runtime, built on first use from the environment (SettingsError
    when LANNER_* variables are missing or bad)."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime(Settings.from_env())
    return _runtime


def reset_runtime() -> None:
    """Forgets the Runtime: the next ``get_runtime()`` reads the environment again."""
    global _runtime
    _runtime = None


def detector_handler(source: str) -> Callable[[F], F]:
    """Wraps a Lambda handler: the Lambda context in every log line, the metrics of the
    invocation flushed at its end (even when it fails) under dimension ``source``."""

    _served.add(source)

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def handler(event: Any, context: Any) -> Any:
            global _deadline
            remaining = getattr(context, "get_remaining_time_in_millis", None)
            _deadline = (
                time.monotonic() + remaining() / 1000 - _DEADLINE_MARGIN_S
                if callable(remaining)
                else None
            )
            metrics.add_dimension("source", source)
            logger.append_keys(source=source)
            try:
                return fn(event, context)
            finally:
                if _runtime is not None:
                    _runtime.flush_counts()
                with warnings.catch_warnings():
                    # A control message or a skipped stream has nothing to count.
                    warnings.filterwarnings("ignore", "No application metrics")
                    metrics.flush_metrics()

        wrapped = logger.inject_lambda_context(handler, clear_state=True)
        return wrapped  # type: ignore[return-value]

    return decorate


__all__ = [
    "AlertMessage",
    "Clients",
    "InvalidAlert",
    "PublishError",
    "PublishResult",
    "Publisher",
    "Quarantine",
    "QuarantineError",
    "Runtime",
    "SettingsError",
    "detector_handler",
    "get_runtime",
    "logger",
    "metrics",
    "reset_runtime",
]
