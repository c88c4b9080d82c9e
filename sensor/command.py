"""What ``lanner sensor`` does: check the host, build the capture, the enricher and the
Kinesis shipper from the options, and run them until stopped.

The command line (``cli/``) parses the options and loads the rules, then calls ``main``
here: how the sensor is put together lives with the sensor. What this module says goes
through ``say`` (one line each, for stderr), so the caller decides how lines are written.
The capture, enrichment, shipping, metrics and pod-watch modules are imported when used:
``--check`` and ``--help`` must not load bcc, boto3 or prometheus-client.

Rules are loaded again while the sensor runs (``sensor.reload``, on SIGHUP or when a rules
file changes): the new engine takes over between two events (``sensor.run.run``), and what
was derived from the rules follows it at the same moment: the enricher's event types and
pre-filter, and the domain names resolved for ``fd.*.name``. The capture's syscalls were
fixed at start; syscalls the new rules need beyond them are named in one line (a restart
captures them), never a crash.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from deliver.inert import inert
from deliver.lines import alert_line, write_line
from lanner import Alert, Engine

if TYPE_CHECKING:
    from lanner import PreFilter
    from sensor.dnsnames import DnsNames
    from sensor.k8smeta import ContainerMeta
    from sensor.metrics import SensorMetrics
    from sensor.run import Reload
    from sensor.ship import KinesisShipper

Say = Callable[[str], None]

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount/"  # the pod's mount of it


@dataclass(frozen=True, slots=True)
class SensorOptions:
    """``lanner sensor``'s options (``lanner sensor --help`` says what each does), but the
    rules and the minimum priority: the caller loads the rules."""

    as_json: bool
    record: str | None
    duration: float | None
    host_root: str
    heartbeat: str
    kubelet_url: str | None
    kubelet_token: str
    kubelet_ca: str
    kinesis_stream: str | None
    spool_dir: str
    spool_max_mb: int
    # Skip the events no loaded rule can match before their process part is built
    # (``--no-prefilter`` turns it off, to check that it changes no alert).
    prefilter: bool = True
    metrics_listen: str | None = None  # HOST:PORT
    k8s_api_url: str | None = None
    k8s_token: str = SERVICE_ACCOUNT + "token"
    k8s_ca: str = SERVICE_ACCOUNT + "ca.crt"
    # This node's name as Kubernetes knows it (the CLI defaults it to $NODE_NAME): the pods
    # watched, the alerts' hostname, the Kinesis partition key.
    node_name: str | None = None


@dataclass(frozen=True, slots=True)
class Rules:
    """Where the running rules come from, to load them again when they change."""

    paths: tuple[str, ...]  # the rules files and directories (watched)
    compile: Callable[[], Engine]  # loads and compiles them again; raises LannerError


class _CannotStart(Exception):
    """The sensor cannot start: the message is the one line the user sees, exit status 2."""


def check(heartbeat: str) -> int:
    """``--check``: 0 if a running sensor's heartbeat is fresh, else 1."""
    from sensor.run import heartbeat_fresh

    return 0 if heartbeat_fresh(Path(heartbeat)) else 1


def main(
    options: SensorOptions,
    load_engine: Callable[[], Engine],
    out: TextIO,
    say: Say,
    rules: Rules | None = None,
) -> int:
    """Capture syscalls on this host and write alerts on ``out``; the exit status.

    ``load_engine`` compiles the rules (and reports its own errors): it is called after the
    host checks, so a wrong mount is told in a second, not after the rules compiled.
    ``rules`` says where they come from, to reload them while the sensor runs (none: the
    rules of the start stay, SIGHUP ends the sensor, the metrics say nothing of the rules).
    """
    try:
        with contextlib.ExitStack() as closing:  # metrics server, pod watch, reloader, DNS
            return _main(options, load_engine, out, say, rules, closing)
    except _CannotStart as exc:
        say(f"lanner sensor: {exc}")
        return 2


