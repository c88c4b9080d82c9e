"""The alert publisher: every alert to one SNS topic, exactly once.

The message is the alert in Falco's JSON schema (plus ``uuid``); message
attributes (priority, priority_name, rule, source, hostname, tags, k8s_ns) let
subscriptions route with SNS filter policies instead of code.

Once-only across Lambda retries, with a DynamoDB claim per alert uuid (uuids are
deterministic, so a retry makes the same ones)::

    claim   conditional PutItem {status: in-progress, owner, lease_until, expires}
            succeeds when there is no item, its TTL passed ("expires": DynamoDB deletes
            late), or it is an in-progress claim whose lease ran out (the invocation
            that made it died)
    publish PublishBatch, up to 10 entries and 256 KiB a call
    mark    status = published (a later claim of the same uuid sees a duplicate)

An entry SNS refuses has its claim released, so the retry can publish it at once.
A live in-progress claim of another invocation is waited on (polled) until it is
marked published (a duplicate) or its lease runs out (that invocation died: the
claim is taken over), as long as the invocation's time allows; only then is it a
PublishError. Failing at once would let every retry inside the lease fail the same
way, and a Kinesis record whose retries are spent is lost. The one window left is a
death between SNS accepting and the mark: after the lease, that alert is published
again (at-least-once there, never lost).

With a ``Deduplicator`` (``deliver.dedup``), each alert is first counted against its
incident's window: copies inside an open window are counted, not published
(AlertsDeduplicated), and the summaries of windows that closed with copies are
published with the alert that found them.

Email: each message has a Subject, ``[Critical] rule - where``, which SNS email
subscriptions show; the body is the alert's JSON.
"""

from __future__ import annotations

import json
import logging
import time
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deliver.where import WHERE_FIELDS, where_of
from deliver.where import alert_uuid as _stable_uuid
from lanner import Alert, Priority

if TYPE_CHECKING:
    from deliver.dedup import Deduplicator

MAX_MESSAGE_BYTES = 256 * 1024  # SNS: message + attributes, and a whole PublishBatch call
BATCH_ENTRIES = 10  # SNS PublishBatch
TRUNCATED = "…[truncated {} bytes]…"
MAX_SUBJECT_CHARS = 99  # SNS: ASCII, no line breaks, under 100 characters
IN_PROGRESS = "in-progress"
PUBLISHED = "published"
DEFAULT_LEASE_SECONDS = 60.0
# Room left for what SNS counts beyond our bytes (entry ids, JSON of the request).
_SLACK = 2048

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PublishResult:
    """Alerts sent to SNS by this call, alerts skipped as already published, and copies
    counted in an open deduplication window instead of being published."""

    published: int = 0
    duplicates: int = 0
    deduplicated: int = 0


class PublishError(RuntimeError):
    """Some alerts could not be published (SNS or DynamoDB failed, or another invocation
    holds their claim). The caller fails the record so Lambda retries it; what did go
    out is in ``result`` and will be skipped as duplicates on the retry."""

    def __init__(self, message: str, failed: list[str], result: PublishResult) -> None:
        super().__init__(message)
        self.failed = failed
        self.result = result


class InvalidAlert(ValueError):
    """An alert document (a node alert) without what the SNS message needs."""


