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
A live in-progress claim of another invocation is a PublishError: that invocation
is publishing it right now, or died within the lease; the retry settles it. The
one window left is a death between SNS accepting and the mark: after the lease,
that alert is published again (at-least-once there, never lost).
"""

from __future__ import annotations

import json
import logging
import time
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lanner.output import Alert
from lanner.priority import Priority

MAX_MESSAGE_BYTES = 256 * 1024  # SNS: message + attributes, and a whole PublishBatch call
BATCH_ENTRIES = 10  # SNS PublishBatch
TRUNCATED = "…[truncated {} bytes]"
IN_PROGRESS = "in-progress"
PUBLISHED = "published"
DEFAULT_LEASE_SECONDS = 60.0
_NA = "<NA>"
# Room left for what SNS counts beyond our bytes (entry ids, JSON of the request).
_SLACK = 2048

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PublishResult:
    """Alerts sent to SNS by this call, and alerts skipped as already published."""

    published: int = 0
    duplicates: int = 0


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

    @property
    def size(self) -> int:
        attrs = sum(
            len(k) + len(v["DataType"]) + len(v.get("StringValue", "").encode())
            for k, v in self.attributes.items()
        )
        return len(self.body.encode("utf-8")) + attrs

    @classmethod
    def of(cls, alert: Alert | Mapping[str, Any] | AlertMessage) -> AlertMessage:
        """From an Alert, or from an alert already in Falco's schema (a node alert:
        published as it is, keeping its uuid). InvalidAlert says what is missing."""
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
            blob = json.dumps(doc, sort_keys=True, default=str).encode()
            ident = str(uuidlib.uuid5(uuidlib.NAMESPACE_OID, blob.hex()))
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
        ns = fields.get("k8s.ns.name") or fields.get("ka.target.namespace")
        if isinstance(ns, str) and ns and ns != _NA:
            attrs["k8s_ns"] = _attr("String", ns)
        msg = cls(ident, _dumps(doc), attrs)
        budget = MAX_MESSAGE_BYTES - _SLACK - (msg.size - len(msg.body.encode()))
        if len(msg.body.encode("utf-8")) > budget:
            msg.body = _fit(doc, budget)
            msg.truncated = True
        return msg


def _attr(kind: str, value: str) -> dict[str, str]:
    # A lone surrogate (from an event's own bad text) cannot go out as UTF-8.
    return {"DataType": kind, "StringValue": value.encode("utf-8", "replace").decode("utf-8")}


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


def _fit(doc: dict[str, Any], budget: int) -> str:
    """The alert JSON within ``budget`` bytes: the largest values of ``output_fields``
    (and the output line, which repeats them) are cut, each ending with a marker that
    says how much was cut. A cut alert still routes and still says what happened."""
    doc = dict(doc)
    fields = dict(doc.get("output_fields") or {})
    doc["output_fields"] = fields
    for _ in range(64):
        excess = _size(doc) - budget
        if excess <= 0:
            break
        sizes = {k: _size(v) for k, v in fields.items() if k != "evt.time"}
        key, largest = max(sizes.items(), key=lambda kv: kv[1], default=("", 0))
        out_size = _size(doc.get("output", ""))
        target_is_output = out_size >= largest
        value = doc.get("output", "") if target_is_output else fields[key]
        text = value if isinstance(value, str) else _dumps(value)
        raw = text.encode("utf-8", "replace")
        # JSON escaping can make a value bigger than its bytes; cut at least half of it.
        keep = max(0, min(len(raw) - excess - 64, len(raw) // 2))
        cut = raw[:keep].decode("utf-8", "ignore")
        cut += TRUNCATED.format(len(raw) - len(cut.encode("utf-8")))
        if target_is_output:
            doc["output"] = cut
        else:
            fields[key] = cut
    return _dumps(doc)


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class Publisher:
    """Publishes alerts to ``topic_arn`` once each; see the module docstring.

    ``sns`` and ``dynamodb`` are client factories, so a detector that raises no
    alert never builds them. ``count(metric, value)`` receives AlertsOut and
    AlertsDuplicate.
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

    def publish(self, alerts: Sequence[Alert | Mapping[str, Any] | AlertMessage]) -> PublishResult:
        """Publishes what was not published before; PublishError when some could not be
        (after trying all of them). InvalidAlert for an alert document without a rule or
        a priority: check node alerts with ``AlertMessage.of`` first."""
        messages: dict[str, AlertMessage] = {}
        for a in alerts:
            m = AlertMessage.of(a)
            messages.setdefault(m.uuid, m)  # the same alert twice in one call goes out once
        if not messages:
            return PublishResult()
        owner = uuidlib.uuid4().hex
        claimed: list[AlertMessage] = []
        failed: list[str] = []
        duplicates = 0
        reasons: list[str] = []
        for m in messages.values():
            state = self._claim(m.uuid, owner)
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
        result = PublishResult(published, duplicates)
        if self._count is not None:
            self._count("AlertsOut", published)
            self._count("AlertsDuplicate", duplicates)
        if failed:
            first = reasons[0] if reasons else "unknown"
            raise PublishError(
                f"{len(failed)} of {len(messages)} alert(s) not published: {first}", failed, result
            )
        return result

    # --- DynamoDB claims ---

    def _claim(self, ident: str, owner: str) -> str:
        """'claimed', 'duplicate', or why the alert cannot be published now."""
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
            return "claimed"
        except Exception as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                return f"dedup table: {exc}"
            old = getattr(exc, "response", {}).get("Item") or self._get(ident)
        status = (old or {}).get("status", {}).get("S")
        if status == PUBLISHED:
            return "duplicate"
        if status is None:
            return "dedup table: claim refused but no item found"
        return f"alert {ident} is being published by another invocation (lease not expired)"

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
            {"Id": f"a{i}", "Message": m.body, "MessageAttributes": m.attributes}
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
