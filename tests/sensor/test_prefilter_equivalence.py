"""The pre-filter changes no alert: the same events raise the same alerts, from the same
documents, whether every event becomes a document, only those of the types a rule names
(the sensor without ``--no-prefilter`` before the pre-filter), or only those the
pre-filter lets through (``lanner.PreFilter``, ``sensor.enrich.EARLY_FIELDS``).

Each stream of raw events goes through three enrichers and engines side by side, with
Falco's stable rules and with our bundled ones; an alert is its rule, its output line, its
output fields and its uuid (a hash of the whole document, so equal uuids mean equal
documents). The recorded stream (``data/prefilter_workloads.jsonl.gz``: a developer's
session, a C build, git, tar, and attacks: sensitive reads, traversal, links, log
truncation, shred, key searches, memfd and /dev/shm execution, ptrace) replays anywhere,
with no /proc behind it; the live test runs those workloads on the real kernel (root and
eBPF) and also replays its own recording of them, and with ``LANNER_RECORD_PREFILTER=1``
rewrites the recording (environments are replaced by a fixed one).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from workloads import BUNDLED_RULES, UPSTREAM_RULES, LiveSensor, require_bpf, unique

from lanner import (
    Alert,
    Engine,
    Event,
    builtin_sources,
    compile_rules,
    load_rules,
    load_rules_text,
)
from sensor.enrich import EARLY_FIELDS, Enricher
from sensor.events import RawEvent
from sensor.run import run

DATA = Path(__file__).parent / "data" / "prefilter_workloads.jsonl.gz"
RECORD_ENV = "LANNER_RECORD_PREFILTER"
MODES = ("every event", "by type", "pre-filtered")
# An environment that says nothing about the machine the recording was made on.
_SCRUBBED_ENV = ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8"]


def rulesets() -> dict[str, Path]:
    found = {"stable": UPSTREAM_RULES, "bundled": BUNDLED_RULES}
    return {name: path for name, path in found.items() if path.exists()}


@dataclass
class Pipeline:
    """One enricher and one engine, as the sensor runs them, and what they raised."""

    enricher: Enricher
    engine: Engine
    alerts: list[tuple[str, str, str, str]] = field(default_factory=list)
    documents: int = 0
    # The document behind each alert, by uuid: a failure names the fields that differ.
    alerted: dict[str, dict[str, Any]] = field(default_factory=dict)

    def feed(self, raw: RawEvent) -> dict[str, Any] | None:
        doc = self.enricher.handle(raw)
        if doc is not None:
            self.documents += 1
            for a in self.engine.evaluate(doc, "syscall"):
                self.alerts.append(alert_key(a))
                self.alerted[a.uuid] = dict(doc)
        return doc


def alert_key(a: Alert) -> tuple[str, str, str, str]:
    return (a.rule, a.output, json.dumps(a.output_fields, sort_keys=True, default=str), a.uuid)


def pipelines(rules: Path, **enricher: Any) -> dict[str, Pipeline]:
    """The three ways of running the sensor on ``rules``, each with its own state."""
    out = {}
    for mode in MODES:
        engine = compile_rules(load_rules([str(rules)]), match="all")
        types = None if mode == "every event" else engine.index_values("syscall", "evt.type")
        prefilter = engine.prefilter("syscall", EARLY_FIELDS) if mode == "pre-filtered" else None
        out[mode] = Pipeline(Enricher(documents_for=types, prefilter=prefilter, **enricher), engine)
    return out


def assert_same_alerts(by_mode: dict[str, Pipeline], ruleset: str) -> list[str]:
    """Every mode raised the same alerts, in the same order; returns their rules."""
    first = by_mode["every event"]
    for mode, p in by_mode.items():
        assert p.alerts == first.alerts, f"{ruleset}, {mode}: {diff(first, p)}"
    return [a[0] for a in first.alerts]


def diff(want: Pipeline, got: Pipeline) -> str:
    missing = [a[:2] for a in want.alerts if a not in got.alerts]
    extra = [a[:2] for a in got.alerts if a not in want.alerts]
    fields = []
    for a, b in zip(want.alerts, got.alerts, strict=False):
        if a[:3] == b[:3] and a[3] != b[3]:
            da, db = want.alerted[a[3]], got.alerted[b[3]]
            fields = [
                (k, da.get(k), db.get(k))
                for k in sorted(da.keys() | db.keys())
                if da.get(k) != db.get(k)
            ]
            break
    return (
        f"missing {missing[:5]}, extra {extra[:5]} ({len(want.alerts)} vs {len(got.alerts)} "
        f"alerts); the first alert from another document differs in {fields[:10]}"
    )


def replay(raws: Iterable[RawEvent], rules: Path, root: Path) -> dict[str, Pipeline]:
    """``raws`` through the three modes, with an empty /proc and fixed user names: what
    the events themselves say, the same on every machine."""
    proc = root / "proc"
    proc.mkdir(parents=True, exist_ok=True)
    (root / "passwd").write_text("root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
    (root / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    by_mode = pipelines(
        rules,
        proc_root=str(proc),
        passwd_path=str(root / "passwd"),
        group_path=str(root / "group"),
        hostname="node-1",
        boot_time_ns=1_700_000_000_000_000_000,
    )
    for raw in raws:
        for p in by_mode.values():
            p.feed(dataclasses.replace(raw, args=dict(raw.args)))
    return by_mode


# --- the recorded form of raw events ------------------------------------------------------


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return {"$bytes": v.hex()}
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def _typed(v: Any) -> Any:
    if isinstance(v, dict):
        if set(v) == {"$bytes"}:
            return bytes.fromhex(v["$bytes"])
        return {k: _typed(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_typed(x) for x in v]
    return v


def write_raws(path: Path, raws: Iterable[RawEvent]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for raw in raws:
            d = _plain(dataclasses.asdict(raw))
            if "env" in d["args"]:
                d["args"]["env"] = list(_SCRUBBED_ENV)
            f.write(json.dumps(d, separators=(",", ":")) + "\n")


def read_raws(path: Path) -> list[RawEvent]:
    names = {f.name for f in dataclasses.fields(RawEvent)}
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            d = _typed(json.loads(line))
            d["truncated"] = tuple(d.get("truncated", ()))
            out.append(RawEvent(**{k: v for k, v in d.items() if k in names}))
    return out


# --- the recording, replayed anywhere -------------------------------------------------------


@pytest.fixture(scope="module")
def recorded() -> list[RawEvent]:
    if not DATA.exists():
        pytest.skip(f"{DATA} is not present")
    return read_raws(DATA)


@pytest.mark.parametrize("ruleset", ["stable", "bundled"])
def test_recorded_workloads_raise_the_same_alerts_with_and_without_the_prefilter(
    recorded: list[RawEvent], ruleset: str, tmp_path: Path
) -> None:
    rules = rulesets().get(ruleset)
    if rules is None:
        pytest.skip(f"no {ruleset} rules here")
    by_mode = replay(recorded, rules, tmp_path)
    raised = assert_same_alerts(by_mode, ruleset)
    # The attacks in the recording alert (the comparison is not between empty lists)...
    assert len(set(raised)) >= 5, raised
    # ...and the pre-filter skipped most events, so it was put to the test.
    filtered = by_mode["pre-filtered"]
    assert filtered.enricher.prefiltered > by_mode["by type"].documents // 2
    assert filtered.documents + filtered.enricher.prefiltered == by_mode["by type"].documents


def test_the_event_part_reads_as_the_whole_document(
    recorded: list[RawEvent], tmp_path: Path
) -> None:
    """Each early field, read from the document the pre-filter saw, is what the rules
    read from the finished document: what makes a refusal safe."""
    source = builtin_sources()["syscall"]
    missing = sorted(f for f in EARLY_FIELDS if f not in source.fields)
    assert not missing, f"EARLY_FIELDS names fields the syscall source lacks: {missing}"
    seen: list[dict[str, Any]] = []

    class Spy:
        def can_match(self, doc: dict[str, Any]) -> bool:
            seen.append(dict(doc))
            return True

        def skip(self) -> None:
            raise AssertionError("never refused")

    proc = tmp_path / "proc"
    proc.mkdir()
    enricher = Enricher(proc_root=str(proc), documents_for=None, prefilter=Spy())  # type: ignore[arg-type]
    checked: set[str] = set()
    for raw in recorded:
        asked = len(seen)
        doc = enricher.handle(raw)
        if doc is None or len(seen) == asked:
            continue  # no document, or an open whose verdict was known (not asked again)
        early = seen[-1]
        for name in EARLY_FIELDS:
            fdef = source.fields.get(name)
            assert fdef is not None
            keyed = name in ("evt.arg", "evt.rawarg", "evt.type.is")
            for arg in sorted(doc.get(name) or {}) if keyed else [None]:
                read = fdef.extractor(arg)
                a, b = read(Event(early, source)), read(Event(doc, source))
                assert a == b, (raw.type, name, arg, a, b)
                if b is not None:
                    checked.add(name)
    # Most early fields had a value somewhere in the recording: the comparison is real.
    assert len(checked) >= 30, sorted(EARLY_FIELDS - checked)


def test_a_close_of_an_fd_nothing_tracked_changes_nothing_later(tmp_path: Path) -> None:
    """Such a close makes no document and asks /proc nothing; the state it leaves is the
    one the full path leaves: fd 9, unknown to /proc at first, then closed, is looked up
    again once it is used after being made anew by a syscall the sensor does not see."""
    pid, ts = 4242, 1_700_000_000_000_000_000

    def ev(i: int, kind: str, res: int, **args: Any) -> RawEvent:
        return RawEvent(ts + i, kind, pid, pid, comm="w", res=res, args=args)

    proc = tmp_path / "proc"
    (proc / str(pid) / "fd").mkdir(parents=True)
    full = Enricher(proc_root=str(proc))
    quiet = Enricher(proc_root=str(proc), documents_for={"openat", "fchmod"})
    steps = [
        ev(0, "openat", 3, dirfd=-100, name="/a"),
        ev(1, "fchmod", 0, fd=9, mode=0o600),  # /proc has no fd 9: unresolved
        ev(2, "close", 0, fd=9),  # untracked: the quiet path
        ev(3, "close", -9, fd=8),  # EBADF: the full path in both
        ev(4, "close", 0, fd=3),  # tracked
        ev(5, "fchmod", 0, fd=9, mode=0o644),
    ]
    pairs = []
    for step in steps:
        if step.ts_ns == ts + 5:  # fd 9 is something again (a pipe, say)
            (proc / str(pid) / "fd" / "9").symlink_to("/c")
        pairs.append((step.type, full.handle(step), quiet.handle(step)))
    for kind, want, got in pairs:
        if kind == "close":
            assert got is None
        else:
            assert got == want
    last = pairs[-1][2]
    assert last is not None and last["fd.name"] == "/c" and last["evt.num"] == 6
    assert last["fd.types"] == {"9": "file"}


def test_an_opens_known_verdict_is_only_reused_for_the_same_file(tmp_path: Path) -> None:
    """The pre-filter's verdict on an open is kept by what the open's fields are made of:
    the same relative name from another directory, or through a directory fd, is asked
    again, and alerts as the full path does."""
    rules = load_rules_text(
        "- rule: Shadow read\n  desc: d\n  condition: evt.type = openat and fd.name = "
        "/etc/shadow\n  output: '%proc.name read %fd.name'\n  priority: WARNING\n"
        "  source: syscall\n"
    )
    pid, ts = 4242, 1_700_000_000_000_000_000
    proc = tmp_path / "proc"
    (proc / str(pid) / "fd").mkdir(parents=True)

    def ev(i: int, kind: str, res: int, **args: Any) -> RawEvent:
        return RawEvent(ts + i, kind, pid, pid, comm="cat", res=res, args=args)

    steps = [
        ev(0, "chdir", 0, path="/tmp"),
        ev(1, "openat", 3, dirfd=-100, name="shadow", flags=0),  # /tmp/shadow
        ev(2, "close", 0, fd=3),
        ev(3, "openat", 3, dirfd=-100, name="shadow", flags=0),  # the same: verdict kept
        ev(4, "close", 0, fd=3),
        ev(5, "chdir", 0, path="/etc"),
        ev(6, "openat", 3, dirfd=-100, name="shadow", flags=0),  # /etc/shadow
        ev(7, "openat", 4, dirfd=-100, name="/etc", flags=0o200000),
        ev(8, "openat", 5, dirfd=4, name="shadow", flags=0),  # through /etc's fd
        ev(9, "openat", 6, dirfd=-100, name="/tmp/shadow", flags=0),
    ]
    got: dict[bool, list[str]] = {}
    for on in (False, True):
        engine = compile_rules(rules, hostname="node-1")
        enricher = Enricher(
            proc_root=str(proc),
            documents_for=engine.index_values("syscall", "evt.type"),
            prefilter=engine.prefilter("syscall", EARLY_FIELDS) if on else None,
        )
        got[on] = []
        for step in steps:
            doc = enricher.handle(dataclasses.replace(step, args=dict(step.args)))
            if doc is not None:
                got[on] += [
                    f"{doc['evt.num']}: {a.message}" for a in engine.evaluate(doc, "syscall")
                ]
    assert got[False] == ["7: cat read /etc/shadow", "9: cat read /etc/shadow"]
    assert got[True] == got[False]


class _Capture:
    def __init__(self, events: list[RawEvent]) -> None:
        self.batches = [events]

    def poll(self, timeout_ms: int) -> list[RawEvent]:
        return self.batches.pop(0) if self.batches else []

    def stats(self) -> dict[str, int]:
        return {}


def test_the_sensor_loop_counts_skipped_events_as_evaluated(tmp_path: Path) -> None:
    """``lanner sensor``'s closing line reads the same with and without ``--no-prefilter``:
    as many events captured and evaluated, the same alerts."""
    rules = load_rules_text(
        "- rule: Shadow read\n  desc: d\n  condition: evt.type = openat and fd.name = "
        "/etc/shadow\n  output: '%proc.name read %fd.name (%evt.num)'\n  priority: WARNING\n"
        "  source: syscall\n"
    )
    pid, ts = 77, 1_700_000_000_000_000_000
    events = [
        RawEvent(ts + i, "openat", pid, pid, comm="cat", res=3, args={"dirfd": -100, "name": n})
        for i, n in enumerate(["/etc/hostname", "/etc/motd", "/etc/shadow", "/tmp/x"])
    ]
    (tmp_path / "proc").mkdir()
    out: dict[bool, tuple[tuple[int, int, int, int], list[str]]] = {}
    for on in (False, True):
        engine = compile_rules(rules, hostname="node-1")
        enricher = Enricher(
            proc_root=str(tmp_path / "proc"),
            documents_for=engine.index_values("syscall", "evt.type"),
            prefilter=engine.prefilter("syscall", EARLY_FIELDS) if on else None,
        )
        alerts: list[Alert] = []
        stats = run(_Capture(list(events)), enricher, engine, alerts.append, duration=0.3)
        counts = (stats.captured, stats.evaluated, stats.alerts, stats.prefiltered)
        out[on] = (counts, [a.message for a in alerts])
    assert out[False] == ((4, 4, 1, 0), ["cat read /etc/shadow (3)"])
    assert out[True] == ((4, 4, 1, 3), ["cat read /etc/shadow (3)"])


# --- live: the workloads on the real kernel -------------------------------------------------


@dataclass
class Tee:
    """Stands for LiveSensor's enricher: feeds every event it is given to each pipeline
    (and keeps it), and answers with the first's document."""

    pipelines: dict[str, dict[str, Pipeline]]
    raws: list[RawEvent] = field(default_factory=list)

    def handle(self, raw: RawEvent) -> dict[str, Any] | None:
        self.raws.append(raw)
        docs = [p.feed(raw) for by_mode in self.pipelines.values() for p in by_mode.values()]
        return docs[0]


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[Tee, LiveSensor]]:
    require_bpf()
    from sensor.capture import Capture, CaptureError, supported_event_types
    from sensor.run import capture_set

    found = rulesets()
    if not found:
        pytest.skip("neither Falco's stable rules nor the bundled rules are present")
    tee = Tee({name: pipelines(path, proc_root="/proc") for name, path in found.items()})
    types: frozenset[str] = frozenset()
    for by_mode in tee.pipelines.values():
        types |= capture_set(by_mode["every event"].engine, supported_event_types())
    try:
        cap = Capture(types, exclude_pids=(os.getpid(),), ringbuf_pages=2048)
    except CaptureError as e:
        pytest.skip(f"needs root and eBPF: {e}")
    with cap:
        sensor = LiveSensor(cap, tee, {})
        sensor.drain()
        tee.raws.clear()
        run_workloads(sensor)
        sensor.drain()
        yield tee, sensor


