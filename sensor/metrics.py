"""The sensor's Prometheus metrics, served at ``/metrics`` on ``--metrics-listen HOST:PORT``.

Everything here is read when Prometheus scrapes (a custom collector on the sensor's own
registry), from counters the pipeline keeps anyway: ``sensor.run.SensorStats``, the
enricher's sizes, the Kinesis shipper's ``ShipStats``, the pod watch's ``stats()``, the
rules reloader's ``status()`` (``sensor.reload.ReloadStatus``). The
capture loop adds two things: a count of each batch's events by type (one C-level
``Counter.update`` per batch, not per-event Python work) and a count of each alert by rule
and priority (alerts are rare). The HTTP server runs in a thread of its own
(prometheus-client's), so a scrape reads those values while the loop runs: each value is
read at once, and the two counters are copied under a lock.

Labels are bounded: event types are the capture's set, rules are the loaded rules (and
the sensor's own drop alert), drop reasons and Kinesis error kinds are fixed.

The metrics (``lanner sensor --help`` and the README name them too):

- ``lanner_sensor_start_time_seconds``: when this sensor started (Unix time).
- ``lanner_sensor_running``: 1 while the capture loop runs (0 while starting or stopping).
- ``lanner_events_captured_total{type}``: events captured, by event type; ``rate()`` of it
  is the events per second by type, its ``sum`` all events captured.
- ``lanner_events_dropped_total{reason}``: events lost, by the capture's reason
  (``ringbuf_full``, ``stash_full``, ``scratch``, ``no_enter``, ``decode_errors``).
- ``lanner_events_evaluated_total``: events the rules were applied to.
- ``lanner_events_prefiltered_total``: of those, events the pre-filter found no rule can match.
- ``lanner_alerts_total{rule,priority}``: alerts, by rule and priority.
- ``lanner_rules_loaded``: rules the running engine evaluates (enabled).
- ``lanner_rules_load_ok``: 1 while the rules files as they are are the rules running, 0
  when they changed and do not load (the last good rules keep running).
- ``lanner_rules_last_load_success_timestamp_seconds``: when rules were last loaded.
- ``lanner_rules_loads_total{result}``: loads of the rules files (start-up included),
  ``ok`` or ``error``.
- ``lanner_ship_queue_records``, ``lanner_ship_queue_bytes``: records waiting in memory
  for Kinesis.
- ``lanner_ship_spool_records``, ``lanner_ship_spool_bytes``: records waiting on disk.
- ``lanner_ship_events_sent_total``: events that reached Kinesis.
- ``lanner_ship_events_dropped_total``: events the shipper lost (spool full).
- ``lanner_kinesis_errors_total{kind}``: PutRecords calls that failed as a whole
  (``call``), and records Kinesis refused in calls that went through (``record``).
- ``lanner_enrich_processes``, ``lanner_enrich_fds``: the process table and the open fds
  tracked in it.
- ``lanner_enrich_prefilter_verdicts``: pre-filter verdicts kept (the enricher's cache).
- ``lanner_enrich_container_metadata``: containers whose Kubernetes metadata is cached.
- ``lanner_k8s_pods``, ``lanner_k8s_containers``: what the pod watch knows of this node
  (with ``--k8s-api-url``), and its counters as ``lanner_k8s_<name>_total`` (relists,
  reconnects, errors).
- ``lanner_dns_names``, ``lanner_dns_resolved``, ``lanner_dns_addresses``,
  ``lanner_dns_skipped``: the domain names the rules compare ``fd.*.name`` with (the
  enricher's address -> name table, ``sensor.dnsnames``), and its counters
  ``lanner_dns_lookups_total``, ``lanner_dns_failures_total``.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sensor.listen import ListenError, parse_listen
from sensor.run import LOSS_REASONS

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from lanner import Alert
    from sensor.reload import ReloadStatus
    from sensor.run import SensorStats

# Pod watch counters that are sizes now, not counts since start.
_K8S_GAUGES = frozenset({"pods", "containers"})
# The same for the domain names' table.
_DNS_GAUGES = frozenset({"names", "resolved", "addresses", "skipped"})
_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")

_TYPE = attrgetter("type")


class SensorMetrics(Collector):
    """The sensor's metrics: a collector on its own registry (``registry``).

    ``sensor.run.run`` attaches what it runs (``attach``) and counts batches and alerts;
    ``sensor.command`` attaches the rules reloader's, the pod watch's and the domain names'
    status.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.start_time = clock()
        self.running = False
        self._lock = threading.Lock()
        self._by_type: Counter[str] = Counter()
        self._alerts: Counter[tuple[str, str]] = Counter()
        self._stats: SensorStats | None = None
        self._enricher: Any = None  # sensor.enrich.Enricher: prefiltered, sizes()
        self._shipper: Any = None
        self._k8s: Callable[[], Mapping[str, int]] | None = None
        self._dns: Callable[[], Mapping[str, int]] | None = None
        self._rules_status: Callable[[], ReloadStatus] | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    # -- what the sensor reports -----------------------------------------------------------

    def attach(
        self,
        *,
        stats: SensorStats | None = None,
        enricher: Any = None,
        shipper: Any = None,
        k8s: Callable[[], Mapping[str, int]] | None = None,
        dns: Callable[[], Mapping[str, int]] | None = None,
        rules: Callable[[], ReloadStatus] | None = None,
    ) -> None:
        """What the metrics read at scrape time; each given one replaces the last.
        ``shipper`` is a ``sensor.ship.KinesisShipper`` (read: its ``stats``); ``k8s`` the
        pod watch's ``stats``; ``dns`` the domain names' (``sensor.dnsnames.DnsNames``);
        ``rules`` the rules reloader's ``status``."""
        if stats is not None:
            self._stats = stats
        if enricher is not None:
            self._enricher = enricher
        if shipper is not None:
            self._shipper = shipper
        if k8s is not None:
            self._k8s = k8s
        if dns is not None:
            self._dns = dns
        if rules is not None:
            self._rules_status = rules

    def count_batch(self, batch: Iterable[Any]) -> None:
        """Counts a batch of captured events (``RawEvent``) by type."""
        with self._lock:
            self._by_type.update(map(_TYPE, batch))

    def count_alert(self, alert: Alert) -> None:
        with self._lock:
            self._alerts[(alert.rule, str(alert.priority))] += 1

    # -- the scrape ----------------------------------------------------------------------

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            by_type = dict(self._by_type)
            alerts = dict(self._alerts)
        yield _gauge(
            "sensor_start_time_seconds", "When this sensor started (Unix time).", self.start_time
        )
        yield _gauge(
            "sensor_running",
            "1 while the capture loop runs (0 while starting or stopping).",
            1 if self.running else 0,
        )
        captured = CounterMetricFamily(
            "lanner_events_captured", "Events captured, by event type.", labels=["type"]
        )
        for name, n in sorted(by_type.items()):
            captured.add_metric([name], n)
        yield captured
        yield from self._loop()
        fam = CounterMetricFamily(
            "lanner_alerts", "Alerts, by rule and priority.", labels=["rule", "priority"]
        )
        for (rule, priority), n in sorted(alerts.items()):
            fam.add_metric([rule, priority], n)
        yield fam
        yield from self._rules()
        yield from self._ship()
        yield from self._enrich()
        yield from _table("k8s", "The pod watch's", self._k8s, _K8S_GAUGES)
        yield from _table("dns", "The rules' domain names:", self._dns, _DNS_GAUGES)

    def _loop(self) -> Iterable[Metric]:
        stats = self._stats
        drops = stats.drops if stats is not None else {}
        fam = CounterMetricFamily(
            "lanner_events_dropped",
            "Events lost before the rules saw them, by the capture's reason.",
            labels=["reason"],
        )
        for reason in sorted(LOSS_REASONS):
            fam.add_metric([reason], drops.get(reason, 0))
        yield fam
        # The enricher's own count, live (SensorStats.prefiltered is set when the loop ends).
        prefiltered = getattr(self._enricher, "prefiltered", 0)
        documents = stats.documents if stats is not None else 0
        yield _counter(
            "events_evaluated", "Events the rules were applied to.", documents + prefiltered
        )
        yield _counter(
            "events_prefiltered",
            "Events the rules were applied to by the pre-filter alone (no rule can match them).",
            prefiltered,
        )

    def _rules(self) -> Iterable[Metric]:
        read = self._rules_status
        if read is None:
            return
        status = read()
        yield _gauge(
            "rules_loaded", "Rules the running engine evaluates (enabled).", status.rules_loaded
        )
        yield _gauge(
            "rules_load_ok",
            "1 while the rules files are the rules running, 0 when they changed and do not "
            "load (the last good rules keep running).",
            1 if status.last_ok else 0,
        )
        if status.last_load_time is not None:
            yield _gauge(
                "rules_last_load_success_timestamp_seconds",
                "When the running rules were loaded (Unix time).",
                status.last_load_time,
            )
        fam = CounterMetricFamily(
            "lanner_rules_loads",
            "Loads of the rules files (start-up included), by result.",
            labels=["result"],
        )
        fam.add_metric(["ok"], status.loads_ok)
        fam.add_metric(["error"], status.loads_failed)
        yield fam

    def _ship(self) -> Iterable[Metric]:
        s = getattr(self._shipper, "stats", None) if self._shipper is not None else None
        if s is None:
            return
        yield _gauge(
            "ship_queue_records", "Records waiting in memory for Kinesis.", s.queue_records
        )
        yield _gauge("ship_queue_bytes", "Bytes waiting in memory for Kinesis.", s.queue_bytes)
        yield _gauge("ship_spool_records", "Records waiting in the spool.", s.spool_files)
        yield _gauge("ship_spool_bytes", "Bytes in the spool.", s.spool_bytes)
        yield _counter(
            "ship_events_sent", "Events (and node alerts) that reached Kinesis.", s.events_sent
        )
        yield _counter(
            "ship_events_dropped",
            "Events (and node alerts) the shipper lost (spool full or unwritable).",
            s.dropped,
        )
        fam = CounterMetricFamily(
            "lanner_kinesis_errors",
            "Kinesis errors: PutRecords calls that failed as a whole (call), records "
            "refused in calls that went through (record).",
            labels=["kind"],
        )
        fam.add_metric(["call"], s.failed_calls)
        fam.add_metric(["record"], s.failed_records)
        yield fam

    def _enrich(self) -> Iterable[Metric]:
        read = getattr(self._enricher, "sizes", None)
        if read is None:
            return
        sizes = _settled(read)
        for key, help_text in _ENRICH_SIZES:
            if key in sizes:
                yield _gauge(f"enrich_{key}", help_text, sizes[key])


