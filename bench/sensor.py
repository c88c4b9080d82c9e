"""What the node sensor costs and how much it ships, all measured in one run.

    sudo python bench/sensor.py [--seconds N] [--rounds R] [--rules PATH...] [--json]

1. Slowdown of syscall-heavy workloads with the sensor running against without it: an
   open/close loop (``open("/etc/hostname")`` + ``close``, a C program compiled at bench
   start, timed inside itself) and a fork/exec loop (``/bin/true``). Off, on, and
   "kernel-only" (programs attached, consumer paused: the BPF cost without user space
   competing for the CPU) rounds are interleaved; medians of per-round ratios to "off".
2. Events captured per second and losses per drop reason while a rate-limited open/close
   loop drives 10k .. 100k events/s and the sensor consumes.
3. The share of captured events that would leave the node (the enriched event matches at
   least one enabled rule) under a benign mixed workload (gcc, git, python, ls, tar), and
   the user-space cost per event (decode, enrich, evaluate), measured offline on the raw
   ring-buffer records recorded during that workload.

Event losses are ``ringbuf_full``, ``stash_full`` and ``scratch``; ``read_failed`` means an
argument was left out (user memory not paged in), not a lost event.

The sensor runs in a child process (this script with ``--child``) doing exactly what
``lanner sensor`` does per event (capture -> Enricher -> Engine.evaluate), so the
workload's own timing holds the kernel-side cost plus the competition for CPU a real
node sees. The bench driver itself is excluded from capture; everything else on the
machine is not, so background activity shows up in the counts (reported separately).
"""

from __future__ import annotations

import argparse
import ctypes as ct
import json
import os
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# Falco's own syscall rules, from ../shared beside the repository (as the tests find them).
DEFAULT_RULES = ROOT.parent / "shared" / "corpus" / "falco" / "falco_rules.yaml"
RATES = (10_000, 25_000, 50_000, 100_000)
# Drop reasons that lose a whole event; read_failed only leaves an argument out.
EVENT_LOSSES = ("ringbuf_full", "stash_full", "scratch")
# Comm of the open/close program, so its events can be told from the machine's others.
OC_COMM = "lbench_oc"
TARGET_SLOWDOWN_PCT = 5.0
TARGET_RATE = 50_000
TARGET_SHIPPED_PCT = 1.0
MSG = "@@"  # prefix of the child's protocol lines (bcc may print to stdout too)

LOOP_C = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* oc N RATE: N x (open+close), at most RATE iterations/s (0: as fast as possible).
 * exec N: N x fork + exec /bin/true + wait. Prints "<iterations> <elapsed ns>". */
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long n = atol(argv[2]);
    long long t0 = now_ns();
    if (argv[1][0] == 'o') {
        double rate = argc > 3 ? atof(argv[3]) : 0;
        long batch = rate > 0 ? (long)(rate / 2000) + 1 : n;
        for (long i = 0; i < n;) {
            for (long j = 0; j < batch && i < n; j++, i++) {
                int fd = open("/etc/hostname", O_RDONLY);
                if (fd >= 0) close(fd);
            }
            if (rate > 0) {
                long long due = t0 + (long long)(i * 1e9 / rate);
                if (now_ns() < due) {
                    struct timespec ts = {due / 1000000000LL, due % 1000000000LL};
                    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                }
            }
        }
    } else {
        for (long i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) {
                execl("/bin/true", "true", (char *)NULL);
                _exit(127);
            }
            int st;
            waitpid(p, &st, 0);
        }
    }
    printf("%ld %lld\n", n, now_ns() - t0);
    return 0;
}
"""

# The benign mixed workload: a developer's build box, roughly.
MIXED_SH = r"""
set -e
cd "$1"
rounds="$2"
mkdir -p src
cat > src/hello.c <<'EOF'
#include <stdio.h>
int main(void) { printf("hello\n"); return 0; }
EOF
git init -q repo 2>/dev/null || true
i=0
while [ "$i" -lt "$rounds" ]; do
    gcc -O1 -o hello src/hello.c
    ./hello > /dev/null
    cp src/hello.c "repo/f$i.c"
    git -C repo add "f$i.c"
    git -C repo -c user.email=b@example.com -c user.name=bench commit -q -m "round $i"
    git -C repo log --oneline > /dev/null
    python3 -c 'import json, os; json.dumps(sorted(os.listdir("/usr/lib")))'
    ls -la /usr/bin > /dev/null
    ls -R /usr/share/doc > /dev/null 2>&1 || true
    tar -czf "src$i.tgz" src repo
    tar -tzf "src$i.tgz" > /dev/null
    i=$((i + 1))
