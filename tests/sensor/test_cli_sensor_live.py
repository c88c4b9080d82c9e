"""`lanner sensor` as a user runs it: alerts on stdout, a recording `lanner scan` replays,
and a heartbeat `--check` reads. Real eBPF on this kernel, as root."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

STABLE = Path(__file__).resolve().parents[3] / "shared/corpus/falco/falco_rules.yaml"
LANNER = [sys.executable, "-m", "cli.main"]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root and eBPF (run as root)"),
    pytest.mark.skipif(not STABLE.exists(), reason="upstream Falco rules (shared corpus) absent"),
]


def _wait_for(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in {path}: {path.read_text(errors='replace')}")


def test_sensor_alerts_records_and_replays(tmp_path: Path) -> None:
    record = tmp_path / "capture.jsonl"
    heartbeat = tmp_path / "heartbeat"
    err = tmp_path / "stderr.txt"
    with open(tmp_path / "stdout.txt", "w") as out, open(err, "w") as errf:
        proc = subprocess.Popen(
            [*LANNER, "sensor", "-r", str(STABLE), "--json", "--duration", "25",
             "--record", str(record), "--heartbeat", str(heartbeat)],
            stdout=out, stderr=errf,
        )  # fmt: skip
        try:
            _wait_for(err, "capturing", 60)
            time.sleep(1.0)
            marker = tmp_path / "lanner-marker"
            subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
            subprocess.run(["ln", "-sf", "/etc/shadow", str(marker)], check=True)
            _wait_for(tmp_path / "stdout.txt", "Create Symlink Over Sensitive Files", 20)
            assert (
                subprocess.run(
                    [*LANNER, "sensor", "--check", "--heartbeat", str(heartbeat)]
                ).returncode
                == 0
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    alerts = [json.loads(line) for line in (tmp_path / "stdout.txt").read_text().splitlines()]
    shadow = [a for a in alerts if a["rule"] == "Read sensitive file untrusted"]
    assert shadow, [a["rule"] for a in alerts]
    fields = shadow[0]["output_fields"]
    assert fields["proc.name"] == "cat"
    assert fields["fd.name"] == "/etc/shadow"
    assert fields["proc.cmdline"] == "cat /etc/shadow"
    assert shadow[0]["source"] == "syscall" and shadow[0]["priority"] == "Warning"
    link = [a for a in alerts if a["rule"] == "Create Symlink Over Sensitive Files"]
    assert link and link[0]["output_fields"]["evt.arg.linkpath"] == str(marker)
    # SIGTERM ended the run cleanly, with its summary (losses depend on the machine's load).
    assert proc.returncode == 0
    assert re.search(r"captured \d+ events, evaluated \d+, \d+ alerts, drops: \d+", err.read_text())
    # The recording replays through the same rules to the same alerts.
    replay = subprocess.run(
        [*LANNER, "scan", "-r", str(STABLE), "--json", "--source", "syscall", str(record)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    replayed = {(a["rule"], a["uuid"]) for a in map(json.loads, replay.stdout.splitlines())}
    assert {(a["rule"], a["uuid"]) for a in shadow + link} <= replayed


def test_check_fails_without_a_fresh_heartbeat(tmp_path: Path) -> None:
    stale = tmp_path / "heartbeat"
    result = subprocess.run([*LANNER, "sensor", "--check", "--heartbeat", str(stale)])
    assert result.returncode == 1
    stale.write_text("0")
    os.utime(stale, (time.time() - 120, time.time() - 120))
    assert subprocess.run([*LANNER, "sensor", "--check", "--heartbeat", str(stale)]).returncode == 1
