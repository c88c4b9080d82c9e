"""Attacks reproduced on the real kernel; the sensor must raise the rule Falco would.

Each test runs one workload in a child process under the live sensor (eBPF capture ->
enrichment -> rules) and asserts the alert by rule name and the fields a responder reads
(``proc.name``, ``fd.name``, ``proc.cmdline``...), with Falco's upstream stable rules
(``../shared/corpus/falco/falco_rules.yaml``) and with our bundled
``rules/syscall_rules.yaml``. Network traffic goes only to loopback or to an address
inside a network namespace the test creates (TEST-NET-2, 198.51.100.0/24). "Containers"
are cgroups laid out as Docker's systemd driver lays them out; there is no runtime, so
the image name stays missing (``<NA>``).

Needs root and eBPF; skipped otherwise (CI's LANNER_REQUIRE_BPF=1 makes that a failure).

Stable rules not reproduced here, and why:

- Contact K8S API Server From Container: matches ``fd.sip.name`` of the API server's
  name (``kubernetes.default.svc``...), which resolves only inside a cluster; the name
  resolution itself is tested live in test_dnsnames.py with a name that resolves here.
- Debugfs Launched in Privileged Container: ``container.privileged`` comes from the pod
  spec (the pod watch); test_podwatch.py fires it through the enricher.

Every other stable rule has a test below ("Detect release_agent File Container Escapes"
with a file of that name in a tmp directory: no cgroup's release_agent is written).

A new program's ``proc.tty``, ``proc.exepath``, memfd flag, environment and capabilities
come from the kernel at exec (the exec tracepoint and the fd state the sensor keeps), so
the programs whose alert needs them may exit at once: /proc only seeds processes that
existed before the sensor started.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from workloads import (
    BUNDLED_RULES,
    UPSTREAM_RULES,
    FakeContainer,
    LiveSensor,
    Seen,
    by_pid,
    cmdline_has,
    fake_container,
    live_sensor,
    netns,
    unique,
)

HAVE_STABLE = UPSTREAM_RULES.exists()
HAVE_BUNDLED = BUNDLED_RULES.exists()


@pytest.fixture(scope="module")
def sensor() -> Iterator[LiveSensor]:
    with live_sensor() as live:
        yield live


@pytest.fixture(scope="module")
def scripts() -> Iterator[Path]:
    """A directory any user can read and run from (workloads may drop privileges)."""
    d = Path(tempfile.mkdtemp(prefix="lanner-live-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def container() -> Iterator[FakeContainer]:
    with fake_container() as c:
        yield c


def script(directory: Path, name: str, body: str, interpreter: str = "/bin/sh") -> Path:
    """An executable script; run, its process takes the file's name (comm), as a
    renamed or dropped binary would."""
    path = directory / name
    path.write_text(f"#!{interpreter}\n{body}\n")
    path.chmod(0o755)
    return path


def expect(
    live: LiveSensor,
    since: int,
    match: Callable[[Seen], bool],
    *,
    stable: str,
    bundled: str | None,
    **fields: object,
) -> Seen:
    """Waits for the named stable and bundled rules (those whose file exists) to fire
    for the workload, and checks ``fields`` (``proc__name`` for ``proc.name``) on the
    alerting event and in the alert's output fields wherever the rule's output shows
    them. Returns the stable alert (the bundled one without Falco's file)."""
    got: list[Seen] = []
    for ruleset, rule, present in (
        ("stable", stable, HAVE_STABLE),
        ("bundled", bundled, HAVE_BUNDLED),
    ):
        if rule is None or not present:
            continue
        seen = live.wait_for(rule, match, ruleset=ruleset, since=since)
        for key, value in fields.items():
            name = key.replace("__", ".")
            assert seen.doc.get(name) == value, (ruleset, rule, name, seen.doc.get(name))
            if name in seen.fields:
                assert seen.fields[name] == value, (ruleset, rule, name, seen.fields[name])
        got.append(seen)
    if not got:
        pytest.skip("neither Falco's stable rules nor rules/syscall_rules.yaml is present")
    return got[0]


# --- files --------------------------------------------------------------------------------


def test_read_shadow(sensor: LiveSensor) -> None:
    start = len(sensor.alerts)
    done = sensor.run(["cat", "/etc/shadow"])
    s = expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Read sensitive file untrusted",
        bundled="Sensitive File Read By Untrusted Program",
        proc__name="cat",
        fd__name="/etc/shadow",
        proc__cmdline="cat /etc/shadow",
    )
    assert s.doc["fd.name"] == "/etc/shadow" and s.doc["proc.name"] == "cat"
    assert str(s.doc["proc.pname"]).startswith("python")  # this test's interpreter
    assert "file=/etc/shadow" in s.alert.message and "process=cat" in s.alert.message


