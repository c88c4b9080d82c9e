"""Event text that reaches a terminal or a log is inert: ``lanner scan``'s text lines, the
sensor's log lines and the SNS message attributes show control characters as escapes; the
JSON outputs keep every value exact.

The hostile value forges a second alert line after a newline, erases it with a carriage
return and an ANSI erase, hides a link in an OSC 8 hyperlink, reverses text with a bidi
override, and carries a NUL, an 8-bit CSI and a Unicode line separator.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from deliver.inert import inert
from lanner import compile_rules, load_rules_text
from sensor.command import sensor_emitter

HOSTILE = (
    "mallory\n10:05:00.000000000: Critical Fake alert (user=root)\r\x1b[2K"
    "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07 \u202eexe.txt\x00\x9b31m\u2028end\t."
)
# What a user reads instead: every unsafe character as the JSON output writes it.
SHOWN = (
    "mallory\\n10:05:00.000000000: Critical Fake alert (user=root)\\r\\u001b[2K"
    "\\u001b]8;;https://evil.example/\\u0007click\\u001b]8;;\\u0007 \\u202eexe.txt\\u0000"
    "\\u009b31m\\u2028end\\t."
)
# Anything a terminal or a log splitter acts on, but the line feed that ends each line.
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069]"
)

RULES = """
- rule: Bucket policy changed
  desc: a bucket policy was replaced
  condition: ct.name = PutBucketPolicy
  output: "Bucket policy changed (user=%ct.user bucket=%s3.bucket)"
  priority: WARNING
  source: aws_cloudtrail

- rule: Exec into pod
  desc: someone opened a shell in a pod
  condition: ka.verb = create and ka.target.subresource = exec
  output: "Exec into pod (user=%ka.user.name pod=%ka.target.name)"
  priority: NOTICE
  source: k8s_audit

- rule: Shell spawned
  desc: a shell ran
  condition: evt.type = execve and proc.name = bash
  output: "Shell spawned (cmdline=%proc.cmdline)"
  priority: NOTICE
  source: syscall
