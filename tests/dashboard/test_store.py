"""The alert store against moto's DynamoDB: what a search, a count, a timeline, an export
and a lookup give back for alerts stored through ``AlertStore.put`` and through the
delivery Lambda, and which index each search reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from dashboard import schema
from dashboard.cursor import encode
from dashboard.destination import StoreDestination
from dashboard.schema import Filters, TimeRange
from dashboard.store import AlertStore, QueryError
from dashboard.table import create_alert_store_table, put_items
from functions.destinations import DestinationConfigError, build_destination
from lanner import Priority
from tests.dashboard.conftest import TABLE, MakeAlert, falco_time

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DAY = 86_400


class Clock:
    def __init__(self, when: datetime = NOW) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now


@dataclass
class Spy:
    """The real DynamoDB client, with the index each Query read kept."""

    client: Any
    indexes: list[str | None] = field(default_factory=list)

    def query(self, **kwargs: Any) -> Any:
        self.indexes.append(kwargs.get("IndexName"))
        return self.client.query(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def spy(aws: str) -> Spy:
    client = boto3.client("dynamodb")
    create_alert_store_table(client, TABLE)
    return Spy(client)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(spy: Spy, clock: Clock) -> AlertStore:
    return AlertStore(lambda: spy, TABLE, retention_days=30, clock=clock)


def ago(minutes: float) -> str:
    return falco_time(NOW - timedelta(minutes=minutes))


def last(hours: float) -> TimeRange:
    return TimeRange(NOW - timedelta(hours=hours), NOW)


def uuids(rows: list[Any]) -> list[str]:
    return [r.uuid for r in rows]


# --- a small varied store: one alert per kind of place and priority -----------------------

ZOO: dict[str, dict[str, Any]] = {
    "shell": dict(
        rule="Terminal shell in container",
        priority="Warning",
        hostname="node-1",
        namespace="shop",
        tags=["container", "shell", "T1059"],
        output="10:00:00.000000000: Warning A shell was spawned (user=root shell=bash)",
    ),
    "etc": dict(
        rule="Write below etc",
        priority="Error",
        hostname="node-2",
        namespace="shop",
        tags=["filesystem", "T1098"],
        output="10:00:00.000000000: Error File below /etc opened for writing (file=/etc/passwd)",
    ),
    "shell2": dict(
        rule="Terminal shell in container",
        priority="Critical",
        hostname="node-2",
        namespace="billing",
        tags=["container", "shell"],
        output="10:00:00.000000000: Critical A shell was spawned (user=root shell=sh)",
    ),
    "pod": dict(
        rule="Create Privileged Pod",
        priority="Notice",
        source="k8s_audit",
        hostname="",
        namespace="kube-system",
        tags=["k8s"],
        output="Privileged pod created (user=admin pod=evil ns=kube-system)",
        output_fields={"ka.target.namespace": "kube-system", "ka.user.name": "admin"},
    ),
    "mfa": dict(
        rule="Console Login Without MFA",
        priority="Alert",
        source="aws_cloudtrail",
        hostname="lanner-cloudtrail-detector",
        tags=["aws", "identity"],
        output="Console login without MFA (user=alice account=123456789012)",
        output_fields={"ct.user": "alice", "ct.recipientaccountid": "123456789012"},
    ),
    "debug": dict(
        rule="Read sensitive file untrusted",
        priority="Debug",
        hostname="node-1",
        namespace="shop",
        tags=[],
        output="10:00:00.000000000: Debug File opened by untrusted program (file=/etc/shadow)",
    ),
    "panic": dict(
        rule="Kernel module loaded",
        priority="Emergency",
        hostname="node-3",
        namespace="",
        tags=["host"],
        output="10:00:00.000000000: Emergency Linux kernel module injection (module=rootkit)",
        output_fields={"evt.type": "init_module"},
    ),
}


@pytest.fixture
def zoo(spy: Spy, clock: Clock, make_alert: MakeAlert) -> dict[str, str]:
    """The ZOO alerts, one a minute, "shell" the newest; name -> uuid. Loaded in bulk
    (``test_bulk_loading_leaves_what_put_leaves`` shows that is what ``put`` leaves)."""
    alerts = {
        name: make_alert(time=ago(n + 1), **spec) for n, (name, spec) in enumerate(ZOO.items())
    }
    records = [schema.alert_record(a, clock(), 30) for a in alerts.values()]
    put_items(spy, TABLE, schema.bulk_items(records))
    return {name: a.uuid for name, a in alerts.items()}


def search(store: AlertStore, spy: Spy, **filters: Any) -> tuple[list[str], set[str | None]]:
    spy.indexes.clear()
    page = store.search(last(1), Filters(**filters), limit=50)
    assert page.cursor is None
    return uuids(page.rows), set(spy.indexes)


def named(zoo: dict[str, str], *names: str) -> list[str]:
    """The uuids of ``names``, newest first (as ZOO lists them)."""
    return [zoo[n] for n in ZOO if n in names]


# --- filters, each alone and combined --------------------------------------------------

CASES = [
    ({}, "by-time", ["shell", "etc", "shell2", "pod", "mfa", "debug", "panic"]),
    ({"rule": "Terminal shell in container"}, "by-rule", ["shell", "shell2"]),
    ({"hostname": "node-2"}, "by-host", ["etc", "shell2"]),
    ({"namespace": "shop"}, "by-namespace", ["shell", "etc", "debug"]),
    ({"namespace": "kube-system"}, "by-namespace", ["pod"]),
    ({"account": "123456789012"}, "by-account", ["mfa"]),
    ({"source": "k8s_audit"}, "by-source", ["pod"]),
    ({"source": "syscall"}, "by-source", ["shell", "etc", "shell2", "debug", "panic"]),
    ({"priority": Priority.CRITICAL}, "at-least-critical", ["shell2", "mfa", "panic"]),
    ({"priority": Priority.ALERT}, "at-least-critical", ["mfa", "panic"]),
    ({"priority": Priority.EMERGENCY}, "at-least-critical", ["panic"]),
    ({"priority": Priority.ERROR}, "at-least-error", ["etc", "shell2", "mfa", "panic"]),
    (
        {"priority": Priority.WARNING},
        "at-least-warning",
        ["shell", "etc", "shell2", "mfa", "panic"],
    ),
    ({"priority": Priority.NOTICE}, "by-time", ["shell", "etc", "shell2", "pod", "mfa", "panic"]),
    ({"priority": Priority.DEBUG}, "by-time", list(ZOO)),
    ({"tag": "shell"}, "by-time", ["shell", "shell2"]),
    ({"tag": "T1098"}, "by-time", ["etc"]),
    ({"text": "/ETC/"}, "by-time", ["etc", "debug"]),
    ({"text": "shell=sh)"}, "by-time", ["shell2"]),
    # combined: the first of rule, host, namespace, account, band, source picks the index
    ({"rule": "Terminal shell in container", "namespace": "billing"}, "by-rule", ["shell2"]),
    ({"hostname": "node-1", "priority": Priority.WARNING}, "by-host", ["shell"]),
    ({"namespace": "shop", "tag": "T1098", "text": "passwd"}, "by-namespace", ["etc"]),
    (
        {"priority": Priority.ERROR, "source": "syscall"},
        "at-least-error",
        ["etc", "shell2", "panic"],
    ),
    ({"priority": Priority.ALERT, "text": "mfa"}, "at-least-critical", ["mfa"]),
    ({"source": "syscall", "tag": "container", "text": "shell=bash"}, "by-source", ["shell"]),
    ({"rule": "Write below etc", "hostname": "node-1"}, "by-rule", []),
    ({"tag": "nope"}, "by-time", []),
]


@pytest.mark.parametrize(("filters", "index", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_each_filter_reads_its_index_and_finds_its_alerts(
    store: AlertStore,
    spy: Spy,
    zoo: dict[str, str],
    filters: dict[str, Any],
    index: str,
    expected: list[str],
) -> None:
    assert schema.plan(Filters(**filters)).index.name == index
    found, read = search(store, spy, **filters)
    assert read == {index}
    assert found == named(zoo, *expected)


def test_rows_show_what_the_events_table_needs(store: AlertStore, zoo: dict[str, str]) -> None:
    page = store.search(last(1), Filters(rule="Console Login Without MFA"))
    [row] = page.rows
    assert row.to_json() == {
        "uuid": zoo["mfa"],
        "time": format(NOW - timedelta(minutes=5), "%Y-%m-%dT%H:%M:%S.000000000Z"),
        "priority": "Alert",
        "rule": "Console Login Without MFA",
        "source": "aws_cloudtrail",
        "hostname": "lanner-cloudtrail-detector",
        "namespace": "",
        "account": "123456789012",
        "tags": ["aws", "identity"],
        "output": "Console login without MFA (user=alice account=123456789012)",
        "output_truncated": False,
        "repeat": None,
        "hosts": None,
    }
    assert page.scanned == 1


def test_a_summary_row_says_how_often_and_on_how_many_hosts(
    store: AlertStore, make_alert: MakeAlert
) -> None:
    repeat = {
        "count": 42,
        "hosts": 3,
        "host_names": ["node-1", "node-2", "node-3"],
        "first_seen": ago(10),
        "last_seen": ago(1),
        "window_seconds": 600,
    }
    store.put(make_alert(time=ago(1), repeat=repeat))
    [row] = store.search(last(1), Filters()).rows
    assert (row.repeat, row.hosts) == (42, 3)


def test_newest_first_with_nanoseconds_and_time_zones(
    store: AlertStore, make_alert: MakeAlert
) -> None:
    times = {
        "a": "2026-11-28T11:00:00.000000001Z",
        "b": "2026-11-28T11:00:00.000000002Z",  # one nanosecond after a
        "c": "2026-11-28T12:30:00+01:00",  # 11:30 UTC
        "d": "2026-11-28T11:15:00.5",  # no offset: UTC, as Falco's
    }
    ids = {k: make_alert(time=v) for k, v in times.items()}
    for alert in ids.values():
        store.put(alert)
    rows = store.search(last(2), Filters()).rows
    assert uuids(rows) == [ids[k].uuid for k in "cdba"]
    assert [r.time for r in rows] == [
        "2026-11-28T11:30:00.000000000Z",
        "2026-11-28T11:15:00.500000000Z",
        "2026-11-28T11:00:00.000000002Z",
        "2026-11-28T11:00:00.000000001Z",
    ]


def test_an_alert_without_a_readable_time_is_kept_at_its_arrival(
    store: AlertStore, make_alert: MakeAlert, clock: Clock
) -> None:
    clock.now = (NOW - timedelta(minutes=3)).timestamp()
    alert = make_alert(time="yesterday, about noon")
    store.put(alert)
    [row] = store.search(last(1), Filters()).rows
    assert row.time == "2026-11-28T11:57:00.000000000Z"
    assert store.get(alert.uuid).doc["time"] == "yesterday, about noon"  # type: ignore[union-attr]


def test_a_range_holds_its_start_and_not_its_end(store: AlertStore, make_alert: MakeAlert) -> None:
    start, end = NOW - timedelta(hours=1), NOW
    at_start = make_alert(time=falco_time(start))
    before = make_alert(time="2026-11-28T10:59:59.999999999Z")
    at_end = make_alert(time=falco_time(end))
    last_in = make_alert(time="2026-11-28T11:59:59.999999999Z")
    for a in (at_start, before, at_end, last_in):
        store.put(a)
    rows = store.search(TimeRange(start, end), Filters()).rows
    assert uuids(rows) == [last_in.uuid, at_start.uuid]
    counts = store.counts(TimeRange(start, end), "priority", Filters())
    assert counts.groups == [("Warning", 2)]
    filtered = store.counts(TimeRange(start, end), "priority", Filters(namespace="shop"))
    assert filtered.groups == [("Warning", 2)]


# --- cursors ---------------------------------------------------------------------------


@pytest.fixture
def hundred_twenty(spy: Spy, clock: Clock, make_alert: MakeAlert) -> list[str]:
    """120 alerts, 20 s apart, newest first; every third is in namespace "pay". Loaded in
    bulk (``test_bulk_loading_leaves_what_put_leaves`` shows that is the same)."""
    alerts = [
        make_alert(
            time=falco_time(NOW - timedelta(seconds=20 * (i + 1))),
            namespace="pay" if i % 3 == 0 else "shop",
            rule=f"Rule {i % 4}",
        )
        for i in range(120)
    ]
    records = [schema.alert_record(a, clock(), 30) for a in alerts]
    put_items(spy, TABLE, schema.bulk_items(records))
    return [a.uuid for a in alerts]


def test_bulk_loading_leaves_what_put_leaves(
    store: AlertStore, spy: Spy, clock: Clock, make_alert: MakeAlert
) -> None:
    alerts = [
        make_alert(time=ago(n % 3), hostname=f"node-{n % 2}", tags=["a", f"t{n % 2}"])
        for n in range(6)
    ]
    for alert in alerts:
        store.put(alert)
    by_put = scan(spy, TABLE)
    create_alert_store_table(spy, "bulk")
    put_items(spy, "bulk", schema.bulk_items(schema.alert_record(a, clock(), 30) for a in alerts))
    assert scan(spy, "bulk") == by_put
    # 6 alerts, and 8 counters (priority, rule, source, tags a/t0/t1, node-0/node-1) in
    # each of 3 minutes, 2 hours and 1 day: every bucket holds both n%2 kinds.
    assert len(by_put) == 6 + 8 * (3 + 2 + 1)


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    items = client.scan(TableName=table)["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def pages(store: AlertStore, filters: Filters, limit: int) -> Iterator[list[str]]:
    cursor = None
    while True:
        page = store.search(last(1), filters, limit=limit, cursor=cursor)
        yield uuids(page.rows)
        if page.cursor is None:
            return
        cursor = page.cursor


def test_paging_through_120_alerts_50_at_a_time(
    store: AlertStore, hundred_twenty: list[str]
) -> None:
    got = list(pages(store, Filters(), 50))
    assert [len(p) for p in got] in ([50, 50, 20], [50, 50, 20, 0])
    assert [u for p in got for u in p] == hundred_twenty  # no gap, no repeat, in order


@pytest.mark.parametrize(
    "filters",
    [Filters(namespace="pay"), Filters(text="shell"), Filters(tag="shell", rule="Rule 1")],
)
def test_paging_a_filtered_search(
    store: AlertStore, hundred_twenty: list[str], filters: Filters
) -> None:
    expected = [r.uuid for r in store.search(last(1), filters, limit=200).rows]
    assert expected
    got = [u for p in pages(store, filters, 7) for u in p]
    assert got == expected


def test_a_cursor_survives_a_range_ending_now_that_moved(
    store: AlertStore, hundred_twenty: list[str]
) -> None:
    first = store.search(last(1), Filters(), limit=50)
    later = TimeRange(NOW - timedelta(minutes=59), NOW + timedelta(seconds=30))
    second = store.search(later, Filters(), limit=50, cursor=first.cursor)
    assert uuids(second.rows) == hundred_twenty[50:100]


def test_a_cursor_of_another_query_or_tampered_is_refused(
    store: AlertStore, hundred_twenty: list[str]
) -> None:
    cursor = store.search(last(1), Filters(namespace="pay"), limit=5).cursor
    assert cursor
    with pytest.raises(QueryError, match="cursor belongs to another query"):
        store.search(last(1), Filters(namespace="shop"), cursor=cursor)
    with pytest.raises(QueryError, match="cursor belongs to another query"):
        store.search(last(1), Filters(namespace="pay", text="x"), cursor=cursor)
    with pytest.raises(QueryError, match="cursor"):
        store.search(last(1), Filters(), cursor=cursor)
    for bad in (cursor[:-3], cursor + "!", "", "e30", "not a cursor", "A" * 20_000):
        with pytest.raises(QueryError, match=r"^cursor"):
            store.search(last(1), Filters(namespace="pay"), cursor=bad or "%")
    # right query, a key it must not name
    base = json.loads(_unb64(cursor))
    extra = encode(base["i"], base["h"], {**base["k"], "doc": "x"})
    with pytest.raises(QueryError, match="cursor names keys it must not"):
        store.search(last(1), Filters(namespace="pay"), cursor=extra)
    # right query and keys, a start outside its bounds
    elsewhere = encode(base["i"], base["h"], {**base["k"], "ns": "shop"})
    with pytest.raises(QueryError, match="cursor is not one this API gave"):
        store.search(last(1), Filters(namespace="pay"), cursor=elsewhere)
    with pytest.raises(QueryError, match="outside the time range"):
        store.search(last(0.05), Filters(namespace="pay"), cursor=cursor)


def _unb64(text: str) -> str:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def test_a_search_stops_after_five_queries_and_says_go_on(
    store: AlertStore, spy: Spy, hundred_twenty: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dashboard.store as store_module

    monkeypatch.setattr(store_module, "PER_CALL_WITH_FILTERS", 10)
    spy.indexes.clear()
    page = store.search(last(1), Filters(text="no such text"), limit=50)
    assert page.rows == [] and page.cursor is not None
    assert len(spy.indexes) == 5
    assert page.scanned == 50


# --- counts and timelines ----------------------------------------------------------------


def test_counts_by_each_dimension_come_from_counters(
    store: AlertStore, spy: Spy, zoo: dict[str, str]
) -> None:
    expected = {
        "priority": [
            ("Alert", 1),
            ("Critical", 1),
            ("Debug", 1),
            ("Emergency", 1),
            ("Error", 1),
            ("Notice", 1),
            ("Warning", 1),
        ],
        "rule": [
            ("Terminal shell in container", 2),
            ("Console Login Without MFA", 1),
            ("Create Privileged Pod", 1),
            ("Kernel module loaded", 1),
            ("Read sensitive file untrusted", 1),
            ("Write below etc", 1),
        ],
        "source": [("syscall", 5), ("aws_cloudtrail", 1), ("k8s_audit", 1)],
        "tag": [
            ("container", 2),
            ("shell", 2),
            ("T1059", 1),
            ("T1098", 1),
            ("aws", 1),
            ("filesystem", 1),
            ("host", 1),
            ("identity", 1),
            ("k8s", 1),
        ],
        "hostname": [
            ("node-1", 2),
            ("node-2", 2),
            ("lanner-cloudtrail-detector", 1),
            ("node-3", 1),
        ],
    }
    for by, groups in expected.items():
        spy.indexes.clear()
        counts = store.counts(last(1), by, Filters())
        assert counts.groups == groups, by
        assert (counts.total, counts.other, counts.exact) == (sum(n for _, n in groups), 0, True)
        assert counts.granularity == "minute"
        assert spy.indexes == [None], "one Query on the base table (the counters)"


def test_counts_top_and_other(store: AlertStore, zoo: dict[str, str]) -> None:
    counts = store.counts(last(1), "rule", Filters(), top=2)
    assert counts.groups == [("Terminal shell in container", 2), ("Console Login Without MFA", 1)]
    assert (counts.total, counts.other) == (7, 4)


def test_counts_with_a_filter_count_the_matching_alerts(
    store: AlertStore, spy: Spy, zoo: dict[str, str]
) -> None:
    spy.indexes.clear()
    counts = store.counts(last(1), "tag", Filters(namespace="shop"))
    assert counts.groups == [
        ("T1059", 1),
        ("T1098", 1),
        ("container", 1),
        ("filesystem", 1),
        ("shell", 1),
    ]
    assert (counts.granularity, counts.exact) == (None, True)
    assert (counts.counted_from, counts.counted_to) == (NOW - timedelta(hours=1), NOW)
    assert set(spy.indexes) == {"by-namespace"}
    by_priority = store.counts(last(1), "priority", Filters(priority=Priority.ERROR))
    assert by_priority.groups == [("Alert", 1), ("Critical", 1), ("Emergency", 1), ("Error", 1)]
    hosts = store.counts(last(1), "hostname", Filters(tag="k8s"))
    assert (hosts.groups, hosts.total) == ([], 0)  # an audit alert names no host


def test_a_filtered_count_past_its_bound_says_it_is_not_exact(
    store: AlertStore, hundred_twenty: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dashboard.store as store_module

    monkeypatch.setattr(store_module, "COUNT_READ_BOUND", 30)
    counts = store.counts(last(1), "rule", Filters(text="shell"))
    assert counts.exact is False and counts.total == 30
    monkeypatch.setattr(store_module, "COUNT_READ_BOUND", 50)
    whole = store.counts(last(1), "rule", Filters(namespace="pay"))
    assert whole.exact is True and whole.total == 40


@pytest.mark.parametrize(
    ("span", "name", "seconds"),
    [
        (timedelta(minutes=5), "minute", 60),
        (timedelta(hours=6), "minute", 60),
        (timedelta(hours=6, seconds=1), "hour", 3600),
        (timedelta(days=15), "hour", 3600),
        (timedelta(days=15, seconds=1), "day", 86400),
        (timedelta(days=400), "day", 86400),
    ],
)
def test_the_finest_granularity_with_at_most_360_buckets(
    span: timedelta, name: str, seconds: int
) -> None:
    g = schema.granularity_for(TimeRange(NOW - span, NOW))
    assert (g.name, g.seconds) == (name, seconds)


def test_a_counted_range_is_aligned_outward_and_says_so(
    store: AlertStore, make_alert: MakeAlert
) -> None:
    for when in ("2026-11-28T09:59:59.9Z", "2026-11-28T10:00:00Z", "2026-11-28T11:59:59Z"):
        store.put(make_alert(time=when))
    rng = TimeRange(datetime(2026, 11, 28, 9, 59, 30, tzinfo=UTC), NOW - timedelta(seconds=30))
    counts = store.counts(rng, "priority", Filters())
    assert counts.counted_from == datetime(2026, 11, 28, 9, 59, tzinfo=UTC)
    assert counts.counted_to == datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert counts.groups == [("Warning", 3)]
    hours = TimeRange(
        datetime(2026, 11, 20, 10, 30, tzinfo=UTC), datetime(2026, 11, 28, 10, 0, 1, tzinfo=UTC)
    )
    counted = store.counts(hours, "priority", Filters())
    assert counted.granularity == "hour"
    assert counted.counted_from == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert counted.counted_to == datetime(2026, 11, 28, 11, tzinfo=UTC)
    assert counted.groups == [("Warning", 2)]  # 11:59:59 is past the last hour
    days = store.counts(TimeRange(NOW - timedelta(days=30), NOW), "priority", Filters())
    assert days.granularity == "day"
    assert days.counted_from == datetime(2026, 10, 29, tzinfo=UTC)
    assert days.counted_to == datetime(2026, 11, 29, tzinfo=UTC)
    assert days.groups == [("Warning", 3)]


def test_timeline_has_every_bucket_and_priority_zeros_included(
    store: AlertStore, zoo: dict[str, str]
) -> None:
    timeline = store.timeline(TimeRange(NOW - timedelta(minutes=10), NOW), Filters())
    assert timeline.bucket_seconds == 60 and timeline.exact
    starts = [s for s, _ in timeline.buckets]
    assert starts == [NOW - timedelta(minutes=m) for m in range(10, 0, -1)]
    by_start = dict(timeline.buckets)
    assert all(list(c) == [str(p) for p in Priority] for c in by_start.values())
    assert by_start[NOW - timedelta(minutes=1)]["Warning"] == 1  # "shell"
    assert by_start[NOW - timedelta(minutes=5)]["Alert"] == 1  # "mfa"
    assert by_start[NOW - timedelta(minutes=10)] == dict.fromkeys(
        by_start[NOW - timedelta(minutes=10)], 0
    )
    assert sum(sum(c.values()) for c in by_start.values()) == 7
    filtered = store.timeline(
        TimeRange(NOW - timedelta(minutes=10), NOW), Filters(hostname="node-2")
    )
    assert [s for s, _ in filtered.buckets] == starts
    zeros = dict.fromkeys((str(p) for p in Priority), 0)
    assert {s: c for s, c in filtered.buckets if sum(c.values())} == {
        NOW - timedelta(minutes=2): {**zeros, "Error": 1},
        NOW - timedelta(minutes=3): {**zeros, "Critical": 1},
    }


def test_day_timeline_over_30_days(store: AlertStore, make_alert: MakeAlert) -> None:
    store.put(make_alert(time="2026-11-01T08:00:00Z", priority="Critical"))
    store.put(make_alert(time="2026-11-01T23:59:59Z", priority="Critical"))
    store.put(make_alert(time="2026-11-27T00:00:00Z", priority="Notice"))
    timeline = store.timeline(TimeRange(NOW - timedelta(days=30), NOW), Filters())
    assert timeline.bucket_seconds == DAY
    assert len(timeline.buckets) == 31  # 29 Oct .. 28 Nov: noon to noon, aligned outward
    nonzero = {
        s.date().isoformat(): {k: v for k, v in c.items() if v}
        for s, c in timeline.buckets
        if sum(c.values())
    }
    assert nonzero == {"2026-11-01": {"Critical": 2}, "2026-11-27": {"Notice": 1}}


# --- get, export, retention --------------------------------------------------------------


def test_get_gives_the_document_exactly(
    store: AlertStore, make_alert: MakeAlert, clock: Clock
) -> None:
    alert = make_alert(time=ago(1))
    sent = json.loads(json.dumps(alert.doc))
    assert store.put(alert)
    got = store.get(alert.uuid)
    assert got is not None
    assert got.doc == sent
    assert json.dumps(got.doc, sort_keys=True) == json.dumps(sent, sort_keys=True)
    assert got.received == clock.now
    assert got.expires == clock.now + 30 * DAY
    assert store.get("5b1d3c2e-0000-4000-8000-000000000000") is None
    assert store.get("") is None


def test_expires_is_receipt_plus_retention(spy: Spy, make_alert: MakeAlert) -> None:
    clock = Clock(NOW + timedelta(days=400))  # received long after the alert happened
    store = AlertStore(lambda: spy, TABLE, retention_days=7, clock=clock)
    alert = make_alert(time=ago(1))
    store.put(alert)
    item = spy.get_item(TableName=TABLE, Key=schema.alert_key(alert.uuid))["Item"]
    assert int(item["expires"]["N"]) == int(clock.now) + 7 * DAY
    counters = spy.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "count#hour#rule"}},
    )["Items"]
    assert [(c["sk"]["S"], c["n"]["N"], c["expires"]["N"]) for c in counters] == [
        ("2026-11-28T11#Terminal shell in container", "1", str(int(clock.now) + 7 * DAY))
    ]
    described = spy.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert described == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}


def test_expired_alerts_are_hidden_before_dynamodb_deletes_them(
    store: AlertStore, zoo: dict[str, str], clock: Clock
) -> None:
    assert store.get(zoo["shell"]) is not None
    clock.now += 30 * DAY
    assert store.get(zoo["shell"]) is None
    assert store.search(last(1), Filters()).rows == []
    assert store.search(last(1), Filters(rule="Write below etc")).rows == []
    assert store.counts(last(1), "rule", Filters()).total == 0
    assert store.counts(last(1), "rule", Filters(namespace="shop")).total == 0
    assert sum(sum(c.values()) for _, c in store.timeline(last(1), Filters()).buckets) == 0
    assert store.export_page(last(1), Filters(), limit=10, cursor=None).docs == []


def test_export_pages_hold_the_documents_as_stored(
    store: AlertStore, hundred_twenty: list[str]
) -> None:
    docs: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10):
        page = store.export_page(last(1), Filters(namespace="shop"), limit=30, cursor=cursor)
        assert len(page.docs) <= 30
        assert page.ndjson().decode().splitlines() == page.lines
        assert [json.loads(line) for line in page.lines] == page.docs
        docs.extend(page.docs)
        cursor = page.cursor
        if cursor is None:
            break
    assert [d["uuid"] for d in docs] == [u for i, u in enumerate(hundred_twenty) if i % 3]
    assert all(d["output_fields"]["k8s.ns.name"] == "shop" for d in docs)


def test_an_export_page_stops_at_its_byte_bound(
    store: AlertStore, hundred_twenty: list[str]
) -> None:
    sizes = [
        len(line.encode()) + 1
        for line in store.export_page(last(1), Filters(), limit=11, cursor=None).lines
    ]
    bound = sum(sizes[:10]) + sizes[10] - 1  # the eleventh does not fit
    page = store.export_page(last(1), Filters(), limit=100, cursor=None, max_bytes=bound)
    assert [d["uuid"] for d in page.docs] == hundred_twenty[:10]
    assert len(page.ndjson()) == sum(sizes[:10])
    rest = store.export_page(last(1), Filters(), limit=100, cursor=page.cursor)
    assert [d["uuid"] for d in rest.docs] == hundred_twenty[10:110]


def test_a_redelivered_alert_is_stored_and_counted_once(
    store: AlertStore, make_alert: MakeAlert
) -> None:
    alert = make_alert(time=ago(1))
    assert store.put(alert) is True
    assert store.put(alert) is False
    assert store.put(make_alert(**alert.doc)) is False
    assert len(store.search(last(1), Filters()).rows) == 1
    for by in schema.DIMENSIONS:
        assert all(n == 1 for _, n in store.counts(last(1), by, Filters()).groups), by


# --- hostile and odd strings --------------------------------------------------------------

HOSTILE = [
    "<script>alert(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    "nul\x00byte",
    "rtl \u202egnp.exe",
    "emoji 🐚🔥 and 漢字",
    'quote " back\\slash',
]


def test_hostile_strings_are_stored_and_returned_exactly(
    store: AlertStore, make_alert: MakeAlert
) -> None:
    long_rule = "R" * 4096  # the longest rule name an alert may have
    long_host = "h" * 10_240
    alerts = []
    for n, text in enumerate(HOSTILE):
        alert = make_alert(
            time=ago(n + 1),
            rule=text,
            output=f"10:00:00.000000000: Warning {text}",
            hostname=text,
            tags=[text, "T1059"],
            namespace=text,
            output_fields={"proc.cmdline": text, "k8s.ns.name": text},
        )
        alerts.append(alert)
    alerts.append(make_alert(time=ago(30), rule=long_rule, hostname=long_host, output="x" * 10_240))
    for alert in alerts:
        assert store.put(alert)
    for alert in alerts:
        got = store.get(alert.uuid)
        assert got is not None and got.doc == alert.doc
    rows = store.search(last(1), Filters()).rows
    assert [r.rule for r in rows[:-1]] == HOSTILE
    assert [r.output for r in rows[:-1]] == [f"10:00:00.000000000: Warning {t}" for t in HOSTILE]
    assert [r.namespace for r in rows[:-1]] == HOSTILE
    assert [r.tags for r in rows[:-1]] == [(t, "T1059") for t in HOSTILE]
    for text in HOSTILE:  # every one is found by what it holds
        [row] = store.search(
            last(1), Filters(rule=text, hostname=text, namespace=text, tag=text)
        ).rows
        assert row.rule == text
        [row] = store.search(last(1), Filters(text=text.upper())).rows
        assert row.rule == text
    big = rows[-1]
    assert big.rule == long_rule[:1024] and len(big.output) == 1025
    assert big.output.endswith("…") and big.output_truncated
    assert big.hostname == long_host[:1024]
    [found] = store.search(last(1), Filters(rule=long_rule, hostname=long_host)).rows
    assert found.uuid == alerts[-1].uuid  # a filter's value is cut as the stored one was
    groups = dict(store.counts(last(1), "rule", Filters()).groups)
    assert groups["R" * 512] == 1 and all(groups[t] == 1 for t in HOSTILE)
    hosts = dict(store.counts(last(1), "hostname", Filters(text="xxx")).groups)
    assert hosts == {"h" * 512: 1}


def test_a_long_uuid_and_lone_surrogates(store: AlertStore, make_alert: MakeAlert) -> None:
    alert = make_alert(time=ago(1), uuid="u" * 5000, output="half \ud800 a pair", tags=["\udfff"])
    assert store.put(alert)
    [row] = store.search(last(1), Filters()).rows
    assert row.uuid.startswith("sha256:") and row.output == "half \ufffd a pair"
    assert row.tags == ("\ufffd",)
    by_row, by_own = store.get(row.uuid), store.get("u" * 5000)
    assert by_row is not None and by_own is not None
    assert by_row.doc == by_own.doc == alert.doc  # the lone surrogates kept in the document


# --- through the delivery Lambda -----------------------------------------------------------


@dataclass
class FakeContext:
    function_name: str = "lanner-deliver-store"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:lanner-deliver-store"
    )
    aws_request_id: str = "0f0e0d0c-0b0a-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def deliver_store(spy: Spy, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from functions.deliver_handler import reset_state

    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="lanner-deliver-store-dlq")["QueueUrl"]
    queue = sqs.create_queue(QueueName="lanner-deliver-store")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    monkeypatch.setenv("LANNER_DESTINATION", "store")
    monkeypatch.setenv("LANNER_ALERT_STORE_TABLE", TABLE)
    monkeypatch.setenv("LANNER_ALERT_RETENTION_DAYS", "14")
    monkeypatch.setenv("LANNER_DEAD_LETTER_QUEUE_URL", dlq)
    reset_state()
    yield {"queue": queue, "arn": arn, "dlq": dlq}
    reset_state()


def deliver(queues: dict[str, str], *bodies: str) -> dict[str, Any]:
    from functions.deliver_handler import handler

    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=queues["queue"], MessageBody=body)
    got = sqs.receive_message(QueueUrl=queues["queue"], MaxNumberOfMessages=10)["Messages"]
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queues["arn"],
            "awsRegion": "us-east-1",
        }
        for m in got
    ]
    result = handler({"Records": records}, FakeContext())
    assert isinstance(result, dict)
    return result


def test_the_delivery_lambda_writes_the_store(
    deliver_store: dict[str, str], make_alert: MakeAlert, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    alert = make_alert(time=falco_time(now - timedelta(minutes=1)), rule="<script>x</script>")
    body = json.dumps(alert.doc, ensure_ascii=False)
    assert deliver(deliver_store, body, "not json at all") == {"batchItemFailures": []}
    assert deliver(deliver_store, body) == {"batchItemFailures": []}  # redelivered
    store = AlertStore(lambda: boto3.client("dynamodb"), TABLE)
    stored = store.get(alert.uuid)
    assert stored is not None and stored.doc == alert.doc
    assert stored.expires - stored.received == pytest.approx(14 * DAY, abs=1)
    rng = TimeRange(now - timedelta(hours=1), now + timedelta(minutes=1))
    assert uuids(store.search(rng, Filters()).rows) == [alert.uuid]
    assert store.counts(rng, "rule", Filters()).groups == [("<script>x</script>", 1)]
    dead = boto3.client("sqs").receive_message(
        QueueUrl=deliver_store["dlq"], MaxNumberOfMessages=10
    )
    assert [m["Body"] for m in dead["Messages"]] == ["not json at all"]


def test_the_store_destination_answers_as_aws_answered(spy: Spy, make_alert: MakeAlert) -> None:
    alert = make_alert(time=ago(1))
    dest = StoreDestination(AlertStore(lambda: spy, TABLE, clock=Clock()))
    assert (dest.name, dest.send(alert, "fp").body) == ("store", "stored")
    assert dest.send(alert, "fp").body == "already stored"
    missing = StoreDestination(AlertStore(lambda: spy, "no-such-table", clock=Clock()))
    answer = missing.send(alert, "fp")
    assert answer.permanent and "ResourceNotFoundException" in answer.describe()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "LANNER_ALERT_STORE_TABLE is not set"),
        (
            {"LANNER_ALERT_STORE_TABLE": "t", "LANNER_ALERT_RETENTION_DAYS": "0"},
            "LANNER_ALERT_RETENTION_DAYS",
        ),
        (
            {"LANNER_ALERT_STORE_TABLE": "t", "LANNER_ALERT_RETENTION_DAYS": "3651"},
            "LANNER_ALERT_RETENTION_DAYS",
        ),
        ({"LANNER_ALERT_STORE_TABLE": "t", "LANNER_ALERT_RETENTION_DAYS": "30d"}, "'30d'"),
    ],
)
def test_store_destination_configuration_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(DestinationConfigError, match=message):
        build_destination({"LANNER_DESTINATION": "store", **env}, lambda name: lambda: None, "")


def test_store_destination_from_its_environment() -> None:
    made: list[str] = []
    env = {"LANNER_DESTINATION": "store", "LANNER_ALERT_STORE_TABLE": "alerts"}
    dest = build_destination(env, lambda name: made.append(name) or (lambda: None), "")
    assert isinstance(dest, StoreDestination) and made == ["dynamodb"]
    assert (dest.store.table, dest.store.retention_days) == ("alerts", 30)
    dest = build_destination(
        {**env, "LANNER_ALERT_RETENTION_DAYS": "3650"}, lambda n: lambda: None, ""
    )
    assert isinstance(dest, StoreDestination) and dest.store.retention_days == 3650


def test_the_bench_runs_on_a_small_store() -> None:
    """bench/dashboard.py end to end on 300 alerts (in its own process: it patches moto)."""
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[2] / "bench" / "dashboard.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--alerts", "300", "--days", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "loaded 300 alerts and" in done.stdout
    assert "moto reports a constant" in done.stdout
    rows = {
        line[:40].strip(): line[40:].split()
        for line in lines
        if line[:1].isalpha() and len(line) > 60
    }
    assert rows["get by id"][:3] == ["1", "1", "0.5"] and rows["get by id"][-1] == "found"
    assert rows["recent page (24h, 50 rows)"][:2] == ["1", "50"]  # one Query, 50 items read
    assert rows["counts by priority, 30d"][-1] == "(day)"