done
"""


# --- the sensor child ------------------------------------------------------------------


def child_main(rule_paths: list[str], exclude: list[int]) -> int:
    """Runs the sensor pipeline and answers the driver's commands on stdin (one a line)."""
    import lanner
    from sensor.capture import Capture, supported_event_types
    from sensor.enrich import Enricher
    from sensor.run import capture_set

    class RecordingCapture(Capture):
        """A Capture that can also keep each ring-buffer record's bytes."""

        recording: list[bytes] | None = None

        def _on_event(self, ctx: Any, data: Any, size: int) -> None:
            if self.recording is not None:
                self.recording.append(ct.string_at(data, size))
            super()._on_event(ctx, data, size)

    engine = lanner.compile_rules(lanner.load_rules(rule_paths), hostname="bench")
    types = capture_set(engine, supported_event_types())
    cap: RecordingCapture | None = None
    enricher: Enricher | None = None
    counts = {"captured": 0, "documents": 0, "shipped": 0, "oc_events": 0}
    rules: dict[str, int] = {}
    out = sys.stdout

    def reply(obj: dict[str, Any]) -> None:
        out.write(MSG + json.dumps(obj) + "\n")
        out.flush()

    def stats() -> dict[str, Any]:
        t = os.times()
        return {
            **counts,
            "drops": {k: v for k, v in cap.stats().items() if k not in ("events",)}
            if cap is not None
            else {},
            "cpu_s": t.user + t.system,
            "rules": dict(rules),
        }

    stdin = sys.stdin
    consuming = True
    try:
        while True:
            if cap is not None and consuming:
                for raw in cap.poll(20):
                    counts["captured"] += 1
                    if raw.comm == OC_COMM:
                        counts["oc_events"] += 1
                    doc = enricher.handle(raw) if enricher is not None else None
                    if doc is None:
                        continue
                    counts["documents"] += 1
                    alerts = engine.evaluate(doc, "syscall")
                    if alerts:
                        counts["shipped"] += 1
                        rules[alerts[0].rule] = rules.get(alerts[0].rule, 0) + 1
                ready, _, _ = select.select([stdin], [], [], 0)
            else:
                ready, _, _ = select.select([stdin], [], [], None)
            if not ready:
                continue
            line = stdin.readline()
            if not line:
                return 0
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "attach":
                if cap is None:
                    t0 = time.monotonic()
                    cap = RecordingCapture(types, exclude_pids=exclude)
                    enricher = Enricher(
                        proc_root="/proc",
                        hostname="bench",
                        seed=True,
                        documents_for=engine.index_values("syscall", "evt.type"),
                    )
                    for k in counts:
                        counts[k] = 0
                    rules.clear()
                    reply({"attached": len(cap.event_types), "load_s": time.monotonic() - t0})
                else:
                    reply({"attached": len(cap.event_types), "load_s": 0.0})
            elif cmd in ("pause", "resume"):
                consuming = cmd == "resume"
                reply({"consuming": consuming})
            elif cmd == "detach":
                if cap is not None:
                    cap.close()
                cap = enricher = None
                consuming = True
                reply({"detached": True})
            elif cmd == "stats":
                reply(stats())
            elif cmd == "record":
                if cap is not None:
                    cap.recording = []
                reply({"recording": True})
            elif cmd == "save":
                recs = (cap.recording if cap is not None else None) or []
                with open(arg, "wb") as f:
                    for r in recs:
                        f.write(struct.pack("<I", len(r)))
                        f.write(r)
                if cap is not None:
                    cap.recording = None
                reply({"saved": len(recs)})
            elif cmd == "quit":
                return 0
    finally:
        if cap is not None:
            cap.close()