"""


def _trail(user: str, bucket: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "userName": user, "accountId": "123456789012"},
        "eventTime": "2026-11-28T10:05:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutBucketPolicy",
        "awsRegion": "eu-west-1",
        "requestParameters": {"bucketName": bucket},
        "eventID": f"evt-{bucket}",
    }


def _exec(user: str) -> dict[str, Any]:
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "auditID": "6f1c3c1e-1111-4c1e-9e8e-000000000001",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/payments/pods/api-7d9/exec?command=sh",
        "verb": "create",
        "user": {"username": user},
        "objectRef": {
            "resource": "pods",
            "namespace": "payments",
            "name": "api-7d9",
            "subresource": "exec",
        },
        "requestReceivedTimestamp": "2026-11-28T10:06:00.000000Z",
        "stageTimestamp": "2026-11-28T10:06:00.200000Z",
    }


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    trail = tmp_path / "trail.json"
    trail.write_text(
        json.dumps({"Records": [_trail(HOSTILE, "acme-data"), _trail("bob", "acme-logs")]})
    )
    audit = tmp_path / "audit.log"
    audit.write_text(json.dumps(_exec(HOSTILE)) + "\n")
    return rules, trail, audit


def test_scan_text_shows_one_line_per_alert_with_the_escapes_visible(
    inputs: tuple[Path, Path, Path],
) -> None:
    rules, trail, audit = inputs
    result = CliRunner().invoke(main, ["scan", "-r", str(rules), str(trail), str(audit)])
    assert result.exit_code == 0, result.output
    assert "3 alerts" in result.stderr
    lines = result.stdout.split("\n")
    assert lines.pop() == ""  # the last line's terminator
    assert lines == [
        f"10:05:00.000000000: Warning Bucket policy changed (user={SHOWN} bucket=acme-data)",
        "10:05:00.000000000: Warning Bucket policy changed (user=bob bucket=acme-logs)",
        f"10:06:00.200000000: Notice Exec into pod (user={SHOWN} pod=api-7d9)",
    ]
    assert not RAW_CONTROL.search(result.stdout)


def test_scan_json_keeps_the_values_exact(inputs: tuple[Path, Path, Path]) -> None:
    rules, trail, audit = inputs
    result = CliRunner().invoke(main, ["scan", "--json", "-r", str(rules), str(trail), str(audit)])
    assert result.exit_code == 0, result.output
    # Byte for byte what the library's own JSON gives for the same events.
    engine = compile_rules(load_rules_text(RULES))
    expected = [
        a.to_json()
        for doc, source in [
            (_trail(HOSTILE, "acme-data"), "aws_cloudtrail"),
            (_trail("bob", "acme-logs"), "aws_cloudtrail"),
            (_exec(HOSTILE), "k8s_audit"),
        ]
        for a in engine.evaluate(doc, source)
    ]
    # split on line feeds only: the exact values hold U+2028, a line break to splitlines().
    assert result.stdout.split("\n") == [*expected, ""]
    alerts = [json.loads(line) for line in expected]
    assert alerts[0]["output_fields"]["ct.user"] == HOSTILE
    assert alerts[2]["output_fields"]["ka.user.name"] == HOSTILE


def test_scan_stderr_reports_are_inert(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    # A file name is the input's too: a newline or escape in it is not the terminal's.
    name = tmp_path / "bad\x1b[2J\nname.json"
    name.write_text("{not json")
    result = CliRunner().invoke(main, ["scan", "-r", str(rules), str(name)])
    assert result.exit_code == 1
    assert "bad\\u001b[2J\\nname.json: bad input: not JSON" in result.stderr
    assert not RAW_CONTROL.search(result.stderr)


def _syscall_alert() -> Any:
    engine = compile_rules(load_rules_text(RULES), hostname="node-1")
    doc = {
        "evt.type": "execve",
        "evt.rawtime": 1_795_860_300_000_000_000,
        "proc.name": "bash",
        "proc.cmdline": f"bash -c {HOSTILE}",
    }
    [alert] = engine.evaluate(doc, "syscall")
    return alert


def test_sensor_text_log_line_is_inert() -> None:
    alert = _syscall_alert()
    out = io.StringIO()
    sensor_emitter(out, as_json=False)(alert)
    assert out.getvalue() == (
        f"10:05:00.000000000: Notice Shell spawned (cmdline=bash -c {SHOWN})\n"
    )
    assert not RAW_CONTROL.search(out.getvalue())


def test_sensor_json_log_line_is_exact() -> None:
    alert = _syscall_alert()
    out = io.StringIO()
    sensor_emitter(out, as_json=True)(alert)
    assert out.getvalue() == alert.to_json() + "\n"
    assert json.loads(out.getvalue())["output_fields"]["proc.cmdline"] == f"bash -c {HOSTILE}"


def test_inert_writes_what_json_writes_for_each_unsafe_character() -> None:
    for c in (
        "\x00\x07\x08\t\n\x0b\x0c\r\x1b\x7f\x85\x9b\u061c\u200b\u200e\u2028\u2029\u202e\u2066\ufeff"
    ):
        assert inert(c) == json.dumps(c)[1:-1], repr(c)
    # Text a terminal shows as it is stays as it is, backslashes included.
    plain = "C:\\Temp\\x.exe grep 'a\\.b' é 日本 🙂 <!channel>"
    assert inert(plain) == plain
    assert inert("two\nlines\tand\ttabs", newlines=True) == "two\nlines\tand\ttabs"


# --- SNS attributes, on moto ----------------------------------------------------------------

try:  # tests/aws's moto fixtures; without moto only this part is skipped
    from aws.conftest import aws, moto_endpoint  # noqa: F401  (fixtures)
    from aws.test_runtime import Stack, make_stack

    HAVE_MOTO = True
except pytest.skip.Exception:
    HAVE_MOTO = False


@pytest.fixture
def stack(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not HAVE_MOTO:
        pytest.skip("needs moto (pip install 'lanner[demo]')")
    request.getfixturevalue("aws")
    from functions.runtime import reset_runtime

    yield make_stack(monkeypatch)
    reset_runtime()


def test_sns_attributes_are_inert_and_the_message_exact(stack: Stack) -> None:
    import boto3

    from functions.publish import Publisher
    from lanner.output import Alert
    from lanner.priority import Priority

    hostname = "node-1\r\x1b[2Kprod-db\n\u202eevil"
    alert = Alert(
        time_ns=1_795_849_230_000_000_000,
        rule="Shell spawned\x1b]8;;https://evil.example/\x07",
        priority=Priority.NOTICE,
        source="syscall",
        hostname=hostname,
        message="Shell spawned",
        tags=("shell", "T1059\x1b[31m"),
        output_fields={"k8s.ns.name": "pay\x00ments"},
        uuid="6f1c1b2e-0000-5000-8000-000000000001",
    )
    sns, ddb = boto3.client("sns"), boto3.client("dynamodb")
    Publisher(lambda: sns, lambda: ddb, stack.topic_arn, stack.table).publish([alert])
    [got] = stack.alerts()
    attrs = got["attributes"]
    assert attrs["hostname"] == "node-1\\r\\u001b[2Kprod-db\\n\\u202eevil"
    assert attrs["rule"] == "Shell spawned\\u001b]8;;https://evil.example/\\u0007"
    assert attrs["k8s_ns"] == "pay\\u0000ments"
    # The tags array is JSON already; its strings decode to the tags as they were.
    assert json.loads(attrs["tags"]) == ["T1059\x1b[31m", "shell"]
    for name, value in attrs.items():
        assert not RAW_CONTROL.search(value), name
    # The message itself is the alert, exact.
    assert got["alert"]["hostname"] == hostname
    assert got["alert"]["rule"] == alert.rule


def test_text_that_was_not_utf8_never_stops_the_output(tmp_path: Path) -> None:
    """A user name holding a lone surrogate (a JSON \\udcff escape, as a sensor recording
    of a non-UTF-8 file name has): written as the escape, on a strict UTF-8 stdout too."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    trail = tmp_path / "trail.json"
    trail.write_text(json.dumps({"Records": [_trail("bad\udcffname", "acme-data")]}))
    text = CliRunner().invoke(main, ["scan", "-r", str(rules), str(trail)])
    assert text.exit_code == 0, text.output
    assert text.stdout == (
        "10:05:00.000000000: Warning Bucket policy changed (user=bad\\udcffname bucket=acme-data)\n"
    )
    as_json = CliRunner().invoke(main, ["scan", "--json", "-r", str(rules), str(trail)])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["output_fields"]["ct.user"] == "bad\udcffname"  # exact
    # The sensor's log line, on a stream that refuses surrogates.
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    engine = compile_rules(load_rules_text(RULES), hostname="node-1")
    doc = {"evt.type": "execve", "evt.rawtime": 1_795_860_300_000_000_000, "proc.name": "bash",
           "proc.cmdline": "bash /tmp/\udcffx"}  # fmt: skip
    [alert] = engine.evaluate(doc, "syscall")
    for as_json_flag in (False, True):
        sensor_emitter(out, as_json=as_json_flag)(alert)
    out.seek(0)
    text_line, json_line = out.read().splitlines()
    assert text_line.endswith("Shell spawned (cmdline=bash /tmp/\\udcffx)")
    assert json.loads(json_line)["output_fields"]["proc.cmdline"] == "bash /tmp/\udcffx"
