"""Per-process file-descriptor state: what each fd number refers to, as Falco names it.

Files carry their absolute path (resolved against the cwd or the dirfd they were opened
relative to); sockets carry their connection tuple, rendered as Falco's ``fd.name``
``client_ip:client_port->server_ip:server_port``. ``dup``/``dup2``/``dup3`` copy an entry
to the new number, so a socket duplicated onto 0/1/2 is visible there, and ``close``
drops it. The enricher turns an entry into the ``fd.*`` fields with :func:`fd_fields`,
and with the addresses the rules' domain names resolved to (``sensor.dnsnames``) into
``fd.sip.name`` and kin.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# Falco's fd type names and their one-character forms (libsinsp's scap_fd_type).
TYPECHARS: dict[str, str] = {
    "file": "f",
    "directory": "d",
    "ipv4": "4",
    "ipv6": "6",
    "unix": "u",
    "pipe": "p",
    "event": "e",
    "signalfd": "s",
    "eventpoll": "l",
    "inotify": "i",
    "timerfd": "t",
    "netlink": "n",
    "file_v2": "f",
    "bpf": "b",
    "userfaultfd": "u",
    "io_uring": "r",
    "memfd": "m",
    "pidfd": "P",
    "unknown": "o",
}

SOCKET_TYPES = frozenset({"ipv4", "ipv6"})


@dataclass(slots=True)
class FdEntry:
    """One open fd. Socket ends are kept as client/server, as Falco shows them."""

    type: str
    name: str = ""
    nameraw: str | None = None
    flags: int | None = None  # open flags (kernel encoding), files only
    l4proto: str | None = None
    cip: str | None = None
    cport: int | None = None
    sip: str | None = None
    sport: int | None = None
    is_server: bool | None = None
    connected: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def typechar(self) -> str:
        return TYPECHARS.get(self.type, "o")

    def copy(self) -> FdEntry:
        return replace(self, extra=dict(self.extra))

    def set_tuple(
        self,
        local: tuple[str | None, int | None],
        remote: tuple[str | None, int | None],
        *,
        server: bool,
    ) -> None:
        """Records both ends; ``server`` says this process is the accepting side."""
        if server:
            (self.sip, self.sport), (self.cip, self.cport) = local, remote
        else:
            (self.cip, self.cport), (self.sip, self.sport) = local, remote
        self.is_server = server
        self.connected = True
        self.name = socket_name(self.cip, self.cport, self.sip, self.sport)

    @property
    def local(self) -> tuple[str | None, int | None]:
        return (self.sip, self.sport) if self.is_server else (self.cip, self.cport)

    @property
    def remote(self) -> tuple[str | None, int | None]:
        return (self.cip, self.cport) if self.is_server else (self.sip, self.sport)


def socket_name(cip: str | None, cport: int | None, sip: str | None, sport: int | None) -> str:
    """Falco's ``fd.name`` of an IP socket. An end whose address is not known prints as
    the unspecified address with port 0 (``0.0.0.0:0``, ``:::0``), as Falco prints an end
    the kernel has not bound yet; the ``fd.cip``/``fd.sip`` fields themselves stay None.
    """

    def end(ip: str | None, port: int | None, like: str | None) -> str:
        if ip is None:
            ip = "::" if like is not None and ":" in like else "0.0.0.0"
        return f"{ip}:{port or 0}"

    return f"{end(cip, cport, sip)}->{end(sip, sport, cip)}"


def resolve_path(path: str, base: str | None) -> str:
    """An absolute, normalised path: ``path`` itself if absolute, else under ``base``."""
    if not path:
        return base or ""
    if not path.startswith("/"):
        if base is None:
            return path
        path = base.rstrip("/") + "/" + path
    norm = posixpath.normpath(path)
    # normpath keeps a leading '//' (POSIX allows it to mean something); Falco does not.
    return "/" + norm.lstrip("/")


class FdTable:
    """The open fds of one process (threads share it)."""

    __slots__ = ("_fds", "unresolved")

    def __init__(self, fds: dict[int, FdEntry] | None = None) -> None:
        self._fds: dict[int, FdEntry] = fds if fds is not None else {}
        # fd numbers /proc could not describe: not looked up again until reused
        self.unresolved: set[int] = set()

    def get(self, fd: int) -> FdEntry | None:
        return self._fds.get(fd)

    def set(self, fd: int, entry: FdEntry) -> None:
        if fd >= 0:
            self._fds[fd] = entry
            self.unresolved.discard(fd)

    def close(self, fd: int) -> FdEntry | None:
        self.unresolved.discard(fd)
        return self._fds.pop(fd, None)

    def dup(self, oldfd: int, newfd: int) -> FdEntry | None:
        """Copies ``oldfd``'s entry to ``newfd`` (replacing what was there)."""
        entry = self._fds.get(oldfd)
        if newfd < 0:
            return entry
        self.unresolved.discard(newfd)
        if entry is None:
            # The new number no longer refers to what it did; what it refers to is unknown.
            self._fds.pop(newfd, None)
            return None
        self._fds[newfd] = entry.copy()
        return entry

    def clone(self) -> FdTable:
        """A forked child's table: same entries, independent from now on."""
        return FdTable({n: e.copy() for n, e in self._fds.items()})

    def close_on_exec(self) -> None:
        """Drops fds opened with O_CLOEXEC, as execve does."""
        from sensor.flags import O_CLOEXEC  # local: flags imports nothing from here

        for n in [n for n, e in self._fds.items() if e.flags is not None and e.flags & O_CLOEXEC]:
            del self._fds[n]

    def types(self) -> dict[str, str]:
        """``fd.types``: fd number (as text, as a JSON object keys it: a recorded
        document replays equal to the live one, alert uuid included) to type name."""
        return {str(n): e.type for n, e in sorted(self._fds.items())}

    def __len__(self) -> int:
        return len(self._fds)

    def __contains__(self, fd: object) -> bool:
        return fd in self._fds


