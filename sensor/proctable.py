"""The process table: what Falco's ``proc.*``, ``user.*`` and ``thread.cap_*`` fields show.

Seeded lazily from a /proc tree (``proc_root``, so tests can use a fake one) the first
time a pid is seen, then kept current by the sched fork/exec/exit events and the execve
results. Exited processes are removed, and the table is bounded: when it is full, the
entries looked up least recently go first (they are re-read from /proc if they come
back).

What a new program is comes from the kernel at exec, not from /proc afterwards, so a
program that exits at once keeps it: the exe path from the file the exec tracepoint
names (a program run through an fd, ``/dev/fd/N``, is resolved with the fd table: a
memfd_create file makes ``proc.is_exe_from_memfd``), argv from the execve's own
arguments, and the environment, tty and capabilities from the task at exec (where the
kernel's BTF gives their offsets: ``sensor.btf``; otherwise from /proc, as before). A
fork reads only the child's pid-namespace id from /proc.

Values follow Falco: ``name`` is the kernel's comm, ``exe`` is argv[0], ``exepath`` the
resolved executable, ``args`` argv[1:], ``tty`` the tty_nr device number from
/proc/<pid>/stat (0 for none), ``loginuid`` -1 when unset, capabilities as bit masks
(rendered by :func:`sensor.flags.render_caps`). Anything /proc cannot tell stays None.

:func:`generation` is a counter that moves on every change to any Process attribute and
to any table's membership, so a consumer can keep what it derived from the table (the
enricher's per-process document part) for as long as the counter stays put.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sensor.container import HOST_INFO, ContainerInfo, container_from_cgroups, parse_cgroup_file
from sensor.fdtable import FdEntry, FdTable, resolve_path

_UNSET_LOGINUID = 0xFFFFFFFF
_MAX_ANCESTRY = 64
# Containers whose mounts are kept (one parsed mountinfo each).
_MAX_MOUNT_TABLES = 256

# One counter for every table: a change anywhere invalidates derived data everywhere,
# which is rare enough (fork, exec, exit, setsid, credential changes) to be cheap, and
# needs no bookkeeping of which ancestor or group leader a derived value read.
_GENERATION = [0]


def generation() -> int:
    """Moves on every Process attribute assignment and every table insert or removal."""
    return _GENERATION[0]


def _bump() -> None:
    _GENERATION[0] += 1


@dataclass(slots=True)
class Process:
    """One process (thread group). ``pid``/``ppid`` are host-namespace ids."""

    pid: int
    ppid: int | None = None
    name: str | None = None
    exe: str | None = None
    exepath: str | None = None
    args: list[str] = field(default_factory=list)
    cwd: str | None = None
    env: list[str] | None = None
    tty: int | None = None
    uid: int | None = None
    gid: int | None = None
    loginuid: int | None = None
    sid: int | None = None
    pgid: int | None = None
    vpid: int | None = None
    vpgid: int | None = None
    vsid: int | None = None
    cap_inheritable: int | None = None
    cap_permitted: int | None = None
    cap_effective: int | None = None
    start_ns: int | None = None
    exe_from_memfd: bool | None = None
    exe_upper_layer: bool | None = None
    exe_writable: bool | None = None
    # argv was cut at capture (bpf/events.h limits): ``args`` is only its start. Never
    # for a process read from /proc, whose cmdline is read whole.
    args_truncated: bool = False
    container: ContainerInfo = HOST_INFO
    cgroups: dict[str, str] | None = None
    fds: FdTable = field(default_factory=FdTable)

    def __setattr__(self, name: str, value: Any) -> None:
        # Every mutation, wherever it is made, must invalidate derived documents; values
        # held in attributes (lists, dicts) are replaced, never changed in place.
        object.__setattr__(self, name, value)
        _GENERATION[0] += 1

    @property
    def cmdline(self) -> str | None:
        """Falco's proc.cmdline: the name, then each argument after a space."""
        if self.name is None:
            return None
        return " ".join([self.name, *self.args]) if self.args else self.name


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError:
        return None


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def split_nul(raw: bytes) -> list[str]:
    """A NUL-separated /proc list (cmdline, environ) as strings; the last NUL ends it."""
    if not raw:
        return []
    items = raw.split(b"\0")
    if items and items[-1] == b"":
        items.pop()
    return [i.decode("utf-8", "surrogateescape") for i in items]


