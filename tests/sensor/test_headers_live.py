"""`lanner sensor` on a node without kernel headers of its own: started in a private mount
namespace where /lib/modules is an empty tmpfs (so /lib/modules/<release>/build and source
are gone), it compiles against the headers installed under /usr/src, says which, and alerts;
with /usr/src hidden too it stops with one line naming what to install. Real eBPF on this
kernel, as root (LANNER_REQUIRE_BPF=1 makes the skips failures)."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RELEASE = platform.release()
RULES = """
- rule: Header probe ran
  desc: the test's probe binary ran
  condition: evt.type = execve and proc.name = lanner-hdrprobe
  output: "Header probe ran (cmdline=%proc.cmdline)"
  priority: WARNING
  source: syscall
"""
# Hides a directory for this process tree only: unshare makes the mount namespace private,
# so the host and other tests keep seeing it.
HIDE = 'for d in "$@"; do [ "$d" = -- ] && break; mount -t tmpfs lanner-hidden "$d"; done'
HIDE_KHEADERS = (
    "[ -e /sys/kernel/kheaders.tar.xz ] && mount --bind /dev/null /sys/kernel/kheaders.tar.xz"
)
SCRIPT = f'{HIDE}; {HIDE_KHEADERS}; while [ "$1" != -- ]; do shift; done; shift; exec "$@"'
PROGRESS = re.compile(r"^lanner sensor: \[(\d+\.\d) s\] (.*)$")


def _skip(reason: str) -> None:
    if os.environ.get("LANNER_REQUIRE_BPF") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _needs_root_and_unshare() -> None:
    if os.geteuid() != 0:
        _skip("needs root and eBPF (run as root)")
    if shutil.which("unshare") is None:
        _skip("needs unshare (util-linux) for a private mount namespace")


def _sensor(hidden: list[str], tmp_path: Path, *args: str) -> list[str]:
    """The sensor's command line, run with ``hidden`` directories emptied for it alone."""
    lanner = [sys.executable, "-m", "cli.main", "sensor", *args]
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", SCRIPT, "sh",
            *hidden, "--", *lanner, "--heartbeat", str(tmp_path / "heartbeat")]  # fmt: skip


def _installed_headers() -> list[Path]:
    """Debian's generated-header trees under /usr/src, newest first (as `sort -V` would)."""
    trees = [
        p
        for p in Path("/usr/src").glob("linux-headers-*")
        if not p.name.endswith("-common") and (p / "include/generated/autoconf.h").is_file()
    ]
    return sorted(trees, key=lambda p: [int(n) for n in re.findall(r"\d+", p.name)], reverse=True)


def _env() -> dict[str, str]:
    # No override: what is chosen must come from looking, not from the caller's environment.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LANNER_KERNEL_HEADERS", "BCC_KERNEL_SOURCE")
    }
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_sensor_starts_with_the_nodes_headers_hidden_and_says_which_it_used(
    tmp_path: Path,
) -> None:
    installed = _installed_headers()
    if not installed:
        _skip("needs a kernel headers package under /usr/src (apt-get install linux-headers-amd64)")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    probe = tmp_path / "lanner-hdrprobe"
    shutil.copy(shutil.which("true") or "/bin/true", probe)
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with open(out, "w") as outf, open(err, "w") as errf:
        sensor = subprocess.Popen(
            _sensor(["/lib/modules"], tmp_path, "-r", str(rules), "--duration", "120"),
            stdout=outf, stderr=errf, env=_env(), cwd=ROOT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 150
            while "capturing" not in err.read_text():
                assert sensor.poll() is None, f"the sensor stopped: {err.read_text()[-3000:]}"
                assert time.monotonic() < deadline, err.read_text()[-3000:]
                time.sleep(0.2)
            deadline = time.monotonic() + 60
            while "Header probe ran" not in out.read_text():
                assert time.monotonic() < deadline, err.read_text()[-3000:]
                subprocess.run([str(probe), "hidden-headers"], check=True)
                time.sleep(0.5)
        finally:
            sensor.terminate()
            sensor.wait(timeout=60)
    text = err.read_text()
    assert "Header probe ran (cmdline=lanner-hdrprobe hidden-headers)" in out.read_text()
    # Start-up said what it did, in order, with the seconds since start.
    steps = [m.groups() for m in map(PROGRESS.match, text.splitlines()) if m]
    said = [line for _, line in steps]
    assert said[0] == "loading the rules"
    compiling = next(line for line in said if line.startswith("compiling the probes against"))
    # The newest usable installed tree, not the node's (hidden) /lib/modules/<release>/build.
    assert compiling.startswith(
        f"compiling the probes against the installed headers in {installed[0]} "
    )
    assert compiling.endswith(f"kernel {RELEASE})")
    attached = next(line for line in said if line.startswith("attached "))
    assert re.fullmatch(r"attached [1-9]\d* tracepoints", attached)
    assert "seeding the process table from /proc" in said
    assert re.fullmatch(r"ready: [1-9]\d* processes seeded, capturing \d+ event types", said[-1])
    order = [said.index(x) for x in ("loading the rules", compiling, "attaching the probes",
                                     attached, "seeding the process table from /proc", said[-1])]  # fmt: skip
    assert order == sorted(order), said
    seconds = [float(s) for s, _ in steps]
    assert seconds == sorted(seconds)
    assert "/lib/modules" not in text
    assert re.search(r"^captured \d+ events, evaluated \d+, \d+ alerts, drops: \d+$", text, re.M)
    assert sensor.returncode == 0


def test_no_headers_anywhere_is_one_line_naming_what_to_install(tmp_path: Path) -> None:
    try:
        import sensor.capture

        sensor.capture._import_bcc()
    except Exception as e:
        _skip(f"needs bcc: {e}")
    result = subprocess.run(
        _sensor(["/lib/modules", "/usr/src"], tmp_path, "--duration", "5"),
        capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "lanner sensor: no kernel headers to compile the probes against: "
        f"none at /lib/modules/{RELEASE}/build, none under /usr/src (linux-headers-*, kernels/*)"
    ), last
    assert "`apt-get install linux-headers-amd64` (Debian, Ubuntu)" in last
    assert "LANNER_KERNEL_HEADERS" in last
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # stdout is for alerts


def test_without_kernel_btf_the_capture_falls_back_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A node whose kernel has no /sys/kernel/btf/vmlinux: the modes that need it are not
    tried, one line says so, and events still arrive (the hash-map stash)."""
    import sensor.capture as capmod

    monkeypatch.setattr(capmod, "_BTF_VMLINUX", tmp_path / "no-btf/vmlinux")
    said: list[str] = []
    marker = tmp_path / "lanner-nobtf-marker"
    with capmod.Capture({"openat"}, progress=said.append) as cap:
        assert cap.stash_kind == "hash"
        deadline = time.monotonic() + 30
        seen = False
        while not seen:
            assert time.monotonic() < deadline, "no openat event without BTF"
            # Another process: the capture leaves out its own.
            subprocess.run(["touch", str(marker)], check=True)
            seen = any(ev.args.get("name") == str(marker) for ev in cap.poll(200))
    [btf] = [line for line in said if "BTF" in line]
    assert btf.startswith(f"this kernel has no BTF ({tmp_path}/no-btf/vmlinux): syscall arguments")
    assert any(line.startswith("compiling the probes against ") for line in said)
    assert re.fullmatch(r"attached [1-9]\d* tracepoints", said[-1])