def fd_fields(
    num: int | None, entry: FdEntry | None, names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The ``fd.*`` fields of an event that uses fd ``num`` (entry None: unknown fd).

    ``names`` maps addresses to the domain name they were resolved from
    (``sensor.dnsnames.DnsNames.by_ip``): an IP socket's end whose address is in it gets
    ``fd.cip.name``/``fd.sip.name`` (and ``fd.lip.name``/``fd.rip.name``, whichever ends
    those are); an end that is not has no such field, as it has no name.
    """
    out: dict[str, Any] = {}
    if num is not None:
        out["fd.num"] = num
    if entry is None:
        return out
    out["fd.type"] = entry.type
    out["fd.typechar"] = entry.typechar
    out["fd.name"] = entry.name
    if entry.nameraw is not None:
        out["fd.nameraw"] = entry.nameraw
    if entry.type in SOCKET_TYPES:
        out["fd.sockfamily"] = "ip"
        out["fd.l4proto"] = entry.l4proto
        out["fd.cip"] = entry.cip
        out["fd.cport"] = entry.cport
        out["fd.sip"] = entry.sip
        out["fd.sport"] = entry.sport
        lip, lport = entry.local
        rip, rport = entry.remote
        out["fd.lip"], out["fd.lport"] = lip, lport
        out["fd.rip"], out["fd.rport"] = rip, rport
        out["fd.is_server"] = entry.is_server
        out["fd.connected"] = entry.connected
        if names:
            cname = names.get(entry.cip) if entry.cip is not None else None
            sname = names.get(entry.sip) if entry.sip is not None else None
            if cname is not None:
                out["fd.cip.name"] = cname
            if sname is not None:
                out["fd.sip.name"] = sname
            lname, rname = (sname, cname) if entry.is_server else (cname, sname)
            if lname is not None:
                out["fd.lip.name"] = lname
            if rname is not None:
                out["fd.rip.name"] = rname
    elif entry.type == "unix":
        out["fd.sockfamily"] = "unix"
    return out


def _hex_ip(text: str) -> str | None:
    """An address from /proc/net/tcp{,6}: 32-bit words in host (little-endian) order."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    if len(raw) == 4:
        return ".".join(str(b) for b in reversed(raw))
    if len(raw) == 16:
        import ipaddress

        words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        addr = ipaddress.IPv6Address(words)
        return str(addr.ipv4_mapped) if addr.ipv4_mapped else str(addr)
    return None


_NET_TABLES = (
    ("tcp", "ipv4", "tcp"),
    ("udp", "ipv4", "udp"),
    ("raw", "ipv4", "raw"),
    ("tcp6", "ipv6", "tcp"),
    ("udp6", "ipv6", "udp"),
    ("raw6", "ipv6", "raw"),
)
_TCP_LISTEN = "0A"


def _addr(text: str) -> tuple[str, int] | None:
    addr, _, port = text.partition(":")
    ip = _hex_ip(addr)
    if ip is None:
        return None
    try:
        return ip, int(port, 16)
    except ValueError:
        return None


def _socket_from_net(proc_root: str, pid: int, inode: str) -> FdEntry | None:
    """An IP socket found by inode in /proc/<pid>/net/{tcp,udp,raw}{,6}."""
    for table, kind, proto in _NET_TABLES:
        try:
            with open(os.path.join(proc_root, str(pid), "net", table), encoding="ascii") as f:
                rows = [line.split() for line in f.read().splitlines()[1:]]
        except OSError:
            continue
        for cols in rows:
            if len(cols) <= 9 or cols[9] != inode:
                continue
            local, remote = _addr(cols[1]), _addr(cols[2])
            if local is None or remote is None:
                return None
            if ":" in local[0] and "." in local[0]:
                kind = "ipv4"
            entry = FdEntry(type=kind, l4proto=proto)
            if proto == "tcp" and cols[3] == _TCP_LISTEN:
                entry.sip, entry.sport, entry.is_server = local[0], local[1], True
                entry.name = socket_name(None, None, local[0], local[1])
                return entry
            if remote[1] == 0:
                entry.cip, entry.cport, entry.is_server = local[0], local[1], False
                entry.name = socket_name(local[0], local[1], None, None)
                return entry
            # Which end is the server is not in the table: the local end is when its
            # port is one this process's host listens on (Falco decides the same way).
            listening = False
            for other in rows:
                if len(other) > 3 and other[3] == _TCP_LISTEN:
                    bound = _addr(other[1])
                    listening = listening or (bound is not None and bound[1] == local[1])
            entry.set_tuple(local, remote, server=listening)
            return entry
    return None


def socket_local_end(proc_root: str, pid: int, fd: int) -> tuple[str, int] | None:
    """The bound local address of a live process's IP socket, read from /proc.

    Capture sees connect()'s destination but not the address the kernel picked for the
    local end; while the socket is still open, /proc knows it (by socket inode).
    """
    entry = lookup_fd(proc_root, pid, fd)
    if entry is None or entry.type not in SOCKET_TYPES:
        return None
    ip, port = entry.local
    return None if ip is None or port is None else (ip, port)


_ANON_TYPES = {
    "[eventfd]": "event",
    "[eventpoll]": "eventpoll",
    "inotify": "inotify",
    "[signalfd]": "signalfd",
    "[timerfd]": "timerfd",
    "[userfaultfd]": "userfaultfd",
    "[io_uring]": "io_uring",
    "[pidfd]": "pidfd",
}


def lookup_fd(proc_root: str, pid: int, fd: int) -> FdEntry | None:
    """What a live process's fd refers to, from the /proc/<pid>/fd link (for fds opened
    before the sensor saw them). None when /proc cannot tell."""
    try:
        link = os.readlink(os.path.join(proc_root, str(pid), "fd", str(fd)))
    except OSError:
        return None
    if link.startswith("/memfd:"):
        return FdEntry(type="memfd", name=link[1:].removesuffix(" (deleted)"))
    if link.startswith("/"):
        return FdEntry(type="file", name=link.removesuffix(" (deleted)"))
    if link.startswith("socket:[") and link.endswith("]"):
        inode = link[8:-1]
        found = _socket_from_net(proc_root, pid, inode)
        if found is not None:
            return found
        try:
            with open(os.path.join(proc_root, str(pid), "net", "unix"), encoding="utf-8") as f:
                for line in f.read().splitlines()[1:]:
                    cols = line.split()
                    if len(cols) >= 7 and cols[6] == inode:
                        return FdEntry(type="unix", name=cols[7] if len(cols) > 7 else "")
        except OSError:
            pass
        return None
    if link.startswith("pipe:"):
        return FdEntry(type="pipe", name=link)
    if link.startswith("anon_inode:"):
        kind = link[len("anon_inode:") :]
        if kind.startswith("bpf"):
            return FdEntry(type="bpf", name=link)
        found_type = _ANON_TYPES.get(kind)
        return FdEntry(type=found_type, name=link) if found_type else None
    return None