def parse_stat(text: str) -> dict[str, Any]:
    """The /proc/<pid>/stat fields we use. comm may hold spaces and parentheses, so the
    fields are counted from the last ')'."""
    open_paren, close_paren = text.find("("), text.rfind(")")
    if open_paren < 0 or close_paren < 0:
        return {}
    comm = text[open_paren + 1 : close_paren]
    rest = text[close_paren + 2 :].split()
    # rest[0] is field 3 (state): field N is rest[N - 3].
    try:
        return {
            "comm": comm,
            "ppid": int(rest[1]),
            "pgrp": int(rest[2]),
            "session": int(rest[3]),
            "tty_nr": int(rest[4]),
            "starttime": int(rest[19]),
        }
    except (IndexError, ValueError):
        return {"comm": comm}


def parse_status(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def read_id_names(path: str) -> dict[int, str]:
    """id -> name from a passwd- or group-style file (name:x:id:...)."""
    text = _read(path)
    out: dict[int, str] = {}
    if text is None:
        return out
    for line in text.splitlines():
        cols = line.split(":")
        if len(cols) >= 3 and not line.startswith("#"):
            try:
                out.setdefault(int(cols[2]), cols[0])
            except ValueError:
                continue
    return out


# How the kernel names a program run through an fd: execveat(fd, "", AT_EMPTY_PATH) and
# fexecve() give ``/dev/fd/N``, execveat(dirfd, "name", 0) ``/dev/fd/N/name``; a program
# may also exec ``/proc/self/fd/N`` or ``/proc/<pid>/fd/N`` itself.
_FD_PATH = re.compile(r"/(?:dev|proc/(self|thread-self|\d+))/fd/(\d+)(/.*)?", re.S)


def exec_target(table: ProcessTable, p: Process, filename: str | None) -> tuple[str, bool] | None:
    """``(exepath, from_memfd)`` when ``filename`` runs a file through an fd the fd table
    knows: a memfd_create file (``memfd:NAME``, as Falco's eBPF drivers name it), an open
    file, or a name under an open directory. None for any other name, or an fd not known
    (the caller then resolves the name itself). Reads nothing from /proc: the fd state is
    what the sensor saw before the exec, which a program that exits at once cannot take."""
    if not filename:
        return None
    m = _FD_PATH.fullmatch(filename)
    if m is None:
        return None
    owner: Process | None = p
    if m[1] is not None and m[1].isdigit() and int(m[1]) not in (p.pid, p.vpid):
        # Another process's fd. Its number is in the exec'ing process's pid namespace:
        # only the host's numbering can be looked up here.
        in_host_ns = p.vpid is None or p.vpid == p.pid
        owner = table.peek(int(m[1])) if in_host_ns else None
    if owner is None:
        return None
    entry = owner.fds.get(int(m[2]))
    rest = m[3]
    if entry is None:
        return None
    if rest is None and entry.type == "memfd":
        return entry.name, True
    if rest is None and entry.type == "file" and entry.name:
        return entry.name, False
    if rest is not None and entry.type == "directory" and entry.name:
        return resolve_path(rest.lstrip("/"), entry.name), False
    return None


def _memfd_path(link: str) -> str | None:
    """The exe path of a program run from a memfd_create file, or None for a real file.

    /proc shows ``/memfd:NAME (deleted)``; Falco's drivers name the file by its dentry,
    ``memfd:NAME``, and its rules compare that spelling (``memfd:runc_cloned:/proc/self/exe``).
    """
    target = link.removesuffix(" (deleted)")
    return target[1:] if target.startswith("/memfd:") else None


def parse_mountinfo(text: str) -> list[tuple[str, str, str]]:
    """(mount point, fs type, super options) of each line of /proc/<pid>/mountinfo."""
    out: list[tuple[str, str, str]] = []
    for line in text.splitlines():
        pre, sep, post = line.partition(" - ")
        cols = pre.split()
        tail = post.split()
        if not sep or len(cols) < 5 or len(tail) < 3:
            continue
        point = cols[4].replace("\\040", " ")
        out.append((point, tail[0], tail[2]))
    return out


def upper_layer_of(mounts: list[tuple[str, str, str]], path: str, host_root: str) -> bool | None:
    """Whether ``path`` (as the process sees it) lives in an overlayfs upper directory.

    The mount holding the path is the one with the longest matching mount point. On a
    non-overlay mount the answer is no; on an overlay, yes when the upper directory (a
    host path, found under ``host_root``) holds the file; None when it cannot be told.
    """
    best: tuple[str, str, str] | None = None
    for m in mounts:
        point = m[0]
        inside = point == "/" or path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = m
    if best is None:
        return None
    point, fstype, options = best
    if fstype != "overlay":
        return False
    upper = next((o[9:] for o in options.split(",") if o.startswith("upperdir=")), None)
    if upper is None:
        return None
    rel = path[len(point) :] if point != "/" else path
    candidate = os.path.join(host_root, upper.lstrip("/"), rel.lstrip("/"))
    return os.path.lexists(candidate)


class ProcessTable:
    """Processes by pid, filled from /proc on demand and kept current by events."""

    def __init__(
        self,
        proc_root: str = "/proc",
        *,
        passwd_path: str = "/etc/passwd",
        group_path: str = "/etc/group",
        host_root: str = "/",
        max_processes: int = 32768,
        boot_time_ns: int | None = None,
        clock_ticks: int | None = None,
    ) -> None:
        self.proc_root = proc_root
        self.host_root = host_root
        self.max_processes = max_processes
        self._procs: OrderedDict[int, Process] = OrderedDict()
        # pids /proc did not have: ancestry walks would otherwise re-read /proc for an
        # exited parent or session leader on every event.
        self._missing: OrderedDict[int, None] = OrderedDict()
        self._users = read_id_names(passwd_path)
        self._groups = read_id_names(group_path)
        self._container_users: dict[str, tuple[dict[int, str], dict[int, str]]] = {}
        # The mounts last read in each container (host: ""), for a program gone before
        # its exec is handled, with its parent: how late the reader runs must not decide
        # the answer.
        self._mounts: OrderedDict[str, list[tuple[str, str, str]]] = OrderedDict()
        self._boot_ns = boot_time_ns if boot_time_ns is not None else self._read_boot_ns()
        if clock_ticks is None:
            try:
                clock_ticks = os.sysconf("SC_CLK_TCK")
            except (OSError, ValueError, AttributeError):
                clock_ticks = 100
        self._ticks = clock_ticks

    # --- lookup --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._procs)

    def __contains__(self, pid: object) -> bool:
        return pid in self._procs

    def fd_count(self) -> int:
        """Open fds tracked, over every process (a walk: for metrics, not per event)."""
        return sum(len(p.fds) for p in list(self._procs.values()))

    def peek(self, pid: int) -> Process | None:
        """The known entry, without touching /proc."""
        return self._procs.get(pid)

    def get(self, pid: int, *, retry: bool = False) -> Process | None:
        """The process, read from /proc when not known yet; None when it cannot be.

        A pid /proc lacked is remembered as lacking; ``retry`` reads /proc again anyway
        (for the pid an event comes from, which certainly existed).
        """
        p = self._procs.get(pid)
        if p is not None:
            self._procs.move_to_end(pid)
            return p
        if pid in self._missing and not retry:
            return None
        p = self.read_proc(pid)
        if p is not None:
            self.put(p)
        else:
            self._missing[pid] = None
            while len(self._missing) > self.max_processes:
                # A forgotten miss makes the next lookup read /proc again.
                self._missing.popitem(last=False)
                _bump()
        return p

    def put(self, proc: Process) -> None:
        self._missing.pop(proc.pid, None)
        self._procs[proc.pid] = proc
        self._procs.move_to_end(proc.pid)
        while len(self._procs) > self.max_processes:
            self._procs.popitem(last=False)
        _bump()

    def remove(self, pid: int) -> Process | None:
        p = self._procs.pop(pid, None)
        if p is not None:
            _bump()
        return p

    def seed(self) -> int:
        """Reads every process in ``proc_root``; returns how many were read."""
        try:
            names = os.listdir(self.proc_root)
        except OSError:
            return 0
        n = 0
        for name in sorted(names, key=lambda s: (len(s), s)):
            if name.isdigit() and int(name) not in self._procs and self.get(int(name)):
                n += 1
        return n

    # --- /proc ---------------------------------------------------------------------

    def _read_boot_ns(self) -> int | None:
        text = _read(os.path.join(self.proc_root, "stat"))
        if text is None:
            return None
        for line in text.splitlines():
            if line.startswith("btime "):
                try:
                    return int(line.split()[1]) * 1_000_000_000
                except (IndexError, ValueError):
                    return None
        return None

    def read_proc(self, pid: int) -> Process | None:
        """A Process from /proc/<pid>, or None when there is no such directory."""
        base = os.path.join(self.proc_root, str(pid))
        stat_text = _read(os.path.join(base, "stat"))
        status_text = _read(os.path.join(base, "status"))
        if stat_text is None and status_text is None:
            return None
        p = Process(pid=pid)
        stat = parse_stat(stat_text or "")
        status = parse_status(status_text or "")
        p.name = stat.get("comm") or status.get("Name")
        ppid = stat.get("ppid")
        if ppid is None and "PPid" in status:
            ppid = _int(status["PPid"])
        p.ppid = ppid
        p.pgid = stat.get("pgrp")
        p.sid = stat.get("session")
        p.tty = stat.get("tty_nr")
        start = stat.get("starttime")
        if start is not None and self._boot_ns is not None and self._ticks:
            p.start_ns = self._boot_ns + start * 1_000_000_000 // self._ticks
        uids = status.get("Uid", "").split()
        gids = status.get("Gid", "").split()
        # Falco's user.uid is the effective id (second column).
        p.uid = _int(uids[1]) if len(uids) > 1 else None
        p.gid = _int(gids[1]) if len(gids) > 1 else None
        for key, attr in (
            ("CapInh", "cap_inheritable"),
            ("CapPrm", "cap_permitted"),
            ("CapEff", "cap_effective"),
        ):
            if key in status:
                with contextlib.suppress(ValueError):
                    setattr(p, attr, int(status[key], 16))
        p.vpid = _last_int(status.get("NSpid"))
        p.vpgid = _last_int(status.get("NSpgid"))
        p.vsid = _last_int(status.get("NSsid"))
        cmdline = _read_bytes(os.path.join(base, "cmdline"))
        if cmdline:
            argv = split_nul(cmdline)
            p.exe = argv[0] if argv else None
            p.args = argv[1:]
        env = _read_bytes(os.path.join(base, "environ"))
        p.env = split_nul(env) if env is not None else None
        p.cwd = _readlink(os.path.join(base, "cwd"))
        self._set_exepath(p, _readlink(os.path.join(base, "exe")))
        if p.exe is None:
            p.exe = p.exepath
        login = _read(os.path.join(base, "loginuid"))
        if login is not None:
            p.loginuid = _loginuid(_int(login.strip()))
        self.refresh_cgroups(p)
        self.refresh_upper_layer(p)
        return p

    def _set_exepath(self, p: Process, link: str | None) -> None:
        if link is None:
            return
        memfd = _memfd_path(link)
        p.exe_from_memfd = memfd is not None
        p.exepath = memfd if memfd is not None else link.removesuffix(" (deleted)")

    def refresh_cgroups(self, p: Process) -> None:
        text = _read(os.path.join(self.proc_root, str(p.pid), "cgroup"))
        if text is None:
            return
        p.cgroups = parse_cgroup_file(text)
        p.container = container_from_cgroups(p.cgroups.values())

    def refresh_upper_layer(self, p: Process) -> None:
        if p.exepath is None or p.exe_from_memfd:
            p.exe_upper_layer = False if p.exe_from_memfd else None
            return
        mounts = self._mounts_of(p)
        p.exe_upper_layer = (
            None if mounts is None else upper_layer_of(mounts, p.exepath, self.host_root)
        )

    def _mounts_of(self, p: Process) -> list[tuple[str, str, str]] | None:
        container = p.container.full_id or ""
        text = _read(os.path.join(self.proc_root, str(p.pid), "mountinfo"))
        parent = self._procs.get(p.ppid) if text is None and p.ppid else None
        if parent is not None and parent.container.full_id == p.container.full_id:
            # Gone already (a program that exits at once): its parent's mounts, which
            # are its own unless it unshared them, tell where its program lives.
            text = _read(os.path.join(self.proc_root, str(parent.pid), "mountinfo"))
        if text is None:
            # Both gone: the mounts last seen in its container.
            return self._mounts.get(container)
        mounts = parse_mountinfo(text)
        self._mounts[container] = mounts
        self._mounts.move_to_end(container)
        if len(self._mounts) > _MAX_MOUNT_TABLES:
            self._mounts.popitem(last=False)
        return mounts

    def refresh_from_proc(self, p: Process) -> None:
        """Re-reads what an execve changes (exe link, credentials, capabilities)."""
        fresh = self.read_proc(p.pid)
        if fresh is None:
            return
        for attr in (
            "exepath",
            "exe_from_memfd",
            "exe_upper_layer",
            "uid",
            "gid",
            "cap_inheritable",
            "cap_permitted",
            "cap_effective",
            "loginuid",
            "tty",
            "sid",
            "pgid",
            "vpid",
            "vpgid",
            "vsid",
            "cgroups",
        ):
            value = getattr(fresh, attr)
            if value is not None:
                setattr(p, attr, value)
        if fresh.cgroups is not None:
            p.container = fresh.container
        if p.start_ns is None:
            p.start_ns = fresh.start_ns

    # --- events --------------------------------------------------------------------

    def fork(self, parent_pid: int, child_pid: int, ts_ns: int | None = None) -> Process:
        """A new process: a copy of its parent (same program, cwd, fds, credentials)."""
        parent = self.get(parent_pid)
        child = self._procs.get(child_pid)
        if child is not None:
            return child
        if parent is None:
            child = self.read_proc(child_pid) or Process(pid=child_pid, ppid=parent_pid)
        else:
            child = Process(
                pid=child_pid,
                ppid=parent_pid,
                name=parent.name,
                exe=parent.exe,
                exepath=parent.exepath,
                args=list(parent.args),
                cwd=parent.cwd,
                env=parent.env,
                tty=parent.tty,
                uid=parent.uid,
                gid=parent.gid,
                loginuid=parent.loginuid,
                sid=parent.sid,
                pgid=parent.pgid,
                vsid=parent.vsid,
                vpgid=parent.vpgid,
                cap_inheritable=parent.cap_inheritable,
                cap_permitted=parent.cap_permitted,
                cap_effective=parent.cap_effective,
                exe_from_memfd=parent.exe_from_memfd,
                exe_upper_layer=parent.exe_upper_layer,
                exe_writable=parent.exe_writable,
                args_truncated=parent.args_truncated,
                container=parent.container,
                cgroups=parent.cgroups,
                fds=parent.fds.clone(),
            )
            # Only the child's own id in its pid namespace is new (the event gives its
            # start): one small file, not the whole /proc read a new process gets.
            status = _read(os.path.join(self.proc_root, str(child_pid), "status"))
            if status is not None:
                child.vpid = _last_int(parse_status(status).get("NSpid"))
            elif parent.vpid is not None and parent.vpid == parent.pid:
                # The parent's pid namespace is the host's, hence (most likely) the child's.
                child.vpid = child_pid
            if ts_ns is None:
                fresh = self.read_proc(child_pid)
                child.start_ns = fresh.start_ns if fresh is not None else None
        if ts_ns is not None:
            child.start_ns = ts_ns
        self.put(child)
        return child

    def exec(
        self,
        pid: int,
        *,
        filename: str | None = None,
        exepath: str | None = None,
        comm: str | None = None,
        argv: list[str] | None = None,
        env: list[str] | None = None,
        cwd: str | None = None,
        tty: int | None = None,
        caps: tuple[int, int] | None = None,
    ) -> Process:
        """A successful execve: new program, arguments and environment; fds with
        O_CLOEXEC closed.

        What the kernel said at exec wins, and is all a known process needs: the file it
        named (``filename``, as the kernel names a program run through an fd:
        ``/dev/fd/N``, resolved with the fd table by :func:`exec_target`), and the
        environment, ``tty`` and capability sets ``caps`` (permitted, effective; exec
        keeps the inheritable set) the exec program read from the task. /proc is read for
        a process never seen before (seeding), for the environment, tty and capabilities
        when the kernel did not give them (no BTF: a program that exits at once then loses
        them, as it always did), and for the exe link of a program run through an fd the
        sensor never saw opened."""
        p = self._procs.get(pid)
        if p is None:
            p = self.read_proc(pid) or Process(pid=pid)
            self.put(p)
        elif tty is None or caps is None:
            self.refresh_from_proc(p)
        if cwd is not None:
            p.cwd = cwd
        if comm:
            p.name = comm
        if argv is not None:
            p.exe = argv[0] if argv else filename
            p.args = list(argv[1:])
        elif filename is not None:
            p.exe = filename
            p.args = []
        if env is not None:
            p.env = list(env)
        elif tty is None:
            environ = _read_bytes(os.path.join(self.proc_root, str(pid), "environ"))
            if environ is not None:
                p.env = split_nul(environ)
        if tty is not None:
            p.tty = tty
        if caps is not None:
            p.cap_permitted, p.cap_effective = caps
        target = exec_target(self, p, filename)
        if target is not None:
            p.exepath, p.exe_from_memfd = target
        elif exepath is not None:
            self._set_exepath(p, exepath)
        elif filename and _FD_PATH.fullmatch(filename):
            # An fd the sensor never saw opened: only the exe link can tell what runs.
            link = _readlink(os.path.join(self.proc_root, str(pid), "exe"))
            if link is not None:
                self._set_exepath(p, link)
            else:
                p.exepath, p.exe_from_memfd = filename, False
        elif filename:
            p.exepath, p.exe_from_memfd = resolve_path(filename, p.cwd), False
        self.refresh_upper_layer(p)
        p.fds.close_on_exec()
        return p

    def exit(self, pid: int) -> Process | None:
        return self.remove(pid)

    # --- ancestry and names -----------------------------------------------------------

    def ancestry(self, pid: int) -> list[Process]:
        """The process, its parent, grandparent... up to pid 1 or the first unknown."""
        chain: list[Process] = []
        seen: set[int] = set()
        current: int | None = pid
        while current is not None and current > 0 and current not in seen:
            if len(chain) >= _MAX_ANCESTRY:
                break
            p = self.get(current)
            if p is None:
                break
            chain.append(p)
            seen.add(current)
            current = p.ppid
        return chain

    def leader(self, chain: list[Process], group_id: int | None, attr: str) -> Process | None:
        """The process leading a session or process group: the one whose pid is the id,
        else (it has exited) the eldest ancestor still in the same group, as Falco does."""
        if group_id is None:
            return None
        p = self.get(group_id)
        if p is not None and getattr(p, attr) == group_id:
            return p
        eldest: Process | None = None
        for anc in chain:
            if getattr(anc, attr) == group_id:
                eldest = anc
            else:
                break
        return eldest

    def user_name(self, p: Process) -> str | None:
        return self._names(p)[0].get(p.uid) if p.uid is not None else None

    def login_name(self, p: Process) -> str | None:
        if p.loginuid is None or p.loginuid < 0:
            return None
        return self._names(p)[0].get(p.loginuid)

    def group_name(self, p: Process) -> str | None:
        return self._names(p)[1].get(p.gid) if p.gid is not None else None

    def names_settled(self, p: Process) -> bool:
        """Whether the user and group names of ``p`` will read the same next time (a
        container whose files could not be read yet is tried again on every lookup)."""
        return p.container.is_host or p.container.id in self._container_users

    def _names(self, p: Process) -> tuple[dict[int, str], dict[int, str]]:
        """Users and groups as the process sees them: a container has its own files."""
        if p.container.is_host:
            return self._users, self._groups
        cid = p.container.id
        cached = self._container_users.get(cid)
        if cached is None:
            root = os.path.join(self.proc_root, str(p.pid), "root", "etc")
            cached = (
                read_id_names(os.path.join(root, "passwd")),
                read_id_names(os.path.join(root, "group")),
            )
            if cached[0] or cached[1]:
                self._container_users[cid] = cached
        return cached

    def new_fd(self, pid: int, fd: int, entry: FdEntry) -> None:
        p = self.get(pid)
        if p is not None:
            p.fds.set(fd, entry)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _last_int(text: str | None) -> int | None:
    if not text:
        return None
    return _int(text.split()[-1])


def _loginuid(value: int | None) -> int | None:
    if value is None:
        return None
    return -1 if value == _UNSET_LOGINUID else value
