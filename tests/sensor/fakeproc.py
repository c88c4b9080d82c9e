"""A fake /proc tree in a temporary folder, for the state and enrichment tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def add_proc(
    root: Path,
    pid: int,
    *,
    comm: str,
    ppid: int,
    argv: list[str],
    exe: str,
    cwd: str = "/",
    uid: int = 0,
    gid: int = 0,
    tty: int = 0,
    sid: int | None = None,
    pgrp: int | None = None,
    loginuid: int = 0xFFFFFFFF,
    cap_eff: int = 0,
    cgroup: str = "0::/user.slice/user-1000.slice/session-1.scope",
    start_ticks: int = 1000,
) -> Path:
    d = root / str(pid)
    d.mkdir(parents=True)
    fields = [
        "S",
        str(ppid),
        str(pgrp if pgrp is not None else pid),
        str(sid if sid is not None else pid),
        str(tty),
        *["0"] * 14,
        str(start_ticks),
        "0",
    ]
    (d / "stat").write_text(f"{pid} ({comm}) {' '.join(fields)}\n")
    (d / "status").write_text(
        f"Name:\t{comm}\nPPid:\t{ppid}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"
        f"Gid:\t{gid}\t{gid}\t{gid}\t{gid}\nNSpid:\t{pid}\nNSpgid:\t{pgrp or pid}\n"
        f"NSsid:\t{sid or pid}\nCapInh:\t0000000000000000\nCapPrm:\t{cap_eff:016x}\n"
        f"CapEff:\t{cap_eff:016x}\n"
    )
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (d / "environ").write_bytes(b"PATH=/usr/bin\0HOME=/root\0")
    (d / "loginuid").write_text(str(loginuid))
    (d / "cgroup").write_text(cgroup + "\n")
    os.symlink(exe, d / "exe")
    os.symlink(cwd, d / "cwd")
    (d / "fd").mkdir()
    return d


DOCKER_ID = "3f1a" + "9c" * 30


def in_docker(root: Path, pid: int, comm: str, argv: list[str], exe: str, **kw: Any) -> Path:
    return add_proc(
        root,
        pid,
        comm=comm,
        argv=argv,
        exe=exe,
        cap_eff=0xA80425FB,
        cgroup=f"0::/system.slice/docker-{DOCKER_ID}.scope",
        **kw,
    )


def make_tree(tmp_path: Path) -> Path:
    """systemd -> sshd -> bash (alice's login shell, on a pty); containerd-shim -> a shell
    in a docker container."""
    root = tmp_path / "proc"
    root.mkdir()
    (root / "stat").write_text("cpu 1 2 3\nbtime 1700000000\n")
    add_proc(root, 1, comm="systemd", ppid=0, argv=["/sbin/init"], exe="/usr/lib/systemd/systemd")
    add_proc(root, 500, comm="sshd", ppid=1, argv=["sshd: alice [priv]"], exe="/usr/sbin/sshd")
    add_proc(
        root,
        600,
        comm="bash",
        ppid=500,
        argv=["-bash"],
        exe="/usr/bin/bash",
        cwd="/home/alice",
        uid=1000,
        gid=1000,
        tty=34816,
        loginuid=1000,
    )
    add_proc(
        root,
        650,
        comm="containerd-shim",
        ppid=1,
        argv=["/usr/bin/containerd-shim-runc-v2", "-namespace", "moby"],
        exe="/usr/bin/containerd-shim-runc-v2",
    )
    add_proc(
        root,
        700,
        comm="bash",
        ppid=650,
        argv=["bash"],
        exe="/usr/bin/bash",
        tty=34817,
        cap_eff=0xA80425FB,
        cgroup=f"0::/system.slice/docker-{DOCKER_ID}.scope",
    )
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n")
    (tmp_path / "group").write_text("root:x:0:\nalice:x:1000:\n")
    return root