def _main(
    options: SensorOptions,
    load_engine: Callable[[], Engine],
    out: TextIO,
    say: Say,
    rules: Rules | None,
    closing: contextlib.ExitStack,
) -> int:
    from sensor.capture import Capture, CaptureError, supported_event_types
    from sensor.dnsnames import DnsNames, rule_names
    from sensor.enrich import Enricher, HostRootError, check_host_root
    from sensor.recording import Recorder, open_recording
    from sensor.run import capture_set, exclude_self, run

    # Compiling and attaching take seconds, more under load: each step is said as it
    # starts, with the seconds since start, so a slow start is not a silent one.
    started = time.monotonic()

    def progress(line: str) -> None:
        say(f"lanner sensor: [{time.monotonic() - started:.1f} s] {line}")

    host_root = options.host_root
    try:  # before the probes compile: a wrong mount is told in a second, not after a minute
        for warning in check_host_root(host_root):
            say(f"lanner sensor: {warning}")
    except HostRootError as exc:
        raise _CannotStart(str(exc)) from None
    # Before the rules too: an address in use is told at once, and Prometheus sees the
    # sensor start (lanner_sensor_running 0 until the capture runs).
    metrics = _metrics(options.metrics_listen, progress, closing)
    node_name = options.node_name or None
    metadata = _metadata(options, node_name, say, progress)
    if metadata is not None:
        closing.callback(metadata.close)
        if metrics is not None:
            metrics.attach(k8s=metadata.stats)
    progress("loading the rules")
    reloader = None
    if rules is not None:
        from sensor.reload import RulesReloader

        # Later builds run on the reloader's thread and raise; the first is the caller's,
        # which reports its own errors and warnings.
        reloader = RulesReloader(rules.paths, rules.compile, say=say)
    engine = reloader.first(load_engine) if reloader is not None else load_engine()
    if reloader is not None:
        closing.callback(reloader.close)
        if metrics is not None:
            metrics.attach(rules=reloader.status)
    # The domain names the rules compare fd.*.name with, resolved while the probes compile.
    dns = DnsNames(rule_names(engine), say=lambda line: say(f"lanner sensor: {line}")).start()
    closing.callback(dns.close)
    if metrics is not None:
        metrics.attach(dns=dns.stats)
    shipper = (
        _shipper(options, node_name or socket.gethostname(), say)
        if options.kinesis_stream
        else None
    )
    supported = supported_event_types()
    types = capture_set(engine, supported)
    emit = sensor_emitter(out, options.as_json)
    record = options.record
    record_file = open_recording(record) if record else None
    # Syscalls no loaded rule can match are captured for process and fd state only: the
    # kernel then sends only their successes (a failed close or dup changes no state).
    # A recording keeps every event.
    ruled = engine.index_values("syscall", "evt.type")
    state_only = frozenset() if record or ruled is None else types - frozenset(ruled)
    try:
        with Capture(
            types, exclude_pids=exclude_self(), progress=progress, state_only=state_only
        ) as capture:
            proc_root = os.path.join(host_root, "proc")
            progress(f"seeding the process table from {proc_root}")
            documents_for, prefilter = rule_targets(engine, options)
            enricher = Enricher(
                proc_root=proc_root,
                hostname=node_name,
                passwd_path=os.path.join(host_root, "etc/passwd"),
                group_path=os.path.join(host_root, "etc/group"),
                host_root=host_root,
                seed=True,
                metadata=metadata.lookup if metadata is not None else None,
                documents_for=documents_for,
                prefilter=prefilter,
                dns_names=dns,
            )
            reload = None
            if reloader is not None:
                reload = swap_rules(reloader.poll, options, enricher, capture, supported, say, dns)
                reloader.start()
            progress(
                f"ready: {len(enricher.procs)} processes seeded, capturing {len(types)} event types"
            )
            stats = run(
                capture,
                enricher,
                engine,
                emit,
                recorder=Recorder(record_file) if record_file else None,
                duration=options.duration,
                heartbeat=_heartbeat_path(options.heartbeat, say),
                shipper=shipper,
                metrics=metrics,
                reload=reload,
            )
    except CaptureError as exc:
        raise _CannotStart(str(exc)) from None
    finally:
        if shipper is not None:
            shipper.close()  # run() closed it already, unless the capture never started
        if record_file:
            record_file.close()
    line = (
        f"captured {stats.captured} events, evaluated {stats.evaluated}, {stats.alerts} alerts, "
        f"drops: {sum(stats.drops.values())}"
    )
    if shipper is not None:
        line += f"; {shipper.stats.summary()}"
    say(line)
    return 0


