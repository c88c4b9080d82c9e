"""The base's capability list, on this kernel: bcc with exactly the rendered DaemonSet's
capabilities loads the sensor's kind of probes and reads other processes' /proc, and fails
without each capability the list claims to need (infra/README.md, "What each permission
is for"). Root and eBPF needed; skipped otherwise (CI sets LANNER_REQUIRE_BPF=1, which turns
those skips into failures).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from kustomized import BASE, render, sensor_container

# What the sensor's capture does: a syscall tracepoint reading a user string into a ring
# buffer, a raw tracepoint, the cgroup id.
_PROBE = textwrap.dedent(
    r"""
    import sys
    sys.path.append("/usr/lib/python3/dist-packages")
    from bcc import BPF
    b = BPF(text='''
    BPF_RINGBUF_OUTPUT(events, 8);
    struct ev { u64 cgroup; char path[64]; };
    TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
        struct ev *e = events.ringbuf_reserve(sizeof(struct ev));
        if (!e) return 0;
        e->cgroup = bpf_get_current_cgroup_id();
        bpf_probe_read_user_str(e->path, sizeof(e->path), args->filename);
        events.ringbuf_submit(e, 0);
        return 0;
    }
    RAW_TRACEPOINT_PROBE(sched_process_exec) { return 0; }
    ''')
    seen = []
    b["events"].open_ring_buffer(lambda ctx, data, size: seen.append(b["events"].event(data).path))
    for _ in range(40):
        open("/etc/hostname").close()
        b.ring_buffer_poll(timeout=50)
        if b"/etc/hostname" in seen:
            print("captured")
            break
    """
)

_PROC_READ = textwrap.dedent(
    """
    import os, sys
    nobody, root = sys.argv[1], sys.argv[2]
    os.listdir(f"/proc/{nobody}/fd")
    os.readlink(f"/proc/{root}/exe")
    open(f"/proc/{root}/environ", "rb").close()
    print("read")
    """
)


def _needs_root_and_bpf() -> str:
    if os.geteuid() != 0:
        pytest.skip("needs root and eBPF to load probes")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv (util-linux) to test eBPF capabilities")
    return setpriv


def _base_capabilities() -> set[str]:
    added = sensor_container(render(BASE))["securityContext"]["capabilities"]["add"]
    return {c.removeprefix("CAP_") for c in added}


def _run_with_caps(
    setpriv: str, caps: set[str], argv: list[str]
) -> subprocess.CompletedProcess[str]:
    bounding = ",".join(["-all", *(f"+{c.lower()}" for c in sorted(caps))])
    return subprocess.run(
        [setpriv, "--bounding-set", bounding, "--inh-caps", "-all", "--", *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_probes_load_with_the_base_capabilities_and_not_without_bpf_or_perfmon() -> None:
    setpriv = _needs_root_and_bpf()
    caps = _base_capabilities()
    probe = [sys.executable, "-c", _PROBE]
    ok = _run_with_caps(setpriv, caps, probe)
    assert ok.returncode == 0 and "captured" in ok.stdout, ok.stderr[-2000:]
    for missing in ("BPF", "PERFMON"):
        res = _run_with_caps(setpriv, caps - {missing}, probe)
        assert res.returncode != 0, f"probes loaded without CAP_{missing}: it is not needed"


def test_proc_of_other_processes_needs_sys_ptrace_and_dac_read_search() -> None:
    setpriv = _needs_root_and_bpf()
    caps = _base_capabilities()
    sleep = shutil.which("sleep") or "/bin/sleep"
    # One process of an unprivileged user, one root process with all capabilities.
    nobody = subprocess.Popen(
        [setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups", sleep, "60"]
    )
    root = subprocess.Popen([sleep, "60"])
    try:
        # Wait (bounded) for the switch of user: a readiness check, not a timing assertion.
        deadline = time.monotonic() + 10
        while Path(f"/proc/{nobody.pid}/status").read_text().find("Uid:\t65534") < 0:
            assert time.monotonic() < deadline, "the unprivileged process did not start"
            time.sleep(0.01)
        argv = [sys.executable, "-c", _PROC_READ, str(nobody.pid), str(root.pid)]
        ok = _run_with_caps(setpriv, caps, argv)
        assert ok.returncode == 0 and "read" in ok.stdout, ok.stderr[-2000:]
        for missing in ("SYS_PTRACE", "DAC_READ_SEARCH"):
            res = _run_with_caps(setpriv, caps - {missing}, argv)
            assert res.returncode != 0 and "PermissionError" in res.stderr, missing
    finally:
        for p in (nobody, root):
            p.kill()
            p.wait()