@dataclass(slots=True)
class AlertMessage:
    """One alert ready for SNS: its uuid, the JSON body and the message attributes."""

    uuid: str
    body: str
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    truncated: bool = False
    subject: str = ""
    doc: dict[str, Any] = field(default_factory=dict, repr=False)  # what ``body`` encodes

    @property
    def size(self) -> int:
        attrs = sum(
            len(k) + len(v["DataType"]) + len(v.get("StringValue", "").encode())
            for k, v in self.attributes.items()
        )
        return len(self.body.encode("utf-8")) + attrs

    @classmethod
    def of(cls, alert: Alert | Mapping[str, Any] | AlertMessage) -> AlertMessage:
        """From an Alert, or from an alert already in Falco's schema and already trusted
        (the intake's, checked by its token and ``parse_alert``; a node's only through
        ``node_alert``): published as it is, keeping its uuid. InvalidAlert says what
        is missing."""
        if isinstance(alert, AlertMessage):
            return alert
        doc = alert.to_dict() if isinstance(alert, Alert) else dict(alert)
        rule = doc.get("rule")
        if not isinstance(rule, str) or not rule:
            raise InvalidAlert("alert has no 'rule'")
        try:
            priority = Priority.parse(str(doc.get("priority", "")))
        except ValueError as exc:
            raise InvalidAlert(f"alert '{rule}': {exc}") from None
        fields = doc.get("output_fields")
        if not isinstance(fields, dict):
            fields = {}
        ident = doc.get("uuid")
        if not isinstance(ident, str) or not ident:
            # Still once-only: the same document always gets the same id.
            ident = _stable_uuid(doc)
            doc["uuid"] = ident
        attrs = {
            "priority": _attr("Number", str(priority.value)),
            "priority_name": _attr("String", str(priority)),
            "rule": _attr("String", rule),
        }
        for name in ("source", "hostname"):
            value = doc.get(name)
            if isinstance(value, str) and value:  # SNS refuses empty attribute values
                attrs[name] = _attr("String", value)
        tags = doc.get("tags")
        tag_list = sorted(str(t) for t in tags) if isinstance(tags, list | tuple) else []
        attrs["tags"] = _attr("String.Array", json.dumps(tag_list))
        source = str(doc.get("source") or "")
        where = where_of(str(doc.get("hostname") or ""), fields, source)
        if where.namespace:
            attrs["k8s_ns"] = _attr("String", where.namespace)
        if where.account:
            attrs["account"] = _attr("String", where.account)
        attrs["kind"] = _attr("String", "summary" if doc.get("repeat") else "alert")
        subject = _subject(f"[{priority}] {rule} - {where.text()}")
        msg = cls(ident, _dumps(doc), attrs, subject=subject, doc=doc)
        budget = MAX_MESSAGE_BYTES - _SLACK - (msg.size - len(msg.body.encode()))
        if len(msg.body.encode("utf-8")) > budget:
            msg.body = _fit(doc, budget)
            msg.doc = json.loads(msg.body)
            msg.truncated = True
        return msg


# --- Alerts from nodes ---
#
# A node is not trusted beyond itself: a compromised one must not speak for CloudTrail
# or the audit log, nor take the dedup slot of an alert it can predict (uuids are
# deterministic) so that the real one is counted as a duplicate and never published.

NODE_DROP_RULE = "Falco internal: syscall event drop"  # sensor.run.drop_alert_for
NODE_SOURCES = "syscall alerts and 'Falco internal: syscall event drop'"
CLAIMED_HOSTNAME = "lanner.claimed_hostname"
# The namespace of every uuid an alert from a node is published under: no other
# source's alert is named in it, and the node's name is part of each name.
_NODE_NS = uuidlib.UUID("2d4e8b1a-6f3c-4b7e-9a15-c0d7e3f8a642")


def node_uuid(node: str, kind: str, ident: str) -> str:
    """The uuid an alert from ``node`` is published under: ``ident`` (the node's uuid for
    an alert it made, kind "alert"; the engine's for an alert on one of its events, kind
    "event") in the nodes' namespace, under the node's name. Stable across retries, and
    never the uuid of another source's alert or of another node's."""
    return str(uuidlib.uuid5(_NODE_NS, f"{node}\x00{kind}\x00{ident}"))


def node_alert(doc: Mapping[str, Any], node: str) -> AlertMessage:
    """An alert a node made (a batch's ``{"a": ...}`` line), ready for SNS. ``node`` is who
    sent it as the transport knows it (the Kinesis partition key), not a field it wrote.

    Only a node's own kinds are taken: its syscall alerts and the sensor's event drop
    alert; never a summary. The alert is attributed to ``node`` (a different hostname it
    wrote is kept as output field ``lanner.claimed_hostname``) and gets a uuid of the
    node's own (``node_uuid``). InvalidAlert says why anything else is refused."""
    source, rule = doc.get("source"), doc.get("rule")
    if source == "internal" and rule != NODE_DROP_RULE:
        raise InvalidAlert(
            f"rule {rule!r} of source 'internal' is not a node's to report (nodes report "
            f"{NODE_SOURCES})"
        )
    if source not in ("syscall", "internal"):
        raise InvalidAlert(
            f"source {source!r} is not a node's to report (nodes report {NODE_SOURCES})"
        )
    if doc.get("repeat") is not None:
        raise InvalidAlert("a summary ('repeat') is made by the publisher, not by a node")
    # Delivery's models (pydantic) load with the first node alert, not with every cold start.
    from deliver.alert import AlertError, parse_alert

    try:
        checked = parse_alert(doc)  # types, sizes and depth, as for any input from outside
    except AlertError as exc:
        raise InvalidAlert(str(exc)) from None
    out = dict(checked.doc)
    fields = dict(checked.fields)
    if checked.hostname and checked.hostname != node:
        fields[CLAIMED_HOSTNAME] = checked.hostname
    out["output_fields"] = fields
    out["hostname"] = node
    out["uuid"] = node_uuid(node, "alert", checked.uuid)
    return AlertMessage.of(out)


