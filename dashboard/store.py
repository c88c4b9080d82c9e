"""The alert store: DynamoDB under the layout ``dashboard.schema`` defines.

``put`` writes an alert once (a conditional Put) and, only when it was new, adds one to
its counters: a redelivered alert is never counted twice. A crash between the Put and
the counters leaves them short (a retry finds the alert stored and counts nothing): the
counts may undercount, never double count.

Searches read one index, newest first, Querying until ``limit`` rows matched or
``SEARCH_CALLS`` Queries were made; a page that stops early carries a cursor (an empty
page with a cursor means "nothing yet in what was read, go on"). When a Query returned
more matches than the page holds, the cursor starts after the last row kept, so nothing
read past it is lost. A cursor stays good for the same filters while its position lies
in the time range asked (a range ending "now" moves between pages).

Counts and timelines without filters read the counters (one Query over the buckets of
the range, aligned outward to whole buckets: ``counted_from``/``counted_to`` say so);
with filters they count the matching alerts, reading at most ``COUNT_READ_BOUND`` of
them (``exact`` is false when that bound stopped the count). Expired alerts and
counters (``expires`` past) are hidden: DynamoDB deletes them up to days late.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from dashboard import cursor as cursors
from dashboard.schema import (
    DIMENSION_ATTRS,
    DIMENSIONS,
    DOC,
    MAX_OUT_CHARS,
    PK,
    RECEIVED,
    RETENTION_DAYS_DEFAULT,
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
    SK,
    TIME,
    TIME_CHARS,
    TTL,
    Filters,
    Granularity,
    Plan,
    TimeRange,
    alert_key,
    alert_record,
    aligned,
    counted_value,
    counter_pk,
    counter_sk_bounds,
    counter_update,
    granularity_for,
    plan,
    query_input,
    time_bounds,
)
from deliver.alert import DeliveryAlert
from lanner import Priority

SEARCH_CALLS = 5  # Queries one search page makes at most
EXPORT_CALLS = 50  # ... one export page (it wants up to 10,000 rows)
PER_CALL_WITH_FILTERS = 1000  # items one Query reads when conditions filter them
COUNT_READ_BOUND = 20_000  # alerts a filtered count or timeline reads at most
COUNT_CALLS = 100
EXPORT_MAX_BYTES = 5_000_000
BATCH_GET = 100  # BatchGetItem's most keys per call
BATCH_ROUNDS = 6  # rounds of unprocessed keys before giving up
PRIORITY_NAMES: tuple[str, ...] = tuple(str(p) for p in Priority)

# Shared by the stores of a process (a Lambda container has one): writes of one alert's counters.
_COUNTER_WRITERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lanner-counters")


class QueryError(ValueError):
    """The caller's fault (a bad cursor, ...): the API answers 400 with the message."""


class StoreError(RuntimeError):
    """DynamoDB did not finish what was asked (keys left unprocessed after retries)."""


@dataclass(frozen=True)
class Row:
    """One line of the events table."""

    uuid: str
    time: str
    priority: str
    rule: str
    source: str
    hostname: str
    namespace: str
    account: str
    tags: tuple[str, ...]
    output: str
    output_truncated: bool
    repeat: int | None
    hosts: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "time": self.time,
            "priority": self.priority,
            "rule": self.rule,
            "source": self.source,
            "hostname": self.hostname,
            "namespace": self.namespace,
            "account": self.account,
            "tags": list(self.tags),
            "output": self.output,
            "output_truncated": self.output_truncated,
            "repeat": self.repeat,
            "hosts": self.hosts,
        }


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    cursor: str | None
    scanned: int
    read_units: float


@dataclass(frozen=True)
class StoredAlert:
    doc: dict[str, Any]
    received: float
    expires: float


@dataclass(frozen=True)
class Counts:
    by: str
    groups: list[tuple[str, int]]
    total: int
    other: int
    exact: bool
    counted_from: datetime
    counted_to: datetime
    granularity: str | None  # None: counted from the alerts


@dataclass(frozen=True)
class Timeline:
    bucket_seconds: int
    counted_from: datetime
    counted_to: datetime
    buckets: list[tuple[datetime, dict[str, int]]]  # every priority's name in every bucket
    exact: bool


@dataclass(frozen=True)
class ExportPage:
    """Alert documents, newest first. ``lines`` are the documents exactly as stored
    (compact JSON): ``ndjson()`` is what an export sends, at most ``EXPORT_MAX_BYTES``."""

    docs: list[dict[str, Any]]
    cursor: str | None
    lines: list[str] = field(default_factory=list)

    def ndjson(self) -> bytes:
        return "".join(f"{line}\n" for line in self.lines).encode("utf-8")


