"""Load ``bpf/sensor.bpf.c`` with bcc, attach what the rules need, and read RawEvents.

    with Capture({"openat", "execve", "connect"}) as cap:
        while True:
            for ev in cap.poll(100):
                ...

Only the tracepoints of the requested syscalls are attached: a syscall no rule needs
costs nothing. A syscall without a tracepoint of its own on this kernel (init_module
when modules are compiled out) is caught by raw_syscalls instead, which runs on every
syscall, so that path is taken only when needed. The sensor's own process is excluded
in the kernel so reading events does not generate more.

Measured (kernel 6.18, one core, a C loop; tracing openat only): an untraced getppid()
cost 83-96 ns with per-syscall tracepoints (no measurable change) against 150-165 ns
with the raw_syscalls filter, which runs on every syscall. Tracing both openat and
close (consumer paused, so only the kernel side counts; medians of 16 interleaved
on/off pairs, pinned to one CPU, noisy shared machine): an openat+close pair went from
about 540 ns to 1.86-1.96x that with the stash in task storage, 2.12-2.23x with the
hash fallback, against 2.6-2.8x when every enter wrote the whole event record into the
hash. About 1.4x of it is the tracepoints and programs themselves. Reading the arguments
at exit from the saved registers instead (no enter program, no stash; kernels with BTF):
+107% against +145% for task storage (A/B, 7 interleaved rounds, a ring buffer large
enough that every event is copied). Of the rest, exit-only tracepoints running empty
programs cost ~+60%; building and submitting the two events ~+50 points (bpf_ktime_get_ns
~15 of them, comm ~5, the ring-buffer submit ~15).

:meth:`Capture.poll` returns at most ``max_events`` per call and leaves the rest in the
ring buffer, so a flood costs a fixed amount of memory (the ring buffer) and shows up
as ``ringbuf_full`` drops rather than as a growing list in this process.

Everything that knows the wire format lives in :mod:`sensor.decode`; this module only
loads, configures, attaches and polls.
"""

from __future__ import annotations

import ctypes as ct
import os
import platform
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from lanner.resources import data_dir
from sensor import decode as wire
from sensor.decode import EVENT_SPECS, SYSCALL_NUMBERS, DecodeError
from sensor.events import EXEC, EXIT, FORK, RawEvent

__all__ = [
    "DEFAULT_POLL_MAX",
    "SYSCALL_NUMBERS",
    "Capture",
    "CaptureError",
    "supported_event_types",
    "syscall_number_defines",
]

# sensor/bpf/ in a wheel, bpf/ at the top of a checkout (see lanner.resources).
BPF_DIR = data_dir(Path(__file__).resolve().parent, "bpf")
BPF_SOURCE = BPF_DIR / "sensor.bpf.c"
_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
_TRACEFS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
_BTF_VMLINUX = Path("/sys/kernel/btf/vmlinux")
_PROC_STATUS = Path("/proc/self/status")
_CAP_LAST_CAP = Path("/proc/sys/kernel/cap_last_cap")

# Capability numbers (linux/capability.h). CAP_BPF and CAP_PERFMON exist since 5.8; before
# that, and still as an alternative to both, CAP_SYS_ADMIN.
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39
_CAP_NAMES = {CAP_SYS_ADMIN: "CAP_SYS_ADMIN", CAP_PERFMON: "CAP_PERFMON", CAP_BPF: "CAP_BPF"}

_SC_TP = 1
_SC_RAW = 2
_SC_EMIT = 4
_SC_EARLY = 8


#: Events one :meth:`Capture.poll` returns at most, unless told otherwise.
DEFAULT_POLL_MAX = 4096


class CaptureError(RuntimeError):
    """The sensor cannot start here; the message says what to install or do."""


def syscall_number_defines() -> list[str]:
    """``-DNR_EXECVE=59``...: the BPF program's syscall numbers, from sensor.syscalls' rows."""
    return [f"-DNR_{name.upper()}={nr}" for name, nr in sorted(SYSCALL_NUMBERS.items())]


def supported_event_types() -> frozenset[str]:
    """Event types a Capture can produce: syscall names plus fork, exec and procexit."""
    return frozenset(EVENT_SPECS)


def _tracefs() -> Path:
    for p in _TRACEFS:
        if (p / "events").is_dir():
            return p
    raise CaptureError(
        "tracefs is not mounted: run `mount -t tracefs nodev /sys/kernel/tracing` "
        "(in a container, mount the host's /sys/kernel/tracing)"
    )


