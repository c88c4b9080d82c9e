"""Capture reads its ring buffer through the kernel's mapping of it: every event of a known
workload arrives, decoded and in order; where the mapping is refused, bcc's callback reads
it instead and start-up says so (real eBPF, as root)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

if os.geteuid() != 0:
    pytest.skip("needs root and eBPF", allow_module_level=True)

from sensor import capture as capture_mod
from sensor.capture import Capture, CaptureError
from sensor.decode import decode, decode_fast
from sensor.events import RawEvent

CHILD = r"""
import os, sys
tmp, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.close(os.open(f"{tmp}/m{i}", os.O_RDONLY | os.O_CREAT, 0o600))
"""


def _capture(**kw: Any) -> Capture:
    try:
        return Capture({"openat", "close"}, exclude_pids=[os.getpid()], **kw)
    except CaptureError as e:
        pytest.skip(f"needs eBPF: {e}")


def _workload(cap: Capture, tmp: Path, n: int, max_events: int) -> tuple[int, list[RawEvent]]:
    """Runs the child while polling; its pid and every event of it, as polled."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp), str(n)])
    events: list[RawEvent] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # Exited before a poll that then waited in vain: everything it did has been read.
        done = child.poll() is not None
        batch = cap.poll(100, max_events=max_events)
        assert len(batch) <= max_events
        events += [e for e in batch if e.pid == child.pid]
        if done and not batch:
            break
    assert child.wait() == 0
    return child.pid, events


def _check_opens_and_closes(events: list[RawEvent], tmp: Path, n: int, lost: int) -> None:
    """Every open of the workload, in order, each followed by the close of its fd; or, when
    the kernel counted events lost to a full ring buffer (other processes on a busy machine
    write to it too), the ones that came, in order, and no more missing than it counted."""
    marker = f"{tmp}/m"
    want = [f"{marker}{k}" for k in range(n)]
    opens = [i for i, e in enumerate(events) if e.args.get("name", "").startswith(marker)]
    names = [events[i].args["name"] for i in opens]
    if lost:
        assert names == sorted(set(names), key=want.index) and set(names) <= set(want)
        assert n - len(names) <= lost
    else:
        assert names == want
    for i in opens:
        op = events[i]
        assert op.type == "openat" and op.res is not None and op.res >= 0
        cl = events[i + 1] if i + 1 < len(events) else None
        if cl is None or cl.type != "close":
            assert lost  # its close was lost, and counted
            continue
        assert (cl.args, cl.res, cl.tid) == ({"fd": op.res}, 0, op.tid)
    ts = [e.ts_ns for e in events]
    assert ts == sorted(ts)


def test_every_open_and_close_arrives_decoded_and_in_order(tmp_path: Path) -> None:
    n = 2000
    with _capture(ringbuf_pages=4096) as cap:
        assert cap.read_mode == "mmap"
        cap.recording = []
        pid, events = _workload(cap, tmp_path, n, max_events=256)
        stats = cap.stats()
        recorded = cap.recording
    _check_opens_and_closes(events, tmp_path, n, stats["ringbuf_full"])
    assert stats["decode_errors"] == 0 and stats["events"] >= len(events)
    # The recording holds each record's bytes as read: they decode to the same events.
    again = [e for e in map(decode, recorded) if e.pid == pid]
    assert [(e.type, e.tid, e.res, e.args) for e in again] == [
        (e.type, e.tid, e.res, e.args) for e in events
    ]
    # And the BPF side lays them out as the fast decoders expect (else they would all take
    # the general decoder's slower way, correct but unnoticed).
    assert all(decode_fast(r) is not None for r in recorded if decode(r).pid == pid)


def test_without_the_mapping_bcc_reads_and_startup_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_a: object) -> None:
        raise OSError("mmap refused for the test")

    monkeypatch.setattr(capture_mod, "RingReader", refused)
    said: list[str] = []
    n = 300
    with _capture(progress=said.append) as cap:
        assert cap.read_mode == "callback"
        _pid, events = _workload(cap, tmp_path, n, max_events=64)
        lost = cap.stats()["ringbuf_full"]
    assert any("per-record callback" in s and "mmap refused for the test" in s for s in said)
    _check_opens_and_closes(events, tmp_path, n, lost)