@dataclass
class _Run:
    """What the Queries of one page read."""

    items: list[dict[str, Any]] = field(default_factory=list)
    next_key: dict[str, Any] | None = None
    scanned: int = 0
    units: float = 0.0
    calls: int = 0


def row_of(item: dict[str, Any]) -> Row:
    """An index item as the events table shows it."""
    t = item[TIME]["S"]
    out = _s(item, "out")
    rep = item.get("rep", {}).get("L")
    return Row(
        uuid=t[TIME_CHARS + 1 :],
        time=t[:TIME_CHARS],
        priority=str(Priority(int(item["prio"]["N"]))),
        rule=_s(item, "rule"),
        source=_s(item, "source"),
        hostname=_s(item, "hostname"),
        namespace=_s(item, "ns"),
        account=_s(item, "account"),
        tags=tuple(str(x["S"]) for x in item.get("tags", {}).get("L", [])),
        output=out,
        output_truncated=len(out) > MAX_OUT_CHARS,
        repeat=int(rep[0]["N"]) if rep else None,
        hosts=int(rep[1]["N"]) if rep else None,
    )


def _s(item: dict[str, Any], attr: str) -> str:
    return str(item.get(attr, {}).get("S", ""))


def _units(response: dict[str, Any]) -> float:
    return float(response.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))