def test_relative_read_after_chdir(sensor: LiveSensor) -> None:
    # `cd /etc; cat shadow`: the open's path is relative, so the sensor must follow chdir.
    start = len(sensor.alerts)
    sensor.run(["sh", "-c", "cd /etc && cat shadow >/dev/null"])
    s = expect(
        sensor,
        start,
        lambda a: a.doc.get("proc.cmdline") == "cat shadow",
        stable="Read sensitive file untrusted",
        bundled="Sensitive File Read By Untrusted Program",
        proc__name="cat",
        fd__name="/etc/shadow",
    )
    assert s.doc["proc.cwd"].rstrip("/") == "/etc"


def test_directory_traversal_read(sensor: LiveSensor, tmp_path: Path) -> None:
    deep = tmp_path / "www" / "app" / "static"
    deep.mkdir(parents=True)
    raw = "../" * (len(deep.parts) + 1) + "etc/shadow"
    start = len(sensor.alerts)
    done = sensor.run(["cat", raw], cwd=deep)
    expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Directory traversal monitored file read",
        bundled="File Read Through Path Traversal",
        proc__name="cat",
        fd__name="/etc/shadow",
        fd__nameraw=raw,
    )


def test_sensitive_file_read_by_long_running_service(sensor: LiveSensor, scripts: Path) -> None:
    # A "web server" reads /etc/shadow more than 5 seconds after it started.
    marker = unique("svc")
    body = "import sys, time\ntime.sleep(5.3)\nopen('/etc/shadow').read()"
    d = scripts / marker
    d.mkdir()
    d.chmod(0o755)
    nginx = script(d, "nginx", body, sys.executable)
    start = len(sensor.alerts)
    done = sensor.run([str(nginx), marker])
    expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Read sensitive file trusted after startup",
        bundled="Sensitive File Read By Running Service",
        proc__name="nginx",
        fd__name="/etc/shadow",
    )


def test_symlink_over_sensitive_file(sensor: LiveSensor, tmp_path: Path) -> None:
    link = tmp_path / unique("shadow")
    start = len(sensor.alerts)
    done = sensor.run(["ln", "-sf", "/etc/shadow", str(link)])
    s = expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Create Symlink Over Sensitive Files",
        bundled="Symlink To Sensitive File",
        proc__name="ln",
    )
    assert s.doc["evt.arg"]["target"] == "/etc/shadow"
    assert s.doc["evt.arg"]["linkpath"] == str(link)


def test_hardlink_over_sensitive_file(sensor: LiveSensor, tmp_path: Path) -> None:
    link = tmp_path / unique("shadow")
    start = len(sensor.alerts)
    done = sensor.run(["ln", "/etc/shadow", str(link)])
    s = expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Create Hardlink Over Sensitive Files",
        bundled="Hardlink To Sensitive File",
        proc__name="ln",
    )
    assert s.doc["evt.arg"]["oldpath"] == "/etc/shadow"
    assert s.doc["evt.arg"]["newpath"] == str(link)


