"""The delivery Lambda: one per destination, fed by its own queue on the alert topic.

The topic's subscription for a destination (with its routing filter policy) delivers raw
alert JSON into an SQS queue; this function sends each alert on:

- delivered: done (metrics Delivered, and AlertsDelivered by rule and priority);
- a permanent answer (4xx other than 408/425/429, or a redirect): the alert goes to the
  destination's dead-letter queue with the answer, and the record succeeds;
- transient (429, 5xx, network): retried here with backoff (429 waits its Retry-After)
  while the invocation has time; then the message is hidden for as long as the
  destination asked (ChangeMessageVisibility) and its record fails, so SQS brings it
  back; after the queue's maxReceiveCount it lands in the dead-letter queue too.
- not an alert at all: dead-lettered with the reason (never dropped).

``lanner alerts redrive --queue DLQ_URL`` sends dead letters back through here.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from deliver.alert import AlertError, parse_alert
from deliver.destination import Destination
from deliver.fingerprint import load_overrides
from deliver.retry import RetryPolicy, send_with_retries
from functions.dead_letters import dead_letter
from functions.destinations import build_destination
from functions.runtime import NAMESPACE, Clients, logger, metrics

# SQS keeps a message hidden at most 12 hours.
MAX_VISIBILITY_S = 43_200
# Kept back from the invocation's time for the dead-letter write and the metrics.
_MARGIN_S = 5.0
# One attempt's worst case (the destinations' HTTP timeout) and, when not even that fits,
# how long the message waits for the next invocation.
SEND_TIMEOUT_S = 10.0
DEFER_WHEN_OUT_OF_TIME_S = 5.0

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class DeliveryDeferred(RuntimeError):
    """The destination is failing transiently: the record is retried later."""


@dataclass
class State:
    """Per container: the destination, clients, and this invocation's counts."""

    destination: Destination
    clients: Clients
    dead_letter_url: str
    fingerprint_fields: dict[str, tuple[str, ...]]
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Any = time.sleep
    deadline: float | None = None
    counts: Counter[str] = field(default_factory=Counter)
    delivered: Counter[tuple[str, str]] = field(default_factory=Counter)
    queue_urls: dict[str, str] = field(default_factory=dict)

    def queue_url(self, arn: str) -> str:
        if arn not in self.queue_urls:
            _, _, _, _, account, name = arn.split(":", 5)
            got = self.clients.get("sqs").get_queue_url(
                QueueName=name, QueueOwnerAWSAccountId=account
            )
            self.queue_urls[arn] = got["QueueUrl"]
        return self.queue_urls[arn]


_state: State | None = None


def state(context: Any) -> State:
    global _state
    if _state is None:
        clients = Clients(single_attempt=frozenset({"securityhub", "s3"}))
        arn = str(getattr(context, "invoked_function_arn", "") or "")
        account = arn.split(":")[4] if arn.count(":") >= 5 else ""
        _state = State(
            destination=build_destination(os.environ, clients.factory, account),
            clients=clients,
            dead_letter_url=os.environ["LANNER_DEAD_LETTER_QUEUE_URL"],
            fingerprint_fields=load_overrides(),
        )
    return _state


def reset_state() -> None:
    global _state
    _state = None


def record_handler(record: SQSRecord) -> None:
    st = _require_state()
    name = st.destination.name
    try:
        alert = parse_alert(record.body)
    except AlertError as exc:
        _dead_letter(st, record.body, f"not an alert: {exc}")
        return
    from deliver.fingerprint import fingerprint

    if st.deadline is not None and time.monotonic() > st.deadline - SEND_TIMEOUT_S:
        # Not even one more attempt fits: a send past the function's timeout would bring
        # the whole batch back, delivered alerts included.
        _defer(st, record, alert.uuid, DEFER_WHEN_OUT_OF_TIME_S, "no time left in this invocation")
    key = fingerprint(alert, st.fingerprint_fields)
    outcome = send_with_retries(
        lambda: st.destination.send(alert, key),
        st.policy,
        deadline=st.deadline,
        sleep=st.sleep,
        on_retry=lambda answer, wait: st.counts.update(["Retried"]),  # one per extra attempt
    )
    if outcome.delivered:
        st.counts["Delivered"] += 1
        st.delivered[(alert.rule, str(alert.priority))] += 1
        return
    answer = outcome.answer.describe()
    if outcome.permanent:
        _dead_letter(st, record.body, answer)
        logger.warning(f"{name} refused alert {alert.uuid}; dead-lettered: {answer}")
        return
    _defer(st, record, alert.uuid, outcome.retry_after or 1, answer)


def _defer(st: State, record: SQSRecord, uuid: str, seconds: float, why: str) -> None:
    """Hides the message for ``seconds`` (as long as the destination asked) and fails its
    record, so SQS brings it back; after maxReceiveCount it lands in the dead-letter queue."""
    wait = min(MAX_VISIBILITY_S, math.ceil(seconds))
    st.clients.get("sqs").change_message_visibility(
        QueueUrl=st.queue_url(record.event_source_arn),
        ReceiptHandle=record.receipt_handle,
        VisibilityTimeout=wait,
    )
    st.counts["Deferred"] += 1
    message = f"{st.destination.name}: {why}; alert {uuid} back in {wait} s"
    logger.warning(message)
    raise DeliveryDeferred(message)


def _dead_letter(st: State, body: str, why: str) -> None:
    dead_letter(
        st.clients.get("sqs"), st.dead_letter_url, body, st.destination.name, why, time.time
    )
    st.counts["DeadLettered"] += 1


def _require_state() -> State:
    assert _state is not None, "state() is built by the handler"
    return _state


def _flush(st: State) -> None:
    name = st.destination.name
    metrics.add_dimension("destination", name)
    for metric, value in st.counts.items():
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)
    for (rule, priority), n in st.delivered.items():
        with single_metric(
            name="AlertsDelivered",
            unit=MetricUnit.Count,
            value=n,
            namespace=NAMESPACE,
            default_dimensions={"destination": name, "priority": priority},
        ) as m:
            m.add_dimension("rule", rule[:250])
    st.counts.clear()
    st.delivered.clear()
    metrics.flush_metrics(raise_on_empty_metrics=False)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> Any:
    st = state(context)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    st.deadline = (
        time.monotonic() + remaining() / 1000 - _MARGIN_S if callable(remaining) else None
    )
    logger.append_keys(destination=st.destination.name)
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        _flush(st)