def _import_bcc() -> Any:
    try:
        import bcc
    except ImportError:
        # Debian ships bcc for the system interpreter only; a venv or pyenv Python
        # can use it as long as the minor versions match.
        if _DIST_PACKAGES not in sys.path and Path(_DIST_PACKAGES, "bcc").is_dir():
            sys.path.append(_DIST_PACKAGES)
        try:
            import bcc
        except ImportError as e:
            raise CaptureError(
                "the bcc Python module is missing: `apt-get install python3-bpfcc "
                f"linux-headers-amd64` (looked in sys.path and {_DIST_PACKAGES}): {e}"
            ) from e
    return bcc


def _check_headers() -> None:
    release = platform.release()
    build = Path("/lib/modules") / release / "build"
    if not (build / "include").is_dir() and not (build / "Makefile").exists():
        raise CaptureError(
            f"kernel headers for {release} not found at {build}: `apt-get install "
            "linux-headers-amd64`, then if the running kernel has no package of its own, "
            f"link the installed ones: `ln -s /usr/src/linux-headers-<version>-amd64 {build}` "
            f"and `ln -s /usr/src/linux-headers-<version>-common /lib/modules/{release}/source`"
        )


def missing_capabilities(status: str, last_cap: int | None = None) -> list[str]:
    """The capabilities loading and attaching the probes needs that ``status`` (the text of
    /proc/<pid>/status) does not have in CapEff; empty when they are all there or CapEff
    cannot be read (then bcc's own error is all there is).

    ``last_cap`` is the kernel's highest capability (/proc/sys/kernel/cap_last_cap): a
    kernel that predates CAP_BPF needs CAP_SYS_ADMIN. None: assume a kernel that has it.
    """
    eff = None
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key == "CapEff":
            try:
                eff = int(value.strip(), 16)
            except ValueError:
                return []
    if eff is None or eff >> CAP_SYS_ADMIN & 1:
        return []
    if last_cap is not None and last_cap < CAP_BPF:
        return [_CAP_NAMES[CAP_SYS_ADMIN]]
    return [_CAP_NAMES[c] for c in (CAP_BPF, CAP_PERFMON) if not eff >> c & 1]


def _check_capabilities() -> None:
    try:
        status = _PROC_STATUS.read_text()
    except OSError:
        return
    try:
        last_cap: int | None = int(_CAP_LAST_CAP.read_text())
    except (OSError, ValueError):
        last_cap = None
    missing = missing_capabilities(status, last_cap)
    if missing:
        # Without this, bcc fails later as a compile error ("check the kernel headers") or
        # a traceback: the one thing to fix is a line in the pod's securityContext.
        need = (
            "CAP_SYS_ADMIN (this kernel predates CAP_BPF)"
            if missing == ["CAP_SYS_ADMIN"]
            else "CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)"
        )
        raise CaptureError(
            f"loading eBPF programs needs {need}; this process lacks {' and '.join(missing)}: "
            f"add {'it' if len(missing) == 1 else 'them'} to the container's "
            "securityContext.capabilities.add (without the CAP_ prefix), or run the sensor "
            "without dropping capabilities"
        )


def _has_tracepoint(tracefs: Path, name: str) -> bool:
    return (tracefs / f"events/syscalls/sys_enter_{name}").is_dir()


def _tp_nargs(tracefs: Path, name: str) -> int:
    """How many arguments the syscall's enter tracepoint records (its fields past
    ``__syscall_nr``): the enter program may read no further."""
    text = (tracefs / f"events/syscalls/sys_enter_{name}/format").read_text()
    fields = [ln for ln in text.splitlines() if ln.strip().startswith("field:")]
    return min(6, max(0, sum(1 for ln in fields if "common_" not in ln) - 1))


