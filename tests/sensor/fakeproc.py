"""A fake /proc tree in a temporary folder, for the state and enrichment tests."""

from __future__ import annotations

import os
from pathlib import Path


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
