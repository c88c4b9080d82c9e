"""`lanner scan` as a user runs it: recorded files in, alerts on stdout, problems on stderr."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import main

RULES = """
- rule: Bucket policy changed
  desc: a bucket policy was replaced
  condition: ct.name = PutBucketPolicy and not ct.error exists
  output: "Bucket policy changed (user=%ct.user bucket=%s3.bucket region=%ct.region)"
  priority: WARNING
  source: aws_cloudtrail
  tags: [aws, s3]

- rule: Exec into pod
  desc: someone opened a shell in a pod
  condition: ka.verb = create and ka.target.subresource = exec
  output: "Exec into pod (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace cmd=%ka.uri.param[command])"
  priority: NOTICE
  source: k8s_audit
  tags: [k8s]
"""


def _trail(bucket: str) -> dict[str, object]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "userName": "mallory",
            "accountId": "123456789012",
            "arn": "arn:aws:iam::123456789012:user/mallory",
            "principalId": "AIDA1",
        },
        "eventTime": "2026-11-28T10:05:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutBucketPolicy",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9",
        "requestParameters": {"bucketName": bucket, "policy": {"Statement": []}},
        "eventID": f"evt-{bucket}",
        "recipientAccountId": "123456789012",
    }


def _exec_event() -> dict[str, object]:
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Request",
        "auditID": "6f1c3c1e-1111-4c1e-9e8e-000000000001",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/payments/pods/api-7d9/exec?command=sh&container=api&stdin=true",
        "verb": "create",
        "user": {"username": "bob@example.com", "groups": ["system:authenticated"]},
        "sourceIPs": ["198.51.100.4"],
        "objectRef": {
            "resource": "pods",
            "namespace": "payments",
            "name": "api-7d9",
            "subresource": "exec",
            "apiVersion": "v1",
        },
        "responseStatus": {"metadata": {}, "code": 101},
        "requestReceivedTimestamp": "2026-11-28T10:06:00.000000Z",
        "stageTimestamp": "2026-11-28T10:06:00.200000Z",
    }


def _write_inputs(root: Path) -> Path:
    trail = root / "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/28"
    trail.mkdir(parents=True)
    with gzip.open(
        trail / "123456789012_CloudTrail_eu-west-1_20261128T1005Z_abc.json.gz", "wt"
    ) as f:
        json.dump({"Records": [_trail("acme-data"), _trail("acme-logs")]}, f)
    (trail / "truncated.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": [_trail("x")]}).encode())[:40]
    )
    audit = root / "k8s" / "audit.log"
    audit.parent.mkdir()
    audit.write_text(json.dumps(_exec_event()) + "\n" + "{not json\n")
    rules = root / "rules.yaml"
    rules.write_text(RULES)
    return rules


def test_scan_prints_falco_json_alerts_and_reports_bad_input(tmp_path: Path) -> None:
    rules = _write_inputs(tmp_path)
    result = CliRunner().invoke(
        main, ["scan", "-r", str(rules), "--json", str(tmp_path / "AWSLogs"), str(tmp_path / "k8s")]
    )
    # The good records were scanned and alerted on; the bad ones make the exit status 1.
    assert result.exit_code == 1, result.output
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["rule"] for a in alerts] == [
        "Bucket policy changed",
        "Bucket policy changed",
        "Exec into pod",
    ]
    first = alerts[0]
    assert set(first) >= {
        "time",
        "rule",
        "priority",
        "source",
        "hostname",
        "output",
        "tags",
        "output_fields",
        "uuid",
    }
    assert first["priority"] == "Warning"
    assert first["source"] == "aws_cloudtrail"
    assert first["time"] == "2026-11-28T10:05:00.000000000Z"
    assert first["output_fields"]["s3.bucket"] == "acme-data"
    assert first["output_fields"]["ct.user"] == "mallory"
    assert first["output"].endswith(
        "Warning Bucket policy changed (user=mallory bucket=acme-data region=eu-west-1)"
    )
    exec_alert = alerts[2]
    assert exec_alert["output_fields"]["ka.uri.param[command]"] == "sh"
    assert exec_alert["tags"] == ["k8s"]
    # Problems are on stderr with their location, and counted; the scan went on.
    assert "truncated.json.gz: bad input:" in result.stderr
    assert "audit.log:2: bad input: not JSON" in result.stderr
    assert (
        "scanned 3 events (aws_cloudtrail: 2, k8s_audit: 1); 3 alerts; 2 bad input(s)"
        in result.stderr
    )


def test_scan_text_lines_and_min_priority(tmp_path: Path) -> None:
    rules = _write_inputs(tmp_path)
    result = CliRunner().invoke(
        main, ["scan", "-r", str(rules), "--min-priority", "warning", str(tmp_path / "AWSLogs")]
    )
    assert result.exit_code == 1, result.output  # AWSLogs holds a truncated file
    lines = result.stdout.splitlines()
    assert lines == [
        "10:05:00.000000000: Warning Bucket policy changed (user=mallory bucket=acme-data region=eu-west-1)",
        "10:05:00.000000000: Warning Bucket policy changed (user=mallory bucket=acme-logs region=eu-west-1)",
    ]


def test_scan_with_broken_rules_exits_1_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- rule: r\n  desc: d\n  condition: ka.verb = create and\n  output: o\n  priority: INFO\n"
        "  source: k8s_audit\n"
    )
    result = CliRunner().invoke(main, ["scan", "-r", str(bad), str(tmp_path)])
    assert result.exit_code == 1
    assert f"{bad}:3:" in result.stderr
    assert "error:" in result.stderr
    assert "Traceback" not in result.output


def test_same_event_gives_same_alert_uuid(tmp_path: Path) -> None:
    rules = _write_inputs(tmp_path)
    args = ["scan", "-r", str(rules), "--json", str(tmp_path / "k8s")]
    one = CliRunner().invoke(main, args).stdout
    two = CliRunner().invoke(main, args).stdout
    assert json.loads(one)["uuid"] == json.loads(two)["uuid"]


def test_scan_of_a_missing_file_exits_1(tmp_path: Path) -> None:
    rules = _write_inputs(tmp_path)
    missing = tmp_path / "missing.json"
    result = CliRunner().invoke(main, ["scan", "-r", str(rules), str(missing)])
    assert result.exit_code == 1
    assert f"{missing}: bad input: cannot open: no such file or directory" in result.stderr
    assert "scanned 0 events (none); 0 alerts; 1 bad input(s)" in result.stderr


def test_one_unreadable_input_among_good_ones_exits_1_after_scanning_the_rest(
    tmp_path: Path,
) -> None:
    rules = _write_inputs(tmp_path)
    trail = next((tmp_path / "AWSLogs").rglob("*_abc.json.gz"))
    result = CliRunner().invoke(
        main, ["scan", "-r", str(rules), str(trail), str(tmp_path / "typo.json")]
    )
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 2  # both alerts of the good file
    assert "typo.json: bad input: cannot open" in result.stderr


def test_clean_scan_exits_0_and_usage_errors_exit_2(tmp_path: Path) -> None:
    rules = _write_inputs(tmp_path)
    trail = next((tmp_path / "AWSLogs").rglob("*_abc.json.gz"))
    ok = CliRunner().invoke(main, ["scan", "-r", str(rules), str(trail)])
    assert ok.exit_code == 0, ok.output
    assert "2 alerts; 0 bad input(s)" in ok.stderr
    assert CliRunner().invoke(main, ["scan", "--format", "xml", str(tmp_path)]).exit_code == 2
    assert CliRunner().invoke(main, ["scan"]).exit_code == 2


def test_scan_help_documents_the_exit_status() -> None:
    text = CliRunner().invoke(main, ["scan", "--help"]).stdout
    assert "Exit status:" in text
    assert "0  every input was read" in text
    assert "1  an input could not be read or a record was bad" in text
    assert "2  usage error" in text
