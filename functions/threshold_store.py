"""Threshold rules' counts in the dedup table (``lanner.threshold.ThresholdStore`` on DynamoDB).

One item per rule, group and window, beside the publisher's uuid claims and the
dedup windows, keyed ``threshold#<hash of rule, group, window length>#<window start>``.
Detectors see the same record more than once by design (a retried SQS message or
Kinesis record, a CloudTrail event by EventBridge and again in its log file), so a
match is recorded as the id of its event (a hash of the alert uuid, which derives from
the record), and a string set counts each id once:

    add     UpdateItem  ADD ids {id}; SET expires          if the bucket has not fired
            -> the ids so far; fewer than the count: no alert
    claim   UpdateItem  SET fired_by = id; REMOVE ids      if the bucket has not fired
            -> this invocation alerts; any other gets ConditionalCheckFailed

Either write failing its condition returns the item (ReturnValuesOnConditionCheckFailure):
the bucket fired, and the match alerts again only if it is the very event that fired it
(a retry after a publish failed; the alert has the same uuid, and the publisher's
claims let one copy out). So the alert goes out once per bucket however many
invocations count concurrently. The invocation that fired remembers it: later matches
of that bucket cost no write.

Anything else DynamoDB answers, once botocore's retries are spent (throttling, an
outage), is a ThresholdStoreError: the detector fails the record, and its retry counts
again without counting twice. Items expire (TTL "expires") a day after their window ends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from lanner.threshold import Bucket, ThresholdStoreError

PREFIX = "threshold#"
_KEEP_SECONDS = 86400
_MAX_FIRED = 10_000
_NOT_FIRED = "attribute_not_exists(fired_by)"


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def event_mark(event: str) -> str:
    """What the item keeps of an event id: 64 bits, so a bucket of 1,000 ids stays ~17 KB."""
    return hashlib.sha256(event.encode("utf-8", "surrogateescape")).hexdigest()[:16]


class DynamoThresholdStore:
    def __init__(self, dynamodb: Callable[[], Any], table: str) -> None:
        self._ddb = dynamodb
        self.table = table
        # Buckets this container saw fired -> the mark of the event that fired them.
        self._fired: dict[str, str] = {}

    def hit(self, bucket: Bucket, count: int, event: str) -> bool:
        key = PREFIX + bucket.key()
        mark = event_mark(event)
        fired = self._fired.get(key)
        if fired is not None:
            return fired == mark
        try:
            resp = self._ddb().update_item(
                TableName=self.table,
                Key={"uuid": {"S": key}},
                UpdateExpression="ADD ids :id SET expires = :ttl, rule_name = :rule",
                ConditionExpression=_NOT_FIRED,
                ExpressionAttributeValues={
                    ":id": {"SS": [mark]},
                    ":ttl": {"N": str(bucket.end + _KEEP_SECONDS)},
                    ":rule": {"S": bucket.rule},
                },
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            return self._fired_by(key, mark, exc)
        ids = resp.get("Attributes", {}).get("ids", {}).get("SS", [])
        if len(ids) < count:
            return False
        try:
            self._ddb().update_item(
                TableName=self.table,
                Key={"uuid": {"S": key}},
                UpdateExpression="SET fired_by = :id REMOVE ids",
                ConditionExpression=_NOT_FIRED,
                ExpressionAttributeValues={":id": {"S": mark}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            return self._fired_by(key, mark, exc)
        self._remember(key, mark)
        return True

    def _fired_by(self, key: str, mark: str, exc: Exception) -> bool:
        """After a failed write: True when the bucket was fired by this very event."""
        if _error_code(exc) != "ConditionalCheckFailedException":
            raise ThresholdStoreError(f"threshold state in {self.table}: {exc}") from exc
        old = getattr(exc, "response", {}).get("Item") or {}
        firer = old.get("fired_by", {}).get("S")
        if firer is None:  # cannot happen with our writes; count it as not this event's
            return False
        self._remember(key, firer)
        return bool(firer == mark)

    def _remember(self, key: str, mark: str) -> None:
        if len(self._fired) >= _MAX_FIRED:
            self._fired.clear()  # a forgotten bucket costs one write to learn it again
        self._fired[key] = mark
