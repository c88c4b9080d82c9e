"""What ``lanner sensor`` does: check the host, build the capture, the enricher and the
Kinesis shipper from the options, and run them until stopped.

The command line (``cli/``) parses the options and loads the rules, then calls ``main``
here: how the sensor is put together lives with the sensor. What this module says goes
through ``say`` (one line each, for stderr), so the caller decides how lines are written.
The capture, enrichment and shipping modules are imported when used: ``--check`` and
``--help`` must not load bcc or boto3.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from deliver.lines import alert_line, write_line
from lanner import Alert, Engine

if TYPE_CHECKING:
    from sensor.ship import KinesisShipper

Say = Callable[[str], None]


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
    kubelet_insecure: bool
    kinesis_stream: str | None
    spool_dir: str
    spool_max_mb: int
    # Skip the events no loaded rule can match before their process part is built
    # (``--no-prefilter`` turns it off, to check that it changes no alert).
    prefilter: bool = True


class _CannotStart(Exception):
    """The sensor cannot start: the message is the one line the user sees, exit status 2."""


def check(heartbeat: str) -> int:
    """``--check``: 0 if a running sensor's heartbeat is fresh, else 1."""
    from sensor.run import heartbeat_fresh

    return 0 if heartbeat_fresh(Path(heartbeat)) else 1


def main(options: SensorOptions, load_engine: Callable[[], Engine], out: TextIO, say: Say) -> int:
    """Capture syscalls on this host and write alerts on ``out``; the exit status.

    ``load_engine`` compiles the rules (and reports its own errors): it is called after the
    host checks, so a wrong mount is told in a second, not after the rules compiled.
    """
    try:
        return _main(options, load_engine, out, say)
    except _CannotStart as exc:
        say(f"lanner sensor: {exc}")
        return 2


def _main(options: SensorOptions, load_engine: Callable[[], Engine], out: TextIO, say: Say) -> int:
    from sensor.capture import Capture, CaptureError, supported_event_types
    from sensor.enrich import EARLY_FIELDS, Enricher, HostRootError, check_host_root
    from sensor.run import Recorder, capture_set, exclude_self, run

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
    progress("loading the rules")
    engine = load_engine()
    # In a DaemonSet the pod's hostname is not the node's; NODE_NAME is.
    node_name = os.environ.get("NODE_NAME") or None
    shipper = (
        _shipper(options, node_name or socket.gethostname(), say)
        if options.kinesis_stream
        else None
    )
    types = capture_set(engine, supported_event_types())
    emit = sensor_emitter(out, options.as_json)
    record = options.record
    record_file = open(record, "w", encoding="utf-8") if record else None  # noqa: SIM115
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
            enricher = Enricher(
                proc_root=proc_root,
                hostname=node_name,
                passwd_path=os.path.join(host_root, "etc/passwd"),
                group_path=os.path.join(host_root, "etc/group"),
                host_root=host_root,
                seed=True,
                metadata=_kubelet(
                    options.kubelet_url,
                    options.kubelet_token,
                    options.kubelet_ca,
                    options.kubelet_insecure,
                ),
                # A recording keeps every event; otherwise only events a rule can match
                # become documents (the rest just keep process and fd state): first by
                # type, then by the event's own fields (the pre-filter).
                documents_for=None if record else engine.index_values("syscall", "evt.type"),
                prefilter=(
                    engine.prefilter("syscall", EARLY_FIELDS)
                    if options.prefilter and not record
                    else None
                ),
            )
            progress(
                f"ready: {len(enricher.procs)} processes seeded, "
                f"capturing {len(types)} event types"
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


def _kubelet(url: str | None, token: str, ca: str, insecure: bool) -> Any:
    """Pod and image metadata from the kubelet, when a URL is given; else none (never guessed)."""
    if not url:
        return None
    from sensor.k8smeta import KubeletMetadata

    return KubeletMetadata(
        url,
        token if os.path.exists(token) else None,
        ca if os.path.exists(ca) else None,
        insecure=insecure,
    ).lookup


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
