"""`lanner notify` as a user runs it: Falco-JSON alert lines in, Slack/webhook/PagerDuty out.

The destinations are ``cli.endpoints.Recorder`` stand-ins on 127.0.0.1; the
command runs as a separate process (``python -m cli.main notify``) where what is
tested is what a user sees (exit status, stderr, what arrived), in-process (CliRunner,
``run_notify``) where that is simpler.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook, WebhookVerificationError

import cli.notify as notify_module
from cli.endpoints import Recorder, Reply, Request
from cli.main import main
from deliver.dedup import Deduplicator, WindowStore
from deliver.dispatch import Dispatcher
from deliver.slack import SlackDestination
from lanner.priority import Priority

REPO = Path(__file__).resolve().parent.parent
K8S_SAMPLE = REPO / "samples" / "k8s" / "kube-apiserver-audit.log"
TIMEOUT = 120  # seconds a command may take before the test fails (none takes near it)
# DaemonSet pods: <daemonset>-<5 chars>, one per node.
PODS = [
    "falco-ab12c",
    "falco-x9z8y",
    "falco-k2m4p",
    "falco-q7w8e",
    "falco-z1x2c",
    "falco-a9s8d",
    "falco-m3n4b",
    "falco-v5c6x",
    "falco-p0o9i",
    "falco-l8k7j",
]
CLOSING = re.compile(r"^delivered \d+, deduplicated \d+, failed \d+$")


@pytest.fixture(autouse=True)
def _no_fingerprint_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    # Per-rule fingerprint fields from the environment would change what counts as a copy.
    monkeypatch.delenv("LANNER_FINGERPRINT_FIELDS", raising=False)


# --- helpers -------------------------------------------------------------------------------


def shell_alert(
    n: int,
    host: str = "node-0",
    pod: str = "falco-ab12c",
    *,
    rule: str = "Terminal shell in container",
    priority: str = "Notice",
    proc: str = "bash",
    uuid: str | None = None,
) -> dict[str, Any]:
    """One Falco JSON alert; copies differ only in ``proc.pid`` and the time (and where)."""
    doc: dict[str, Any] = {
        "output": f"10:{n // 60:02d}:{n % 60:02d}.{n:09d}: {priority} A shell was spawned in a container "
        f"(proc={proc} pid={4000 + n} pod={pod})",
        "priority": priority,
        "rule": rule,
        "time": f"2026-12-06T10:{n // 60:02d}:{n % 60:02d}.{n:09d}Z",
        "output_fields": {
            "evt.time": 1_796_551_200_000_000_000 + n,
            "proc.pid": 4000 + n,
            "proc.name": proc,
            "proc.cmdline": f"{proc} -i",
            "k8s.ns.name": "falco",
            "k8s.pod.name": pod,
            "container.name": "falco",
        },
        "source": "syscall",
        "tags": ["T1059", "container", "mitre_execution", "shell"],
        "hostname": host,
    }
    if uuid is not None:
        doc["uuid"] = uuid
    return doc


def lines(*alerts: dict[str, Any]) -> str:
    return "".join(json.dumps(a) + "\n" for a in alerts)


def notify_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", "notify", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LANNER_FINGERPRINT_FIELDS", None)
    return env


def run_cli(*args: str, input: str) -> subprocess.CompletedProcess[str]:
    """``lanner notify ARGS`` in its own process, ``input`` on stdin."""
    return subprocess.run(
        notify_argv(*args),
        input=input,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=REPO,
        env=_env(),
    )


def closing_line(stderr: str) -> str:
    last = stderr.splitlines()[-1] if stderr.strip() else ""
    assert CLOSING.match(last), f"no closing line at the end of stderr:\n{stderr}"
    return last


def strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def text_of(request: Request) -> str:
    """All the text of one Slack message, to search."""
    return "\n".join(strings(json.loads(request.body)))


def is_summary(request: Request) -> bool:
    return "Repeated " in text_of(request)


def wait_for(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Polls until ``condition()``; fails (naming ``what``) if it never holds. A bound on a
    hang, not a timing assertion: the condition is expected to hold soon after."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)


def invoke(*args: str, input: str) -> Any:
    return CliRunner().invoke(main, ["notify", *args], input=input)


# --- deduplication ------------------------------------------------------------------------


def test_hundred_copies_from_ten_hosts_are_one_message_and_one_summary() -> None:
    first_uuid = "11111111-2222-4333-8444-000000000000"
    copies = [
        shell_alert(
            n,
            host=f"node-{n % 10}",
            pod=PODS[n % 10],
            uuid=first_uuid if n == 0 else f"11111111-2222-4333-8444-{n:012d}",
        )
        for n in range(100)
    ]
    with Recorder() as slack:
        proc = subprocess.Popen(
            notify_argv("--slack-url", slack.url),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=_env(),
        )
        try:
            assert proc.stdin is not None
            # The first alert is delivered at once, while the input is still open.
            proc.stdin.write(lines(copies[0]))
            proc.stdin.flush()
            wait_for(lambda: len(slack.requests) >= 1, "the first alert reached Slack")
            assert proc.poll() is None
            out, err = proc.communicate(lines(*copies[1:]), timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        requests = list(slack.requests)

    assert proc.returncode == 0, err
    assert closing_line(err) == "delivered 2, deduplicated 99, failed 0"
    assert out == ""
    assert len(requests) == 2
    first, summary = requests
    assert not is_summary(first)
    assert first_uuid in text_of(first)
    assert "pid=4000" in text_of(first)
    text = text_of(summary)
    assert "Repeated 100 times on 10 hosts" in text
    assert "repeated 100 times on 10 hosts" in json.loads(summary.body)["text"]
    # It names the span of the copies' event times, and some of the hosts.
    assert "2026-12-06T10:00:00.000000000Z" in text
    assert "2026-12-06T10:01:39.000000099Z" in text
    assert "`node-0`" in text
    assert "and 5 more" in text


@pytest.mark.parametrize(
    "second",
    [
        shell_alert(1, rule="Netcat remote code execution in container"),
        shell_alert(1, proc="sh"),
    ],
    ids=["different-rule", "same-rule-different-proc-name"],
)
def test_two_incidents_are_two_messages_and_no_summary(second: dict[str, Any]) -> None:
    first = shell_alert(0)
    with Recorder() as slack:
        result = invoke("--slack-url", slack.url, input=lines(first, second))
    assert result.exit_code == 0, result.stderr
    assert closing_line(result.stderr) == "delivered 2, deduplicated 0, failed 0"
    assert len(slack.requests) == 2
    assert not any(is_summary(r) for r in slack.requests)
    texts = [text_of(r) for r in slack.requests]
    assert "pid=4000" in texts[0]
    assert "pid=4001" in texts[1]


def test_dedup_window_zero_delivers_every_alert() -> None:
    copies = [shell_alert(n, host=f"node-{n}", pod=PODS[n]) for n in range(5)]
    with Recorder() as slack:
        result = invoke("--slack-url", slack.url, "--dedup-window", "0", input=lines(*copies))
    assert result.exit_code == 0, result.stderr
    assert closing_line(result.stderr) == "delivered 5, deduplicated 0, failed 0"
    assert len(slack.requests) == 5
    assert not any(is_summary(r) for r in slack.requests)
    for n, request in enumerate(slack.requests):
        assert f"pid={4000 + n}" in text_of(request)


def test_the_same_alert_twice_is_delivered_once() -> None:
    # The same input fed twice (or an alert line repeated): one delivery, the rest counted,
    # as the publisher's uuid claim does in AWS.
    same = shell_alert(0)
    same.pop("uuid", None)
    with Recorder() as slack:
        result = invoke(
            "--slack-url", slack.url, "--dedup-window", "0", input=lines(same, same, same)
        )
    assert result.exit_code == 0, result.stderr
    assert closing_line(result.stderr) == "delivered 1, deduplicated 2, failed 0"
    assert len(slack.requests) == 1


def test_min_priority_drops_less_severe_alerts() -> None:
    alerts = [
        shell_alert(0, priority="Notice"),
        shell_alert(1, rule="Write below etc", priority="Error"),
        shell_alert(2, rule="Notice again", priority="Notice"),
        shell_alert(3, rule="Container escape", priority="Critical"),
    ]
    with Recorder() as slack:
        result = invoke("--slack-url", slack.url, "--min-priority", "error", input=lines(*alerts))
    assert result.exit_code == 0, result.stderr
    # Dropped alerts are neither delivered nor failed.
    assert closing_line(result.stderr) == "delivered 2, deduplicated 0, failed 0"
    headers = [json.loads(r.body)["blocks"][0]["text"]["text"] for r in slack.requests]
    assert headers == ["Error: Write below etc", "Critical: Container escape"]


# --- webhook and PagerDuty ----------------------------------------------------------------


def test_webhook_requests_verify_and_carry_the_alert(tmp_path: Path) -> None:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(secret + "\n")
    no_uuid = [shell_alert(n, host=f"node-{n}", pod=PODS[n]) for n in range(3)]
    with_uuid = shell_alert(
        9, rule="Read sensitive file untrusted", uuid="6c0ad4e4-70a7-4a44-9d8a-8f1e6b2f0c11"
    )
    with Recorder(path="/falco") as receiver:
        proc = run_cli(
            "--webhook-url",
            receiver.url,
            "--webhook-secret-file",
            str(secret_file),
            input=lines(*no_uuid, with_uuid),
        )
        requests = list(receiver.requests)
    assert proc.returncode == 0, proc.stderr
    assert closing_line(proc.stderr) == "delivered 3, deduplicated 2, failed 0"
    assert secret not in proc.stderr
    assert len(requests) == 3

    wrong = Webhook("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    verifier = Webhook(secret)
    docs = []
    for request in requests:
        assert request.path == "/falco"
        assert request.headers["content-type"] == "application/json"
        # Each request on its own, as a receiver checks it.
        doc = verifier.verify(request.body, request.headers)
        assert doc == json.loads(request.body)
        assert request.headers["webhook-id"] == doc["uuid"]
        with pytest.raises(WebhookVerificationError):
            wrong.verify(request.body, request.headers)
        with pytest.raises(WebhookVerificationError):
            verifier.verify(request.body.replace(b"node-0", b"node-X"), request.headers)
        docs.append(doc)

    first, second, summary = docs
    # The alert as it came, plus a uuid when it had none.
    assert {k: v for k, v in first.items() if k != "uuid"} == no_uuid[0]
    assert uuidlib.UUID(first["uuid"])
    assert second == with_uuid
    # The summary: the first alert, a uuid of its own, and how often it happened.
    assert {k: v for k, v in summary.items() if k not in ("uuid", "repeat")} == no_uuid[0]
    assert summary["uuid"] not in (first["uuid"], second["uuid"])
    assert summary["repeat"]["count"] == 3
    assert summary["repeat"]["hosts"] == 3
    assert summary["repeat"]["host_names"] == ["node-0", "node-1", "node-2"]


def test_pagerduty_summary_updates_the_first_alerts_incident(tmp_path: Path) -> None:
    key = "R0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5"
    key_file = tmp_path / "pd-key"
    key_file.write_text(key + "\n")
    copies = [shell_alert(n, host=f"node-{n}", pod=PODS[n]) for n in range(4)]
    other = shell_alert(7, rule="Outbound connection to C2 server", priority="Critical")
    accepted = Reply(202, json.dumps({"status": "success", "dedup_key": "from-pagerduty"}))
    with Recorder(accepted, path="/v2/enqueue") as pagerduty:
        proc = run_cli(
            "--pagerduty-url",
            pagerduty.url,
            "--pagerduty-key-file",
            str(key_file),
            input=lines(copies[0], other, *copies[1:]),
        )
        events = [json.loads(r.body) for r in pagerduty.requests]
    assert proc.returncode == 0, proc.stderr
    assert closing_line(proc.stderr) == "delivered 3, deduplicated 3, failed 0"
    assert key not in proc.stderr
    assert len(events) == 3
    first, second, summary = events
    for event in events:
        assert event["routing_key"] == key
        assert event["event_action"] == "trigger"
    assert "repeat" not in first["payload"]["custom_details"]
    assert summary["payload"]["custom_details"]["repeat"]["count"] == 4
    assert "repeated 4 times on 4 hosts" in summary["payload"]["summary"]
    # One PagerDuty incident for the alert and its summary; another for the other alert.
    assert summary["dedup_key"] == first["dedup_key"]
    assert second["dedup_key"] != first["dedup_key"]
    assert second["payload"]["severity"] == "critical"


# --- failures and retries -----------------------------------------------------------------


def test_slack_404_is_a_failure_named_on_stderr() -> None:
    with Recorder(Reply(404, "no_service")) as slack:
        proc = run_cli("--slack-url", slack.url, input=lines(shell_alert(0)))
        sent = len(slack.requests)
    assert proc.returncode == 1
    assert sent == 1  # permanent: not tried again
    problem = proc.stderr.splitlines()[0]
    assert "slack" in problem
    assert "404" in problem
    assert "no_service" in problem
    assert "Terminal shell in container" in problem
    assert closing_line(proc.stderr) == "delivered 0, deduplicated 0, failed 1"
    assert slack.path not in proc.stderr  # the webhook URL's path is its secret


def test_slack_500_then_200_is_retried_and_delivered() -> None:
    with Recorder() as slack:
        slack.script(Reply(500, "internal_error", {"Retry-After": "1"}))
        proc = run_cli("--slack-url", slack.url, input=lines(shell_alert(0)))
        requests = list(slack.requests)
    assert proc.returncode == 0, proc.stderr
    assert "retrying" in proc.stderr
    assert "500" in proc.stderr
    assert closing_line(proc.stderr) == "delivered 1, deduplicated 0, failed 0"
    assert len(requests) == 2
    assert requests[0].body == requests[1].body


# --- input ----------------------------------------------------------------------------------


def test_scan_json_piped_into_notify_delivers_every_alert() -> None:
    scan_argv = [sys.executable, "-m", "cli.main", "scan", "--json", str(K8S_SAMPLE)]
    with Recorder() as slack:
        scan = subprocess.Popen(
            scan_argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
            env=_env(),
        )
        assert scan.stdout is not None
        notify = subprocess.Popen(
            notify_argv("--slack-url", slack.url),
            stdin=scan.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=_env(),
        )
        scan.stdout.close()  # notify holds the read end now
        try:
            _out, notify_err = notify.communicate(timeout=TIMEOUT)
            scan_err = scan.communicate(timeout=TIMEOUT)[1].decode()
        finally:
            for p in (scan, notify):
                if p.poll() is None:
                    p.kill()
                    p.wait()
        requests = list(slack.requests)
    assert scan.returncode == 0, scan_err
    assert notify.returncode == 0, notify_err
    found = re.search(r"; (\d+) alerts;", scan_err)
    assert found, scan_err
    alerts = int(found.group(1))
    assert alerts > 0  # the sample has its story; nothing delivered would prove nothing

    closing = closing_line(notify_err)
    delivered, deduplicated, failed = (int(x) for x in re.findall(r"\d+", closing))
    assert failed == 0
    assert delivered == len(requests)
    summaries = [r for r in requests if is_summary(r)]
    # Every alert was sent, or counted as a copy (a summary is one more message).
    assert delivered - len(summaries) + deduplicated == alerts
    counted = 0
    for s in summaries:
        m = re.search(r"Repeated (\d+) times?", text_of(s))
        assert m
        counted += int(m.group(1)) - 1  # its first alert was delivered on its own
    assert delivered - len(summaries) + counted == alerts

    # And what Slack got are the alerts scan found.
    scan_again = subprocess.run(
        scan_argv, capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO, env=_env()
    )
    uuids = {json.loads(line)["uuid"] for line in scan_again.stdout.splitlines()}
    assert len(uuids) == alerts
    sent = [r for r in requests if not is_summary(r)]
    # Each message that is not a summary is one of scan's alerts, each a different one.
    named = [[u for u in uuids if u in text_of(r)] for r in sent]
    assert all(len(n) == 1 for n in named), named
    assert len({n[0] for n in named}) == len(sent)


def test_bad_lines_are_reported_with_line_numbers_and_the_rest_delivered() -> None:
    good = shell_alert(0)
    missing_rule = {k: v for k, v in shell_alert(1).items() if k != "rule"}
    input_lines = [
        json.dumps(good),  # 1
        "this is not json",  # 2
        json.dumps([good]),  # 3
        json.dumps(missing_rule),  # 4
        json.dumps(shell_alert(2, priority="Severe")),  # 5
        "10:00:25.754702000: Notice Interactive exec into pod (user=jdoe ns=payments)",  # 6
        "",  # 7: an empty line is not an alert, nor a bad one
        json.dumps(shell_alert(3, rule="Write below etc")),  # 8
    ]
    with Recorder() as slack:
        result = invoke("--slack-url", slack.url, input="\n".join(input_lines) + "\n")
    err = result.stderr
    assert result.exit_code == 1, err
    reported = dict(re.findall(r"^lanner notify: line (\d+): (.*)$", err, re.MULTILINE))
    assert sorted(reported, key=int) == ["2", "3", "4", "5", "6"]
    assert "not JSON" in reported["2"]
    assert "not a JSON object" in reported["3"]
    assert "rule" in reported["4"]
    assert "priority" in reported["5"] and "Severe" in reported["5"]
    assert "not JSON" in reported["6"]
    assert "5 bad input line(s) skipped" in err
    assert closing_line(err) == "delivered 2, deduplicated 0, failed 0"
    headers = [json.loads(r.body)["blocks"][0]["text"]["text"] for r in slack.requests]
    assert headers == ["Notice: Terminal shell in container", "Notice: Write below etc"]


def test_hostile_strings_reach_stderr_inert() -> None:
    rule = "Shell <!channel> \x1b[31mred\x1b[0m \x1b]0;owned\x07"
    hostile = shell_alert(0, rule=rule)
    hostile["output_fields"]["proc.cmdline"] = "bash -c 'echo \x1b[2J'"
    bad_priority = shell_alert(1, priority="\x1b[31mSevere")
    with Recorder(Reply(404, "no_service\x1b[2J")) as slack:
        proc = run_cli("--slack-url", slack.url, input=lines(hostile, bad_priority))
        bodies = [json.loads(r.body) for r in slack.requests]
    assert proc.returncode == 1
    assert closing_line(proc.stderr) == "delivered 0, deduplicated 0, failed 1"
    # The rule name, the answer and the bad line were printed, each without a raw ESC.
    assert "Shell <!channel> \\u001b[31mred\\u001b[0m \\u001b]0;owned\\u0007" in proc.stderr
    assert "no_service\\u001b[2J" in proc.stderr
    assert "line 2:" in proc.stderr
    assert "\x1b" not in proc.stderr
    assert "\x07" not in proc.stderr
    # Nor did Slack get a mention or a raw control character.
    assert len(bodies) == 1
    for s in strings(bodies[0]):
        assert "<!channel>" not in s
        assert "\x1b" not in s


# --- usage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "at least one destination"),
        (["--webhook-url", "http://127.0.0.1:9/hook"], "--webhook-secret-file"),
        (["--webhook-secret-file", "secret"], "--webhook-url"),
        (["--pagerduty-url", "http://127.0.0.1:9/v2/enqueue"], "--pagerduty-key-file"),
        (["--slack-url", "file:///etc/passwd"], "Slack webhook URL"),
    ],
    ids=[
        "no-destination",
        "webhook-without-secret",
        "secret-without-webhook",
        "pd-no-key",
        "bad-url",
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    with Recorder() as slack:
        result = invoke(*args, input=lines(shell_alert(0)))
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert slack.requests == []


def test_no_destination_exits_2_as_a_command() -> None:
    proc = run_cli(input=lines(shell_alert(0)))
    assert proc.returncode == 2
    assert "Usage:" in proc.stderr
    assert "name at least one destination" in proc.stderr


def test_weak_webhook_secret_is_refused_without_printing_it(tmp_path: Path) -> None:
    weak = "whsec_" + base64.b64encode(b"0123456789abcdef").decode()  # 16 bytes
    secret_file = tmp_path / "weak"
    secret_file.write_text(weak)
    with Recorder() as receiver:
        result = invoke(
            "--webhook-url",
            receiver.url,
            "--webhook-secret-file",
            str(secret_file),
            input=lines(shell_alert(0)),
        )
    assert result.exit_code == 2
    assert "at least 24 random bytes" in result.stderr
    assert weak not in result.output
    assert receiver.requests == []


# --- a live input (run_notify on a pipe) -----------------------------------------------------


class _Pipe:
    """A pipe whose read end ``run_notify`` reads, in a thread, as it would a live input."""

    def __init__(self, destinations: list[Any], dedup_window: float = 300) -> None:
        r, w = os.pipe()
        self.reader = os.fdopen(r, "r", encoding="utf-8")
        self.writer = os.fdopen(w, "w", encoding="utf-8")
        self.err = io.StringIO()
        self.status: int | None = None

        def run() -> None:
            self.status = notify_module.run_notify(
                self.reader, self.err, destinations, Priority.DEBUG, dedup_window
            )

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def write(self, text: str) -> None:
        self.writer.write(text)
        self.writer.flush()

    def close(self) -> str:
        self.writer.close()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "run_notify did not end with its input"
        self.reader.close()
        return self.err.getvalue()


def test_line_numbers_count_lines_not_quiet_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify_module, "TICK_SECONDS", 0.01)
    flushes = 0
    real_flush = Dispatcher.flush

    def counting_flush(self: Dispatcher, *, final: bool = False) -> None:
        nonlocal flushes
        flushes += 1
        real_flush(self, final=final)

    monkeypatch.setattr(Dispatcher, "flush", counting_flush)
    with Recorder() as slack:
        pipe = _Pipe([SlackDestination(slack.url)])
        pipe.write(lines(shell_alert(0)))
        # One flush per item read: a line, or a tick of a quiet input. Line 1 and then
        # at least two quiet ticks have passed.
        wait_for(lambda: flushes >= 3, "quiet ticks after line 1")
        pipe.write("not an alert\n")
        err = pipe.close()
    assert pipe.status == 1
    assert "lanner notify: line 2: not a Falco JSON alert" in err, err
    assert closing_line(err) == "delivered 1, deduplicated 0, failed 0"


def test_summary_is_delivered_while_the_input_is_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify_module, "TICK_SECONDS", 0.01)
    now = [1_796_551_200.0]
    stores: list[WindowStore] = []

    class ClockedDeduplicator(Deduplicator):
        def __init__(self, store: WindowStore, window_seconds: float) -> None:
            super().__init__(store, window_seconds, clock=lambda: now[0])
            stores.append(store)

    monkeypatch.setattr("deliver.dedup.Deduplicator", ClockedDeduplicator)
    with Recorder() as slack:
        pipe = _Pipe([SlackDestination(slack.url)], dedup_window=60)
        pipe.write(lines(*(shell_alert(n, f"node-{n}", PODS[n]) for n in range(3))))

        def counted() -> bool:
            windows = getattr(stores[0], "windows", {}) if stores else {}
            return any(w.count == 3 for w in windows.values())

        wait_for(counted, "three copies counted in one window")
        assert len(slack.requests) == 1
        now[0] += 61  # the window closes; the input stays open
        wait_for(lambda: len(slack.requests) == 2, "the summary, before the input ended")
        assert is_summary(slack.requests[1])
        assert "Repeated 3 times on 3 hosts" in text_of(slack.requests[1])
        err = pipe.close()
    assert pipe.status == 0
    assert len(slack.requests) == 2  # the end of input does not send it again
    assert closing_line(err) == "delivered 2, deduplicated 2, failed 0"


def test_an_input_that_fails_to_read_ends_the_run_with_an_error() -> None:
    class FailingInput:
        def __iter__(self) -> Iterator[str]:
            yield lines(shell_alert(0))
            raise OSError(5, "Input/output error")

    err = io.StringIO()
    status: list[int] = []
    with Recorder() as slack:
        destinations: list[Any] = [SlackDestination(slack.url)]
        thread = threading.Thread(
            target=lambda: status.append(
                notify_module.run_notify(
                    FailingInput(),  # type: ignore[arg-type]
                    err,
                    destinations,
                    Priority.DEBUG,
                    300,
                )
            ),
            daemon=True,
        )
        thread.start()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "run_notify hung on an input that failed to read"
    assert status == [1]
    assert "lanner notify: input unreadable after line 1: " in err.getvalue()
    assert "Input/output error" in err.getvalue()
    assert closing_line(err.getvalue()) == "delivered 1, deduplicated 0, failed 0"
    assert len(slack.requests) == 1
