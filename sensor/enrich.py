"""Enrichment: RawEvents in, flat ``syscall`` documents keyed by Falco field names out.

:class:`Enricher` keeps the process table (``sensor.proctable``), each process's fds
(``sensor.fdtable``) and containers (``sensor.container``), and for every syscall event
returns the document ``lanner/sources/syscall.py`` reads: ``evt.*``, ``proc.*``,
``thread.*``, ``user.*``, ``group.*``, ``fd.*``, ``fs.path.*``, ``container.*``,
``k8s.pod.uid``. Process-lifecycle events (fork, sched exec, exit) only update state and
return None; the execve syscall's own result is the event rules see, as in Falco.

Every document is an exit event (``evt.dir`` ``<``). Its parameters are Falco's for that
syscall's exit event, with the entry event's parameters appended (as Falco merges them
when enter events are dropped). ``evt.arg[name]`` is Falco's rendered text: fds as
``<f>/etc/passwd``, errors and flags as names, relative paths made absolute;
``evt.rawarg[name]`` the raw value (flags in Falco's own encoding). Each syscall's
parameter names, in order, are the ``params`` column of its row in ``sensor.syscalls``
(which also names its handler here); a syscall without a row gets ``res``, then the
RawEvent's args as given.

RawEvent args the enricher understands (beyond the names above): ``argv`` (execve's
argv, argv[0] included) or ``args`` (same, as a list or NUL-separated string), ``env``
(list of ``K=V``), socket addresses as ``{"family": "inet"|"inet6"|"unix", "addr":
..., "port": ...}`` (or ``"path"`` for unix), and a connection tuple as ``{"family",
"saddr", "sport", "daddr", "dport"}`` where s is the local end.

The process part of a document (``proc.*`` but ``proc.fdopencount``, ``user.*``,
``group.*``, ``thread.cap_*``, ``thread.cgroup``, ``container.*``) is built once per
process and reused while :func:`sensor.proctable.generation` stays put: any change to any
process (exec, fork, exit, setsid, credentials, cwd...) moves it. Documents share those
values (lists, dicts) with each other: consumers must not change a document's values.

Every event updates state; not every event becomes a document. ``documents_for`` names
the event types rules can match (the others return None), and a ``prefilter``
(``lanner.PreFilter``) is asked, once the event's own fields are known (``EARLY_FIELDS``:
type, parameters, result, fd, paths), whether any rule can match it; when none can, the
process part is not built and the event is counted in ``Enricher.prefiltered``. An open's
verdict is kept by what its event part is made of (``_verdict_key``). An event of a type no
rule wants renders no parameters, and a successful close of such a type only forgets its fd.

With a ``metadata`` source (``sensor.podwatch.PodWatch.lookup`` or
``sensor.k8smeta.KubeletMetadata.lookup``), a containerized process's documents also get
``container.name``, ``container.image`` (and its ``.repository``, ``.tag``, ``.digest``),
``container.privileged``, ``k8s.pod.name``, ``k8s.ns.name``, ``k8s.pod.uid`` and
``k8s.pod.label`` (a dict). These are asked for on every event, outside the process
cache, so metadata the source learns later shows up in the next document.

With ``dns_names`` (``sensor.dnsnames.DnsNames``: the domain names the rules mention,
resolved in the background), a socket whose address one of them resolved to gets
``fd.sip.name`` and kin; reading them costs the event path one attribute read.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sensor import flags as F
from sensor.events import EXEC, EXIT, FORK, RawEvent
from sensor.fdtable import (
    FdEntry,
    fd_fields,
    lookup_fd,
    resolve_path,
    socket_local_end,
)
from sensor.k8smeta import ContainerMeta
from sensor.proctable import Process, ProcessTable, generation
from sensor.syscalls import SYSCALLS

if TYPE_CHECKING:
    from lanner import PreFilter
    from sensor.dnsnames import DnsNames

SHELLS = frozenset({"ash", "bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash"})

_EXEC_EVENTS = frozenset(s.name for s in SYSCALLS if s.handler == "exec")
_OPEN_EVENTS = frozenset(s.name for s in SYSCALLS if s.handler == "open")
# Pre-filter verdicts kept (see Enricher._verdict_key); all are forgotten when full.
_MAX_VERDICTS = 8192

# The fields an event's document holds before its process part is added
# (``Enricher._event_part``), each read from that part exactly as from the whole
# document: the event's type, parameters and result, its fd and paths. The pre-filter
# (``lanner.PreFilter``) decides on these alone.
EARLY_FIELDS = frozenset(
    {
        "evt.type",
        "evt.type.is",
        "syscall.type",
        "evt.dir",
        "evt.arg",
        "evt.rawarg",
        "evt.args",
        "evt.info",
        "evt.res",
        "evt.rawres",
        "evt.failed",
        "evt.count.error",
        "evt.is_open_read",
        "evt.is_open_write",
        "evt.is_open_exec",
        "evt.is_open_create",
        "evt.abspath",
        "evt.abspath.src",
        "evt.abspath.dst",
        "fd.num",
        "fd.type",
        "fd.typechar",
        "fd.name",
        "fd.nameraw",
        "fd.directory",
        "fd.filename",
        "fd.ip",
        "fd.cip",
        "fd.sip",
        "fd.lip",
        "fd.rip",
        "fd.port",
        "fd.cport",
        "fd.sport",
        "fd.lport",
        "fd.rport",
        "fd.net",
        "fd.cnet",
        "fd.snet",
        "fd.lnet",
        "fd.rnet",
        "fd.l4proto",
        "fd.sockfamily",
        "fd.is_server",
        "fd.connected",
        "fd.name_changed",
        "fd.cip.name",
        "fd.sip.name",
        "fd.lip.name",
        "fd.rip.name",
        "fs.path.name",
        "fs.path.nameraw",
        "fs.path.source",
        "fs.path.sourceraw",
        "fs.path.target",
        "fs.path.targetraw",
    }
)
_AT_EMPTY_PATH = dict(F.LINKAT_FLAGS)["AT_EMPTY_PATH"]
_MFD_CLOEXEC = dict(F.MEMFD_CREATE_FLAGS)["MFD_CLOEXEC"]
_FAMILY_TYPES = {"inet": "ipv4", "inet6": "ipv6", "unix": "unix"}
_DOMAIN_TYPES = {F.AF_INET: "ipv4", F.AF_INET6: "ipv6", F.AF_UNIX: "unix", F.AF_NETLINK: "netlink"}


@dataclass(slots=True)
class _Params:
    """An event's parameters: rendered text, raw values, and the evt.args line. Off
    (``on`` false) for an event that makes no document: nothing is rendered."""

    text: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    line: list[str] = field(default_factory=list)
    on: bool = True

    def add(self, name: str, raw: Any, text: str, resolved: str | None = None) -> None:
        if not self.on or name in self.raw:
            return
        self.raw[name] = raw
        self.text[name] = resolved if resolved else text
        self.line.append(f"{name}={text}({resolved})" if resolved else f"{name}={text}")


# The parameters of an event that makes no document: always empty (add does nothing).
_NO_PARAMS = _Params(on=False)


@dataclass(slots=True)
class _Ctx:
    """What one event's handler works out, besides the parameters."""

    ev: RawEvent
    proc: Process
    enricher: Enricher
    params: _Params = field(default_factory=_Params)
    fd_num: int | None = None
    fd_entry: FdEntry | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def args(self) -> dict[str, Any]:
        return self.ev.args

    @property
    def res(self) -> int | None:
        return self.ev.res

    # --- parameter renderers -----------------------------------------------------------
    # With the parameters off, each keeps only its effect on state (p_fd's lookup of an
    # fd /proc may still know, p_path's absolute path) and renders nothing.

    def p_errno(self, name: str, value: int | None) -> None:
        if value is not None and self.params.on:
            self.params.add(name, value, str(value), F.errno_name(-value) if value < 0 else None)

    def p_fd(self, name: str, value: Any) -> None:
        if not isinstance(value, int):
            return
        if not self.params.on:
            if value >= 0:
                self.fd(value)
            return
        resolved: str | None
        if value == F.AT_FDCWD:
            resolved = "AT_FDCWD"
        elif value < 0:
            resolved = F.errno_name(-value)
        else:
            e = self.fd(value)
            resolved = f"<{e.typechar}>{e.name}" if e is not None else None
        self.params.add(name, value, str(value), resolved)

    def p_str(self, name: str, value: Any) -> None:
        if value is not None and self.params.on:
            self.params.add(name, value, str(value))

    def p_int(self, name: str, value: Any) -> None:
        if isinstance(value, int) and self.params.on:
            self.params.add(name, value, str(value))

    def p_path(self, name: str, value: Any, base: str | None) -> str | None:
        """A path parameter; returns it made absolute (None when it is missing)."""
        if not isinstance(value, str):
            return None
        absolute = resolve_path(value, base) if value else value
        if self.params.on:
            self.params.add(name, value, value, absolute if absolute != value else None)
        return absolute

    def p_flags(self, name: str, value: Any, table: F.NameTable) -> None:
        if isinstance(value, int) and self.params.on:
            self.params.add(name, value, str(value), F.render_flags(value, table) or None)

    def p_addr(self, name: str, value: Any) -> None:
        if isinstance(value, dict) and self.params.on:
            self.params.add(name, value, _addr_text(value))

    # --- state helpers -------------------------------------------------------------------

    def fd(self, num: int) -> FdEntry | None:
        """The process's entry for fd ``num``, read from /proc when not tracked yet."""
        fds = self.proc.fds
        e = fds.get(num)
        if e is None and num >= 0 and num not in fds.unresolved:
            e = lookup_fd(self.enricher.proc_root, self.proc.pid, num)
            if e is not None:
                fds.set(num, e)
            else:
                fds.unresolved.add(num)
        return e

    def base_dir(self, dirfd: Any) -> str | None:
        if not isinstance(dirfd, int) or dirfd == F.AT_FDCWD:
            return self.proc.cwd
        e = self.fd(dirfd)
        return e.name if e is not None and e.type in ("directory", "file") else None

    def use_fd(self, num: Any) -> None:
        if isinstance(num, int):
            self.fd_num = num
            self.fd_entry = self.fd(num) if num >= 0 else None

    @property
    def ok(self) -> bool:
        return self.res is not None and self.res >= 0


