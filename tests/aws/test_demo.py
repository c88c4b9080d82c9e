"""`lanner demo`, the README's first command: the whole pipeline on moto, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from test_eks_audit_detector import EXPECTED_RULES

ROOT = Path(__file__).resolve().parent.parent.parent

# What the bundled samples hold (samples/README.md tells the story): one alert per rule.
CLOUDTRAIL_RULES = {
    "AWS CloudTrail Trail Stopped Or Deleted",
    "AWS GuardDuty Detection Disabled",
    "AWS Root Account Used",
    "AWS Security Group Opened To The Internet",
    "AWS EC2 User Data Retrieved",
    "AWS S3 Bucket Policy Allows Public Access",
    "AWS Console Login Without MFA",
    "AWS Credentials Issued For Another IAM User",
    "AWS Admin Policy Attached",
}
K8S_RULES = set(EXPECTED_RULES)  # what the EKS detector test expects of the same log
NODE_RULES = {
    "Sensitive File Read By Untrusted Program",
    "Symlink To Sensitive File",
    "Search For Private Keys",
    "Search For Cloud Credentials",
    "Data Wiping Tool Run",
}


def _demo(*args: str, tmp_path: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", "--workdir", str(tmp_path), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _alerts(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_demo_json_delivers_every_sample_attack_once_through_sns(tmp_path: Path) -> None:
    run = _demo("--json", "--replay", tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    received = _alerts(run.stdout)  # every stdout line is an alert as the endpoint got it
    summaries = [a for a in received if "repeat" in a]
    alerts = [a for a in received if "repeat" not in a]
    # The node's alerts seen again on two more nodes: one summary per incident, 3 hosts.
    assert {str(s["rule"]) for s in summaries} == NODE_RULES
    assert all(s["repeat"]["count"] == 3 and s["repeat"]["hosts"] == 3 for s in summaries)
    by_source = Counter(str(a["source"]) for a in alerts)
    rules = Counter(str(a["rule"]) for a in alerts)
    assert {r for r, n in rules.items() if n > 1} == set(), "an alert was delivered twice"
    assert set(rules) == CLOUDTRAIL_RULES | K8S_RULES | NODE_RULES
    assert by_source == {
        "aws_cloudtrail": len(CLOUDTRAIL_RULES),
        "k8s_audit": len(K8S_RULES),
        "syscall": len(NODE_RULES),
    }
    shadow = next(a for a in alerts if a["rule"] == "Sensitive File Read By Untrusted Program")
    fields = shadow["output_fields"]
    assert isinstance(fields, dict)
    assert fields["fd.name"] == "/etc/shadow" and fields["proc.name"] == "cat"
    assert shadow["hostname"] == "demo-node-1" and shadow["priority"] == "Warning"
    assert {
        "uuid",
        "output",
        "priority",
        "rule",
        "time",
        "output_fields",
        "source",
        "tags",
        "hostname",
    } <= set(shadow)
    # The summary goes to stderr in JSON mode.
    assert "alerts out: 24" in run.stderr
    assert "quarantined inputs: 0" in run.stderr
    assert (tmp_path / "lambda.log").stat().st_size > 0
    # The alert store got every alert and summary the topic carried, each once and exactly
    # as published; the demo saved it where `lanner ui` reads it.
    snapshot = tmp_path / "alert-store.jsonl"
    stored = [
        json.loads(item["doc"]["S"])
        for item in map(json.loads, snapshot.read_text().splitlines())
        if item["sk"]["S"] == "alert"
    ]
    assert sorted(stored, key=lambda a: str(a["uuid"])) == sorted(
        received, key=lambda a: str(a["uuid"])
    )
    assert (
        f"alert store: {len(received)} stored (24 alerts and 5 summaries), saved to {snapshot}"
        in run.stderr
    )
    assert run.stderr.rstrip("\n").splitlines()[-1] == (
        f"to see them in the dashboard, run: lanner ui --store {snapshot}"
    )


def test_demo_text_prints_alerts_then_a_summary(tmp_path: Path) -> None:
    run = _demo("--replay", tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "aws_cloudtrail  " in out and "Critical" in out
    assert "Sensitive file read by untrusted program (file=/etc/shadow" in out
    summary = out[out.index("events in") :]
    assert "bundled recording: 5 of 57 events left the node" in summary
    assert "k8s_audit          54" in summary
    assert "aws_cloudtrail     37" in summary
    assert "alerts out: 24" in summary
    # Delivery: every alert and summary at or above Notice in Slack, every one signed to
    # the webhook and verified there; nothing dead-lettered.
    assert (
        "delivered: Slack 29 messages; webhook 29 calls, 29 with a valid Standard Webhooks "
        "signature; dead letters 0"
    ) in summary
    slack = summary[summary.index("what Slack shows") :]
    assert "▌ WARNING: SENSITIVE FILE READ BY UNTRUSTED PROGRAM" in slack
    assert "Repeated 3 times on 3 hosts between" in slack
    assert "Hosts: demo-node-1, demo-node-2, demo-node-3" in slack
    # Every alert and summary printed above is in the store; the last line says how to see them.
    printed = [
        line
        for line in out[: out.index("events in")].splitlines()
        if line.strip() and not line.startswith("lanner demo: ")
    ]
    assert len(printed) == 29
    assert f"alert store: {len(printed)} stored (24 alerts and 5 summaries)" in summary
    assert out.rstrip("\n").splitlines()[-1] == (
        f"to see them in the dashboard, run: lanner ui --store {tmp_path / 'alert-store.jsonl'}"
    )


def test_demo_live_captures_the_workload_with_ebpf(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("live demo needs root and eBPF (bcc, kernel headers)")
    run = _demo("--json", "--live", tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    alerts = _alerts(run.stdout)
    node = {
        str(a["rule"])
        for a in alerts
        if a["source"] == "syscall" and a["hostname"] == "demo-node-1"
    }
    assert node >= NODE_RULES
    assert "live eBPF" in run.stderr


def test_demo_falls_back_to_the_recording_when_the_live_sensor_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from cli import demo

    def broken(summary: demo.Summary, workdir: Path) -> None:
        raise demo.DemoError("the sensor did not start: no kernel headers for 6.18")

    monkeypatch.setattr(demo, "live_capture_possible", lambda: True)
    monkeypatch.setattr(demo, "_run_live_sensor", broken)
    out, err = io.StringIO(), io.StringIO()
    summary = demo.run_demo(as_json=True, live=None, out=out, err=err, workdir=tmp_path)
    assert "live capture unavailable (the sensor did not start: no kernel headers" in err.getvalue()
    assert summary.notes["syscall"].startswith("bundled recording")
    node = {a["rule"] for a in _alerts(out.getvalue()) if a["source"] == "syscall"}
    assert node == NODE_RULES
