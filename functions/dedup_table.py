"""Deduplication windows in the dedup table (``deliver.dedup.WindowStore`` on DynamoDB).

One item per incident, beside the publisher's uuid claims, keyed ``window#<fingerprint>``.
Every operation is one conditional write, so any number of concurrent invocations agree
on which alert opened a window and count every copy:

    count_copy   UpdateItem  ADD count 1, hosts {host}; SET last_seen, pending, due
                 if the window is open and was not opened by this very alert
    open_window  PutItem     if there is no window or it has closed; returns the old one
    due          Query       sparse index "pending-due": windows with copies, by close time
    settle       UpdateItem  REMOVE pending, due; SET settled  if it is still that window

Items expire (TTL "expires") a day after their window closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deliver.dedup import CopyResult, Window

INDEX = "pending-due"
PREFIX = "window#"
_KEEP_SECONDS = 86400
_NAMES = {
    "#u": "uuid",
    "#end": "end",
    "#first": "first_uuid",
}


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _window(item: dict[str, Any]) -> Window:
    return Window(
        key=item["uuid"]["S"][len(PREFIX) :],
        start=float(item["start"]["N"]),
        end=float(item["end"]["N"]),
        first_uuid=item["first_uuid"]["S"],
        sample=item["sample"]["S"],
        count=int(item["count"]["N"]),
        hosts=frozenset(item.get("hosts", {}).get("SS", [])),
        first_seen=item.get("first_seen", {}).get("S", ""),
        last_seen=item.get("last_seen", {}).get("S", ""),
        settled=item.get("settled", {}).get("BOOL", False),
    )


class DynamoWindowStore:
    def __init__(self, dynamodb: Callable[[], Any], table: str) -> None:
        self._ddb = dynamodb
        self.table = table

    def count_copy(self, key: str, uuid: str, host: str, seen: str, now: float) -> CopyResult:
        try:
            self._ddb().update_item(
                TableName=self.table,
                Key={"uuid": {"S": PREFIX + key}},
                UpdateExpression=(
                    "ADD #count :one, hosts :host SET last_seen = :seen, pending = :p, due = #end"
                ),
                ConditionExpression="attribute_exists(#u) AND #end > :now AND #first <> :uuid",
                ExpressionAttributeNames={**_NAMES, "#count": "count"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":host": {"SS": [host]},
                    ":seen": {"S": seen},
                    ":p": {"S": "1"},
                    ":now": {"N": f"{now:.6f}"},
                    ":uuid": {"S": uuid},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return CopyResult.COUNTED
        except Exception as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise
            old = getattr(exc, "response", {}).get("Item")
        if old and float(old["end"]["N"]) > now and old["first_uuid"]["S"] == uuid:
            return CopyResult.FIRST_AGAIN
        return CopyResult.NO_WINDOW

    def open_window(self, window: Window, now: float) -> tuple[bool, Window | None]:
        item: dict[str, dict[str, Any]] = {
            "uuid": {"S": PREFIX + window.key},
            "start": {"N": f"{window.start:.6f}"},
            "end": {"N": f"{window.end:.6f}"},
            "first_uuid": {"S": window.first_uuid},
            "sample": {"S": window.sample},
            "count": {"N": str(window.count)},
            "first_seen": {"S": window.first_seen},
            "last_seen": {"S": window.last_seen},
            "expires": {"N": str(int(window.end) + _KEEP_SECONDS)},
        }
        if window.hosts:
            item["hosts"] = {"SS": sorted(window.hosts)}
        try:
            resp = self._ddb().put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(#u) OR #end <= :now",
                ExpressionAttributeNames={"#u": "uuid", "#end": "end"},
                ExpressionAttributeValues={":now": {"N": f"{now:.6f}"}},
                ReturnValues="ALL_OLD",
            )
        except Exception as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False, None
            raise
        old = resp.get("Attributes")
        return True, (_window(old) if old and "first_uuid" in old else None)

    def due(self, now: float, limit: int) -> list[Window]:
        resp = self._ddb().query(
            TableName=self.table,
            IndexName=INDEX,
            KeyConditionExpression="pending = :p AND due <= :now",
            ExpressionAttributeValues={":p": {"S": "1"}, ":now": {"N": f"{now:.6f}"}},
            Limit=limit,
        )
        return [_window(item) for item in resp.get("Items", [])]

    def settle(self, window: Window) -> bool:
        try:
            self._ddb().update_item(
                TableName=self.table,
                Key={"uuid": {"S": PREFIX + window.key}},
                UpdateExpression="REMOVE pending, due SET settled = :t",
                ConditionExpression="#start = :start AND attribute_exists(pending)",
                ExpressionAttributeNames={"#start": "start"},
                ExpressionAttributeValues={
                    ":t": {"BOOL": True},
                    ":start": {"N": f"{window.start:.6f}"},
                },
            )
            return True
        except Exception as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise


def create_dedup_table(dynamodb: Any, name: str) -> None:
    """The dedup table as ``template.yaml`` declares it (for ``lanner demo`` and tests):
    uuid claims and windows keyed by "uuid", the sparse "pending-due" index, TTL."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "uuid", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "uuid", "AttributeType": "S"},
            {"AttributeName": "pending", "AttributeType": "S"},
            {"AttributeName": "due", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX,
                "KeySchema": [
                    {"AttributeName": "pending", "KeyType": "HASH"},
                    {"AttributeName": "due", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
