"""The syscalls the sensor knows: one row each, and every other table derives from it.

A row says what the kernel side reads (``wire``: argument index, name, how to read and
convert it), which enrichment handler turns the event into a document (``handler``),
whether process and fd state need the syscall whatever the rules say (``state``), and
the Falco parameters its documents carry, in order (``params``: what ``evt.arg[...]``
and ``evt.args`` hold). ``sensor.decode`` builds its decoders and the BPF interest map's
contents from ``wire``, ``sensor.enrich`` its dispatch from ``handler``, ``sensor.run``
the always-captured set from ``state``, and ``sensor.capture`` passes the numbers the
BPF program special-cases as ``-DLANNER_NR_<NAME>``. Adding a syscall is adding a row.

A row without ``wire`` is a syscall enrichment understands but the eBPF side does not
capture: its events come from recordings or other producers of RawEvents.

The core (``lanner``) keeps the universe of syscall names rules may name
(``lanner.sources.syscall.SYSCALL_EVENT_TYPES``); a test checks every row is one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sensor import flags as F
from sensor.events import EXEC, FORK

__all__ = ["STATE_EVENT_TYPES", "SYSCALLS", "Syscall", "WireArg"]


@dataclass(frozen=True, slots=True)
class WireArg:
    """One argument the kernel side reads: its index, its name in the RawEvent, and how.

    ``conv``: ``fd`` (signed 32-bit), ``int`` (signed 64-bit), ``uint`` (unsigned
    32-bit), ``u64``, ``str``, ``sockaddr`` (read at enter), ``sockaddr_out`` (written by
    the kernel, read at exit), ``msgname`` (a msghdr's address), ``argv`` (list of str),
    ``open_how`` (a struct open_how, expanded to flags/mode/resolve), ``u64le`` (first 8
    bytes of a user struct). ``aux`` is the index of the argument holding a length
    (sockaddr) or the byte count to read (user structs).
    """

    idx: int
    name: str
    conv: str = "fd"
    aux: int = 0


@dataclass(frozen=True, slots=True)
class Syscall:
    """One syscall. ``handler`` names one of ``sensor.enrich``'s handlers (its import
    fails on a name it lacks). ``params`` ending in ``...``: the handler also passes
    through the RawEvent's other arguments as given."""

    name: str
    nr: int  # x86_64
    handler: str
    params: str
    wire: tuple[WireArg, ...] | None = None
    state: bool = False
    #: ``(idx, values)``: the kernel emits the event only when argument ``idx`` is one of
    #: ``values`` (fcntl: only the commands that make a new fd, not every F_GETFL).
    emit_if: tuple[int, tuple[int, ...]] | None = None


def _w(idx: int, name: str, conv: str = "fd", aux: int = 0) -> WireArg:
    return WireArg(idx, name, conv, aux)


_EXEC_PARAMS = (
    "res exe args tid pid ptid cwd comm env tty pgid loginuid flags cap_inheritable"
    " cap_permitted cap_effective uid trusted_exepath"
)
_SEND_RECV = "res fd size tuple addr"

