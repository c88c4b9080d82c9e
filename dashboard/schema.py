"""The alert store's layout, defined once: dimensions, filters, indexes, key and time
formats, item building, counter increments, bucket sizes, query planning. Pure (no
boto3): the store, the table, the bench and the tests derive from what is here.

One DynamoDB table (keys ``pk``/``sk``) holds two kinds of items:

- an alert: ``pk = "alert#<id>"``, ``sk = "alert"``, the document as received (``doc``),
  the events table's columns, and the keys of the global secondary indexes. Every index
  is sorted by ``t = "<time>#<id>"`` (time normalized to 30 sortable characters), so a
  search over a time range, newest first, is one Query on the index its filters pick.
- a counter: ``pk = "count#<granularity>#<dimension>"``, ``sk = "<bucket>#<value>"``,
  ``n``: how many alerts of that value fell in that minute, hour or day. Counts and
  timelines without filters read these, one Query per question.

Decisions the layout makes (the design left them open):

- A time range is half-open: ``start`` is in it, ``end`` is not (buckets tile it).
- ``<id>`` is the alert's uuid when it is at most 128 UTF-8 bytes; a longer one (an
  alert's own ``uuid`` field is free text) is replaced by ``sha256:<hex of it>``, so the
  keys stay within DynamoDB's limits; ``get`` applies the same rule to what it is asked.
- Index key values are cut to 1,024 characters and 2,048 UTF-8 bytes (DynamoDB's limit
  for an index's partition key), counter values and tags to 512 characters and 1,000
  bytes (a sort key holds 1,024 bytes); a filter's value is cut the same way, so it
  finds what was stored. Lone surrogates (valid in JSON, not in UTF-8) become U+FFFD in
  these columns; ``doc`` keeps them (as JSON escapes).
- An alert keeps at most 32 distinct tags in its columns and counters (Falco's rules
  have five or so); its document keeps them all.
- Counts by tag count an alert once per tag, so their total is the tags' total.
- Indexes carry 11 attributes besides their keys (``PROJECTED``): DynamoDB allows 100
  over all of a table's indexes. So no ``priority`` or ``uuid`` attribute (``prio`` and
  ``t`` say them) and a summary's counts in one attribute ``rep`` = [repeat, hosts].
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from deliver.alert import DeliveryAlert
from deliver.times import parse_time
from lanner import Priority

# What counts can be grouped by, and what a search can filter on.
DIMENSIONS: tuple[str, ...] = ("priority", "rule", "source", "tag", "hostname")
FILTERS: tuple[str, ...] = (
    "priority",
    "rule",
    "source",
    "tag",
    "hostname",
    "namespace",
    "account",
    "text",
)

RETENTION_DAYS_DEFAULT = 30
RETENTION_DAYS_MIN, RETENTION_DAYS_MAX = 1, 3650
DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class Filters:
    """What a search asks for; all optional, the AND of all given. An empty string is
    the same as not given (no stored alert has an empty value: empty ones are omitted)."""

    priority: Priority | None = None  # at least this (a lower value is more severe)
    rule: str | None = None
    source: str | None = None
    tag: str | None = None
    hostname: str | None = None
    namespace: str | None = None
    account: str | None = None
    text: str | None = None  # a case-insensitive substring of the output

    def active(self) -> bool:
        return any(getattr(self, f.name) not in (None, "") for f in fields(self))


@dataclass(frozen=True, slots=True)
class TimeRange:
    """From ``start`` (included) to ``end`` (excluded), aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a time range needs aware datetimes")
        if not self.start < self.end:
            raise ValueError("a time range must start before it ends")


# --- the table ---------------------------------------------------------------------------

PK, SK = "pk", "sk"
ALERT_SK = "alert"
TIME = "t"  # every index's sort key: "<time>#<id>"
TTL = "expires"
DOC = "doc"
RECEIVED = "received"
COUNT = "n"
# What every index carries besides its keys: the events table's columns and what searches
# filter on (never ``doc``). DynamoDB allows 100 projected attributes over all of a
# table's indexes, counting one attribute in two indexes twice: 9 indexes x 11 fits.
# Hence no ``priority`` (it is ``prio``'s name), no ``uuid`` (it ends ``t``), and a
# summary's repeat count and host count in one attribute, ``rep`` = [count, hosts].
PROJECTED: tuple[str, ...] = (
    "prio",
    "rule",
    "source",
    "hostname",
    "ns",
    "account",
    "tags",
    "out",
    "lc",
    "rep",
    TTL,
)