def _attr(kind: str, value: str) -> dict[str, str]:
    # Attributes are shown as plain text (email, consoles, subscribers' logs) and SQS refuses
    # most control characters in them: event text (a hostname, a rule name) is made inert,
    # escaped as JSON would (a String.Array is JSON already: an escape inside its strings
    # decodes to the same). A lone surrogate (an event's own bad text) cannot go out as UTF-8.
    from deliver.inert import inert

    return {"DataType": kind, "StringValue": inert(value).encode("utf-8", "replace").decode()}


def _dumps(doc: Any) -> str:
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: escaped, the JSON stays exact and becomes valid UTF-8.
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=True, default=str)
    return text


def _size(value: Any) -> int:
    return len(_dumps(value).encode("utf-8"))


# What an alert must keep whole when it is cut to fit: where it happened.
_KEEP = frozenset(name for names in WHERE_FIELDS.values() for name in names) | {"evt.time"}


def _fit(doc: dict[str, Any], budget: int) -> str:
    """The alert JSON within ``budget`` bytes: the largest values of ``output_fields``
    (and the output line, which repeats them) are cut in the middle, head and tail kept
    around a marker that says how much was cut. The rule, priority, hostname and the
    fields that say where it happened are never cut: a cut alert still routes and
    still says what happened, and where."""
    doc = dict(doc)
    fields = dict(doc.get("output_fields") or {})
    doc["output_fields"] = fields
    for _ in range(64):
        excess = _size(doc) - budget
        if excess <= 0:
            break
        sizes = {k: _size(v) for k, v in fields.items() if k not in _KEEP}
        key, largest = max(sizes.items(), key=lambda kv: kv[1], default=("", 0))
        target_is_output = _size(doc.get("output", "")) >= largest
        value = doc.get("output", "") if target_is_output else fields[key]
        text = value if isinstance(value, str) else _dumps(value)
        raw = text.encode("utf-8", "replace")
        # JSON escaping can make a value bigger than its bytes; cut at least half of it.
        keep = max(0, min(len(raw) - excess - 96, len(raw) // 2))
        head = raw[: keep - keep // 4].decode("utf-8", "ignore")
        tail = raw[len(raw) - keep // 4 :].decode("utf-8", "ignore") if keep // 4 else ""
        cut_bytes = len(raw) - len(head.encode()) - len(tail.encode())
        cut = head + TRUNCATED.format(cut_bytes) + tail
        if target_is_output:
            doc["output"] = cut
        else:
            fields[key] = cut
    return _dumps(doc)


def _subject(text: str) -> str:
    """An SNS Subject: printable ASCII on one line, under 100 characters."""
    clean = "".join(c if " " <= c <= "~" else "?" for c in text.replace("\n", " "))
    if len(clean) > MAX_SUBJECT_CHARS:
        clean = clean[: MAX_SUBJECT_CHARS - 3] + "..."
    return clean


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class Publisher:
    """Publishes alerts to ``topic_arn`` once each; see the module docstring.

    ``sns`` and ``dynamodb`` are client factories, so a detector that raises no
    alert never builds them. ``count(metric, value)`` receives AlertsOut,
    AlertsDuplicate, AlertsDeduplicated and DedupErrors. ``deadline()`` says how many
    seconds this invocation may still spend waiting on another's claim (None: the lease).
    """

    def __init__(
        self,
        sns: Callable[[], Any],
        dynamodb: Callable[[], Any],
        topic_arn: str,
        table: str,
        *,
        ttl_seconds: int = 86400,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        count: Callable[[str, float], None] | None = None,
        logger: Any = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        deadline: Callable[[], float | None] = lambda: None,
        dedup: Deduplicator | None = None,
        fingerprint_fields: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._sns = sns
        self._ddb = dynamodb
        self.topic_arn = topic_arn
        self.table = table
        self.ttl_seconds = ttl_seconds
        self.lease_seconds = lease_seconds
        self._count = count
        self._log = logger if logger is not None else log
        self._clock = clock
        self._sleep = sleep
        self._deadline = deadline
        self.dedup = dedup
        self.fingerprint_fields = dict(fingerprint_fields or {})

    def publish(self, alerts: Sequence[Alert | Mapping[str, Any] | AlertMessage]) -> PublishResult:
        """Publishes what was not published before; PublishError when some could not be
        (after trying all of them). InvalidAlert for an alert document without a rule or
        a priority: check node alerts with ``AlertMessage.of`` first."""
        messages: dict[str, AlertMessage] = {}
        deduplicated = 0
        for a in alerts:
            m = AlertMessage.of(a)
            for out in self._windowed(m):
                messages.setdefault(out.uuid, out)  # the same alert twice goes out once
            if m.uuid not in messages:
                deduplicated += 1
        if self._count is not None and deduplicated:
            self._count("AlertsDeduplicated", deduplicated)
        if not messages:
            return PublishResult(deduplicated=deduplicated)
        owner = uuidlib.uuid4().hex
        claimed: list[AlertMessage] = []
        failed: list[str] = []
        duplicates = 0
        reasons: list[str] = []
        for m in messages.values():
            state = self._claim_waiting(m.uuid, owner)
            if state == "claimed":
                claimed.append(m)
            elif state == "duplicate":
                duplicates += 1
            else:
                failed.append(m.uuid)
                reasons.append(state)
        published = 0
        for chunk in _chunks(claimed):
            ok, bad = self._send(chunk)
            for m in ok:
                self._mark(m.uuid, owner)
            for m, why in bad:
                self._release(m.uuid, owner)
                failed.append(m.uuid)
                reasons.append(why)
            published += len(ok)
        result = PublishResult(published, duplicates, deduplicated)
        if self._count is not None:
            self._count("AlertsOut", published)
            self._count("AlertsDuplicate", duplicates)
        if failed:
            first = reasons[0] if reasons else "unknown"
            raise PublishError(
                f"{len(failed)} of {len(messages)} alert(s) not published: {first}", failed, result
            )
        return result

    def _windowed(self, m: AlertMessage) -> list[AlertMessage]:
        """What to publish for ``m``: itself if it opens its incident's window, nothing if
        it is a copy, plus the summary of a window it found closed with copies."""
        if self.dedup is None:
            return [m]
        # Delivery's models (pydantic) load with the first alert, not with every cold start.
        from deliver.alert import checked_alert
        from deliver.fingerprint import fingerprint

        try:
            alert = checked_alert(m.doc or json.loads(m.body))
            decision = self.dedup.observe(alert, fingerprint(alert, self.fingerprint_fields))
        except Exception as exc:
            # Counting must never cost an alert: without the window, it goes out.
            if self._count is not None:
                self._count("DedupErrors", 1)
            self._log.warning(f"alert {m.uuid}: deduplication failed, publishing it: {exc}")
            return [m]
        out = [AlertMessage.of(s.doc) for s in decision.summaries]
        return [m, *out] if decision.deliver else out

    # --- DynamoDB claims ---

    def _claim_waiting(self, ident: str, owner: str) -> str:
        """``_claim``, waiting out another invocation's live claim while time allows: it is
        either marked published soon (a duplicate) or its owner died (taken over)."""
        waited = 0.0
        while True:
            state, lease_until = self._claim(ident, owner)
            if lease_until is None:
                return state
            left = self._deadline()
            if left is None:  # no invocation deadline known: at most one lease
                left = self.lease_seconds + 5.0 - waited
            wait = min(2.0, max(0.05, lease_until - self._clock() + 0.05))
            if left < wait:
                return state
            self._sleep(wait)
            waited += wait

    def _claim(self, ident: str, owner: str) -> tuple[str, float | None]:
        """'claimed', 'duplicate', or why the alert cannot be published now; and, for a
        live claim of another invocation, when its lease runs out."""
        now = self._clock()
        try:
            self._ddb().put_item(
                TableName=self.table,
                Item={
                    "uuid": {"S": ident},
                    "status": {"S": IN_PROGRESS},
                    "owner": {"S": owner},
                    "lease_until": {"N": f"{now + self.lease_seconds:.3f}"},
                    "expires": {"N": str(int(now + self.ttl_seconds))},
                },
                ConditionExpression=(
                    "attribute_not_exists(#u) OR #e < :now OR (#s = :inprog AND #l < :now)"
                ),
                ExpressionAttributeNames={
                    "#u": "uuid",
                    "#e": "expires",
                    "#s": "status",
                    "#l": "lease_until",
                },
                ExpressionAttributeValues={
                    ":now": {"N": f"{now:.3f}"},
                    ":inprog": {"S": IN_PROGRESS},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return "claimed", None
        except Exception as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                return f"dedup table: {exc}", None
            old = getattr(exc, "response", {}).get("Item") or self._get(ident)
        status = (old or {}).get("status", {}).get("S")
        if status == PUBLISHED:
            return "duplicate", None
        if status is None:
            return "dedup table: claim refused but no item found", None
        try:
            lease_until = float((old or {})["lease_until"]["N"])
        except (KeyError, TypeError, ValueError):
            lease_until = now + self.lease_seconds
        return (
            f"alert {ident} is being published by another invocation (lease not expired)",
            lease_until,
        )

    def _get(self, ident: str) -> dict[str, Any] | None:
        try:
            item = (
                self._ddb()
                .get_item(TableName=self.table, Key={"uuid": {"S": ident}}, ConsistentRead=True)
                .get("Item")
            )
        except Exception:
            return None
        return item if isinstance(item, dict) else None

    def _mark(self, ident: str, owner: str) -> None:
        try:
            self._ddb().update_item(
                TableName=self.table,
                Key={"uuid": {"S": ident}},
                UpdateExpression="SET #s = :pub REMOVE #l",
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#s": "status", "#l": "lease_until", "#o": "owner"},
                ExpressionAttributeValues={":pub": {"S": PUBLISHED}, ":owner": {"S": owner}},
            )
        except Exception as exc:
            # Published already: only a retry after the lease could repeat it.
            self._log.warning(f"alert {ident} published but not marked: {exc}")

    def _release(self, ident: str, owner: str) -> None:
        try:
            self._ddb().delete_item(
                TableName=self.table,
                Key={"uuid": {"S": ident}},
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except Exception as exc:
            # The retry then waits for the lease to run out before taking it over.
            self._log.warning(f"claim on alert {ident} not released: {exc}")

    # --- SNS ---

    def _send(
        self, chunk: list[AlertMessage]
    ) -> tuple[list[AlertMessage], list[tuple[AlertMessage, str]]]:
        entries = [
            {
                "Id": f"a{i}",
                "Message": m.body,
                "MessageAttributes": m.attributes,
                **({"Subject": m.subject} if m.subject else {}),
            }
            for i, m in enumerate(chunk)
        ]
        try:
            resp = self._sns().publish_batch(
                TopicArn=self.topic_arn, PublishBatchRequestEntries=entries
            )
        except Exception as exc:
            return [], [(m, f"SNS: {exc}") for m in chunk]
        by_id = {f"a{i}": m for i, m in enumerate(chunk)}
        bad: list[tuple[AlertMessage, str]] = []
        for f in resp.get("Failed", []):
            m = by_id.pop(str(f.get("Id")), None)
            if m is not None:
                bad.append((m, f"SNS: {f.get('Code')}: {f.get('Message', '')}"))
        ok_ids = {str(s.get("Id")) for s in resp.get("Successful", [])}
        # An entry in neither list (should not happen) is treated as failed: retried, not lost.
        for i, m in list(by_id.items()):
            if i not in ok_ids:
                bad.append((m, "SNS: entry missing from the PublishBatch response"))
                del by_id[i]
        return list(by_id.values()), bad


def _chunks(messages: list[AlertMessage]) -> list[list[AlertMessage]]:
    """Groups of at most 10 entries and 256 KiB in all, as PublishBatch takes them."""
    out: list[list[AlertMessage]] = []
    cur: list[AlertMessage] = []
    size = 0
    for m in messages:
        s = m.size + 64
        if cur and (len(cur) == BATCH_ENTRIES or size + s > MAX_MESSAGE_BYTES - _SLACK):
            out.append(cur)
            cur, size = [], 0
        cur.append(m)
        size += s
    if cur:
        out.append(cur)
    return out
