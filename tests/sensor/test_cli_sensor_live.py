"""`lanner sensor` as a user runs it: alerts on stdout, a recording `lanner scan` replays,
and a heartbeat `--check` reads. Real eBPF on this kernel, as root."""

from __future__ import annotations

import json
import os
import re
import signal
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


SHADOW_RULE = """
- rule: Shadow read
  desc: d
  condition: evt.type in (open, openat, openat2) and fd.name = /etc/shadow and proc.name = cat
  output: "%proc.name read %fd.name"
  priority: WARNING
"""


def test_metrics_and_a_rules_reload_on_the_real_kernel(tmp_path: Path) -> None:
    """The metrics at the address the start-up names, scraped while the sensor captures;
    a rules file changed and SIGHUP: the new rule fires, with no restart."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    rules = tmp_path / "rules.yaml"
    rules.write_text(SHADOW_RULE)
    err = tmp_path / "stderr.txt"
    out_path = tmp_path / "stdout.txt"
    with open(out_path, "w") as out, open(err, "w") as errf:
        proc = subprocess.Popen(
            [*LANNER, "sensor", "-r", str(rules), "--json", "--duration", "60",
             "--metrics-listen", "127.0.0.1:0", "--heartbeat", str(tmp_path / "beat")],
            stdout=out, stderr=errf,
        )  # fmt: skip
        try:
            _wait_for(err, "capturing", 90)
            url = re.search(r"metrics at (http://127\.0\.0\.1:\d+/metrics)", err.read_text())
            assert url, err.read_text()
            subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
            _wait_for(out_path, "Shadow read", 20)
            rules.write_text(SHADOW_RULE.replace("Shadow read", "Hosts read").replace(
                "/etc/shadow", "/etc/hosts"))  # fmt: skip
            proc.send_signal(signal.SIGHUP)
            _wait_for(err, "rules reloaded", 30)
            # Built on the reloader's thread; swapped in by the loop between two batches,
            # a moment later: opens until one meets the new rules.
            for _ in range(40):
                subprocess.run(["cat", "/etc/hosts"], stdout=subprocess.DEVNULL, check=True)
                if "Hosts read" in out_path.read_text():
                    break
                time.sleep(0.5)
            _wait_for(out_path, "Hosts read", 20)
            with urllib.request.urlopen(url.group(1), timeout=10) as resp:
                text = resp.read().decode()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert proc.returncode == 0, err.read_text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("lanner_sensor_running", ())] == 1
    assert samples[("lanner_events_captured_total", (("type", "openat"),))] >= 2
    assert samples[("lanner_alerts_total", (("priority", "Warning"), ("rule", "Hosts read")))] >= 1
    assert samples[("lanner_rules_loads_total", (("result", "ok"),))] == 2
    assert samples[("lanner_enrich_processes", ())] > 0
    assert ("lanner_events_dropped_total", (("reason", "ringbuf_full"),)) in samples
