"""The process table, read from a fake /proc tree: what proc.* fields would show."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fakeproc import DOCKER_ID, add_proc, make_tree

from sensor.fdtable import FdEntry
from sensor.proctable import Process, ProcessTable, exec_target, generation, parse_stat


def table(tmp_path: Path, max_processes: int = 100) -> ProcessTable:
    root = make_tree(tmp_path)
    return ProcessTable(
        str(root),
        passwd_path=str(tmp_path / "passwd"),
        group_path=str(tmp_path / "group"),
        clock_ticks=100,
        max_processes=max_processes,
    )


def test_process_read_from_proc(tmp_path: Path) -> None:
    t = table(tmp_path)
    p = t.get(600)
    assert p is not None
    assert (p.pid, p.ppid, p.name, p.exe, p.exepath) == (600, 500, "bash", "-bash", "/usr/bin/bash")
    assert p.cwd == "/home/alice"
    assert p.tty == 34816
    assert (p.uid, p.gid, p.loginuid) == (1000, 1000, 1000)
    assert t.user_name(p) == "alice" and t.group_name(p) == "alice"
    assert p.start_ns == 1700000000_000000000 + 10_000000000
    assert p.container.id == "host"
    assert p.env == ["PATH=/usr/bin", "HOME=/root"]


def test_unset_loginuid_is_minus_one(tmp_path: Path) -> None:
    p = table(tmp_path).get(500)
    assert p is not None and p.loginuid == -1


def test_ancestry_and_session_leader(tmp_path: Path) -> None:
    t = table(tmp_path)
    child = t.fork(600, 601)
    t.exec(601, filename="/usr/bin/cat", comm="cat", argv=["cat", "/etc/shadow"])
    chain = t.ancestry(601)
    assert [p.name for p in chain] == ["cat", "bash", "sshd", "systemd"]
    assert child.cmdline == "cat /etc/shadow"
    assert child.exepath == "/usr/bin/cat"
    # The forked child keeps the shell's session and group, whose leader is the shell.
    leader = t.leader(chain, child.sid, "sid")
    assert leader is not None and leader.name == "bash"


def test_container_process_and_capabilities(tmp_path: Path) -> None:
    p = table(tmp_path).get(700)
    assert p is not None
    assert p.container.id == DOCKER_ID[:12]
    assert p.container.type == "docker"
    from sensor.flags import render_caps

    caps = render_caps(p.cap_effective or 0)
    assert caps.startswith("CAP_CHOWN CAP_DAC_OVERRIDE")
    assert "CAP_NET_RAW" in caps and "CAP_SYS_ADMIN" not in caps


def test_exec_closes_cloexec_fds_and_exit_removes(tmp_path: Path) -> None:
    t = table(tmp_path)
    p = t.get(600)
    assert p is not None
    p.fds.set(3, FdEntry(type="file", name="/etc/passwd", flags=0o2000000))
    p.fds.set(4, FdEntry(type="file", name="/tmp/log", flags=0))
    t.exec(600, filename="/usr/bin/vim", comm="vim", argv=["vim"])
    assert 3 not in p.fds and 4 in p.fds
    t.exit(600)
    assert t.peek(600) is None


def test_unknown_pid_is_none_and_table_is_bounded(tmp_path: Path) -> None:
    t = table(tmp_path, max_processes=2)
    assert t.get(4242) is None
    for pid in (1, 500, 600):
        assert t.get(pid) is not None
    assert len(t) == 2 and t.peek(1) is None


@pytest.mark.parametrize("filename", ["/dev/fd/5", "/proc/self/fd/5", "/proc/600/fd/5"])
def test_memfd_exec_known_from_the_fd_table_when_proc_is_gone(tmp_path: Path, filename: str) -> None:
    # A payload run from memory that exits at once: /proc has no exe link to read by the
    # time the exec is processed, but the memfd_create that made fd 5 was seen.
    t = table(tmp_path)
    p = t.get(600)
    assert p is not None
    p.fds.set(5, FdEntry(type="memfd", name="memfd:payload"))
    p.fds.set(6, FdEntry(type="file", name="/usr/bin/true"))
    shutil.rmtree(tmp_path / "proc" / "600")
    t.exec(600, filename=filename, comm="5")
    assert p.exe_from_memfd is True and p.exepath == "memfd:payload"


def test_exec_of_an_ordinary_fd_is_not_memfd(tmp_path: Path) -> None:
    t = table(tmp_path)
    p = t.get(600)
    assert p is not None
    p.exe_from_memfd = False
    p.fds.set(6, FdEntry(type="file", name="/usr/bin/true"))
    shutil.rmtree(tmp_path / "proc" / "600")
    t.exec(600, filename="/dev/fd/6", comm="6")
    assert p.exe_from_memfd is False


def test_memfd_exe(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    add_proc(root, 800, comm="3", ppid=600, argv=["x"], exe="/memfd:payload (deleted)")
    p = ProcessTable(str(root)).get(800)
    assert p is not None and p.exe_from_memfd is True
    assert p.exepath == "memfd:payload"


def test_upper_layer_from_mountinfo(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    upper = tmp_path / "overlay" / "diff"
    (upper / "tmp").mkdir(parents=True)
    (upper / "tmp" / "evil").write_text("")
    d = add_proc(root, 900, comm="evil", ppid=700, argv=["/tmp/evil"], exe="/tmp/evil")
    (d / "mountinfo").write_text(
        f"100 90 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir={upper},"
        "workdir=/w\n101 100 0:51 / /proc rw - proc proc rw\n"
    )
    t = ProcessTable(str(root))
    p = t.get(900)
    assert p is not None and p.exe_upper_layer is True
    t.exec(900, filename="/bin/ls", argv=["ls"])
    assert p.exe_upper_layer is False


def test_stat_with_odd_comm() -> None:
    text = "42 (a) b (c)) S 7 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0\n"
    stat = parse_stat(text)
    assert stat["comm"] == "a) b (c)"
    assert (stat["ppid"], stat["starttime"]) == (7, 555)


def test_generation_moves_on_every_change_and_only_then(tmp_path: Path) -> None:
    t = table(tmp_path)
    bash = t.get(600)
    assert bash is not None and len(t.ancestry(600)) == 3  # reads sshd and systemd in
    g = generation()
    t.get(600)
    t.ancestry(600)
    bash.fds.set(3, FdEntry(type="file", name="/tmp/a"))  # fds are read per event
    assert generation() == g
    steps = [
        lambda: setattr(bash, "cwd", "/tmp"),
        lambda: setattr(bash, "uid", 0),
        lambda: t.fork(600, 601),
        lambda: t.exec(601, filename="/usr/bin/id", argv=["id"]),
        lambda: t.exit(601),
        lambda: t.exit(500),
    ]
    for step in steps:
        before = generation()
        step()
        assert generation() > before
    assert t.exit(500) is None  # already gone: nothing changed


# --- what the kernel says at exec ---------------------------------------------------------


def _with_fds(t: ProcessTable) -> Process:
    p = t.get(600)
    assert p is not None
    p.fds.set(5, FdEntry(type="memfd", name="memfd:payload"))
    p.fds.set(6, FdEntry(type="file", name="/usr/bin/true"))
    p.fds.set(7, FdEntry(type="directory", name="/opt/tools"))
    sshd = t.get(500)
    assert sshd is not None
    sshd.fds.set(4, FdEntry(type="memfd", name="memfd:other"))
    return p


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        # execveat(5, "", AT_EMPTY_PATH) / fexecve, and the /proc spellings of the same fd
        ("/dev/fd/5", ("memfd:payload", True)),
        ("/proc/self/fd/5", ("memfd:payload", True)),
        ("/proc/thread-self/fd/5", ("memfd:payload", True)),
        ("/proc/600/fd/5", ("memfd:payload", True)),
        # another process's memfd, by its /proc path
        ("/proc/500/fd/4", ("memfd:other", True)),
        # an ordinary file run through its fd; execveat(7, "bin/sh", 0) under a directory fd
        ("/dev/fd/6", ("/usr/bin/true", False)),
        ("/dev/fd/7/bin/sh", ("/opt/tools/bin/sh", False)),
        # not an fd path, or an fd nobody saw opened: the caller decides
        ("/usr/bin/true", None),
        ("/dev/fd/9", None),
        ("/dev/fd/5x", None),
        ("/dev/fd/5/x", None),
        ("/proc/self/fdinfo/5", None),
    ],
)
def test_exec_target_from_the_fd_table(
    tmp_path: Path, filename: str, expected: tuple[str, bool] | None
) -> None:
    t = table(tmp_path)
    assert exec_target(t, _with_fds(t), filename) == expected


def test_exec_target_in_a_pid_namespace_reads_only_its_own_fds(tmp_path: Path) -> None:
    t = table(tmp_path)
    p = _with_fds(t)
    p.vpid = 1  # pid 600 is pid 1 in its own namespace
    assert exec_target(t, p, "/proc/1/fd/5") == ("memfd:payload", True)
    # /proc/500 there is not the host's pid 500
    assert exec_target(t, p, "/proc/500/fd/4") is None


def test_exec_with_kernel_facts_needs_no_proc(tmp_path: Path) -> None:
    # A program that exits at once: /proc/600 is gone by the time its exec is processed.
    t = table(tmp_path)
    p = _with_fds(t)
    shutil.rmtree(tmp_path / "proc" / "600")
    caps = (0x1FF, 0x1FE)
    t.exec(600, filename="/dev/fd/5", comm="memfd:payload", env=["A=1"], tty=34817, caps=caps)
    assert (p.exepath, p.exe_from_memfd, p.exe_upper_layer) == ("memfd:payload", True, False)
    assert (p.tty, p.env, p.name) == (34817, ["A=1"], "memfd:payload")
    assert (p.cap_permitted, p.cap_effective) == caps


def test_exec_with_kernel_facts_wins_over_proc(tmp_path: Path) -> None:
    # /proc still shows the process (tty 34816, its old environment): the kernel's word at
    # exec is what counts, /proc is not read for it.
    t = table(tmp_path)
    p = t.get(600)
    assert p is not None
    t.exec(600, filename="/usr/bin/id", argv=["id"], env=[], tty=0, caps=(0, 0))
    assert (p.tty, p.env, p.cap_effective) == (0, [], 0)


def test_exec_without_kernel_facts_falls_back_to_proc(tmp_path: Path) -> None:
    # No BTF: the tty, capabilities and environment are read from /proc, as before.
    t = table(tmp_path)
    p = t.get(600)
    assert p is not None
    p.tty, p.env = 0, None
    t.exec(600, filename="/usr/bin/id", argv=["id"])
    assert p.tty == 34816 and p.env == ["PATH=/usr/bin", "HOME=/root"]


def test_program_run_by_a_memfd_program_is_not_from_memfd(tmp_path: Path) -> None:
    t = table(tmp_path)
    p = _with_fds(t)
    t.exec(600, filename="/dev/fd/5", tty=0, caps=(0, 0))
    child = t.fork(600, 601, ts_ns=1)
    assert child.exe_from_memfd is True
    t.exec(601, filename="/bin/ls", argv=["ls"], env=[], tty=0, caps=(0, 0))
    assert (child.exepath, child.exe_from_memfd) == ("/bin/ls", False)
    assert p.exe_from_memfd is True


def test_exec_of_an_unseen_fd_asks_the_exe_link(tmp_path: Path) -> None:
    # An fd opened before the sensor started: the exe link tells, while there is one.
    root = make_tree(tmp_path)
    add_proc(root, 801, comm="x", ppid=600, argv=["x"], exe="/memfd:early (deleted)")
    t = ProcessTable(str(root))
    p = t.get(801)
    assert p is not None
    p.exe_from_memfd = False
    t.exec(801, filename="/dev/fd/3", tty=0, caps=(0, 0))
    assert (p.exepath, p.exe_from_memfd) == ("memfd:early", True)
    shutil.rmtree(root / "801")
    t.exec(801, filename="/dev/fd/4", tty=0, caps=(0, 0))
    assert (p.exepath, p.exe_from_memfd) == ("/dev/fd/4", False)


def test_fork_reads_only_the_childs_pid_namespace_id(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    # The child's /proc entry says it is pid 1 of a new namespace, and shows another
    # command line: only the namespace id is taken from it.
    d = add_proc(root, 601, comm="other", ppid=600, argv=["other"], exe="/usr/bin/other")
    status = (d / "status").read_text().replace("NSpid:\t601", "NSpid:\t601\t1")
    (d / "status").write_text(status)
    t = ProcessTable(str(root))
    child = t.fork(600, 601, ts_ns=123)
    assert (child.vpid, child.start_ns, child.name, child.exe) == (1, 123, "bash", "-bash")
    # Gone already: the parent's namespace (the host's) is the child's.
    orphan = t.fork(600, 602, ts_ns=456)
    assert (orphan.vpid, orphan.start_ns) == (602, 456)


def _overlay_container(tmp_path: Path) -> Path:
    """The fake /proc, its container shell (pid 700) on an overlay whose upper directory
    holds /tmp/evil."""
    root = make_tree(tmp_path)
    upper = tmp_path / "overlay" / "diff"
    (upper / "tmp").mkdir(parents=True)
    (upper / "tmp" / "evil").write_text("")
    mounts = f"100 90 0:50 / / rw - overlay overlay rw,lowerdir=/l,upperdir={upper},workdir=/w\n"
    (root / "700" / "mountinfo").write_text(mounts)
    return root


def test_upper_layer_of_a_program_gone_at_once_from_its_parents_mounts(tmp_path: Path) -> None:
    root = _overlay_container(tmp_path)
    t = ProcessTable(str(root))
    child = t.fork(700, 701, ts_ns=1)
    t.exec(701, filename="/tmp/evil", argv=["/tmp/evil"], env=[], tty=0, caps=(0, 0))
    assert child.exe_upper_layer is True


def test_upper_layer_of_a_program_gone_with_its_parent_from_its_containers_mounts(
    tmp_path: Path,
) -> None:
    """A late reader (the program and its parent both exited) answers as an early one
    did: from the mounts last read in the same container; a container never read says
    nothing rather than guess."""
    root = _overlay_container(tmp_path)
    t = ProcessTable(str(root))
    early = t.fork(700, 701, ts_ns=1)
    t.exec(701, filename="/tmp/evil", argv=["/tmp/evil"], env=[], tty=0, caps=(0, 0))
    assert early.exe_upper_layer is True
    (root / "700" / "mountinfo").unlink()
    late = t.fork(700, 702, ts_ns=2)
    t.exec(702, filename="/tmp/evil", argv=["/tmp/evil"], env=[], tty=0, caps=(0, 0))
    assert late.exe_upper_layer is True
    elsewhere = ProcessTable(str(root)).fork(700, 703, ts_ns=3)
    assert elsewhere.exe_upper_layer is None