class Sensor:
    """The driver's handle on the sensor child."""

    def __init__(self, rule_paths: Sequence[str], errlog: IO[str]) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--rules", *rule_paths]
        cmd += ["--exclude", str(os.getpid())]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, text=True
        )

    def ask(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the sensor child died (exit {self.proc.wait()})")
            if line.startswith(MSG):
                reply: dict[str, Any] = json.loads(line[len(MSG) :])
                return reply

    def drain(
        self, expect_oc: int | None = None, quiet_s: float = 0.4, limit_s: float = 30
    ) -> tuple[dict[str, Any], float]:
        """Stats once the consumer has caught up: its count stops moving (or reaches
        ``expect_oc`` open/close events). Returns them and how long catching up took."""
        t0 = time.monotonic()
        last = self.ask("stats")
        still = time.monotonic()
        while time.monotonic() - t0 < limit_s:
            time.sleep(0.1)
            s = self.ask("stats")
            if expect_oc is not None and s["oc_events"] >= expect_oc:
                return s, time.monotonic() - t0
            if s["oc_events"] != last["oc_events"] or s["captured"] - last["captured"] > 2000:
                still = time.monotonic()
            elif time.monotonic() - still >= quiet_s:
                return s, still - t0
            last = s
        return last, time.monotonic() - t0

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- workloads ---------------------------------------------------------------------------


def build_loop(tmp: Path) -> Path:
    src = tmp / "loop.c"
    src.write_text(LOOP_C)
    exe = tmp / OC_COMM
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(src)], check=True)
    return exe


def run_loop(exe: Path, *args: object) -> tuple[int, float]:
    """Runs the C loop; its own count and elapsed seconds."""
    out = subprocess.run(
        [str(exe), *map(str, args)], check=True, capture_output=True, text=True
    ).stdout.split()
    return int(out[0]), int(out[1]) / 1e9


def delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    d = {
        k: after[k] - before[k] for k in ("captured", "documents", "shipped", "oc_events", "cpu_s")
    }
    d["rules"] = {
        k: v - before.get("rules", {}).get(k, 0)
        for k, v in after.get("rules", {}).items()
        if v - before.get("rules", {}).get(k, 0)
    }
    d["drops"] = {k: after["drops"].get(k, 0) - before["drops"].get(k, 0) for k in after["drops"]}
    return d


# --- the three measurements ------------------------------------------------------------------