@dataclass(frozen=True, slots=True)
class Index:
    """A global secondary index: its partition key attribute, sorted by ``t``."""

    name: str
    key: str

    def projected(self) -> tuple[str, ...]:
        return tuple(a for a in PROJECTED if a != self.key)

    def key_attributes(self) -> frozenset[str]:
        """The attributes of a LastEvaluatedKey from this index."""
        return frozenset((PK, SK, TIME, self.key))


BY_TIME = Index("by-time", "all")
BY_RULE = Index("by-rule", "rule")
BY_HOST = Index("by-host", "hostname")
BY_SOURCE = Index("by-source", "source")
BY_NAMESPACE = Index("by-namespace", "ns")
BY_ACCOUNT = Index("by-account", "account")
AT_LEAST_CRITICAL = Index("at-least-critical", "min_critical")
AT_LEAST_ERROR = Index("at-least-error", "min_error")
AT_LEAST_WARNING = Index("at-least-warning", "min_warning")
INDEXES: tuple[Index, ...] = (
    BY_TIME,
    BY_RULE,
    BY_HOST,
    BY_SOURCE,
    BY_NAMESPACE,
    BY_ACCOUNT,
    AT_LEAST_CRITICAL,
    AT_LEAST_ERROR,
    AT_LEAST_WARNING,
)
INDEX_BY_NAME = {i.name: i for i in INDEXES}
# ``all`` and the band keys hold this one value: an alert is in a band's (sparse) index
# when its priority is at least the band's.
PRESENT = "alert"
BANDS: tuple[tuple[Priority, Index], ...] = (
    (Priority.CRITICAL, AT_LEAST_CRITICAL),
    (Priority.ERROR, AT_LEAST_ERROR),
    (Priority.WARNING, AT_LEAST_WARNING),
)

# Bounds of the columns (characters, then UTF-8 bytes).
MAX_KEY_CHARS, MAX_KEY_BYTES = 1024, 2048
MAX_VALUE_CHARS, MAX_VALUE_BYTES = 512, 1000
MAX_OUT_CHARS = 1024
MAX_LC_CHARS = 4096
MAX_TAGS = 32
MAX_ID_BYTES = 128
CUT_MARK = "…"

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """``text`` as UTF-8 can carry it: lone surrogates become U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def cut(text: str, chars: int, max_bytes: int) -> str:
    """At most ``chars`` characters and ``max_bytes`` UTF-8 bytes of ``text``."""
    short = clean(text[:chars])
    raw = short.encode("utf-8")
    return short if len(raw) <= max_bytes else raw[:max_bytes].decode("utf-8", "ignore")


def key_value(text: str) -> str:
    """An index key (rule, hostname, source, namespace, account) as stored and searched."""
    return cut(text, MAX_KEY_CHARS, MAX_KEY_BYTES)


def counted_value(text: str) -> str:
    """A tag, or a value in a counter's sort key, as stored and searched."""
    return cut(text, MAX_VALUE_CHARS, MAX_VALUE_BYTES)


def key_id(uuid: str) -> str:
    """The id an alert is stored under (see the module docstring)."""
    raw = uuid.encode("utf-8", "surrogatepass")
    if 0 < len(raw) <= MAX_ID_BYTES and not _SURROGATE.search(uuid):
        return uuid
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def alert_key(uuid: str) -> dict[str, Any]:
    """The base-table key of the alert with this uuid (DynamoDB JSON)."""
    return {PK: {"S": f"alert#{key_id(uuid)}"}, SK: {"S": ALERT_SK}}


# --- times and buckets -------------------------------------------------------------------

TIME_CHARS = 30  # YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ
_FALCO_TIME = re.compile(
    r"(?P<head>\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d)(?:[.,](?P<frac>\d+))?"
    r"(?P<zone>[Zz]|[+-]\d\d(?::?\d\d)?)?"
)


def format_time(when: datetime, nanos: int | None = None) -> str:
    """``when`` (aware) as the store's sortable UTC text; ``nanos`` replaces its fraction."""
    utc = when.astimezone(UTC)
    frac = nanos if nanos is not None else utc.microsecond * 1000
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def normalize_time(text: str) -> str | None:
    """An alert's ISO 8601 time as the store's text, nanoseconds kept; None when it is not
    one (then the store uses the time it received the alert)."""
    found = _FALCO_TIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if found is None:
        return None
    when = parse_time(found["head"] + (found["zone"] or "").upper())
    if when is None:
        return None
    frac = (found["frac"] or "")[:9].ljust(9, "0")
    return format_time(when.replace(microsecond=0), int(frac))


