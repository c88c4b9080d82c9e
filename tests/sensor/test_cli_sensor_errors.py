"""`lanner sensor` where it cannot run: one clear line saying what to do, exit 2, no traceback."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

import sensor.capture
from lanner.cli.main import main


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
    from lanner.cli.main import _kubelet

    assert _kubelet(None, "/nonexistent/token", "/nonexistent/ca", False) is None
    # Nothing listens on this loopback port: the lookup answers "unknown", counted, no exception.
    lookup = _kubelet("http://127.0.0.1:9/pods", str(tmp_path / "no-token"), "/nonexistent", True)
    assert lookup is not None
    assert lookup("a" * 64) is None
    assert lookup.__self__.errors == 1