def _addr_text(a: dict[str, Any]) -> str:
    if a.get("family") == "unix":
        return str(a.get("path", ""))
    return f"{a.get('addr', '')}:{a.get('port', 0)}"


def _end(a: Any) -> tuple[str | None, int | None]:
    if not isinstance(a, dict):
        return None, None
    return a.get("addr"), a.get("port")


def _tuple_ends(
    t: Any,
) -> tuple[str | None, tuple[str | None, int | None], tuple[str | None, int | None]] | None:
    """(family, local end, remote end) of a tuple argument."""
    if not isinstance(t, dict):
        return None
    return t.get("family"), (t.get("saddr"), t.get("sport")), (t.get("daddr"), t.get("dport"))


def _tuple_text(local: tuple[str | None, int | None], remote: tuple[str | None, int | None]) -> str:
    return f"{local[0] or '0.0.0.0'}:{local[1] or 0}->{remote[0] or '0.0.0.0'}:{remote[1] or 0}"


def _argv(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if isinstance(value, str):
        items = value.split("\0")
        if items and items[-1] == "":
            items.pop()
        return items
    return [str(v) for v in value]


def _kernel_filename(filename: Any, a: dict[str, Any]) -> str | None:
    """The name the kernel gives the program an execve(at) runs (what the exec tracepoint
    shows): execveat relative to an fd is ``/dev/fd/N`` (AT_EMPTY_PATH) or ``/dev/fd/N/name``,
    which the process table resolves with the fd table."""
    if not isinstance(filename, str):
        return None
    dirfd = a.get("dirfd")
    if filename.startswith("/") or not isinstance(dirfd, int) or dirfd == F.AT_FDCWD:
        return filename
    if not filename:
        flags = a.get("flags")
        empty_ok = isinstance(flags, int) and flags & _AT_EMPTY_PATH
        return f"/dev/fd/{dirfd}" if empty_ok else filename
    return f"/dev/fd/{dirfd}/{filename}"


def _caps(a: dict[str, Any]) -> tuple[int, int] | None:
    """The capability sets a sched exec carries (permitted, effective)."""
    prm, eff = a.get("cap_permitted"), a.get("cap_effective")
    if isinstance(prm, int) and isinstance(eff, int):
        return prm, eff
    return None


def _meta_fields(m: ContainerMeta) -> dict[str, Any]:
    pairs: tuple[tuple[str, Any], ...] = (
        ("container.name", m.name),
        ("container.image", m.image),
        ("container.image.repository", m.image_repository),
        ("container.image.tag", m.image_tag),
        ("container.image.digest", m.image_digest),
        ("container.privileged", m.privileged),
        ("k8s.pod.name", m.pod_name),
        ("k8s.ns.name", m.pod_namespace),
        ("k8s.pod.uid", m.pod_uid),
    )
    out = {k: v for k, v in pairs if v is not None}
    if m.pod_name is not None:
        out["k8s.pod.label"] = dict(m.pod_labels)
    return out


# --- handlers ---------------------------------------------------------------------------

Handler = Callable[[_Ctx], None]


def _h_open(c: _Ctx) -> None:
    ev, a = c.ev, c.args
    kind = ev.type
    raw_flags = a.get("flags")
    if kind == "creat":
        raw_flags = F.O_CREAT | F.O_WRONLY | F.O_TRUNC
    kflags = raw_flags if isinstance(raw_flags, int) else 0
    mode = a.get("mode")
    dirfd = a.get("dirfd", a.get("mountfd"))
    relative_to_dirfd = kind in ("openat", "openat2")
    base = c.base_dir(dirfd) if relative_to_dirfd else c.proc.cwd
    raw_name = a.get("name", a.get("path"))
    path = resolve_path(raw_name, base) if isinstance(raw_name, str) else None
    if path is not None:
        is_dir = kflags & F.O_DIRECTORY and not kflags & F._O_TMPFILE_BIT
        entry = FdEntry(
            type="directory" if is_dir else "file", name=path, nameraw=raw_name, flags=kflags
        )
        if c.ok:
            assert c.res is not None
            c.proc.fds.set(c.res, entry)
            c.fd_num = c.res
        else:
            # Falco still describes the file a failed open named, with fd.num -1.
            c.fd_num = -1
        c.fd_entry = entry
    c.p_fd("fd", c.res)
    if relative_to_dirfd:
        c.p_fd("dirfd", dirfd if dirfd is not None else F.AT_FDCWD)
    c.p_path("name", raw_name, base)
    if kind != "creat" and c.params.on:
        ppm = F.open_flags_to_ppm(kflags)
        c.params.add("flags", ppm, str(ppm), F.render_flags(ppm, F.FILE_FLAGS))
    if isinstance(mode, int) and c.params.on:
        c.params.add("mode", mode, F.render_octal(mode))
    for extra in ("dev", "ino", "resolve"):
        c.p_int(extra, a.get(extra))
    acc = kflags & F.O_ACCMODE
    c.extra["evt.is_open_read"] = acc in (0, F.O_RDWR) and kind != "creat"
    c.extra["evt.is_open_write"] = acc in (F.O_WRONLY, F.O_RDWR) or kind == "creat"
    creates = bool(kflags & (F.O_CREAT | F._O_TMPFILE_BIT))
    c.extra["evt.is_open_exec"] = creates and isinstance(mode, int) and bool(mode & F.S_IXANY)
    if isinstance(a.get("created"), bool):
        c.extra["evt.is_open_create"] = a["created"]
    if path is not None:
        if relative_to_dirfd:
            c.extra["evt.abspath"] = path
        c.extra["fs.path.name"] = path
        c.extra["fs.path.nameraw"] = raw_name


def _h_exec(c: _Ctx) -> None:
    # State was updated before the proc fields were taken (see Enricher.handle).
    p, a = c.proc, c.args
    c.p_errno("res", c.res)
    c.p_str("exe", p.exe)
    c.p_str("args", " ".join(p.args))
    c.p_int("tid", c.ev.tid)
    c.p_int("pid", p.pid)
    c.p_int("ptid", p.ppid)
    c.p_str("cwd", p.cwd)
    c.p_str("comm", p.name)
    if p.env is not None:
        c.p_str("env", " ".join(p.env))
    c.p_int("tty", p.tty)
    c.p_int("pgid", p.pgid)
    c.p_int("loginuid", p.loginuid)
    exe_flags = 0
    if p.exe_writable:
        exe_flags |= F.PPM_EXE_WRITABLE
    if p.exe_upper_layer:
        exe_flags |= F.PPM_EXE_UPPER_LAYER
    if p.exe_from_memfd:
        exe_flags |= F.PPM_EXE_FROM_MEMFD
    c.p_flags("flags", exe_flags, F.EXECVE_FLAGS)
    for cap in ("cap_inheritable", "cap_permitted", "cap_effective"):
        value = getattr(p, cap)
        if value is not None:
            c.params.add(cap, value, f"{value:X}")
    c.p_int("uid", c.ev.uid)
    c.p_str("trusted_exepath", p.exepath)
    filename = a.get("filename", a.get("pathname"))
    if c.ev.type == "execveat":
        c.p_fd("dirfd", a.get("dirfd"))
    c.p_str("filename", filename)


def _h_socket(c: _Ctx) -> None:
    a = c.args
    domain, stype, proto = a.get("domain"), a.get("type"), a.get("proto", 0)
    c.p_fd("fd", c.res)
    if isinstance(domain, int):
        c.params.add("domain", domain, str(domain), F.render_socket_family(domain))
    c.p_int("type", stype)
    c.p_int("proto", proto)
    if not c.ok or not isinstance(domain, int):
        return
    assert c.res is not None
    ftype = _DOMAIN_TYPES.get(domain, "unknown")
    entry = FdEntry(type=ftype)
    if ftype in ("ipv4", "ipv6") and isinstance(stype, int):
        entry.l4proto = F.l4proto(stype, proto if isinstance(proto, int) else 0)
    c.proc.fds.set(c.res, entry)
    c.fd_num, c.fd_entry = c.res, entry


def _socket_entry(c: _Ctx, num: int, family: str | None) -> FdEntry:
    entry = c.fd(num)
    if entry is None:
        entry = FdEntry(type=_FAMILY_TYPES.get(family or "", "unknown"))
        c.proc.fds.set(num, entry)
    return entry


def _h_connect(c: _Ctx) -> None:
    a = c.args
    num, addr, tup = a.get("fd"), a.get("addr"), _tuple_ends(a.get("tuple"))
    entry: FdEntry | None = None
    if isinstance(num, int) and num >= 0:
        family = tup[0] if tup else addr.get("family") if isinstance(addr, dict) else None
        entry = _socket_entry(c, num, family)
        in_progress = c.res == -115  # EINPROGRESS: a non-blocking connect under way
        if (c.ok or in_progress) and entry.type == "unix" and isinstance(addr, dict):
            entry.name = str(addr.get("path", ""))
        elif (c.ok or in_progress) and entry.type in ("ipv4", "ipv6"):
            remote = tup[2] if tup else _end(addr)
            local = tup[1] if tup else (None, None)
            if local[0] is None:
                found = socket_local_end(c.enricher.proc_root, c.proc.pid, num)
                if found is not None:
                    local = found
            entry.set_tuple(local, remote, server=False)
        c.fd_num, c.fd_entry = num, entry
    c.p_errno("res", c.res)
    if tup is not None:
        c.params.add("tuple", a["tuple"], _tuple_text(tup[1], tup[2]))
    elif entry is not None and entry.connected and entry.type in ("ipv4", "ipv6"):
        c.params.add("tuple", entry.name, entry.name)
    c.p_fd("fd", num)
    c.p_addr("addr", addr)


def _h_accept(c: _Ctx) -> None:
    a = c.args
    tup, addr = _tuple_ends(a.get("tuple")), a.get("addr")
    c.p_fd("fd", c.res)
    if tup is not None:
        c.params.add("tuple", a["tuple"], _tuple_text(tup[2], tup[1]))
    for name in ("queuepct", "queuelen", "queuemax", "flags"):
        c.p_int(name, a.get(name))
    if not c.ok:
        return
    assert c.res is not None
    listen_fd = a.get("fd", a.get("sockfd"))
    listener = c.fd(listen_fd) if isinstance(listen_fd, int) else None
    family = tup[0] if tup else addr.get("family") if isinstance(addr, dict) else None
    kind = listener.type if listener is not None else _FAMILY_TYPES.get(family or "", "unknown")
    entry = FdEntry(type=kind, l4proto=listener.l4proto if listener else None)
    if kind in ("ipv4", "ipv6"):
        remote = tup[2] if tup else _end(addr)
        local = tup[1] if tup else (None, None)
        if local[0] is None and listener is not None:
            local = (listener.sip, listener.sport)
        if local[0] is None:
            found = socket_local_end(c.enricher.proc_root, c.proc.pid, c.res)
            local = found if found is not None else local
        entry.set_tuple(local, remote, server=True)
    elif kind == "unix" and listener is not None:
        entry.name = listener.name
    c.proc.fds.set(c.res, entry)
    c.fd_num, c.fd_entry = c.res, entry


def _h_bind(c: _Ctx) -> None:
    a = c.args
    num, addr = a.get("fd"), a.get("addr")
    c.p_errno("res", c.res)
    c.p_addr("addr", addr)
    c.p_fd("fd", num)
    if not isinstance(num, int) or num < 0:
        return
    family = addr.get("family") if isinstance(addr, dict) else None
    entry = _socket_entry(c, num, family)
    if c.ok and isinstance(addr, dict):
        if entry.type == "unix":
            entry.name = str(addr.get("path", ""))
        elif entry.type in ("ipv4", "ipv6"):
            entry.sip, entry.sport = _end(addr)
            entry.is_server = True
            entry.name = f"{_addr_text(addr)}"
    c.fd_num, c.fd_entry = num, entry


def _h_send_recv(c: _Ctx) -> None:
    a = c.args
    num = a.get("fd")
    c.p_errno("res", c.res)
    c.p_fd("fd", num)
    c.p_int("size", a.get("size"))
    addr, tup = a.get("addr"), _tuple_ends(a.get("tuple"))
    if tup is not None:
        c.params.add("tuple", a["tuple"], _tuple_text(tup[1], tup[2]))
    c.p_addr("addr", addr)
    c.use_fd(num)
    entry = c.fd_entry
    if entry is None or entry.type not in ("ipv4", "ipv6") or not c.ok:
        return
    remote = tup[2] if tup else _end(addr)
    if remote[0] is None or entry.connected:
        return
    # An unconnected (UDP) socket: each datagram may name a new peer, and Falco's
    # fd.name follows it (fd.name_changed says this event changed it).
    local = tup[1] if tup else entry.local
    before = entry.name
    sending = c.ev.type in ("sendto", "sendmsg")
    if sending:
        entry.set_tuple(local, remote, server=False)
    else:
        entry.set_tuple(local, remote, server=True)
    entry.connected = False
    c.extra["fd.name_changed"] = entry.name != before


def _h_listen(c: _Ctx) -> None:
    c.p_errno("res", c.res)
    c.p_fd("fd", c.args.get("fd"))
    c.p_int("backlog", c.args.get("backlog"))
    c.use_fd(c.args.get("fd"))


def _h_close(c: _Ctx) -> None:
    num = c.args.get("fd")
    c.p_errno("res", c.res)
    c.p_fd("fd", num)
    c.use_fd(num)
    if c.ok and isinstance(num, int):
        c.proc.fds.close(num)


def _duplicate(c: _Ctx, old: Any, cloexec: bool) -> None:
    """A dup's fd state: ``res`` becomes a copy of ``old``'s entry. Close-on-exec is the
    new fd's own (only dup3(O_CLOEXEC) and F_DUPFD_CLOEXEC set it), so an exec keeps a
    socket duplicated onto stdin even when the socket itself was opened close-on-exec."""
    # Falco's fd fields of a dup are the duplicated (old) fd's.
    c.use_fd(old)
    new = c.res
    if not c.ok or not isinstance(old, int) or new is None or new == old:
        return  # dup2(fd, fd) changes nothing, close-on-exec included
    c.proc.fds.dup(old, new)
    entry = c.proc.fds.get(new)
    if entry is not None and entry.flags is not None:
        entry.flags = (entry.flags | F.O_CLOEXEC) if cloexec else (entry.flags & ~F.O_CLOEXEC)


def _h_dup(c: _Ctx) -> None:
    a = c.args
    old = a.get("oldfd", a.get("fd"))
    new = a.get("newfd")
    flags = a.get("flags")
    cloexec = c.ev.type == "dup3" and isinstance(flags, int) and bool(flags & F.O_CLOEXEC)
    _duplicate(c, old, cloexec)
    # Rendered after the state change, as Falco renders them: res names the new fd's file.
    c.p_fd("res", c.res)
    c.p_fd("oldfd", old)
    if c.ev.type in ("dup2", "dup3"):
        c.p_fd("newfd", new if new is not None else c.res)
    if c.ev.type == "dup3" and isinstance(flags, int):
        ppm = F.open_flags_to_ppm(flags)
        c.params.add("flags", ppm, str(ppm), F.render_flags(ppm, F.FILE_FLAGS))


def _h_fcntl(c: _Ctx) -> None:
    """fcntl: F_DUPFD and F_DUPFD_CLOEXEC duplicate ``fd`` as dup does (the lowest free fd
    at or above the argument); the other commands change no fd. ``cmd`` is Falco's code
    and name (``F_DUPFD``); ``res`` is rendered as an fd whatever the command, as Falco
    does."""
    a = c.args
    num, cmd = a.get("fd"), a.get("cmd")
    if cmd in (F.F_DUPFD, F.F_DUPFD_CLOEXEC):
        _duplicate(c, num, cmd == F.F_DUPFD_CLOEXEC)
    else:
        c.use_fd(num)
    c.p_fd("res", c.res)
    c.p_fd("fd", num)
    if isinstance(cmd, int):
        ppm = F.fcntl_cmd_to_ppm(cmd)
        c.params.add("cmd", ppm, str(ppm), F.render_enum(ppm, F.FCNTL_COMMANDS))


def _h_ptrace(c: _Ctx) -> None:
    a = c.args
    c.p_errno("res", c.res)
    c.p_int("addr", a.get("addr"))
    c.p_int("data", a.get("data"))
    req = a.get("request")
    if isinstance(req, int):
        ppm = F.ptrace_request_to_ppm(req)
        c.params.add("request", ppm, str(ppm), F.render_enum(ppm, F.PTRACE_REQUESTS))
    c.p_int("pid", a.get("pid"))


def _two_paths(
    c: _Ctx, old_key: str, new_key: str, old_base: str | None, new_base: str | None
) -> None:
    a = c.args
    src = resolve_path(a[old_key], old_base) if isinstance(a.get(old_key), str) else None
    dst = resolve_path(a[new_key], new_base) if isinstance(a.get(new_key), str) else None
    c.extra["fs.path.source"], c.extra["fs.path.sourceraw"] = src, a.get(old_key)
    c.extra["fs.path.target"], c.extra["fs.path.targetraw"] = dst, a.get(new_key)


def _h_link_like(c: _Ctx) -> None:
    a, t = c.args, c.ev.type
    c.p_errno("res", c.res)
    cwd = c.proc.cwd
    if t in ("link", "rename"):
        c.p_path("oldpath", a.get("oldpath"), cwd)
        c.p_path("newpath", a.get("newpath"), cwd)
        _two_paths(c, "oldpath", "newpath", cwd, cwd)
        return
    oldk, newk = ("olddir", "newdir") if t == "linkat" else ("olddirfd", "newdirfd")
    old_base, new_base = c.base_dir(a.get(oldk)), c.base_dir(a.get(newk))
    c.p_fd(oldk, a.get(oldk, F.AT_FDCWD))
    src = c.p_path("oldpath", a.get("oldpath"), old_base)
    c.p_fd(newk, a.get(newk, F.AT_FDCWD))
    dst = c.p_path("newpath", a.get("newpath"), new_base)
    table = F.LINKAT_FLAGS if t == "linkat" else F.RENAMEAT2_FLAGS
    if t != "renameat":
        c.p_flags("flags", a.get("flags"), table)
    c.extra["evt.abspath.src"], c.extra["evt.abspath.dst"] = src, dst
    _two_paths(c, "oldpath", "newpath", old_base, new_base)


def _h_symlink(c: _Ctx) -> None:
    a = c.args
    c.p_errno("res", c.res)
    # The target is stored as given (it is the link's content, not a path looked up now).
    c.p_str("target", a.get("target"))
    if c.ev.type == "symlinkat":
        dirfd = a.get("linkdirfd", F.AT_FDCWD)
        c.p_fd("linkdirfd", dirfd)
        base = c.base_dir(dirfd)
    else:
        base = c.proc.cwd
    link = c.p_path("linkpath", a.get("linkpath"), base)
    if c.ev.type == "symlinkat":
        c.extra["evt.abspath"] = link
    _two_paths(c, "target", "linkpath", c.proc.cwd, base)


def _h_one_path(c: _Ctx) -> None:
    """unlink(at), mkdir(at), rmdir, chmod, fchmodat, chdir."""
    a, t = c.args, c.ev.type
    c.p_errno("res", c.res)
    key = {"unlinkat": "name", "chmod": "filename", "fchmodat": "filename"}.get(t, "path")
    raw = a.get(key, a.get("path", a.get("name", a.get("filename"))))
    if t.endswith("at"):
        dirfd = a.get("dirfd", F.AT_FDCWD)
        c.p_fd("dirfd", dirfd)
        base = c.base_dir(dirfd)
    else:
        base = c.proc.cwd
    path = c.p_path(key, raw, base)
    if t == "unlinkat":
        c.p_flags("flags", a.get("flags"), F.UNLINKAT_FLAGS)
    mode = a.get("mode")
    if isinstance(mode, int):
        if t in ("chmod", "fchmodat"):
            c.params.add("mode", mode, F.render_octal(mode), F.render_mode(mode) or None)
        else:
            c.params.add("mode", mode, F.render_octal(mode))
    if t.endswith("at"):
        c.extra["evt.abspath"] = path
    c.extra["fs.path.name"], c.extra["fs.path.nameraw"] = path, raw
    if t == "chdir" and c.ok and path:
        c.proc.cwd = path


def _h_fd_only(c: _Ctx) -> None:
    """Syscalls acting on one fd (fchmod, fchdir, fstat, read, write, ioctl...)."""
    a = c.args
    c.p_errno("res", c.res)
    num = a.get("fd")
    c.p_fd("fd", num)
    mode = a.get("mode")
    if isinstance(mode, int):
        c.params.add("mode", mode, F.render_octal(mode), F.render_mode(mode) or None)
    for k, v in a.items():
        if k not in c.params.raw and isinstance(v, (int, str)):
            c.params.add(k, v, str(v))
    c.use_fd(num)
    if c.ev.type == "fchdir" and c.ok and c.fd_entry is not None:
        c.proc.cwd = c.fd_entry.name


def _h_memfd(c: _Ctx) -> None:
    a = c.args
    c.p_fd("fd", c.res)
    c.p_str("name", a.get("name"))
    c.p_flags("flags", a.get("flags"), F.MEMFD_CREATE_FLAGS)
    if c.ok:
        assert c.res is not None
        # An exec closes an MFD_CLOEXEC memfd (after running it, when it is the program).
        mflags = a.get("flags")
        cloexec = isinstance(mflags, int) and mflags & _MFD_CLOEXEC
        entry = FdEntry(
            type="memfd",
            name=f"memfd:{a.get('name', '')}",
            flags=F.O_RDWR | (F.O_CLOEXEC if cloexec else 0),
        )
        c.proc.fds.set(c.res, entry)
        c.fd_num, c.fd_entry = c.res, entry


def _h_pipe(c: _Ctx) -> None:
    a = c.args
    c.p_errno("res", c.res)
    for k in ("fd1", "fd2"):
        num = a.get(k)
        c.p_int(k, num)
        if c.ok and isinstance(num, int):
            c.proc.fds.set(num, FdEntry(type="pipe"))


def _h_module(c: _Ctx) -> None:
    a = c.args
    c.p_errno("res", c.res)
    if c.ev.type == "finit_module":
        c.p_fd("fd", a.get("fd"))
        c.use_fd(a.get("fd"))
    else:
        c.p_int("length", a.get("length"))
    c.p_str("uargs", a.get("uargs"))
    c.p_int("flags", a.get("flags"))


def _h_setpgid(c: _Ctx) -> None:
    a = c.args
    c.p_errno("res", c.res)
    c.p_int("pid", a.get("pid"))
    c.p_int("pgid", a.get("pgid"))
    if not c.ok:
        return
    pid, pgid = a.get("pid") or c.proc.pid, a.get("pgid")
    target = c.enricher.procs.peek(pid) if isinstance(pid, int) else None
    if target is None:
        return
    # pgid 0 means "the target's own pid"; ids are the caller's namespace's (for a
    # process outside containers, the host's).
    new = pgid or (target.vpid if target.vpid is not None else target.pid)
    target.vpgid = new
    if target.container.is_host:
        target.pgid = new


def _h_setsid(c: _Ctx) -> None:
    c.p_errno("res", c.res)
    if c.ok:
        p = c.proc
        p.sid = p.pgid = p.pid
        p.vsid = p.vpgid = p.vpid if p.vpid is not None else p.pid


def _h_generic(c: _Ctx) -> None:
    c.p_errno("res", c.res)
    for k, v in c.args.items():
        if isinstance(v, dict):
            c.p_addr(k, v)
        elif isinstance(v, (int, str)):
            c.params.add(k, v, str(v))
    if isinstance(c.args.get("fd"), int):
        c.use_fd(c.args["fd"])


# The function for each handler name of sensor.syscalls' rows.
_HANDLER_FUNCS: dict[str, Handler] = {
    "open": _h_open,
    "exec": _h_exec,
    "socket": _h_socket,
    "connect": _h_connect,
    "accept": _h_accept,
    "bind": _h_bind,
    "listen": _h_listen,
    "send_recv": _h_send_recv,
    "close": _h_close,
    "dup": _h_dup,
    "fcntl": _h_fcntl,
    "ptrace": _h_ptrace,
    "link_like": _h_link_like,
    "symlink": _h_symlink,
    "one_path": _h_one_path,
    "fd_only": _h_fd_only,
    "memfd": _h_memfd,
    "setpgid": _h_setpgid,
    "setsid": _h_setsid,
    "pipe": _h_pipe,
    "module": _h_module,
    "generic": _h_generic,
}

# Event type -> handler, from the rows; any other type gets _h_generic.
_HANDLERS: dict[str, Handler] = {s.name: _HANDLER_FUNCS[s.handler] for s in SYSCALLS}


class HostRootError(ValueError):
    """``--host-root`` does not hold the host's /proc: the sensor must not start."""


def check_host_root(host_root: str) -> list[str]:
    """Checks ``host_root`` before the sensor starts; returns warnings for what is missing
    but survivable. Raises HostRootError when its ``proc/`` is not a /proc: every process
    would then be unknown, and every alert would show ``<NA>`` users, parents and
    containers without a word said."""
    proc = os.path.join(host_root, "proc")
    hint = "mount the host's /proc there (hostPath /proc at <host-root>/proc) or pass --host-root /"
    if not os.path.isdir(proc):
        raise HostRootError(f"--host-root {host_root}: there is no {proc}: {hint}")
    # Any procfs has pid 1 and the boot time file; a plain directory has neither.
    if not (os.path.isfile(os.path.join(proc, "stat")) and os.path.isdir(os.path.join(proc, "1"))):
        raise HostRootError(
            f"--host-root {host_root}: {proc} is not a /proc (no stat, no 1/ in it): {hint}"
        )
    return [
        f"--host-root {host_root}: cannot read {path}: {what} of host processes will be <NA>"
        for path, what in (
            (os.path.join(host_root, "etc/passwd"), "user.name"),
            (os.path.join(host_root, "etc/group"), "group.name"),
        )
        if not os.access(path, os.R_OK)
    ]


class Enricher:
    """Turns RawEvents into ``syscall`` documents, keeping process/fd/container state.

    ``proc_root`` is where /proc is read (a fake tree in tests); ``passwd_path`` and
    ``group_path`` name the host's user and group files (a container's are read from
    its root, ``<proc_root>/<pid>/root/etc``); ``host_root`` is where host paths
    (overlayfs upper directories) are found.
    """

    def __init__(
        self,
        proc_root: str = "/proc",
        hostname: str | None = None,
        *,
        passwd_path: str = "/etc/passwd",
        group_path: str = "/etc/group",
        host_root: str = "/",
        max_processes: int = 32768,
        boot_time_ns: int | None = None,
        seed: bool = False,
        cache: bool = True,
        metadata: Callable[[str], ContainerMeta | None] | None = None,
        documents_for: Collection[str] | None = None,
        prefilter: PreFilter | None = None,
        dns_names: DnsNames | None = None,
    ) -> None:
        self.proc_root = proc_root
        self._dns_names = dns_names
        # Asked, once the handler has updated state, whether any rule can match the
        # event's own fields (EARLY_FIELDS); when none can, the process part is not built
        # and no document is returned. Events it refused are counted here.
        self._prefilter = prefilter
        self.prefiltered = 0
        # Event types no rule can match (close, clone, chdir... with the stable rules) are
        # captured for state only: building their documents would be half the work of an
        # open/close-heavy workload for nothing. None: a document for every event.
        self._documents_for = None if documents_for is None else frozenset(documents_for)
        # An open's pre-filter verdict by what its event part is made of (_verdict_key):
        # a workload opens the same files again and again.
        self._verdicts: dict[tuple[Any, ...], bool] = {}
        # Runtime/kubelet metadata is merged per event, not into the cached process part:
        # it can arrive after the container was first seen without any process changing.
        # container full id -> (what metadata last gave, the fields made from it)
        self._metadata = metadata
        self._meta_fields: dict[str, tuple[ContainerMeta, dict[str, Any]]] = {}
        self.hostname = hostname if hostname is not None else socket.gethostname()
        self.procs = ProcessTable(
            proc_root,
            passwd_path=passwd_path,
            group_path=group_path,
            host_root=host_root,
            max_processes=max_processes,
            boot_time_ns=boot_time_ns,
        )
        self._num = 0
        # pids whose sched exec was applied and whose execve result has not come yet
        self._exec_pending: set[int] = set()
        # pid -> (process, its document part), valid for generation self._cache_gen
        self._cache_on = cache
        self._cache: dict[int, tuple[Process, dict[str, Any]]] = {}
        self._cache_gen = -1
        if seed:
            self.procs.seed()

    def retarget(self, documents_for: Collection[str] | None, prefilter: PreFilter | None) -> None:
        """New rules were swapped in: the event types they can match and their pre-filter
        (as in ``__init__``). The verdicts kept were the old pre-filter's."""
        self._documents_for = None if documents_for is None else frozenset(documents_for)
        self._prefilter = prefilter
        self._verdicts = {}

    def sizes(self) -> dict[str, int]:
        """What the enricher holds, for the sensor's metrics (read from their thread)."""
        return {
            "processes": len(self.procs),
            "fds": self.procs.fd_count(),
            "prefilter_verdicts": len(self._verdicts),
            "container_metadata": len(self._meta_fields),
        }

    def handle(self, ev: RawEvent) -> dict[str, Any] | None:
        """The document for one event; None for events that only update state."""
        if ev.type == FORK:
            child = ev.args.get("child_pid")
            if isinstance(child, int) and child != ev.pid:
                self.procs.fork(ev.pid, child, ev.ts_ns)
            return None
        if ev.type == EXEC:
            a = ev.args
            tty = a.get("tty")
            # The environment, tty and capabilities come all together (sensor.btf) or not
            # at all; an environment whose read failed (flagged, nothing read) is not an
            # empty one, one cut at its bound is kept.
            env = _argv(a.get("env")) if isinstance(tty, int) else None
            if not env and "env" in ev.truncated:
                env = None
            self.procs.exec(
                ev.pid,
                filename=a.get("filename"),
                comm=ev.comm or None,
                env=env,
                tty=tty if isinstance(tty, int) else None,
                caps=_caps(a),
            )
            self._exec_pending.add(ev.pid)
            return None
        if ev.type == EXIT:
            if ev.tid in (0, ev.pid):
                self.procs.exit(ev.pid)
                self._exec_pending.discard(ev.pid)
            return None

        proc = self._process(ev)
        documented = self._documents_for is None or ev.type in self._documents_for
        if ev.type == "close" and not documented and ev.res == 0:
            num = ev.args.get("fd")
            if isinstance(num, int):
                # All a successful close does that no rule reads: the fd is forgotten
                # (an fd nothing tracked, too: /proc can no longer say what it was).
                proc.fds.close(num)
                self._num += 1
                return None
        if ev.type in _EXEC_EVENTS and ev.res is not None and ev.res >= 0:
            self._apply_exec(ev, proc)
        verdict_key = self._verdict_key(ev, proc) if documented else None
        known = self._verdicts.get(verdict_key) if verdict_key is not None else None
        ctx = _Ctx(ev, proc, self, _Params() if documented and known is not False else _NO_PARAMS)
        _HANDLERS.get(ev.type, _h_generic)(ctx)
        self._num += 1  # evt.num counts every event, as Falco's does
        if not documented:
            return None
        if known is False:
            assert self._prefilter is not None
            self._prefilter.skip()
            self.prefiltered += 1
            return None
        doc = self._event_part(ctx)
        if self._prefilter is not None and known is None:
            known = self._prefilter.can_match(doc)
            if verdict_key is not None:
                if len(self._verdicts) >= _MAX_VERDICTS:
                    self._verdicts.clear()
                self._verdicts[verdict_key] = known
            if not known:
                # No rule can match, whatever the process part holds: it is not built.
                self._prefilter.skip()
                self.prefiltered += 1
                return None
        return self._finish(ctx, doc)

    def _verdict_key(self, ev: RawEvent, proc: Process) -> tuple[Any, ...] | None:
        """What an open's event part is made of, when it is made of the event alone (and
        the working directory, for a relative path): equal keys, equal event parts, the
        same pre-filter verdict. None where it is not (a directory fd's entry in it)."""
        if self._prefilter is None or ev.type not in _OPEN_EVENTS:
            return None
        a = ev.args
        if a.get("dirfd", F.AT_FDCWD) != F.AT_FDCWD or "mountfd" in a:
            return None
        name = a.get("name", a.get("path"))
        if not isinstance(name, str):
            return None
        try:
            key = (
                ev.type,
                ev.res,
                tuple(a.items()),
                ev.truncated,
                None if name[:1] == "/" else proc.cwd,
            )
            hash(key)
        except TypeError:  # an argument that is a list or a dict
            return None
        return key

    # --- state -----------------------------------------------------------------------

    def _process(self, ev: RawEvent) -> Process:
        p = self.procs.get(ev.pid, retry=True)
        if p is None:
            # Gone from /proc already (short-lived): what the event itself says.
            p = Process(pid=ev.pid, name=ev.comm or None)
            self.procs.put(p)
        # Assigned only when changed: every assignment invalidates cached documents.
        if ev.comm and ev.tid == ev.pid and ev.type not in _EXEC_EVENTS and p.name != ev.comm:
            p.name = ev.comm
        if p.uid != ev.uid:
            p.uid = ev.uid
        if p.gid != ev.gid:
            p.gid = ev.gid
        return p

    def _apply_exec(self, ev: RawEvent, proc: Process) -> None:
        a = ev.args
        argv = _argv(a.get("argv", a.get("args")))
        env = _argv(a.get("env"))
        if not env and "env" in ev.truncated:
            env = None  # none read (the read failed): not an empty environment
        filename = _kernel_filename(a.get("filename", a.get("pathname")), a)
        exepath = a.get("trusted_exepath", a.get("exepath"))
        comm = a.get("comm") or ev.comm or None
        cwd = a.get("cwd")
        if ev.pid in self._exec_pending:
            self._exec_pending.discard(ev.pid)
            if argv is not None:
                proc.exe = argv[0] if argv else proc.exe
                proc.args = argv[1:]
            if env is not None:
                proc.env = env
            if comm:
                proc.name = comm
            if isinstance(cwd, str):
                proc.cwd = cwd
            if isinstance(exepath, str):
                proc.exepath = exepath
        else:
            self.procs.exec(
                ev.pid,
                filename=filename if isinstance(filename, str) else None,
                exepath=exepath if isinstance(exepath, str) else None,
                comm=comm,
                argv=argv,
                env=env,
                cwd=cwd if isinstance(cwd, str) else None,
            )
        for key in ("tty", "loginuid"):
            value = a.get(key)
            if isinstance(value, int):
                setattr(proc, key, -1 if key == "loginuid" and value == 0xFFFFFFFF else value)
        # argv cut at the capture limits (bpf/events.h): proc.args is only its start.
        cut = "argv" in ev.truncated or "args" in ev.truncated
        if proc.args_truncated != cut:
            proc.args_truncated = cut

    # --- document ----------------------------------------------------------------------

    def _event_part(self, c: _Ctx) -> dict[str, Any]:
        """The fields of the event itself (EARLY_FIELDS and a few more): what the
        pre-filter reads. The process part is added by ``_finish``."""
        ev = c.ev
        doc: dict[str, Any] = {
            "evt.num": self._num,
            "evt.rawtime": ev.ts_ns,
            "evt.type": ev.type,
            "syscall.type": ev.type,
            "evt.dir": "<",
            "evt.hostname": self.hostname,
            "evt.arg": c.params.text,
            "evt.rawarg": c.params.raw,
            "evt.args": " ".join(c.params.line),
            "thread.tid": ev.tid,
        }
        if ev.res is not None:
            doc["evt.res"] = F.render_res(ev.res)
            doc["evt.rawres"] = ev.res
            doc["evt.failed"] = ev.res < 0
        names = self._dns_names.by_ip if self._dns_names is not None else None
        doc.update(fd_fields(c.fd_num, c.fd_entry, names))
        doc.update(c.extra)
        return doc

    def _finish(self, c: _Ctx, doc: dict[str, Any]) -> dict[str, Any]:
        """The whole document: the event part with the process part added."""
        p = c.proc
        doc.update(self._process_fields(p))
        if self._metadata is not None and p.container.full_id and not p.container.is_host:
            doc.update(self._container_meta(p.container.full_id))
        doc["proc.fdopencount"] = len(p.fds)
        doc["fd.types"] = p.fds.types()
        if c.extra:
            doc.update(c.extra)  # what the handler worked out wins, as it always has
        return doc

    def _container_meta(self, full_id: str) -> dict[str, Any]:
        """Fields from the metadata source for a container ({} while it knows nothing)."""
        assert self._metadata is not None
        try:
            meta = self._metadata(full_id)
        except Exception:  # a metadata source must not break enrichment
            meta = None
        if meta is None:
            return {}
        hit = self._meta_fields.get(full_id)
        if hit is not None and hit[0] is meta:
            return hit[1]
        fields = _meta_fields(meta)
        if len(self._meta_fields) >= 4096:
            self._meta_fields.clear()
        self._meta_fields[full_id] = (meta, fields)
        return fields

    def _process_fields(self, p: Process) -> dict[str, Any]:
        """The process part of a document, from the cache while nothing has changed."""
        if generation() == self._cache_gen:
            hit = self._cache.get(p.pid)
            if hit is not None and hit[0] is p:
                return hit[1]
        out = self.process_fields(p)
        if self._cache_on and self.procs.names_settled(p):
            # Building may itself have read ancestors from /proc into the table; the
            # result is what a build at the new generation gives, so it is kept for that.
            gen = generation()
            if gen != self._cache_gen:
                self._cache.clear()
                self._cache_gen = gen
            self._cache[p.pid] = (p, out)
        return out

    def process_fields(self, p: Process) -> dict[str, Any]:
        """The process part of a document, built from the current state (no cache)."""
        chain = self.procs.ancestry(p.pid) or [p]
        if chain[0] is not p:
            chain = [p]
        parent = chain[1] if len(chain) > 1 else None
        out: dict[str, Any] = {
            "proc.pid": p.pid,
            "proc.ppid": p.ppid,
            "proc.vpid": p.vpid,
            "proc.name": p.name,
            "proc.exe": p.exe,
            "proc.exepath": p.exepath,
            "proc.args": list(p.args),
            "proc.cmdline": p.cmdline,
            "proc.cwd": p.cwd,
            "proc.tty": p.tty,
            "proc.sid": p.vsid if p.vsid is not None else p.sid,
            "proc.vpgid": p.vpgid if p.vpgid is not None else p.pgid,
            "proc.pgid": p.pgid,
            "proc.pid.ts": p.start_ns,
            "proc.is_exe_from_memfd": p.exe_from_memfd,
            "proc.is_exe_upper_layer": p.exe_upper_layer,
            "proc.is_exe_writable": p.exe_writable,
            "proc.is_args_truncated": p.args_truncated,
            "proc.aname": [a.name for a in chain],
            "proc.apid": [a.pid for a in chain],
            "proc.aexe": [a.exe for a in chain],
            "proc.aexepath": [a.exepath for a in chain],
            "proc.acmdline": [a.cmdline for a in chain],
            "proc.aargs": [list(a.args) for a in chain],
            "user.uid": p.uid,
            "user.name": self.procs.user_name(p),
            "user.loginuid": p.loginuid,
            "user.loginname": self.procs.login_name(p),
            "group.gid": p.gid,
            "group.name": self.procs.group_name(p),
            "container.id": p.container.id,
        }
        if p.env is not None:
            out["proc.env"] = list(p.env)
            out["proc.aenv"] = [a.env or [] for a in chain]
        if parent is not None:
            out.update(
                {
                    "proc.pname": parent.name,
                    "proc.pexe": parent.exe,
                    "proc.pexepath": parent.exepath,
                    "proc.pcmdline": parent.cmdline,
                    "proc.pvpid": parent.vpid,
                    "proc.ppid.ts": parent.start_ns,
                }
            )
        for key, attr in (
            ("thread.cap_effective", "cap_effective"),
            ("thread.cap_permitted", "cap_permitted"),
            ("thread.cap_inheritable", "cap_inheritable"),
        ):
            value = getattr(p, attr)
            if value is not None:
                out[key] = F.render_caps(value)
        session = self.procs.leader(chain, p.sid, "sid")
        if session is not None:
            out["proc.sname"] = session.name
            out["proc.sid.exe"] = session.exe
            out["proc.sid.exepath"] = session.exepath
        group = self.procs.leader(chain, p.pgid, "pgid")
        if group is not None:
            for prefix in ("proc.vpgid", "proc.pgid"):
                out[f"{prefix}.name"] = group.name
                out[f"{prefix}.exe"] = group.exe
                out[f"{prefix}.exepath"] = group.exepath
        shells = [a.pid for a in chain if a.name in SHELLS]
        if shells:
            out["proc.loginshellid"] = shells[-1]
        if not p.container.is_host:
            out["container.full_id"] = p.container.full_id
            if p.container.type is not None:
                out["container.type"] = p.container.type
            if p.container.pod_uid is not None:
                out["k8s.pod.uid"] = p.container.pod_uid
        if p.cgroups:
            groups = {k: v for k, v in p.cgroups.items() if k}
            if groups:
                out["thread.cgroup"] = groups
        return out
