"""The live sensor's text log is inert: a process whose command line carries a newline, a
carriage return and terminal escapes gives one alert line on the node's log, the escapes
visible. Real eBPF on this kernel, as root (LANNER_REQUIRE_BPF=1 makes the skip a failure)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root and eBPF (run as root)")

RULES = """
- rule: Probe ran
  desc: the test's probe binary ran
  condition: evt.type = execve and proc.name = lanner-probe
  output: "Probe ran (cmdline=%proc.cmdline)"
  priority: WARNING
  source: syscall
"""
# argv cannot hold a NUL; everything else a forged log line needs is here.
HOSTILE = (
    "x\n00:00:00.000000000: Critical Fake alert\r\x1b[2K\x1b]8;;https://evil.example/\x07\u202eend"
)
SHOWN = "x\\n00:00:00.000000000: Critical Fake alert\\r\\u001b[2K\\u001b]8;;https://evil.example/\\u0007\\u202eend"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def test_sensor_text_alert_is_one_inert_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    probe = tmp_path / "lanner-probe"
    shutil.copy(shutil.which("true") or "/bin/true", probe)
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with open(out, "w") as outf, open(err, "w") as errf:
        sensor = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "sensor", "-r", str(rules),
             "--duration", "120", "--heartbeat", str(tmp_path / "heartbeat")],
            stdout=outf, stderr=errf,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while "capturing" not in err.read_text():
                if sensor.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"needs root and eBPF: {err.read_text()[-2000:]}")
                time.sleep(0.2)
            deadline = time.monotonic() + 60
            while "Probe ran" not in out.read_text():
                assert time.monotonic() < deadline, err.read_text()[-2000:]
                subprocess.run([str(probe), HOSTILE], check=True)
                time.sleep(0.5)
        finally:
            sensor.terminate()
            sensor.wait(timeout=60)
    text = out.read_text()
    lines = text.split("\n")
    assert lines.pop() == ""
    assert lines, text
    for line in lines:  # one per run of the probe
        assert re.fullmatch(
            r"\d\d:\d\d:\d\d\.\d{9}: Warning Probe ran \(cmdline=lanner-probe "
            + re.escape(SHOWN)
            + r"\)",
            line,
        ), line
    assert not RAW_CONTROL.search(text)