class AlertStore:
    """Alerts and their counters in one DynamoDB table. ``dynamodb()`` gives a boto3
    DynamoDB client (asked for on first use); ``clock()`` is the time in epoch seconds."""

    def __init__(
        self,
        dynamodb: Callable[[], Any],
        table: str,
        *,
        retention_days: int = RETENTION_DAYS_DEFAULT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not RETENTION_DAYS_MIN <= retention_days <= RETENTION_DAYS_MAX:
            raise ValueError(
                f"retention must be {RETENTION_DAYS_MIN} to {RETENTION_DAYS_MAX} days, "
                f"not {retention_days}"
            )
        self._dynamodb = dynamodb
        self._client: Any = None
        self.table = table
        self.retention_days = retention_days
        self._clock = clock

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._dynamodb()
        return self._client

    # --- writing ---------------------------------------------------------------------

    def put(self, alert: DeliveryAlert) -> bool:
        """Stores ``alert`` unless it is stored already; True when it was new (and
        counted). AWS errors propagate (botocore's ClientError, BotoCoreError)."""
        record = alert_record(alert, self._clock(), self.retention_days)
        try:
            self.client.put_item(
                TableName=self.table,
                Item=record.item(),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PK},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        updates = [
            counter_update(pk, sk, n, record.expires)
            for (pk, sk), n in Counter(record.counters()).items()
        ]
        # About 25 small UpdateItems an alert (3 granularities x its dimensions): one after
        # another they would cost 25 round trips; they touch distinct items, so they go
        # side by side (boto3's clients are thread-safe). The first error is raised.
        for _ in _COUNTER_WRITERS.map(
            lambda u: self.client.update_item(TableName=self.table, **u), updates
        ):
            pass
        return True

    # --- reading alerts --------------------------------------------------------------

    def search(
        self, rng: TimeRange, filters: Filters, *, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """The newest alerts in ``rng`` matching ``filters``, ``limit`` at most."""
        if limit < 1:
            raise QueryError("limit must be at least 1")
        p = plan(filters)
        run = self._run(p, rng, cursor, want=limit, max_calls=SEARCH_CALLS)
        return Page(
            rows=[row_of(i) for i in run.items],
            cursor=self._cursor(p, run.next_key),
            scanned=run.scanned,
            read_units=run.units,
        )

    def get(self, uuid: str) -> StoredAlert | None:
        """The alert stored under ``uuid`` (a row's ``uuid``, or the alert's own), or None
        (never stored, or expired)."""
        if not uuid:
            return None
        got = self.client.get_item(TableName=self.table, Key=alert_key(uuid))
        item = got.get("Item")
        if not item or float(item[TTL]["N"]) <= self._clock():
            return None
        return StoredAlert(
            doc=json.loads(item[DOC]["S"]),
            received=float(item[RECEIVED]["N"]),
            expires=float(item[TTL]["N"]),
        )

    def export_page(
        self,
        rng: TimeRange,
        filters: Filters,
        *,
        limit: int,
        cursor: str | None,
        max_bytes: int = EXPORT_MAX_BYTES,
    ) -> ExportPage:
        """Up to ``limit`` matching alert documents, newest first, at most ``max_bytes``
        of JSON lines (always one document at least), and where to go on."""
        if limit < 1:
            raise QueryError("limit must be at least 1")
        p = plan(filters)
        run = self._run(p, rng, cursor, want=limit, max_calls=EXPORT_CALLS, projection=())
        docs = self._docs([i[PK]["S"] for i in run.items])
        lines: list[str] = []
        size = 0
        next_key = run.next_key
        for n, item in enumerate(run.items):
            line = docs.get(item[PK]["S"])
            if line is None:
                continue  # expired and deleted since the index was read
            size += len(line.encode("utf-8")) + 1
            if lines and size > max_bytes:
                next_key = self._key_of(run.items[n - 1], p)
                break
            lines.append(line)
        return ExportPage(
            docs=[json.loads(line) for line in lines],
            cursor=self._cursor(p, next_key),
            lines=lines,
        )

    def _docs(self, pks: list[str]) -> dict[str, str]:
        """pk -> the stored document, by BatchGetItem."""
        found: dict[str, str] = {}
        for at in range(0, len(pks), BATCH_GET):
            keys = [{PK: {"S": pk}, SK: {"S": "alert"}} for pk in pks[at : at + BATCH_GET]]
            request: dict[str, Any] = {
                self.table: {
                    "Keys": keys,
                    "ProjectionExpression": "#pk, #d, #e",
                    "ExpressionAttributeNames": {"#pk": PK, "#d": DOC, "#e": TTL},
                }
            }
            for round_ in range(BATCH_ROUNDS):
                got = self.client.batch_get_item(RequestItems=request)
                now = self._clock()
                for item in got.get("Responses", {}).get(self.table, []):
                    if float(item[TTL]["N"]) > now:
                        found[item[PK]["S"]] = item[DOC]["S"]
                request = got.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**round_)
            else:
                raise StoreError("DynamoDB left alert documents unread; try again")
        return found

    # --- counting --------------------------------------------------------------------

    def counts(self, rng: TimeRange, by: str, filters: Filters, *, top: int = 50) -> Counts:
        """How many alerts of each value of ``by``, most first, ``top`` of them."""
        if by not in DIMENSIONS:
            raise QueryError(f"by: must be one of {', '.join(DIMENSIONS)}")
        if top < 1:
            raise QueryError("top must be at least 1")
        tally: Counter[str] = Counter()
        if filters.active():
            items, exact = self._matching(plan(filters), rng, DIMENSION_ATTRS[by])
            for item in items:
                tally.update(_values(item, by))
            counted, granularity = rng, None
        else:
            g = granularity_for(rng)
            counted, granularity, exact = aligned(rng, g), g.name, True
            for _, value, n in self._counters(g, by, counted):
                tally[value] += n
        ordered = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
        groups = ordered[:top]
        total = sum(tally.values())
        return Counts(
            by=by,
            groups=groups,
            total=total,
            other=total - sum(n for _, n in groups),
            exact=exact,
            counted_from=counted.start,
            counted_to=counted.end,
            granularity=granularity,
        )

    def timeline(self, rng: TimeRange, filters: Filters) -> Timeline:
        """Alerts per bucket and priority over ``rng`` aligned to whole buckets, every
        bucket and every priority present (zeros included)."""
        g = granularity_for(rng)
        span = aligned(rng, g)
        starts = list(g.starts(span.start, span.end))
        buckets = {g.bucket_at(s): dict.fromkeys(PRIORITY_NAMES, 0) for s in starts}
        exact = True
        if filters.active():
            items, exact = self._matching(plan(filters), span, "prio")
            for item in items:
                counts = buckets.get(g.bucket_of(item[TIME]["S"]))
                if counts is not None:
                    counts[str(Priority(int(item["prio"]["N"])))] += 1
        else:
            for bucket, value, n in self._counters(g, "priority", span):
                counts = buckets.get(bucket)
                if counts is not None and value in counts:
                    counts[value] += n
        return Timeline(
            bucket_seconds=g.seconds,
            counted_from=span.start,
            counted_to=span.end,
            buckets=[(s, buckets[g.bucket_at(s)]) for s in starts],
            exact=exact,
        )

    def _counters(
        self, g: Granularity, dimension: str, span: TimeRange
    ) -> Iterator[tuple[str, str, int]]:
        """(bucket, value, n) of one dimension's live counters in ``span`` (aligned)."""
        lo, hi = counter_sk_bounds(g, span)
        args: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :lo AND :hi",
            "FilterExpression": "#e > :now",
            "ProjectionExpression": "#sk, #n",
            "ExpressionAttributeNames": {"#pk": PK, "#sk": SK, "#e": TTL, "#n": "n"},
            "ExpressionAttributeValues": {
                ":pk": {"S": counter_pk(g, dimension)},
                ":lo": {"S": lo},
                ":hi": {"S": hi},
                ":now": {"N": str(int(self._clock()))},
            },
        }
        while True:
            got = self.client.query(**args)
            for item in got.get("Items", []):
                sk = item[SK]["S"]
                yield sk[: g.chars], sk[g.chars + 1 :], int(item["n"]["N"])
            last = got.get("LastEvaluatedKey")
            if not last:
                return
            args["ExclusiveStartKey"] = last

    def _matching(self, p: Plan, rng: TimeRange, attr: str) -> tuple[list[dict[str, Any]], bool]:
        """The alerts matching ``p`` in ``rng`` (``attr`` and keys only), at most
        ``COUNT_READ_BOUND`` read; True when that was all of them."""
        run = self._run(
            p,
            rng,
            None,
            want=None,
            max_calls=COUNT_CALLS,
            max_read=COUNT_READ_BOUND,
            projection=(attr,),
        )
        return run.items, run.next_key is None

    # --- the Query loop and its cursors ----------------------------------------------

    def _run(
        self,
        p: Plan,
        rng: TimeRange,
        cursor: str | None,
        *,
        want: int | None,
        max_calls: int,
        max_read: int | None = None,
        projection: tuple[str, ...] | None = None,
    ) -> _Run:
        """Queries ``p`` from ``cursor`` on until ``want`` items matched, ``max_calls``
        Queries were made or ``max_read`` items were read."""
        run = _Run()
        start = self._start_key(p, rng, cursor) if cursor else None
        args = query_input(p, rng, self._clock(), projection)
        while True:
            left = None if want is None else want - len(run.items)
            limit = left if left is not None and not p.conditions else PER_CALL_WITH_FILTERS
            if max_read is not None:
                limit = min(limit, max_read - run.scanned)
            request = {
                "TableName": self.table,
                "Limit": limit,
                "ReturnConsumedCapacity": "TOTAL",
                **args,
            }
            if start is not None:
                request["ExclusiveStartKey"] = start
            got = self.client.query(**request)
            run.calls += 1
            run.scanned += int(got.get("ScannedCount", 0))
            run.units += _units(got)
            run.items.extend(got.get("Items", []))
            start = got.get("LastEvaluatedKey") or None
            if want is not None and len(run.items) >= want:
                if len(run.items) > want:
                    del run.items[want:]
                    start = self._key_of(run.items[-1], p)
                break
            if start is None or run.calls >= max_calls:
                break
            if max_read is not None and run.scanned >= max_read:
                break
        run.next_key = start
        return run

    @staticmethod
    def _key_of(item: dict[str, Any], p: Plan) -> dict[str, Any]:
        return {a: item[a] for a in p.index.key_attributes()}

    def _cursor(self, p: Plan, key: dict[str, Any] | None) -> str | None:
        if key is None:
            return None
        plain = {a: str(v["S"]) for a, v in key.items()}
        return cursors.encode(p.index.name, cursors.query_hash(p.identity()), plain)

    def _start_key(self, p: Plan, rng: TimeRange, cursor: str) -> dict[str, Any]:
        """The start key in ``cursor``, checked against this query: DynamoDB must never
        get a start key outside the query's bounds."""
        query = cursors.query_hash(p.identity())
        try:
            key = cursors.decode(cursor, p.index.name, query, p.index.key_attributes())
        except cursors.CursorError as exc:
            raise QueryError(str(exc)) from None
        lo, hi = time_bounds(rng)
        ident = key[PK].removeprefix("alert#")
        if (
            key[SK] != "alert"
            or not key[PK].startswith("alert#")
            or key[p.index.key] != p.key
            or key[TIME][TIME_CHARS:] != f"#{ident}"
        ):
            raise QueryError("cursor is not one this API gave")
        if not lo <= key[TIME] <= hi:
            raise QueryError("cursor lies outside the time range asked")
        return {a: {"S": v} for a, v in key.items()}


def _values(item: dict[str, Any], dimension: str) -> list[str]:
    """The values of ``dimension`` an alert item adds one to (as its counters would)."""
    if dimension == "priority":
        return [str(Priority(int(item["prio"]["N"])))]
    if dimension == "tag":
        return [str(x["S"]) for x in item.get("tags", {}).get("L", [])]
    value = _s(item, DIMENSION_ATTRS[dimension])
    return [counted_value(value)] if value else []