# Parameter names follow Falco's event table (exit event, then the entry event's).
SYSCALLS: tuple[Syscall, ...] = (
    Syscall(
        "execve", 59, "exec", _EXEC_PARAMS + " filename",
        (_w(0, "filename", "str"), _w(1, "argv", "argv")), state=True,
    ),
    Syscall(
        "execveat", 322, "exec", _EXEC_PARAMS + " dirfd filename",
        (_w(0, "dirfd"), _w(1, "filename", "str"), _w(2, "argv", "argv"), _w(4, "flags", "uint")),
        state=True,
    ),
    Syscall(
        "open", 2, "open", "fd name flags mode dev ino",
        (_w(0, "name", "str"), _w(1, "flags", "uint"), _w(2, "mode", "uint")), state=True,
    ),
    Syscall(
        "openat", 257, "open", "fd dirfd name flags mode dev ino",
        (_w(0, "dirfd"), _w(1, "name", "str"), _w(2, "flags", "uint"), _w(3, "mode", "uint")),
        state=True,
    ),
    Syscall(
        "openat2", 437, "open", "fd dirfd name flags mode resolve",
        (_w(0, "dirfd"), _w(1, "name", "str"), _w(2, "how", "open_how", 24)), state=True,
    ),
    Syscall("creat", 85, "open", "fd name mode dev ino"),
    Syscall("open_by_handle_at", 304, "open", "fd name flags mode dev ino"),
    Syscall("close", 3, "close", "res fd", (_w(0, "fd"),), state=True),
    Syscall(
        "socket", 41, "socket", "fd domain type proto",
        (_w(0, "domain", "uint"), _w(1, "type", "uint"), _w(2, "proto", "uint")), state=True,
    ),
    Syscall(
        "connect", 42, "connect", "res tuple fd addr",
        (_w(0, "fd"), _w(1, "addr", "sockaddr", 2)), state=True,
    ),
    Syscall(
        "accept", 43, "accept", "fd tuple queuepct queuelen queuemax",
        (_w(0, "sockfd"), _w(1, "addr", "sockaddr_out", 2)), state=True,
    ),
    Syscall(
        "accept4", 288, "accept", "fd tuple queuepct queuelen queuemax flags",
        (_w(0, "sockfd"), _w(1, "addr", "sockaddr_out", 2), _w(3, "flags", "uint")), state=True,
    ),
    Syscall("bind", 49, "bind", "res addr fd"),
    Syscall("listen", 50, "listen", "res fd backlog"),
    Syscall(
        "sendto", 44, "send_recv", _SEND_RECV,
        (_w(0, "fd"), _w(2, "size", "u64"), _w(4, "addr", "sockaddr", 5)),
    ),
    Syscall(
        "sendmsg", 46, "send_recv", _SEND_RECV,
        (_w(0, "fd"), _w(1, "addr", "msgname"), _w(2, "flags", "uint")),
    ),
    Syscall("recvfrom", 45, "send_recv", _SEND_RECV),
    Syscall("recvmsg", 47, "send_recv", _SEND_RECV),
    Syscall("dup", 32, "dup", "res oldfd", (_w(0, "oldfd"),), state=True),
    Syscall("dup2", 33, "dup", "res oldfd newfd", (_w(0, "oldfd"), _w(1, "newfd")), state=True),
    Syscall(
        "dup3", 292, "dup", "res oldfd newfd flags",
        (_w(0, "oldfd"), _w(1, "newfd"), _w(2, "flags", "uint")), state=True,
    ),
    # fcntl(F_DUPFD / F_DUPFD_CLOEXEC) makes a new fd as dup does (``exec 0<&3`` in some
    # shells); the other commands are frequent and change no fd, so the kernel drops them.
    Syscall(
        "fcntl", 72, "fcntl", "res fd cmd",
        (_w(0, "fd"), _w(1, "cmd", "uint")), state=True,
        emit_if=(1, (F.F_DUPFD, F.F_DUPFD_CLOEXEC)),
    ),
    Syscall(
        "ptrace", 101, "ptrace", "res addr data request pid",
        (_w(0, "request", "int"), _w(1, "pid")),
    ),
    Syscall(
        "symlink", 88, "symlink", "res target linkpath",
        (_w(0, "target", "str"), _w(1, "linkpath", "str")),
    ),
    Syscall(
        "symlinkat", 266, "symlink", "res target linkdirfd linkpath",
        (_w(0, "target", "str"), _w(1, "linkdirfd"), _w(2, "linkpath", "str")),
    ),
    Syscall(
        "link", 86, "link_like", "res oldpath newpath",
        (_w(0, "oldpath", "str"), _w(1, "newpath", "str")),
    ),
    Syscall(
        "linkat", 265, "link_like", "res olddir oldpath newdir newpath flags",
        (
            _w(0, "olddir"), _w(1, "oldpath", "str"), _w(2, "newdir"), _w(3, "newpath", "str"),
            _w(4, "flags", "uint"),
        ),
    ),
    Syscall(
        "rename", 82, "link_like", "res oldpath newpath",
        (_w(0, "oldpath", "str"), _w(1, "newpath", "str")),
    ),
    Syscall(
        "renameat", 264, "link_like", "res olddirfd oldpath newdirfd newpath",
        (_w(0, "olddirfd"), _w(1, "oldpath", "str"), _w(2, "newdirfd"), _w(3, "newpath", "str")),
    ),
    Syscall(
        "renameat2", 316, "link_like", "res olddirfd oldpath newdirfd newpath flags",
        (
            _w(0, "olddirfd"), _w(1, "oldpath", "str"), _w(2, "newdirfd"),
            _w(3, "newpath", "str"), _w(4, "flags", "uint"),
        ),
    ),
    Syscall("unlink", 87, "one_path", "res path", (_w(0, "path", "str"),)),
    Syscall(
        "unlinkat", 263, "one_path", "res dirfd name flags",
        (_w(0, "dirfd"), _w(1, "name", "str"), _w(2, "flags", "uint")),
    ),
    Syscall(
        "mkdir", 83, "one_path", "res path mode", (_w(0, "path", "str"), _w(1, "mode", "uint"))
    ),
    Syscall(
        "mkdirat", 258, "one_path", "res dirfd path mode",
        (_w(0, "dirfd"), _w(1, "path", "str"), _w(2, "mode", "uint")),
    ),
    Syscall("rmdir", 84, "one_path", "res path"),
    Syscall(
        "chmod", 90, "one_path", "res filename mode",
        (_w(0, "filename", "str"), _w(1, "mode", "uint")),
    ),
    Syscall(
        "fchmodat", 268, "one_path", "res dirfd filename mode",
        (_w(0, "dirfd"), _w(1, "filename", "str"), _w(2, "mode", "uint")),
    ),
    Syscall("fchmod", 91, "fd_only", "res fd mode", (_w(0, "fd"), _w(1, "mode", "uint"))),
    # The working directory: relative paths (``cat shadow`` in /etc) resolve against it.
    Syscall("chdir", 80, "one_path", "res path", (_w(0, "path", "str"),), state=True),
    Syscall("fchdir", 81, "fd_only", "res fd", (_w(0, "fd"),), state=True),
    # fexecve() of a memfd: when the program exits before /proc/<pid>/exe can be read,
    # only the memfd_create seen earlier tells that it ran from memory.
    Syscall(
        "memfd_create", 319, "memfd", "fd name flags",
        (_w(0, "name", "str"), _w(1, "flags", "uint")), state=True,
    ),
    Syscall(
        "init_module", 175, "module", "res length uargs",
        (_w(1, "length", "u64"), _w(2, "uargs", "str")),
    ),
    Syscall(
        "finit_module", 313, "module", "res fd uargs flags",
        (_w(0, "fd"), _w(1, "uargs", "str"), _w(2, "flags", "uint")),
    ),
    Syscall("setuid", 105, "generic", "res uid", (_w(0, "uid", "uint"),)),
    Syscall("setgid", 106, "generic", "res gid", (_w(0, "gid", "uint"),)),
    Syscall("bpf", 321, "generic", "res cmd", (_w(0, "cmd", "int"),)),
    Syscall("setpgid", 109, "setpgid", "res pid pgid"),
    Syscall("setsid", 112, "setsid", "res"),
    Syscall("pipe", 22, "pipe", "res fd1 fd2"),
    Syscall("pipe2", 293, "pipe", "res fd1 fd2"),
    Syscall("fstat", 5, "fd_only", "res fd ..."),
    Syscall("read", 0, "fd_only", "res fd ..."),
    Syscall("write", 1, "fd_only", "res fd ..."),
    Syscall("ioctl", 16, "fd_only", "res fd ..."),
    Syscall("getdents", 78, "fd_only", "res fd ..."),
    Syscall("getdents64", 217, "fd_only", "res fd ..."),
    # The clone family: also stashed (not emitted) when fork events are wanted, so that
    # the fork program can tell a new thread from a new process by the clone flags.
    # The fork(2) syscall is left out: "fork" names the sched_process_fork event.
    Syscall("clone", 56, "generic", "res flags", (_w(0, "flags", "u64"),), state=True),
    Syscall("clone3", 435, "generic", "res flags", (_w(0, "flags", "u64le", 8),), state=True),
    Syscall("vfork", 58, "generic", "res", (), state=True),
)  # fmt: skip

# Event types the state needs whatever the rules say: the rows' ``state``, the process
# tree's forks, and the sched exec, which brings what the kernel knows of a new program
# (its name for the file, tty, capabilities) before the execve result.
STATE_EVENT_TYPES: frozenset[str] = frozenset(
    {s.name for s in SYSCALLS if s.state} | {FORK, EXEC}
)