_ENRICH_SIZES = (
    ("processes", "Processes in the enricher's process table."),
    ("fds", "Open fds tracked in the process table."),
    ("prefilter_verdicts", "Pre-filter verdicts the enricher keeps (its cache)."),
    ("container_metadata", "Containers whose Kubernetes metadata the enricher keeps."),
)


def _table(
    prefix: str,
    what: str,
    read: Callable[[], Mapping[str, int]] | None,
    gauges: frozenset[str],
) -> Iterable[Metric]:
    """A component's ``stats()`` as ``lanner_<prefix>_<key>``: a gauge for a size now,
    else a counter (``_total``)."""
    if read is None:
        return
    for key, n in sorted(_settled(read).items()):
        if not _NAME.fullmatch(key):
            continue  # a name a metric cannot carry; the components' keys are fixed
        if key in gauges:
            yield _gauge(f"{prefix}_{key}", f"{what} {key} now.", n)
        else:
            yield _counter(f"{prefix}_{key}", f"{what} {key} since start.", n)


def _settled(read: Callable[[], Mapping[str, int]]) -> Mapping[str, int]:
    """``read()``, again if the loop changed a table while it was walked."""
    for _ in range(3):
        try:
            return read()
        except RuntimeError:  # "dictionary changed size during iteration"
            continue
    return read()


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"lanner_{name}", help_text, value=value)


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"lanner_{name}", help_text, value=value)


# -- the HTTP endpoint ---------------------------------------------------------------------


@dataclass
class MetricsServer:
    """The running ``/metrics`` endpoint; ``url`` is where it actually listens."""

    url: str
    _server: WSGIServer
    _thread: threading.Thread

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def serve(metrics: SensorMetrics, listen: str) -> MetricsServer:
    """Serves ``metrics`` at http://HOST:PORT/metrics from a thread of its own.

    Raises ListenError for a value that is not HOST:PORT, a host that does not resolve, or
    an address that cannot be bound (in use, not this machine's)."""
    host, port = parse_listen(listen)
    try:
        server, thread = start_http_server(port, host, registry=metrics.registry)
    except OSError as exc:  # socket.gaierror is one too
        raise ListenError(f"cannot listen there: {exc.strerror or exc}") from None
    bound_host, bound_port = server.socket.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
    return MetricsServer(f"http://{shown}:{bound_port}/metrics", server, thread)
