"""`lanner sensor` where it cannot run: one clear line saying what to do, exit 2, no traceback."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

import sensor.capture
from cli.main import main


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


def test_kubelet_metadata_is_optional_and_never_raises(tmp_path: Any) -> None:
    from sensor.command import _kubelet

    assert _kubelet(None, "/nonexistent/token", "/nonexistent/ca", False) is None
    # Nothing listens on this loopback port: the lookup answers "unknown", counted, no exception.
    lookup = _kubelet("http://127.0.0.1:9/pods", str(tmp_path / "no-token"), "/nonexistent", True)
    assert lookup is not None
    assert lookup("a" * 64) is None
    assert lookup.__self__.errors == 1


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