def test_log_file_truncated(sensor: LiveSensor) -> None:
    log = Path("/var/log") / f"{unique('lanner-test')}.log"
    log.write_text("evidence\n")
    try:
        start = len(sensor.alerts)
        done = sensor.python(f"open({str(log)!r}, 'w').close()")
        s = expect(
            sensor,
            start,
            by_pid(done.pid),
            stable="Clear Log Activities",
            bundled="Log File Truncated",
            fd__name=str(log),
        )
        assert s.doc["fd.name"] == str(log)
        assert "O_TRUNC" in s.doc["evt.arg"]["flags"]
    finally:
        log.unlink(missing_ok=True)


def test_shred(sensor: LiveSensor, tmp_path: Path) -> None:
    victim = tmp_path / unique("data")
    victim.write_bytes(b"x" * 4096)
    start = len(sensor.alerts)
    done = sensor.run(["shred", "-u", str(victim)])
    expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Remove Bulk Data from Disk",
        bundled="Data Wiping Tool Run",
        proc__name="shred",
        proc__cmdline=f"shred -u {victim}",
    )
    assert not victim.exists()


def test_search_for_private_keys(sensor: LiveSensor, tmp_path: Path) -> None:
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    (tmp_path / "home" / ".ssh" / "id_rsa").write_text("not a key\n")
    start = len(sensor.alerts)
    done = sensor.run(["find", str(tmp_path), "-name", "id_rsa"])
    assert "id_rsa" in done.stdout
    expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Search Private Keys or Passwords",
        bundled="Search For Private Keys",
        proc__name="find",
        proc__cmdline=f"find {tmp_path} -name id_rsa",
    )


def test_search_for_aws_credentials(sensor: LiveSensor, tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text("[default]\naws_secret_access_key = x\n")
    start = len(sensor.alerts)
    done = sensor.run(["grep", "-r", "aws_secret_access_key", str(tmp_path)])
    expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Find AWS Credentials",
        bundled="Search For Cloud Credentials",
        proc__name="grep",
        proc__cmdline=f"grep -r aws_secret_access_key {tmp_path}",
    )


# --- processes ----------------------------------------------------------------------------


def test_shell_under_untrusted_parent(sensor: LiveSensor, scripts: Path) -> None:
    # A "web server" that runs a shell: the classic RCE shape.
    marker = unique("rce")
    d = scripts / marker
    d.mkdir()
    nginx = script(d, "nginx", '/bin/sh -c "true $1"')
    start = len(sensor.alerts)
    sensor.run([str(nginx), marker])
    s = expect(
        sensor,
        start,
        cmdline_has(marker),
        stable="Run shell untrusted",
        bundled="Shell Started By Network Service",
        proc__name="sh",
        proc__pname="nginx",
        proc__cmdline=f"sh -c true {marker}",
    )
    assert s.doc["proc.pname"] == "nginx"


def test_system_user_interactive(sensor: LiveSensor, scripts: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop to the nobody user")
    marker = unique("login")
    d = scripts / marker
    d.mkdir()
    d.chmod(0o755)
    login = script(d, "login", "exit 0")
    start = len(sensor.alerts)
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(login), marker]
    sensor.run(cmd)
    expect(
        sensor,
        start,
        cmdline_has(marker),
        stable="System user interactive",
        bundled="Service Account Runs Interactive Command",
        proc__name="login",
        user__name="nobody",
        user__uid=65534,
    )


def test_execution_from_dev_shm(sensor: LiveSensor) -> None:
    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm")
    binary = Path("/dev/shm") / unique("lanner-true")
    shutil.copy("/bin/true", binary)
    binary.chmod(0o755)
    try:
        start = len(sensor.alerts)
        done = sensor.run([str(binary)])
    finally:
        binary.unlink()
    expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Execution from /dev/shm",
        bundled="Program Run From Dev Shm",
        proc__exe=str(binary),
        proc__exepath=str(binary),
    )


# A program copied into a memfd and run from it (fexecve).
MEMFD_EXEC = r"""
import os, sys
fd = os.memfd_create(sys.argv[1], 0)
with open(sys.argv[2], "rb") as f:
    os.write(fd, f.read())
os.execve(fd, [sys.argv[1], *sys.argv[3:]], {})
"""


