"""The alert store's table, as template.yaml declares it (for the demo, tests, bench).

Built from ``schema.INDEXES``: change the layout there, and template.yaml with it
(tests/test_template.py compares the two).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from dashboard.schema import INDEXES, PK, SK, TIME, TTL

BATCH_WRITE = 25  # BatchWriteItem's most items per call


def table_definition(name: str) -> dict[str, Any]:
    """CreateTable's arguments: on-demand, keys ``pk``/``sk``, every index sorted by ``t``."""
    attributes = [PK, SK, TIME, *dict.fromkeys(i.key for i in INDEXES)]
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        "KeySchema": [
            {"AttributeName": PK, "KeyType": "HASH"},
            {"AttributeName": SK, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.key, "KeyType": "HASH"},
                    {"AttributeName": TIME, "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(index.projected()),
                },
            }
            for index in INDEXES
        ],
    }


def create_alert_store_table(client: Any, name: str) -> None:
    """Creates the table with ``client`` (a boto3 DynamoDB client), waits until it is
    active and turns its TTL on."""
    client.create_table(**table_definition(name))
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL}
    )


def put_items(client: Any, name: str, items: Iterable[dict[str, Any]]) -> int:
    """Writes ``items`` (DynamoDB JSON, e.g. ``schema.bulk_items``) with BatchWriteItem,
    25 at a time, until DynamoDB has taken them all; returns how many. Unconditional:
    for loading a table (tests, the demo), not for delivery (``AlertStore.put``)."""
    written = 0
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == BATCH_WRITE:
            written += _write(client, name, batch)
            batch = []
    if batch:
        written += _write(client, name, batch)
    return written


def _write(client: Any, name: str, batch: list[dict[str, Any]]) -> int:
    request: dict[str, Any] = {name: batch}
    for round_ in range(10):
        left = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        if not left:
            return len(batch)
        request = left
        time.sleep(0.05 * 2**round_)
    raise RuntimeError(f"DynamoDB did not take {len(request.get(name, []))} items into {name}")