def sensor_emitter(out: TextIO, as_json: bool) -> Callable[[Alert], None]:
    """How the sensor prints an alert: one line on ``out`` (the node's log), flushed so a
    log collector sees it at once; Falco's JSON, or the text line made inert."""

    def emit(alert: Alert) -> None:
        write_line(out, alert.to_json() if as_json else alert_line(alert))
        out.flush()

    return emit


def _shipper(options: SensorOptions, node: str, say: Say) -> KinesisShipper:
    """The Kinesis shipper, its stream checked."""
    stream = options.kinesis_stream
    assert stream is not None
    try:
        from sensor.ship import KinesisShipper, ShipError, check_stream, kinesis_client
    except ImportError as exc:
        raise _CannotStart(
            f"--kinesis-stream needs boto3 ({exc}): pip install 'lanner[aws]'"
        ) from None
    try:
        client = kinesis_client()
        warning = check_stream(client, stream)
        if warning:
            say(f"lanner sensor: {warning}")
        # One partition key per node: its records stay in order on one shard.
        return KinesisShipper(
            client,
            stream,
            node,
            spool_dir=Path(options.spool_dir),
            max_spool_bytes=options.spool_max_mb << 20,
        )
    except ShipError as exc:
        raise _CannotStart(str(exc)) from None


def rule_targets(
    engine: Engine, options: SensorOptions
) -> tuple[frozenset[str] | None, PreFilter | None]:
    """What the enricher takes from the rules: the event types that become documents, and
    the pre-filter. A recording keeps every event; otherwise only events a rule can match
    become documents (the rest just keep process and fd state): first by type, then by
    the event's own fields (the pre-filter)."""
    from sensor.enrich import EARLY_FIELDS

    if options.record:
        return None, None
    prefilter = engine.prefilter("syscall", EARLY_FIELDS) if options.prefilter else None
    return engine.index_values("syscall", "evt.type"), prefilter


def swap_rules(
    reload: Reload,
    options: SensorOptions,
    enricher: Any,
    capture: Any,
    supported: frozenset[str],
    say: Say,
    dns: DnsNames | None = None,
) -> Reload:
    """``reload``, with what depends on the rules re-targeted when it hands back new ones:
    the enricher's event types and pre-filter, the domain names resolved for
    ``fd.*.name``. The capture cannot change its syscalls
    while it runs: those the new rules need beyond what it captures are named once (a
    restart captures them)."""
    told: set[str] = set()

    def swap(requested: bool) -> Engine | None:
        new = reload(requested)
        if new is None:
            return None
        enricher.retarget(*rule_targets(new, options))
        if dns is not None:
            from sensor.dnsnames import rule_names

            dns.set_names(rule_names(new))
        missing = {k: v for k, v in _uncaptured(new, capture, supported).items() if k not in told}
        if missing:
            told.update(missing)
            what = ", ".join(f"{name} ({why})" for name, why in sorted(missing.items()))
            say(
                f"lanner sensor: the new rules match what this sensor has not captured since "
                f"it started: {what}; rules on them see it after a restart"
            )
        return new

    return swap


def _uncaptured(engine: Engine, capture: Any, supported: frozenset[str]) -> dict[str, str]:
    """Syscalls ``engine``'s rules can match that ``capture`` does not bring them, and why:
    not captured at all, or captured for state only (their failures never reach the rules)."""
    from sensor.run import capture_set

    captured: Collection[str] | None = getattr(capture, "event_types", None)
    if captured is None:  # a stand-in for the capture, which brings whatever it has
        return {}
    wanted = capture_set(engine, supported)
    ruled = engine.index_values("syscall", "evt.type")
    state_only: Collection[str] = getattr(capture, "state_only", ())
    out = dict.fromkeys(set(state_only) & set(wanted if ruled is None else ruled), "failures")
    out.update(dict.fromkeys(set(wanted) - set(captured), "not captured"))
    return out