# A payload that lives a second, and one that exits at once: neither needs /proc (the exec
# names the memfd's fd, which the sensor saw created).
@pytest.mark.parametrize("payload", [["/bin/sleep", "1"], ["/bin/true"]], ids=["sleeps", "exits"])
def test_fileless_execution_via_memfd(sensor: LiveSensor, payload: list[str]) -> None:
    marker = unique("memfd")
    start = len(sensor.alerts)
    done = sensor.python(MEMFD_EXEC, marker, *payload)
    s = expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Fileless execution via memfd_create",
        bundled="Program Run From Memory File",
        proc__is_exe_from_memfd=True,
    )
    assert s.doc["evt.type"] in ("execve", "execveat")
    # The kernel's own rendering of the exe link is /memfd:<name> (deleted).
    assert f"memfd:{marker}" in str(s.doc["proc.exepath"])


PTRACE_ATTACH = r"""
import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
if libc.ptrace(16, child, None, None) != 0:  # PTRACE_ATTACH
    sys.exit("attach failed: %d" % ctypes.get_errno())
os.waitpid(child, 0)
libc.ptrace(17, child, None, None)  # PTRACE_DETACH
os.kill(child, signal.SIGKILL)
os.waitpid(child, 0)
"""

PTRACE_TRACEME = r"""
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace(0, 0, None, None)  # PTRACE_TRACEME
"""


def test_ptrace_attach(sensor: LiveSensor) -> None:
    marker = unique("attach")
    start = len(sensor.alerts)
    done = sensor.python(PTRACE_ATTACH, marker)
    s = expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="PTRACE attached to process",
        bundled="Process Attaches With Ptrace",
    )
    assert s.doc["evt.arg"]["request"] == "PTRACE_ATTACH"
    assert marker in str(s.doc["proc.cmdline"])


def test_ptrace_traceme(sensor: LiveSensor) -> None:
    marker = unique("traceme")
    start = len(sensor.alerts)
    done = sensor.python(PTRACE_TRACEME, marker)
    s = expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="PTRACE anti-debug attempt",
        bundled="Program Blocks Debuggers With Ptrace",
    )
    assert s.doc["evt.arg"]["request"] == "PTRACE_TRACEME"
    assert marker in str(s.doc["proc.cmdline"])


# --- network ------------------------------------------------------------------------------

SSH_LISTENER = r"""
import socket, sys
srv = socket.socket()
srv.bind((sys.argv[1], 4444))
srv.listen(1)
print("ready", flush=True)
srv.settimeout(20)
try:
    conn, _ = srv.accept()
    conn.sendall(b"not ssh\r\n")
    conn.close()
except OSError:
    pass
"""


def test_ssh_to_non_standard_port(sensor: LiveSensor) -> None:
    if shutil.which("ssh") is None:
        pytest.skip("no ssh client installed")
    with netns() as ns:
        listener = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, sys.executable, "-c", SSH_LISTENER, ns.ns_addr],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert listener.stdout is not None and listener.stdout.readline() == "ready\n"
            marker = unique("ssh")
            start = len(sensor.alerts)
            argv = ["ssh", "-p", "4444", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]
            argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
            done = sensor.run([*argv, f"lanner@{ns.ns_addr}", marker], check=False)
        finally:
            listener.kill()
            listener.wait()
    s = expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Disallowed SSH Connection Non Standard Port",
        bundled="SSH Client To Non-Standard Port",
        proc__name="ssh",
        fd__sip=ns.ns_addr,
        fd__sport=4444,
    )
    assert str(s.doc["fd.name"]).endswith(f"->{ns.ns_addr}:4444")
    assert s.doc["fd.rport"] == 4444 and s.doc["fd.l4proto"] == "tcp"


# A kernel built without module support has no finit_module at all (no tracepoint): the
# sensor does not trace calls that can only fail with ENOSYS (see sensor.capture).
needs_modules = pytest.mark.skipif(
    not any(
        Path(t, "events/syscalls/sys_enter_finit_module").is_dir()
        for t in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
    ),
    reason="this kernel has no module support (no finit_module syscall)",
)