def measure_slowdown(
    sensor: Sensor, exe: Path, rounds: int, oc_n: int, exec_n: int
) -> dict[str, Any]:
    """Per-iteration times with the sensor off, on (consuming), and attached but not
    consuming ("kernel": the BPF programs' own cost, no user-space competition; the ring
    buffer fills, so its copy is partly skipped and this is a lower bound)."""
    conds = ("off", "on", "kernel")
    times: dict[str, dict[str, list[float]]] = {
        w: {c: [] for c in conds} for w in ("open_close", "fork_exec")
    }
    ratios: dict[str, dict[str, list[float]]] = {
        w: {c: [] for c in conds[1:]} for w in ("open_close", "fork_exec")
    }
    drops: dict[str, int] = {}
    load_s: list[float] = []
    run_loop(exe, "oc", oc_n // 10, 0)  # warm the page cache and the binary
    for r in range(rounds):
        # Rotate which condition goes first, so drift in machine load hits all alike.
        order = conds[r % 3 :] + conds[: r % 3]
        got: dict[str, dict[str, float]] = {"open_close": {}, "fork_exec": {}}
        for cond in order:
            if cond != "off":
                load_s.append(sensor.ask("attach")["load_s"])
                before = sensor.ask("stats")
                if cond == "kernel":
                    sensor.ask("pause")
            _, t_oc = run_loop(exe, "oc", oc_n, 0)
            _, t_ex = run_loop(exe, "exec", exec_n)
            got["open_close"][cond] = t_oc / oc_n
            got["fork_exec"][cond] = t_ex / exec_n
            if cond == "on":
                after, _ = sensor.drain(limit_s=10)
                for k, v in delta(after, before)["drops"].items():
                    drops[k] = drops.get(k, 0) + v
            if cond != "off":
                sensor.ask("detach")
        for w, g in got.items():
            for c in conds:
                times[w][c].append(g[c])
            for c in conds[1:]:
                ratios[w][c].append(g[c] / g["off"])
    out: dict[str, Any] = {"rounds": rounds, "drops_while_on": drops}
    out["sensor_load_s"] = statistics.median(load_s)
    for w in times:
        out[w] = {
            "iterations": oc_n if w == "open_close" else exec_n,
            **{f"us_per_iter_{c}": statistics.median(times[w][c]) * 1e6 for c in conds},
            "ratios_on": [round(x, 3) for x in ratios[w]["on"]],
            "slowdown_pct": (statistics.median(ratios[w]["on"]) - 1) * 100,
            "slowdown_kernel_only_pct": (statistics.median(ratios[w]["kernel"]) - 1) * 100,
        }
    out["target_met"] = out["open_close"]["slowdown_pct"] < TARGET_SLOWDOWN_PCT
    return out


def measure_rates(
    sensor: Sensor, exe: Path, seconds: float, rates: Sequence[int]
) -> dict[str, Any]:
    steps = []
    sensor.ask("attach")
    try:
        for rate in rates:
            iters = int(rate / 2 * seconds)  # two events (openat, close) per iteration
            before, _ = sensor.drain(limit_s=10)
            t0 = time.monotonic()
            n, elapsed = run_loop(exe, "oc", iters, rate / 2)
            after, lag = sensor.drain(expect_oc=2 * n, limit_s=max(10.0, seconds * 4))
            wall = time.monotonic() - t0
            d = delta(after, before)
            lost_oc = max(0, 2 * n - d["oc_events"])
            steps.append(
                {
                    "target_events_per_s": rate,
                    "offered_events_per_s": 2 * n / elapsed,
                    "captured_workload_events": d["oc_events"],
                    "missing_workload_events": lost_oc,
                    # Until the consumer caught up: capture.poll can buffer decoded
                    # events in memory far past the workload's end.
                    "captured_per_s": d["oc_events"] / (elapsed + lag),
                    "captured_all_per_s": d["captured"] / wall,
                    "background_events": d["captured"] - d["oc_events"],
                    "drain_s": lag,
                    "sensor_cpu_pct": 100 * d["cpu_s"] / wall,
                    "drops": d["drops"],
                    "event_losses": sum(d["drops"].get(k, 0) for k in EVENT_LOSSES),
                }
            )
    finally:
        sensor.ask("detach")
    at_target = [s for s in steps if s["target_events_per_s"] == TARGET_RATE]
    met = bool(at_target) and all(
        s["event_losses"] == 0 and s["missing_workload_events"] == 0 for s in at_target
    )
    return {"seconds_per_step": seconds, "steps": steps, "target_met": met if at_target else None}


def measure_mixed(sensor: Sensor, tmp: Path, rounds: int) -> tuple[dict[str, Any], Path]:
    work = tmp / "mixed"
    work.mkdir()
    script = tmp / "mixed.sh"
    script.write_text(MIXED_SH)
    rec = tmp / "mixed.rec"
    sensor.ask("attach")
    try:
        before, _ = sensor.drain(limit_s=10)
        sensor.ask("record")
        t0 = time.monotonic()
        subprocess.run(["sh", str(script), str(work), str(rounds)], check=True, capture_output=True)
        workload_s = time.monotonic() - t0
        after, _ = sensor.drain(limit_s=30)
        saved = sensor.ask(f"save {rec}")["saved"]
    finally:
        sensor.ask("detach")
    d = delta(after, before)
    captured = d["captured"]
    return (
        {
            "workload_rounds": rounds,
            "workload_s": workload_s,
            "captured": captured,
            "documents": d["documents"],
            "shipped": d["shipped"],
            "shipped_pct_of_captured": 100 * d["shipped"] / captured if captured else 0.0,
            "shipped_by_rule": d["rules"],
            "recorded": saved,
            "drops": d["drops"],
            "target_met": captured > 0 and 100 * d["shipped"] / captured < TARGET_SHIPPED_PCT,
        },
        rec,
    )


def read_records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, off = [], 0
    while off + 4 <= len(data):
        (n,) = struct.unpack_from("<I", data, off)
        out.append(data[off + 4 : off + 4 + n])
        off += 4 + n
    return out


def measure_offline(rec: Path, rule_paths: Sequence[str], rounds: int) -> dict[str, Any]:
    """decode -> enrich -> evaluate over the recorded records, each stage timed on its own."""
    import lanner
    from sensor import decode as wire
    from sensor.enrich import Enricher

    raws = read_records(rec)
    engine = lanner.compile_rules(lanner.load_rules(rule_paths), hostname="bench")
    n = len(raws)
    if n == 0:
        return {"events": 0}
    offset = time.time_ns() - time.monotonic_ns()

    def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
        t0 = time.perf_counter()
        r = fn()
        return time.perf_counter() - t0, r

    t_dec: list[float] = []
    t_enr: list[float] = []
    t_eval: list[float] = []
    shipped = docs_n = 0
    for _ in range(rounds):
        td, events = timed(lambda: [wire.decode(r, offset) for r in raws])
        # A fresh state per round: the first round's /proc reads are part of the cost.
        enricher = Enricher(
            proc_root="/proc",
            hostname="bench",
            documents_for=engine.index_values("syscall", "evt.type"),
        )
        te, docs = timed(lambda: [d for e in events if (d := enricher.handle(e)) is not None])  # noqa: B023
        tv, hits = timed(lambda: sum(1 for d in docs if engine.evaluate(d, "syscall")))  # noqa: B023
        t_dec.append(td)
        t_enr.append(te)
        t_eval.append(tv)
        shipped, docs_n = hits, len(docs)
    dec, enr, ev = (statistics.median(t) / n * 1e6 for t in (t_dec, t_enr, t_eval))
    return {
        "events": n,
        "documents": docs_n,
        "shipped": shipped,
        "rounds": rounds,
        "decode_us": dec,
        "enrich_us": enr,
        "evaluate_us": ev,
        "total_us": dec + enr + ev,
        "events_per_s_one_core": 1e6 / (dec + enr + ev),
    }


# --- report --------------------------------------------------------------------------------


def _yes(v: bool | None) -> str:
    return "n/a" if v is None else ("MET" if v else "NOT MET")


def render(res: dict[str, Any]) -> str:
    lines = []
    m = res["machine"]
    lines.append(
        f"lanner sensor benchmark: {m['cpus']} CPUs, kernel {m['kernel']}, rules {', '.join(res['rules'])}"
    )
    lines.append(
        f"  capture set: {res['event_types']} event types; sensor start (bcc compile+attach) {res['slowdown']['sensor_load_s']:.1f} s"
    )
    s = res["slowdown"]
    lines.append("")
    lines.append(
        f"1. Workload slowdown, sensor on vs off (median of {s['rounds']} interleaved rounds)"
    )
    lines.append(
        f"   {'workload':<11} {'iters':>7} {'off us/it':>10} {'on us/it':>9} {'slowdown':>9} "
        f"{'kernel-only':>12}  per-round on/off"
    )
    for name in ("open_close", "fork_exec"):
        r = s[name]
        lines.append(
            f"   {name:<11} {r['iterations']:>7} {r['us_per_iter_off']:>10.2f} {r['us_per_iter_on']:>9.2f} "
            f"{r['slowdown_pct']:>8.1f}% {r['slowdown_kernel_only_pct']:>11.1f}%  {' '.join(f'{x:.2f}' for x in r['ratios_on'])}"
        )
    lines.append(
        "   (kernel-only: programs attached, consumer paused: no user-space CPU competition)"
    )
    if (m["cpus"] or 0) <= 2:
        lines.append(
            f"   ({m['cpus']} CPUs: a consumer that falls behind takes a whole core, half the machine)"
        )
    dl = {k: v for k, v in s["drops_while_on"].items() if v}
    lines.append(f"   drops while on: {dl or 'none'}")
    lines.append(f"   target < {TARGET_SLOWDOWN_PCT:.0f}% on open/close: {_yes(s['target_met'])}")
    r = res["rates"]
    lines.append("")
    lines.append(
        f"2. Capture rate ({r['seconds_per_step']:g} s per step; workload = open/close events of the loop;\n"
        "   captured/s = its events processed / (run + drain time))"
    )
    lines.append(
        f"   {'target/s':>9} {'offered/s':>10} {'captured/s':>11} {'missing':>8} {'backgr.':>8} {'drain s':>8} {'cpu%':>5}  drops by reason"
    )
    for st in r["steps"]:
        dr = ", ".join(f"{k}={v}" for k, v in st["drops"].items() if v) or "none"
        lines.append(
            f"   {st['target_events_per_s']:>9} {st['offered_events_per_s']:>10.0f} {st['captured_per_s']:>11.0f} "
            f"{st['missing_workload_events']:>8} {st['background_events']:>8} {st['drain_s']:>8.1f} {st['sensor_cpu_pct']:>5.0f}  {dr}"
        )
    lines.append(f"   target no event losses at {TARGET_RATE} events/s: {_yes(r['target_met'])}")
    x = res["mixed"]
    lines.append("")
    lines.append(
        f"3. Shipped share, benign mixed workload ({x['workload_rounds']} rounds of gcc/git/python/ls/tar, {x['workload_s']:.1f} s)"
    )
    lines.append(
        f"   captured {x['captured']}, documents {x['documents']}, matched >=1 rule {x['shipped']}: "
        f"{x['shipped_pct_of_captured']:.2f}% of captured"
    )
    if x["shipped_by_rule"]:
        lines.append(
            "   matched: " + ", ".join(f"{k} x{v}" for k, v in sorted(x["shipped_by_rule"].items()))
        )
    dl = {k: v for k, v in x["drops"].items() if v}
    lines.append(f"   drops: {dl or 'none'}")
    lines.append(f"   target < {TARGET_SHIPPED_PCT:.0f}% shipped: {_yes(x['target_met'])}")
    o = res["offline"]
    if o.get("events"):
        lines.append(
            f"   user-space cost, offline over {o['events']} recorded events (median of {o['rounds']}): "
            f"decode {o['decode_us']:.1f} + enrich {o['enrich_us']:.1f} + evaluate {o['evaluate_us']:.1f} "
            f"= {o['total_us']:.1f} us/event (~{o['events_per_s_one_core']:.0f} events/s on one core)"
        )
    return "\n".join(lines)


@contextmanager
def _tempdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="lanner-bench-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=5.0, help="Seconds per capture-rate step.")
    ap.add_argument("--rounds", type=int, default=5, help="Interleaved on/off rounds.")
    ap.add_argument("--rules", nargs="+", default=[str(DEFAULT_RULES)], help="Rule files.")
    ap.add_argument("--oc-iterations", type=int, default=200_000)
    ap.add_argument("--exec-iterations", type=int, default=1_000)
    ap.add_argument("--mixed-rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="Print the results as JSON.")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--exclude", type=int, nargs="*", default=[], help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child_main(a.rules, a.exclude)
    if os.geteuid() != 0:
        print("bench/sensor.py loads eBPF programs: run it as root (sudo).", file=sys.stderr)
        return 2
    for tool in ("gcc", "git", "tar"):
        if shutil.which(tool) is None:
            print(f"bench/sensor.py needs {tool} on PATH for its workloads.", file=sys.stderr)
            return 2
    with _tempdir() as tmp:
        exe = build_loop(tmp)
        errlog = open(tmp / "child.err", "w+", encoding="utf-8")  # noqa: SIM115
        sensor = Sensor(a.rules, errlog)
        try:
            first = sensor.ask("attach")
            sensor.ask("detach")
            res: dict[str, Any] = {
                "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release},
                "rules": a.rules,
                "event_types": first["attached"],
            }
            res["slowdown"] = measure_slowdown(
                sensor, exe, a.rounds, a.oc_iterations, a.exec_iterations
            )
            res["rates"] = measure_rates(sensor, exe, a.seconds, RATES)
            res["mixed"], rec = measure_mixed(sensor, tmp, a.mixed_rounds)
        except RuntimeError as e:
            errlog.seek(0)
            print(f"bench/sensor.py: {e}\n{errlog.read()[-3000:]}", file=sys.stderr)
            return 1
        finally:
            sensor.close()
            errlog.close()
        res["offline"] = measure_offline(rec, a.rules, rounds=5)
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(render(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
