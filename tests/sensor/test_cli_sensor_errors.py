"""`lanner sensor` where it cannot run: one clear line saying what to do, exit 2, no traceback."""

from __future__ import annotations

import json
import socket
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

import sensor.capture
import sensor.enrich
from cli.main import main
from sensor.events import RawEvent


def test_capture_failure_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise sensor.capture.CaptureError(
            "bcc is not installed: apt-get install python3-bpfcc linux-headers-amd64"
        )

    monkeypatch.setattr(sensor.capture, "Capture", refuse)
    result = CliRunner().invoke(main, ["sensor", "--duration", "1"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "lanner sensor: bcc is not installed: apt-get install python3-bpfcc linux-headers-amd64"
    )
    assert "Traceback" not in result.output


def test_kubelet_metadata_never_raises(tmp_path: Any) -> None:
    from sensor.command import _kubelet

    # Nothing listens on this loopback port: the lookup answers "unknown", counted, no exception.
    meta = _kubelet("http://127.0.0.1:9/pods", str(tmp_path / "no-token"), "/nonexistent")
    assert meta.lookup("a" * 64) is None
    assert meta.stats() == {"fetches": 1, "errors": 1}


def _no_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the capture must not start")

    monkeypatch.setattr(sensor.capture, "Capture", never)


def test_host_root_without_proc_refuses_to_start(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_capture(monkeypatch)
    result = CliRunner().invoke(main, ["sensor", "--host-root", str(tmp_path), "--duration", "1"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"lanner sensor: --host-root {tmp_path}: there is no {tmp_path}/proc: mount the "
        "host's /proc there (hostPath /proc at <host-root>/proc) or pass --host-root /"
    ]
    assert "Traceback" not in result.output


def test_host_root_whose_proc_is_not_a_proc_refuses_to_start(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_capture(monkeypatch)
    (tmp_path / "proc").mkdir()  # an empty mount point: the hostPath volume is missing
    result = CliRunner().invoke(main, ["sensor", "--host-root", str(tmp_path), "--duration", "1"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"lanner sensor: --host-root {tmp_path}: {tmp_path}/proc is not a /proc (no stat, "
        "no 1/ in it): mount the host's /proc there (hostPath /proc at <host-root>/proc) "
        "or pass --host-root /"
    ]


def test_host_root_env_is_checked_too(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_capture(monkeypatch)
    monkeypatch.setenv("HOST_ROOT", str(tmp_path / "host"))
    result = CliRunner().invoke(main, ["sensor", "--duration", "1"])
    assert result.exit_code == 2
    assert f"--host-root {tmp_path}/host: there is no {tmp_path}/host/proc" in result.stderr


def test_host_root_without_etc_warns_and_starts(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/proc is the host's, /etc is not mounted: the sensor runs, and says what is lost."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise sensor.capture.CaptureError("stop here")

    monkeypatch.setattr(sensor.capture, "Capture", refuse)
    (tmp_path / "proc").symlink_to("/proc")
    result = CliRunner().invoke(main, ["sensor", "--host-root", str(tmp_path), "--duration", "1"])
    lines = result.stderr.strip().splitlines()
    assert lines[:2] == [
        f"lanner sensor: --host-root {tmp_path}: cannot read {tmp_path}/etc/passwd: "
        "user.name of host processes will be <NA>",
        f"lanner sensor: --host-root {tmp_path}: cannot read {tmp_path}/etc/group: "
        "group.name of host processes will be <NA>",
    ]
    assert lines[-1] == "lanner sensor: stop here"  # it went on to start the capture


def test_unwritable_heartbeat_is_said_once(tmp_path: Any) -> None:
    from sensor.command import _heartbeat_path

    blocker = tmp_path / "file"
    blocker.write_text("")
    said: list[str] = []
    assert _heartbeat_path(str(blocker / "heartbeat"), said.append) is None
    [err] = said
    assert err.startswith(f"lanner sensor: cannot write the heartbeat in {blocker} (")
    assert "`lanner sensor --check` will report this sensor as not running" in err
    ok = tmp_path / "run" / "heartbeat"
    assert _heartbeat_path(str(ok), said.append) == ok
    assert said == [err]


# --- the options of issue 13 -----------------------------------------------------------


def test_kubelet_insecure_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_capture(monkeypatch)
    result = CliRunner().invoke(
        main, ["sensor", "--kubelet-url", "https://10.0.0.1:10250/pods", "--kubelet-insecure"]
    )
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "lanner sensor: --kubelet-insecure is removed: it sent the service account's token "
        "to a kubelet whose certificate was not checked; give the cluster CA (--kubelet-ca) "
        "or use --k8s-api-url"
    ]
    assert "--kubelet-insecure" not in CliRunner().invoke(main, ["sensor", "--help"]).output


@pytest.mark.parametrize(
    ("listen", "why"),
    [
        ("9376", "expected HOST:PORT, e.g. 0.0.0.0:9376, 127.0.0.1:9376 or [::]:9376"),
        ("127.0.0.1:99999", "expected HOST:PORT, e.g. 0.0.0.0:9376, 127.0.0.1:9376 or [::]:9376"),
        ("::1:9376", "an IPv6 address is written in brackets: [::]:9376"),
    ],
)
def test_a_bad_metrics_address_is_one_line(
    listen: str, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_capture(monkeypatch)
    result = CliRunner().invoke(main, ["sensor", "--metrics-listen", listen, "--duration", "1"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"lanner sensor: --metrics-listen {listen}: {why}"
    ]
    assert "Traceback" not in result.output


def test_a_metrics_port_in_use_is_told_before_the_rules_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_capture(monkeypatch)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["sensor", "--metrics-listen", f"127.0.0.1:{port}", "--duration", "1"]
        )
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"lanner sensor: --metrics-listen 127.0.0.1:{port}: cannot listen there: "
        "Address already in use"
    ]


def test_api_server_metadata_needs_the_node_name(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_capture(monkeypatch)
    monkeypatch.delenv("NODE_NAME", raising=False)
    ca = tmp_path / "ca.crt"
    ca.write_text("")
    args = ["sensor", "--k8s-api-url", "https://127.0.0.1:6443", "--k8s-ca", str(ca)]
    result = CliRunner().invoke(main, [*args, "--k8s-token", str(ca), "--duration", "1"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "lanner sensor: --k8s-api-url: the node name is empty: set --node-name or $NODE_NAME"
    ]


def test_api_server_metadata_needs_the_cluster_ca(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_capture(monkeypatch)
    missing = tmp_path / "ca.crt"
    args = ["sensor", "--k8s-api-url", "https://127.0.0.1:6443", "--node-name", "node-1"]
    result = CliRunner().invoke(main, [*args, "--k8s-ca", str(missing), "--duration", "1"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"lanner sensor: --k8s-ca {missing}: no such file: the API server's certificate is "
        "verified against it (the cluster CA)"
    ]


def test_api_server_and_kubelet_metadata_are_one_or_the_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_capture(monkeypatch)
    args = ["sensor", "--k8s-api-url", "https://127.0.0.1:6443", "--kubelet-url", "https://x/pods"]
    result = CliRunner().invoke(main, [*args, "--duration", "1"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "lanner sensor: --k8s-api-url and --kubelet-url are two sources of the same pod "
        "metadata: give one"
    ]


def test_only_and_disabled_tags_cannot_be_combined(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_capture(monkeypatch)
    result = CliRunner().invoke(main, ["sensor", "-t", "network", "-T", "filesystem"])
    assert result.exit_code == 2
    assert (
        "-t (run only the rules with a tag) and -T (turn rules off by tag) cannot be combined"
        in (result.stderr)
    )


# --- what runs when the options are right (a stand-in capture, enricher and pod watch) ---

TAGGED_RULES = """
- rule: Shadow read
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "%proc.name read %fd.name"
  priority: WARNING
  tags: [filesystem]
- rule: Hosts read
  desc: d
  condition: evt.type = openat and fd.name = /etc/hosts
  output: "%proc.name read %fd.name"
  priority: NOTICE
  tags: [network]
"""


class _Capture:
    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        self.batches = [
            [
                RawEvent(1, "openat", 10, 10, comm="cat", args={"name": "/etc/shadow"}),
                RawEvent(2, "openat", 11, 11, comm="cat", args={"name": "/etc/hosts"}),
            ]
        ]
        _Capture.started = True

    started = False

    def poll(self, timeout_ms: int) -> list[RawEvent]:
        return self.batches.pop(0) if self.batches else []

    def stats(self) -> dict[str, int]:
        return {}

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass


class _Enricher:
    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        _Enricher.made.append(kwargs)
        self.procs: list[int] = []

    def handle(self, ev: RawEvent) -> dict[str, Any]:
        return {"evt.type": ev.type, "fd.name": ev.args["name"], "proc.name": ev.comm}


def _stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sensor.capture, "Capture", _Capture)
    monkeypatch.setattr(sensor.capture, "supported_event_types", lambda: frozenset({"openat"}))
    monkeypatch.setattr(sensor.enrich, "Enricher", _Enricher)


@pytest.mark.parametrize(
    ("tags", "alerted"),
    [
        ([], ["Shadow read", "Hosts read"]),
        (["-t", "network"], ["Hosts read"]),
        (["-T", "network"], ["Shadow read"]),
    ],
)
def test_rules_are_chosen_by_tag(
    tags: list[str], alerted: list[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stand_ins(monkeypatch)
    rules = tmp_path / "rules.yaml"
    rules.write_text(TAGGED_RULES)
    args = ["sensor", "-r", str(rules), *tags, "--json", "--duration", "0.3"]
    result = CliRunner().invoke(main, [*args, "--heartbeat", str(tmp_path / "beat")])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["rule"] for line in result.stdout.splitlines()] == alerted
    assert result.stderr.strip().splitlines()[-1] == (
        f"captured 2 events, evaluated 2, {len(alerted)} alerts, drops: 0"
    )


def test_alerts_that_no_event_names_a_host_for_carry_the_node_name(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a DaemonSet the pod's host name is not the node's: an alert whose document has no
    evt.hostname (the drop alert is one) is the node's, as --node-name / $NODE_NAME says."""
    _stand_ins(monkeypatch)
    rules = tmp_path / "rules.yaml"
    rules.write_text(TAGGED_RULES)
    args = ["sensor", "-r", str(rules), "--json", "--duration", "0.3", "--node-name", "node-7"]
    result = CliRunner().invoke(main, [*args, "--heartbeat", str(tmp_path / "beat")])
    assert result.exit_code == 0, result.output
    hosts = {json.loads(line)["hostname"] for line in result.stdout.splitlines()}
    assert hosts == {"node-7"}


def test_a_tag_no_rule_has_is_said(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _stand_ins(monkeypatch)
    rules = tmp_path / "rules.yaml"
    rules.write_text(TAGGED_RULES)
    args = ["sensor", "-r", str(rules), "-t", "netwrok", "--duration", "0.3"]
    result = CliRunner().invoke(main, [*args, "--heartbeat", str(tmp_path / "beat")])
    assert result.exit_code == 0, result.output
    assert "tag 'netwrok' (-t): no loaded rule has it; did you mean 'network'?" in result.stderr


class _PodWatch:
    """Records how the sensor uses the pod watch."""

    calls: ClassVar[list[Any]] = []

    def __init__(self, api_url: str, node_name: str, **kwargs: Any) -> None:
        _PodWatch.calls.append(("init", api_url, node_name, kwargs))

    def start(self) -> None:
        _PodWatch.calls.append(("start", _Capture.started))

    def lookup(self, container_full_id: str) -> None:
        return None

    def stats(self) -> dict[str, int]:
        return {"pods": 1}

    def close(self) -> None:
        _PodWatch.calls.append(("close",))


def test_the_pod_watch_starts_before_the_capture_and_closes_after(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sensor.podwatch

    _stand_ins(monkeypatch)
    _Capture.started = False
    _PodWatch.calls = []
    _Enricher.made = []
    monkeypatch.setattr(sensor.podwatch, "PodWatch", _PodWatch)
    monkeypatch.setenv("NODE_NAME", "node-7")
    ca, token = tmp_path / "ca.crt", tmp_path / "token"
    ca.write_text("")
    token.write_text("t")
    args = ["sensor", "--k8s-api-url", "https://127.0.0.1:6443", "--k8s-ca", str(ca)]
    args += ["--k8s-token", str(token), "--duration", "0.2", "--heartbeat", str(tmp_path / "b")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert _PodWatch.calls[0] == (
        "init",
        "https://127.0.0.1:6443",
        "node-7",
        {"token_path": str(token), "ca_path": str(ca)},
    )
    assert _PodWatch.calls[1:] == [("start", False), ("close",)]
    [made] = _Enricher.made
    assert made["metadata"].__self__.__class__ is _PodWatch
    assert made["hostname"] == "node-7"
    assert "lanner sensor: [" in result.stderr and (
        "watching the pods of node node-7 on https://127.0.0.1:6443" in result.stderr
    )


def test_a_config_file_sets_the_options_and_the_command_line_wins(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stand_ins(monkeypatch)
    (tmp_path / "rules.yaml").write_text(TAGGED_RULES)
    config = tmp_path / "sensor.yaml"
    # relative paths are the file's folder's
    config.write_text("rules: [rules.yaml]\njson: true\ndisabled-tags: [network]\nduration: 0.3\n")
    args = ["sensor", "--config", str(config), "--heartbeat", str(tmp_path / "beat")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["rule"] for line in result.stdout.splitlines()] == ["Shadow read"]
    result = CliRunner().invoke(main, [*args, "-T", "filesystem"])  # replaces the file's -T
    assert [json.loads(line)["rule"] for line in result.stdout.splitlines()] == ["Hosts read"]


def test_a_bad_config_file_is_told_where_and_exits_2(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_capture(monkeypatch)
    config = tmp_path / "sensor.yaml"
    config.write_text("json: true\nkubelet-insecure: true\n")
    result = CliRunner().invoke(main, ["sensor", "--config", str(config)])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"{config}:2:1: error: 'kubelet-insecure' was removed")