@needs_modules
def test_kernel_module_load_on_host(sensor: LiveSensor, tmp_path: Path) -> None:
    # finit_module on a file that is no module: the attempt is what the rule sees (the
    # kernel refuses it, or has no module support at all: ENOSYS).
    if not HAVE_BUNDLED:
        pytest.skip("Falco's stable rule only covers containers")
    junk = tmp_path / "not-a-module.ko"
    junk.write_bytes(b"\0" * 64)
    start = len(sensor.alerts)
    done = sensor.python(FINIT_MODULE, str(junk))
    seen = sensor.wait_for(
        "Kernel Module Loaded By Unexpected Program", by_pid(done.pid), ruleset="bundled"
    )
    assert seen.doc["evt.type"] == "finit_module" and seen.doc["evt.failed"] is True
    assert seen.doc["container.id"] == "host"
    assert not sensor.matching(lambda a: a.rule == "Kernel Module Loaded From Container", start)


FINIT_MODULE = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
res = libc.syscall(313, fd, b"", 0)  # finit_module
print(res, ctypes.get_errno())
"""


# --- "containers" ---------------------------------------------------------------------------


def test_terminal_shell_in_container(
    sensor: LiveSensor, scripts: Path, container: FakeContainer
) -> None:
    # A runtime-named parent starting a shell on a pty, in its own namespaces, as
    # `docker exec -it` / `kubectl exec -it` do.
    if shutil.which("script") is None or shutil.which("unshare") is None:
        pytest.skip("util-linux script and unshare are needed")
    marker = unique("tty")
    d = scripts / marker
    d.mkdir()
    d.chmod(0o755)
    # The shell exits at once: its tty comes from the kernel at exec, not from /proc.
    runc = script(d, "runc", f'/bin/sh -c ": {marker}"')
    start = len(sensor.alerts)
    argv = ["unshare", "--pid", "--fork", "--uts", "--ipc", "script", "-qc", str(runc)]
    sensor.run([*argv, "/dev/null"], cgroup_procs=container.procs)
    s = expect(
        sensor,
        start,
        cmdline_has(marker),
        stable="Terminal shell in container",
        bundled="Interactive Shell In Container",
        proc__name="sh",
        proc__pname="runc",
        container__id=container.id,
    )
    assert s.doc["proc.tty"] != 0
    assert s.doc["container.full_id"] == container.full_id
    if HAVE_BUNDLED:
        # No runtime to ask: the container is named by its id, its image stays missing.
        (b,) = sensor.matching(
            lambda a: a.ruleset == "bundled" and a.rule == "Interactive Shell In Container",
            start,
        )
        assert f"container={container.id} " in b.alert.message
        assert "image=<NA>" in b.alert.message


def test_netcat_rce_in_container(
    sensor: LiveSensor, scripts: Path, container: FakeContainer
) -> None:
    marker = unique("nc")
    d = scripts / marker
    d.mkdir()
    nc = script(d, "nc", "exit 0")
    start = len(sensor.alerts)
    argv = [str(nc), "-e", "/bin/sh", "127.0.0.1", "9", marker]
    sensor.run(argv, cgroup_procs=container.procs)
    s = expect(
        sensor,
        start,
        cmdline_has(marker),
        stable="Netcat Remote Code Execution in Container",
        bundled="Netcat Or Socat Executes Commands",
        proc__name="nc",
        container__id=container.id,
    )
    assert " -e /bin/sh" in str(s.doc["proc.cmdline"])


REVERSE_SHELL = r"""
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
os.dup2(s.fileno(), 0)
os.dup2(s.fileno(), 1)
os.execv("/bin/sh", ["sh", "-c", "true " + sys.argv[2]])
"""


def test_stdio_redirected_to_socket_in_container(
    sensor: LiveSensor, container: FakeContainer
) -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        marker = unique("revsh")
        start = len(sensor.alerts)
        code = REVERSE_SHELL
        done = sensor.run(
            [sys.executable, "-c", code, str(port), marker], cgroup_procs=container.procs
        )
    s = expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Redirect STDOUT/STDIN to Network Connection in Container",
        bundled="Standard Stream Redirected To Network Socket",
        fd__type="ipv4",
        container__id=container.id,
    )
    assert s.doc["evt.type"] in ("dup2", "dup3")
    assert s.doc["evt.rawres"] in (0, 1)
    assert s.doc["fd.sip"] == "127.0.0.1" and s.doc["fd.rport"] == port
    assert str(s.doc["fd.name"]).endswith(f"->127.0.0.1:{port}")


PACKET_SOCKET = r"""
import socket, sys
socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
"""


def test_packet_socket_in_container(sensor: LiveSensor, container: FakeContainer) -> None:
    marker = unique("packet")
    start = len(sensor.alerts)
    done = sensor.run([sys.executable, "-c", PACKET_SOCKET, marker], cgroup_procs=container.procs)
    s = expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Packet socket created in container",
        bundled="Packet Socket Opened In Container",
        evt__type="socket",
        container__id=container.id,
    )
    assert "AF_PACKET" in s.doc["evt.arg"]["domain"]
    assert marker in str(s.doc["proc.cmdline"])


@needs_modules
def test_kernel_module_load_in_container(
    sensor: LiveSensor, tmp_path: Path, container: FakeContainer
) -> None:
    junk = tmp_path / "not-a-module.ko"
    junk.write_bytes(b"\0" * 64)
    start = len(sensor.alerts)
    done = sensor.run([sys.executable, "-c", FINIT_MODULE, str(junk)], cgroup_procs=container.procs)
    s = expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Linux Kernel Module Injection Detected",
        bundled="Kernel Module Loaded From Container",
        evt__type="finit_module",
        container__id=container.id,
    )
    assert "CAP_SYS_MODULE" in str(s.doc["thread.cap_effective"])
    assert s.doc["evt.failed"] is True


def test_release_agent_written_in_container(
    sensor: LiveSensor, tmp_path: Path, container: FakeContainer
) -> None:
    # Only a file of that name in a tmp directory: no cgroup's release_agent is touched.
    target = tmp_path / "release_agent"
    start = len(sensor.alerts)
    done = sensor.run(
        [sys.executable, "-c", "import sys; open(sys.argv[1], 'w').close()", str(target)],
        cgroup_procs=container.procs,
    )
    expect(
        sensor,
        start,
        by_pid(done.pid),
        stable="Detect release_agent File Container Escapes",
        bundled="Cgroup Release Agent Written From Container",
        fd__name=str(target),
        container__id=container.id,
    )


def test_binary_dropped_and_run_in_container(
    sensor: LiveSensor, tmp_path: Path, container: FakeContainer
) -> None:
    # A container root is an overlay whose upper layer takes what the container writes:
    # a binary copied in at run time and executed is the "drop and execute" pattern.
    if shutil.which("unshare") is None:
        pytest.skip("util-linux unshare is needed")
    for d in ("lower", "upper", "work", "root"):
        (tmp_path / d).mkdir()
    root = tmp_path / "root"
    payload = root / unique("payload")
    mount = f"lowerdir={tmp_path}/lower,upperdir={tmp_path}/upper,workdir={tmp_path}/work"
    # The payload (a copy of sleep) lives long enough for /proc to show its mounts.
    steps = f"mount -t overlay overlay -o {mount} {root} && cp /bin/sleep {payload} && {payload} 1"
    start = len(sensor.alerts)
    sensor.run(["unshare", "--mount", "sh", "-c", steps], cgroup_procs=container.procs)
    s = expect(
        sensor,
        start,
        lambda a: a.doc.get("proc.exepath") == str(payload),
        stable="Drop and execute new binary in container",
        bundled="Container Runs Binary Added After Start",
        proc__is_exe_upper_layer=True,
        container__id=container.id,
    )
    assert s.doc["proc.name"] == payload.name[:15]
    assert (tmp_path / "upper" / payload.name).exists()