class Capture:
    """Kernel events of the given types as RawEvents.

    ``event_types`` are names from :func:`supported_event_types`; names it does not
    support are ignored and listed in :attr:`unsupported` (rules name many syscalls the
    sensor does not trace). ``exclude_pids`` are process ids (tgids) whose events are
    dropped in the kernel; the sensor's own process always is. ``ringbuf_pages`` is the
    ring buffer size in pages (a power of two).
    """

    def __init__(
        self,
        event_types: Iterable[str],
        exclude_pids: Iterable[int] = (),
        ringbuf_pages: int = 256,
    ) -> None:
        self._bpf: Any = None
        self._pending: list[RawEvent] = []
        self._poll_limit = DEFAULT_POLL_MAX
        self._events = 0
        self._decode_errors = 0
        #: Where sc_exit finds a syscall's arguments: "regs" (the task's saved registers,
        #: no enter program), or a stash the enter program fills: "task_storage" or "hash".
        self.stash_kind = "hash"
        wanted = frozenset(event_types)
        self.unsupported: frozenset[str] = wanted - EVENT_SPECS.keys()
        self.event_types: frozenset[str] = wanted & EVENT_SPECS.keys()
        if ringbuf_pages <= 0 or ringbuf_pages & (ringbuf_pages - 1):
            raise ValueError(f"ringbuf_pages must be a power of two, not {ringbuf_pages}")
        if platform.machine() != "x86_64":
            raise CaptureError(
                f"the syscall table is x86_64's; this machine is {platform.machine()}"
            )
        if os.geteuid() != 0:
            raise CaptureError("loading eBPF programs needs root (CAP_BPF and CAP_PERFMON)")
        _check_capabilities()
        tracefs = _tracefs()
        bcc = _import_bcc()
        _check_headers()

        cflags = [f"-I{BPF_DIR}", f"-DRINGBUF_PAGES={ringbuf_pages}", *syscall_number_defines()]
        exit_format = tracefs / "events/sched/sched_process_exit/format"
        if exit_format.exists() and "group_dead" in exit_format.read_text():
            cflags.append("-DHAVE_GROUP_DEAD")
        # Cheapest first. "regs": the exit program reads the arguments from the task's
        # saved registers, so most syscalls need no enter program and no stash (open+close,
        # consumer paused: +107% against +145% with task storage). The per-syscall stash in
        # task-local storage costs a pointer lookup where a hash keyed by thread id costs
        # an insert and a delete per syscall (about 1.9x against 2.2x the bare loop). The
        # first two need kernel BTF (bpf_get_current_task_btf); without BTF, or if the
        # verifier refuses them, the hash.
        kinds = ["regs", "task_storage", "hash"] if _BTF_VMLINUX.exists() else ["hash"]
        kind_flags = {
            "regs": ["-DARGS_FROM_REGS"],
            "task_storage": ["-DSTASH_TASK_STORAGE"],
            "hash": [],
        }
        for i, kind in enumerate(kinds):
            flags = [*cflags, *kind_flags[kind]]
            try:
                self._bpf = bcc.BPF(src_file=str(BPF_SOURCE).encode(), cflags=flags)
            except Exception as e:
                raise CaptureError(
                    f"compiling {BPF_SOURCE} failed (compiler output above): {e}; if that "
                    "output says 'Operation not permitted', the kernel refused the maps "
                    "(seccomp profile, kernel lockdown); otherwise check that the kernel "
                    "headers match the running kernel"
                ) from e
            # The wall clock minus the BPF clock (CLOCK_MONOTONIC), for epoch timestamps.
            self._clock_offset = time.time_ns() - time.monotonic_ns()
            try:
                self._configure(tracefs, {os.getpid(), *exclude_pids}, kind == "regs")
                self._bpf[b"events"].open_ring_buffer(self._on_event)
            except Exception as e:
                self.close()
                if i == len(kinds) - 1:
                    # bcc raises bare Exceptions ("Need super-user privileges to run" for
                    # any EPERM): one line for the user, not a traceback.
                    raise CaptureError(f"attaching the probes failed: {e}") from e
                continue
            self.stash_kind = kind
            break

    # --- setup ---------------------------------------------------------------------

    def _configure(self, tracefs: Path, exclude: set[int], from_regs: bool = False) -> None:
        """Fills the maps and attaches. ``from_regs``: the exit program reads arguments from
        the saved registers, so only SC_EARLY syscalls get an enter program and nothing
        is stashed on fork's behalf."""
        b = self._bpf
        excluded = b[b"excluded"]
        for pid in exclude:
            excluded[ct.c_uint32(pid)] = ct.c_uint8(1)

        # Event types to emit, plus syscalls only stashed on others' behalf.
        stash_only: set[str] = set()
        if FORK in self.event_types and not from_regs:
            stash_only |= {"clone", "clone3"}
        syscalls = {t for t in self.event_types if t in SYSCALL_NUMBERS} | stash_only
        need_raw = need_raw_enter = False
        interest = b[b"interest"]
        for name in sorted(syscalls):
            spec = EVENT_SPECS[name]
            has_tp = _has_tracepoint(tracefs, name)
            flags = _SC_TP if has_tp else _SC_RAW
            need_raw |= not has_tp
            if name in self.event_types:
                flags |= _SC_EMIT
            if any(p.kind == wire.K_ARGV for p in spec.params):
                # exec: argv and filename are gone from user memory once it succeeds.
                flags |= _SC_EARLY
            with_enter = not from_regs or bool(flags & _SC_EARLY)
            need_raw_enter |= not has_tp and with_enter
            leaf = interest.Leaf()
            leaf.flags = flags
            for p in spec.params:
                leaf.kind[p.idx] = p.kind
                leaf.aux[p.idx] = p.aux
            interest[ct.c_int(spec.type_id)] = leaf
            if has_tp:
                if with_enter:
                    enter = f"sc_enter_{_tp_nargs(tracefs, name)}".encode()
                    b.attach_tracepoint(tp=f"syscalls:sys_enter_{name}".encode(), fn_name=enter)
                b.attach_tracepoint(tp=f"syscalls:sys_exit_{name}".encode(), fn_name=b"sc_exit")
        if need_raw_enter:
            b.attach_tracepoint(tp=b"raw_syscalls:sys_enter", fn_name=b"sc_enter_raw")
        if need_raw:
            b.attach_tracepoint(tp=b"raw_syscalls:sys_exit", fn_name=b"sc_exit_raw")

        sched = {
            FORK: ("sched_process_fork", b"on_sched_fork"),
            EXEC: ("sched_process_exec", b"on_sched_exec"),
            EXIT: ("sched_process_exit", b"on_sched_exit"),
        }
        # The exec program also moves a stash when a non-leader thread execs.
        attach = {t for t in sched if t in self.event_types}
        if syscalls & {"execve", "execveat"}:
            attach.add(EXEC)
        for t in attach:
            tp, fn = sched[t]
            if t in self.event_types:
                leaf = interest.Leaf()
                leaf.flags = _SC_EMIT
                interest[ct.c_int(EVENT_SPECS[t].type_id)] = leaf
            b.attach_tracepoint(tp=f"sched:{tp}".encode(), fn_name=fn)

    # --- reading ---------------------------------------------------------------------

    def _on_event(self, _ctx: Any, data: Any, size: int) -> int:
        raw = ct.string_at(data, size)
        try:
            self._pending.append(wire.decode(raw, self._clock_offset))
        except DecodeError:
            self._decode_errors += 1
        else:
            self._events += 1
        # A negative return makes libbpf stop consuming after this record; the rest
        # stays in the ring buffer (and keeps it readable, so the next poll returns at once).
        return -1 if len(self._pending) >= self._poll_limit else 0

    def poll(self, timeout_ms: int, max_events: int = DEFAULT_POLL_MAX) -> list[RawEvent]:
        """Events that arrived, waiting up to ``timeout_ms`` for the first (-1: forever).

        At most ``max_events`` are returned; the rest stay in the kernel's ring buffer for
        the next call. That bounds the memory and time one call takes under a flood: a
        backlog waits in the ring buffer (a fixed size) and, if the reader stays behind,
        the kernel drops new events and counts them (``ringbuf_full`` in :meth:`stats`)
        instead of decoded events piling up in this process. A call that returns
        ``max_events`` events is a hint that more are waiting.
        """
        if self._bpf is None:
            raise CaptureError("poll() on a closed Capture")
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, not {max_events}")
        self._poll_limit = max_events
        self._bpf.ring_buffer_poll(timeout_ms)
        out, self._pending = self._pending, []
        return out

    def stats(self) -> dict[str, int]:
        """Events decoded, records that failed to decode, and kernel-side losses by reason:
        ``ringbuf_full`` (event lost), ``stash_full`` (event lost), ``no_enter`` (exit
        without its enter), ``read_failed`` (a user-memory read failed: the argument is left
        out, except an execve filename, which the exec tracepoint then supplies),
        ``scratch``."""
        out = {"events": self._events, "decode_errors": self._decode_errors}
        if self._bpf is not None:
            drops = self._bpf[b"drops"]
            for i, name in enumerate(wire.DROP_REASONS):
                out[name] = int(sum(drops[ct.c_int(i)]))
        return out

    def close(self) -> None:
        """Detach every program and free the maps; safe to call twice."""
        if self._bpf is not None:
            b, self._bpf = self._bpf, None
            b.cleanup()

    def __enter__(self) -> Capture:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