def parse_stored_time(text: str) -> datetime:
    """The store's time text back as a datetime (microseconds: nanoseconds are cut)."""
    return datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Granularity:
    """Counter buckets: a bucket's name is the first ``chars`` of the store's time text."""

    name: str
    seconds: int
    chars: int

    def bucket_of(self, stored_time: str) -> str:
        return stored_time[: self.chars]

    def floor(self, when: datetime) -> datetime:
        utc = when.astimezone(UTC)
        epoch = int(utc.timestamp() // self.seconds) * self.seconds
        return datetime.fromtimestamp(epoch, UTC)

    def ceil(self, when: datetime) -> datetime:
        down = self.floor(when)
        return down if down == when else down + timedelta(seconds=self.seconds)

    def bucket_at(self, when: datetime) -> str:
        return self.bucket_of(format_time(when))

    def starts(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Every bucket's start from ``start`` up to ``end`` (aligned times)."""
        step = timedelta(seconds=self.seconds)
        at = start
        while at < end:
            yield at
            at += step


MINUTE = Granularity("minute", 60, 16)
HOUR = Granularity("hour", 3600, 13)
DAY = Granularity("day", DAY_S, 10)
GRANULARITIES: tuple[Granularity, ...] = (MINUTE, HOUR, DAY)
MAX_BUCKETS = 360


def granularity_for(rng: TimeRange) -> Granularity:
    """The finest granularity with at most ``MAX_BUCKETS`` buckets in ``rng`` (day when
    none has: a range of a year is 365 days)."""
    span = (rng.end - rng.start).total_seconds()
    for g in GRANULARITIES:
        if span <= g.seconds * MAX_BUCKETS:
            return g
    return DAY


def aligned(rng: TimeRange, g: Granularity) -> TimeRange:
    """``rng`` widened to whole buckets."""
    return TimeRange(g.floor(rng.start), g.ceil(rng.end))


# --- items -------------------------------------------------------------------------------


def doc_json(doc: dict[str, Any]) -> str:
    """The document as stored: compact JSON, non-ASCII as is (escaped only when the
    document holds lone surrogates, which UTF-8 cannot carry)."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=str)
    if _SURROGATE.search(text):
        return json.dumps(doc, separators=(",", ":"), default=str)
    return text


def _tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    kept = dict.fromkeys(counted_value(t) for t in tags if t)
    return tuple(kept)[:MAX_TAGS]


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert as the store keeps it, in plain values: ``item()`` is the DynamoDB item,
    ``counters()`` the counter increments it makes when it is new."""

    id: str
    time: str  # the store's time text
    doc: str
    received: float
    expires: int
    priority: Priority
    rule: str
    source: str
    hostname: str
    namespace: str
    account: str
    tags: tuple[str, ...]
    output: str
    repeat: int | None
    hosts: int | None

    @property
    def sort_key(self) -> str:
        return f"{self.time}#{self.id}"

    def item(self) -> dict[str, Any]:
        """The alert item in DynamoDB JSON; empty attributes are left out."""
        out = self.output
        shown = out if len(out) <= MAX_OUT_CHARS else out[:MAX_OUT_CHARS] + CUT_MARK
        item: dict[str, Any] = {
            PK: {"S": f"alert#{self.id}"},
            SK: {"S": ALERT_SK},
            TIME: {"S": self.sort_key},
            DOC: {"S": self.doc},
            RECEIVED: {"N": _number(self.received)},
            TTL: {"N": str(self.expires)},
            BY_TIME.key: {"S": PRESENT},
            "prio": {"N": str(int(self.priority))},
        }
        for threshold, index in BANDS:
            if self.priority.at_least(threshold):
                item[index.key] = {"S": PRESENT}
        for attr, value in (
            ("rule", self.rule),
            ("source", self.source),
            ("hostname", self.hostname),
            ("ns", self.namespace),
            ("account", self.account),
            ("out", clean(shown)),
            ("lc", clean(out.lower()[:MAX_LC_CHARS])),
        ):
            if value:
                item[attr] = {"S": value}
        if self.tags:
            item["tags"] = {"L": [{"S": t} for t in self.tags]}
        if self.repeat is not None:
            item["rep"] = {"L": [{"N": str(self.repeat)}, {"N": str(self.hosts or 0)}]}
        return item

    def dimension_values(self) -> Iterator[tuple[str, str]]:
        """(dimension, value) for each counter this alert adds one to."""
        yield "priority", str(self.priority)
        if self.rule:
            yield "rule", counted_value(self.rule)
        if self.source:
            yield "source", counted_value(self.source)
        for tag in self.tags:
            yield "tag", tag
        if self.hostname:
            yield "hostname", counted_value(self.hostname)

    def counters(self) -> list[tuple[str, str]]:
        """(pk, sk) of every counter this alert adds one to: each dimension's value in its
        minute, hour and day."""
        return [
            (counter_pk(g, dim), counter_sk(g.bucket_of(self.time), value))
            for g in GRANULARITIES
            for dim, value in self.dimension_values()
        ]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def alert_record(alert: DeliveryAlert, received: float, retention_days: int) -> AlertRecord:
    """What the store keeps of ``alert``, received at ``received`` (epoch seconds).
    Retention counts from receipt, like a Redis TTL."""
    when = normalize_time(alert.time) or format_time(datetime.fromtimestamp(received, UTC))
    repeat = alert.repeat
    return AlertRecord(
        id=key_id(alert.uuid),
        time=when,
        doc=doc_json(alert.doc),
        received=received,
        expires=int(received) + retention_days * DAY_S,
        priority=alert.priority,
        rule=key_value(alert.rule),
        source=key_value(alert.source),
        hostname=key_value(alert.hostname),
        namespace=key_value(alert.where.namespace),
        account=key_value(alert.where.account),
        tags=_tags(alert.tags),
        output=alert.output,
        repeat=repeat.count if repeat is not None else None,
        hosts=repeat.hosts if repeat is not None else None,
    )


def bulk_items(records: Iterable[AlertRecord]) -> Iterator[dict[str, Any]]:
    """The items ``put`` would leave after storing each record once: the alert items,
    then every counter with its increments summed (for loading many alerts at once:
    the bench, tests, a demo). Each record's id must be new."""
    totals: Counter[tuple[str, str]] = Counter()
    expiry: dict[tuple[str, str], int] = {}
    for record in records:
        yield record.item()
        for key in record.counters():
            totals[key] += 1
            expiry[key] = max(expiry.get(key, 0), record.expires)
    for (pk, sk), n in totals.items():
        yield counter_item(pk, sk, n, expiry[(pk, sk)])


def counter_pk(g: Granularity, dimension: str) -> str:
    return f"count#{g.name}#{dimension}"


def counter_sk(bucket: str, value: str) -> str:
    return f"{bucket}#{value}"


def counter_sk_bounds(g: Granularity, rng: TimeRange) -> tuple[str, str]:
    """Sort-key bounds holding every value of the buckets ``rng`` (aligned) covers:
    ``$`` follows ``#``, and a bucket name has a fixed length."""
    last = rng.end - timedelta(seconds=g.seconds)
    return f"{g.bucket_at(rng.start)}#", f"{g.bucket_at(last)}$"


def counter_update(pk: str, sk: str, n: int, expires: int) -> dict[str, Any]:
    """UpdateItem's arguments (without TableName) adding ``n`` to a counter; the counter
    lives as long as the newest alert it counts."""
    return {
        "Key": {PK: {"S": pk}, SK: {"S": sk}},
        "UpdateExpression": "ADD #n :n SET #e = :e",
        "ExpressionAttributeNames": {"#n": COUNT, "#e": TTL},
        "ExpressionAttributeValues": {":n": {"N": str(n)}, ":e": {"N": str(expires)}},
    }


def counter_item(pk: str, sk: str, n: int, expires: int) -> dict[str, Any]:
    """A counter as a whole item (DynamoDB JSON): what ``counter_update``s add up to."""
    return {
        PK: {"S": pk},
        SK: {"S": sk},
        COUNT: {"N": str(n)},
        TTL: {"N": str(expires)},
    }


# --- query planning ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """One filter an index's key does not answer: ``op`` is "=", "<=" or "contains"."""

    attr: str
    op: str
    value: str | int


@dataclass(frozen=True, slots=True)
class Plan:
    """Which index a search Queries, with which key value, filtered by what."""

    index: Index
    key: str
    conditions: tuple[Condition, ...]

    def identity(self) -> str:
        """What tells this query from another (for cursors)."""
        conds = [[c.attr, c.op, c.value] for c in self.conditions]
        return json.dumps([self.index.name, self.key, conds], ensure_ascii=False)


def _given(value: str | None) -> str | None:
    return value if value else None


def plan(filters: Filters) -> Plan:
    """The index a search uses: the first given of rule, hostname, namespace, account,
    priority band (at least Critical, Error or Warning), source; else by time. Every
    other filter is a condition."""
    keyed: list[tuple[Index, str | None]] = [
        (BY_RULE, _given(filters.rule)),
        (BY_HOST, _given(filters.hostname)),
        (BY_NAMESPACE, _given(filters.namespace)),
        (BY_ACCOUNT, _given(filters.account)),
    ]
    band: Index | None = None
    if filters.priority is not None:
        for threshold, index in BANDS:  # the narrowest band holding the priority
            if filters.priority.at_least(threshold):
                band = index
                break
    chosen: tuple[Index, str] | None = None
    for index, value in keyed:
        if value is not None:
            chosen = (index, key_value(value))
            break
    if chosen is None and band is not None:
        chosen = (band, PRESENT)
    if chosen is None and _given(filters.source) is not None:
        chosen = (BY_SOURCE, key_value(str(filters.source)))
    index, key = chosen or (BY_TIME, PRESENT)

    conditions: list[Condition] = []
    for idx, value in [*keyed, (BY_SOURCE, _given(filters.source))]:
        if value is not None and idx is not index:
            conditions.append(Condition(idx.key, "=", key_value(value)))
    p = filters.priority
    if p is not None and p != Priority.DEBUG:
        band_exact = index is band and any(t == p and i is index for t, i in BANDS)
        if not band_exact:
            conditions.append(Condition("prio", "<=", int(p)))
    if _given(filters.tag) is not None:
        conditions.append(Condition("tags", "contains", counted_value(str(filters.tag))))
    if _given(filters.text) is not None:
        conditions.append(Condition("lc", "contains", clean(str(filters.text).lower())))
    return Plan(index, key, tuple(conditions))


def time_bounds(rng: TimeRange) -> tuple[str, str]:
    """``t`` bounds for ``rng``: BETWEEN them is [start, end), since an alert's ``t`` is
    its time followed by ``#<id>``."""
    return format_time(rng.start), format_time(rng.end)


def query_input(
    p: Plan, rng: TimeRange, now: float, projection: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Query's arguments (without TableName, Limit, ExclusiveStartKey), newest first;
    expired alerts (DynamoDB deletes them up to days late) are filtered out."""
    lo, hi = time_bounds(rng)
    names = {"#k": p.index.key, "#t": TIME, "#e": TTL}
    values: dict[str, Any] = {
        ":k": {"S": p.key},
        ":lo": {"S": lo},
        ":hi": {"S": hi},
        ":now": {"N": str(int(now))},
    }
    filters = ["#e > :now"]
    for i, c in enumerate(p.conditions):
        names[f"#f{i}"] = c.attr
        values[f":f{i}"] = {"N": str(c.value)} if isinstance(c.value, int) else {"S": c.value}
        if c.op == "contains":
            filters.append(f"contains(#f{i}, :f{i})")
        else:
            filters.append(f"#f{i} {c.op} :f{i}")
    args: dict[str, Any] = {
        "IndexName": p.index.name,
        "KeyConditionExpression": "#k = :k AND #t BETWEEN :lo AND :hi",
        "FilterExpression": " AND ".join(filters),
        "ScanIndexForward": False,
    }
    if projection is not None:
        wanted = dict.fromkeys((PK, SK, TIME, p.index.key, *projection))
        for j, attr in enumerate(wanted):
            names.setdefault(f"#p{j}", attr)
        args["ProjectionExpression"] = ", ".join(f"#p{j}" for j in range(len(wanted)))
    args["ExpressionAttributeNames"] = names
    args["ExpressionAttributeValues"] = values
    return args


# The attribute each groupable dimension is read from, on an alert item.
DIMENSION_ATTRS: dict[str, str] = {
    "priority": "prio",
    "rule": "rule",
    "source": "source",
    "tag": "tags",
    "hostname": "hostname",
}