def _metrics(
    listen: str | None, progress: Say, closing: contextlib.ExitStack
) -> SensorMetrics | None:
    """The metrics, served at ``listen`` (HOST:PORT) until the sensor ends; None without it."""
    if listen is None:
        return None
    shown = inert(listen)
    try:
        from sensor.listen import ListenError
        from sensor.metrics import SensorMetrics, serve
    except ImportError as exc:
        raise _CannotStart(
            f"--metrics-listen needs prometheus-client ({exc}): pip install 'lanner[sensor]'"
        ) from None
    metrics = SensorMetrics()
    try:
        server = serve(metrics, listen)
    except ListenError as exc:
        raise _CannotStart(f"--metrics-listen {shown}: {exc}") from None
    closing.callback(server.close)
    progress(f"metrics at {server.url}")
    return metrics


@dataclass(frozen=True, slots=True)
class _Metadata:
    """Where pod metadata comes from: the enricher's lookup, counters for the metrics, and
    how it stops."""

    lookup: Callable[[str], ContainerMeta | None]
    stats: Callable[[], Mapping[str, int]]
    close: Callable[[], None]


def _metadata(
    options: SensorOptions, node_name: str | None, say: Say, progress: Say
) -> _Metadata | None:
    """Pod metadata: this node's pods watched on the API server (``--k8s-api-url``), or the
    kubelet's pod list (``--kubelet-url``), or none (``<NA>``, never guessed)."""
    if options.k8s_api_url and options.kubelet_url:
        raise _CannotStart(
            "--k8s-api-url and --kubelet-url are two sources of the same pod metadata: give one"
        )
    if options.kubelet_url:
        return _kubelet(options.kubelet_url, options.kubelet_token, options.kubelet_ca)
    if not options.k8s_api_url:
        return None
    from sensor.podwatch import PodWatch

    if not os.path.isfile(options.k8s_ca):
        raise _CannotStart(
            f"--k8s-ca {inert(options.k8s_ca)}: no such file: the API server's certificate "
            "is verified against it (the cluster CA)"
        )
    token: str | None = options.k8s_token
    if not os.path.isfile(options.k8s_token):
        say(
            f"lanner sensor: --k8s-token {inert(options.k8s_token)}: no such file; asking "
            "the API server without a token (pod metadata will be <NA> if it refuses)"
        )
        token = None
    try:
        watch = PodWatch(
            options.k8s_api_url, node_name or "", token_path=token, ca_path=options.k8s_ca
        )
    except ValueError as exc:
        raise _CannotStart(f"--k8s-api-url: {exc}") from None
    progress(f"watching the pods of node {inert(node_name or '')} on {inert(options.k8s_api_url)}")
    watch.start()  # lists while the rules load and the probes compile
    return _Metadata(watch.lookup, watch.stats, watch.close)


def _kubelet(url: str, token: str, ca: str) -> _Metadata:
    """Pod and image metadata from the kubelet's pod list (TLS verified: against ``ca``
    when that file exists, else the system's CAs)."""
    from sensor.k8smeta import KubeletMetadata

    kubelet = KubeletMetadata(
        url,
        token if os.path.exists(token) else None,
        ca if os.path.exists(ca) else None,
    )
    return _Metadata(
        kubelet.lookup,
        lambda: {"fetches": kubelet.fetches, "errors": kubelet.errors},
        lambda: None,
    )


def _heartbeat_path(path: str, say: Say) -> Path | None:
    """The heartbeat file, if its folder can be made writable here (else no heartbeat, said
    once: a DaemonSet's probes would otherwise restart the pod with no reason given)."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(p.parent, os.W_OK)
    except OSError as exc:
        writable, why = False, exc.strerror or str(exc)
    else:
        why = "not writable"
    if writable:
        return p
    say(
        f"lanner sensor: cannot write the heartbeat in {p.parent} ({why}): "
        "`lanner sensor --check` will report this sensor as not running"
    )
    return None