def run_workloads(sensor: LiveSensor) -> None:
    """Benign work, then attacks (each as in test_benign_live / test_scenarios_live)."""
    work = Path(tempfile.mkdtemp(prefix="lanner-prefilter-"))
    work.chmod(0o755)
    try:
        _benign(sensor, work)
        _attacks(sensor, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _benign(sensor: LiveSensor, work: Path) -> None:
    if shutil.which("gcc"):
        (work / "hello.c").write_text('#include <stdio.h>\nint main(void){puts("hi");return 0;}\n')
        sensor.run(["gcc", "-O1", "-o", "hello", "hello.c"], cwd=work)
    (work / "t.py").write_text(
        "import json, os, subprocess, tempfile\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    for i in range(50):\n"
        "        p = os.path.join(d, f'{i}.json')\n"
        "        open(p, 'w').write(json.dumps([i]))\n"
        "        json.load(open(p))\n"
        "subprocess.run(['true'], check=True)\n"
    )
    sensor.run([sys.executable, "t.py"], cwd=work)
    if shutil.which("git"):
        (work / "repo").mkdir()
        (work / "repo" / "README").write_text("hello\n")
        ident = "-c user.name=Dev -c user.email=dev@example.com"
        steps = f"git init -q . && git add README && git {ident} commit -qm first"
        sensor.run(["sh", "-c", steps], cwd=work / "repo")
    sensor.run(["tar", "-czf", "out.tgz", "t.py"], cwd=work)
    sensor.run(["sh", "-c", "ls -R /usr/lib | head -n 50 >/dev/null"])


MEMFD_EXEC = r"""
import os, sys
fd = os.memfd_create(sys.argv[1], 0)
with open(sys.argv[2], "rb") as f:
    os.write(fd, f.read())
os.execve(fd, [sys.argv[1], *sys.argv[3:]], {})
"""

PTRACE_TRACEME = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace(0, 0, None, None)  # PTRACE_TRACEME
"""


def _attacks(sensor: LiveSensor, work: Path) -> None:
    sensor.run(["cat", "/etc/shadow"], check=False)
    sensor.run(["sh", "-c", "cd /etc && cat shadow >/dev/null"], check=False)
    deep = work / "www" / "app" / "static"
    deep.mkdir(parents=True)
    sensor.run(["cat", "../" * (len(deep.parts) + 1) + "etc/shadow"], cwd=deep, check=False)
    sensor.run(["ln", "-sf", "/etc/shadow", str(work / unique("shadow"))], check=False)
    sensor.run(["ln", "/etc/shadow", str(work / unique("shadow"))], check=False)
    log = Path("/var/log") / f"{unique('lanner-prefilter')}.log"
    log.write_text("evidence\n")
    try:
        sensor.python(f"open({str(log)!r}, 'w').close()")
    finally:
        log.unlink(missing_ok=True)
    victim = work / unique("data")
    victim.write_bytes(b"x" * 4096)
    sensor.run(["shred", "-u", str(victim)], check=False)
    (work / "home" / ".ssh").mkdir(parents=True)
    (work / "home" / ".ssh" / "id_rsa").write_text("not a key\n")
    sensor.run(["find", str(work / "home"), "-name", "id_rsa"], check=False)
    (work / "credentials").write_text("[default]\naws_secret_access_key = x\n")
    sensor.run(["grep", "-r", "aws_secret_access_key", str(work)], check=False)
    sensor.python(MEMFD_EXEC, unique("memfd"), "/bin/true", check=False)
    if Path("/dev/shm").is_dir():
        binary = Path("/dev/shm") / unique("lanner-true")
        shutil.copy("/bin/true", binary)
        binary.chmod(0o755)
        try:
            sensor.run([str(binary)], check=False)
        finally:
            binary.unlink()
    sensor.python(PTRACE_TRACEME, unique("traceme"), check=False)


def test_live_workloads_raise_the_same_alerts_with_and_without_the_prefilter(
    live: tuple[Tee, LiveSensor],
) -> None:
    tee, sensor = live
    for ruleset, by_mode in tee.pipelines.items():
        raised = assert_same_alerts(by_mode, ruleset)
        # The attacks alerted (a busy machine may make the capture lose a few of them).
        assert len(set(raised)) >= 3, (ruleset, raised, sensor.capture.stats())
        assert by_mode["pre-filtered"].enricher.prefiltered > 0
    if os.environ.get(RECORD_ENV):
        write_raws(DATA, tee.raws)


def test_live_recording_replays_to_the_same_alerts_in_every_mode(
    live: tuple[Tee, LiveSensor], tmp_path: Path
) -> None:
    tee, _sensor = live
    for ruleset, rules in rulesets().items():
        assert_same_alerts(replay(tee.raws, rules, tmp_path / ruleset), ruleset)
