"""The process table, read from a fake /proc tree: what proc.* fields would show."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fakeproc import DOCKER_ID, add_proc, make_tree

from sensor.fdtable import FdEntry
from sensor.proctable import ProcessTable, generation, parse_stat


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
