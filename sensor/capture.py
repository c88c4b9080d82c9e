"""Load ``bpf/sensor.bpf.c`` with bcc, attach what the rules need, and read RawEvents.

    with Capture({"openat", "execve", "connect"}) as cap:
        while True:
            for ev in cap.poll(100):
                ...

Only the tracepoints of the requested syscalls are attached: a syscall no rule needs
costs nothing. A syscall without a tracepoint of its own on this kernel is one the
kernel was built without (init_module when modules are compiled out): it is not traced,
and start-up says so, because raw_syscalls, the only other hook, runs on every syscall
of the machine (an untraced getppid() cost 83-96 ns with per-syscall tracepoints against
150-165 ns with raw_syscalls attached). The sensor's own process is excluded in the
kernel so reading events does not generate more.

Measured (kernel 6.18): an open+close loop pinned to
one CPU, the ring buffer emptied unread from the other (medians of 11 interleaved rounds,
a 2-CPU VM): empty programs on the same exit tracepoints add 7-9% to the loop; the
sensor's programs add 265-320 ns per event above that (560-590 before the task fields
were read at BTF offsets, the registers as plain loads, the excluded pids inline, the
wakeups rate-limited and integer-only events written in place: see sensor.bpf.c), of
which the path read, the clock and the ring buffer are about 60%. With the ring buffer
full, a dropped event costs ~120 ns above the floor (~500 before: it was built first).

The kernel also filters: ``emit_if`` rows of :mod:`sensor.syscalls` (fcntl only for the
commands that make an fd), ``state_only`` types only when they succeed, excluded pids.
Records are committed without waking the reader, which is woken at most once per
:data:`WAKE_INTERVAL_NS` per CPU: a record may wait that long, or until the reader's own
poll timeout when its CPU's wakeup was just spent, before :meth:`Capture.poll` sees it.

:meth:`Capture.poll` returns at most ``max_events`` per call and leaves the rest in the
ring buffer, so a flood costs a fixed amount of memory (the ring buffer) and shows up
as ``ringbuf_full`` drops rather than as a growing list in this process. It reads the
ring buffer through the kernel's mapping of it (:mod:`sensor.ringbuf`): a batch of
records is one copy and one :func:`sensor.decode.decode_many`, where bcc's
``ring_buffer_poll`` makes a ctypes callback, a copy and a decode call per record. Where
the mapping is refused, bcc's callback still works, and start-up says so.

Everything that knows the wire format lives in :mod:`sensor.decode`; this module only
loads, configures, attaches and polls.
"""

from __future__ import annotations

import ctypes as ct
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from lanner.resources import data_dir
from sensor import decode as wire
from sensor import ringbuf
from sensor.btf import exec_fact_defines, task_field_defines
from sensor.decode import EVENT_SPECS, SYSCALL_NUMBERS, DecodeError
from sensor.events import EXEC, EXIT, FORK, RawEvent
from sensor.headers import HeadersNotFound, find_headers
from sensor.ringbuf import RingReader
from sensor.syscalls import SYSCALLS

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
_SC_EMIT = 4
_SC_EARLY = 8
_SC_OK_ONLY = 16
_SC_FIXED = 32
_EMIT_IF_MAX = 4  # bpf/events.h
_EXCL_INLINE = 8
_EXCL_HASH = 0xFFFFFFFF
# Argument kinds whose aux is the index of another argument (the sockaddr's length).
_AUX_IS_INDEX = frozenset({wire.K_SOCKADDR, wire.K_SOCKADDR_OUT})

#: The BPF side wakes a waiting reader at most once per this many ns per CPU (sensor.bpf.c's
#: rb_flags): a wakeup per event costs a self-IPI, and a reader that keeps pace would take
#: one for nearly every event. Also the longest an event waits when its CPU's wakeup has just
#: been spent, unless the reader's own poll timeout comes first.
WAKE_INTERVAL_NS = 5_000_000

#: Kernel-side emit conditions from sensor.syscalls' rows: name -> (argument, values).
_EMIT_IF: dict[str, tuple[int, tuple[int, ...]]] = {
    s.name: s.emit_if for s in SYSCALLS if s.emit_if is not None
}

#: Syscalls whose failure still changes state, so ``state_only`` cannot drop their
#: failures: a non-blocking connect fails with EINPROGRESS yet names its peer (enrich).
_FAILURE_KEEPS_STATE = frozenset({"connect"})



#: The longest a :meth:`Capture.poll` waits without reading the ring buffer (see there).
WAIT_SLICE_MS = 50

#: Events one :meth:`Capture.poll` returns at most, unless told otherwise.
DEFAULT_POLL_MAX = 4096


class CaptureError(RuntimeError):
    """The sensor cannot start here; the message says what to install or do."""


def syscall_number_defines() -> list[str]:
    """``-DLANNER_NR_EXECVE=59``...: the BPF program's syscall numbers, from sensor.syscalls'
    rows (prefixed: the kernel's own headers define NR_OPEN, as a limit)."""
    return [f"-DLANNER_NR_{name.upper()}={nr}" for name, nr in sorted(SYSCALL_NUMBERS.items())]


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


def _check_headers(progress: Callable[[str], None]) -> list[str]:
    """Chooses the header tree bcc compiles against (:mod:`sensor.headers`), points libbcc
    at it and says which; the compiler flags the tree needs besides."""
    release = platform.release()
    try:
        tree = find_headers(release, platform.machine())
    except HeadersNotFound as e:
        raise CaptureError(str(e)) from None
    tree.apply(os.environ)  # libbcc reads BCC_KERNEL_SOURCE from the C environment
    progress(f"compiling the probes against {tree.describe(release)}")
    return list(tree.cflags)


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


def _fill_interest(leaf: Any, name: str, flags: int) -> None:
    """Writes what the exit program reads for syscall ``name`` into an interest map leaf
    (``struct interest``, bpf/events.h), its SC_* ``flags`` included."""
    spec = EVENT_SPECS[name]
    for p in spec.params:
        leaf.kind[p.idx] = p.kind
        leaf.aux[p.idx] = p.aux
    ints = sorted(p.idx for p in spec.params if p.kind == wire.K_INT)
    if not flags & _SC_EARLY and ints == list(range(len(spec.params))):
        # Integers only, at 0..n-1: a fixed size, written into the ring buffer in place.
        flags |= _SC_FIXED
        leaf.nfixed = len(spec.params)
    # The registers the exit reads: the arguments, and the lengths sockaddrs name.
    regs = [p.idx for p in spec.params]
    regs += [p.aux for p in spec.params if p.kind in _AUX_IS_INDEX]
    emit_if = _EMIT_IF.get(name)
    # A row with more values than the kernel holds is not filtered: every call is emitted.
    if emit_if is not None and emit_if[0] < 6 and len(emit_if[1]) <= _EMIT_IF_MAX:
        idx, values = emit_if
        leaf.emit_if_idx, leaf.emit_if_n = idx, len(values)
        for i, v in enumerate(values):
            leaf.emit_if_val[i] = v & 0xFFFFFFFF
        regs.append(idx)
    leaf.nregs = min(6, max(regs, default=-1) + 1)
    leaf.flags = flags


class Capture:
    """Kernel events of the given types as RawEvents.

    ``event_types`` are names from :func:`supported_event_types`; names it does not
    support are ignored and listed in :attr:`unsupported` (rules name many syscalls the
    sensor does not trace). ``exclude_pids`` are process ids (tgids) whose events are
    dropped in the kernel; the sensor's own process always is. ``ringbuf_pages`` is the
    ring buffer size in pages (a power of two). ``progress`` is told, one line at a time,
    what the slow steps are doing (which headers, attaching, a mode falling back).

    ``state_only`` names event types wanted only to keep process and fd state exact (no
    loaded rule can match them): the kernel emits those only when the syscall succeeded,
    since a failed close, dup, fcntl, chdir, open or socket changes no state. A syscall
    whose failure can (connect: EINPROGRESS names the peer) is emitted whatever it returns.
    Rows of ``sensor.syscalls`` with ``emit_if`` are filtered in the kernel on that argument
    (fcntl: only the commands that make a new fd).
    """

    def __init__(
        self,
        event_types: Iterable[str],
        exclude_pids: Iterable[int] = (),
        ringbuf_pages: int = 256,
        progress: Callable[[str], None] | None = None,
        state_only: Collection[str] = (),
    ) -> None:
        say = progress or (lambda _line: None)
        self._bpf: Any = None
        self._pending: list[RawEvent] = []
        self._poll_limit = DEFAULT_POLL_MAX
        self._events = 0
        self._decode_errors = 0
        self._reader: RingReader | None = None
        #: How records are read: "mmap" (the ring buffer's own mapping, many records per
        #: call) or "callback" (bcc's per-record callback, when the mapping is refused).
        self.read_mode = "callback"
        #: When a list, every ring-buffer record's bytes are appended to it as read
        #: (bench/sensor.py records workloads this way).
        self.recording: list[bytes] | None = None
        #: Where sc_exit finds a syscall's arguments: "regs" (the task's saved registers,
        #: no enter program), or a stash the enter program fills: "task_storage" or "hash".
        self.stash_kind = "hash"
        wanted = frozenset(event_types)
        self.unsupported: frozenset[str] = wanted - EVENT_SPECS.keys()
        #: Wanted syscalls this kernel does not have (no tracepoint): not traced.
        self.not_in_kernel: frozenset[str] = frozenset()
        self.event_types: frozenset[str] = wanted & EVENT_SPECS.keys()
        #: Event types emitted only on success (see the class docstring).
        self.state_only: frozenset[str] = (
            frozenset(state_only) & self.event_types & SYSCALL_NUMBERS.keys()
        ) - _FAILURE_KEEPS_STATE
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
        header_flags = _check_headers(say)

        #: Task fields the exec program reads, at offsets from the kernel's BTF; its
        #: ``missing`` is the one warning line when some fall back to /proc.
        self.exec_facts = exec_fact_defines()
        if self.exec_facts.missing:
            say(self.exec_facts.missing)
        cflags = [
            f"-I{BPF_DIR}",
            f"-DRINGBUF_PAGES={ringbuf_pages}",
            *syscall_number_defines(),
            *self.exec_facts.defines,
        ]
        cflags += header_flags
        exit_format = tracefs / "events/sched/sched_process_exit/format"
        if exit_format.exists() and "group_dead" in exit_format.read_text():
            cflags.append("-DHAVE_GROUP_DEAD")
        # Cheapest first. "regs": the exit program reads the arguments from the task's
        # saved registers, so most syscalls need no enter program and no stash. Otherwise
        # every traced syscall also runs an enter program that stashes its arguments: in
        # task-local storage (a pointer lookup) or, slowest, in a hash keyed by thread id (an
        # insert and a delete per syscall). The first two need kernel BTF
        # (bpf_get_current_task_btf); without BTF, or if the verifier refuses them, the hash.
        kinds = ["regs", "task_storage", "hash"] if _BTF_VMLINUX.exists() else ["hash"]
        if len(kinds) == 1:
            say(
                f"this kernel has no BTF ({_BTF_VMLINUX}): syscall arguments are stashed in a "
                "hash map at entry, the slower way"
            )
        kind_flags = {
            "regs": ["-DARGS_FROM_REGS"],
            "task_storage": ["-DSTASH_TASK_STORAGE"],
            "hash": [],
        }
        # The task's ids, credentials, cgroup and comm as loads at BTF offsets rather than
        # four helper calls (~90 ns of the ~590 an open+close event cost); should the
        # verifier refuse those loads, the same mode is tried again with the helpers.
        task_fields = task_field_defines() if _BTF_VMLINUX.exists() else []
        attempts = [(kind, kind_flags[kind], False) for kind in kinds]
        if task_fields:
            attempts.insert(0, ("regs", [*kind_flags["regs"], *task_fields], True))
        #: Whether the header's task fields are loaded at BTF offsets (else helpers).
        self.task_from_btf = False
        for i, (kind, kflags, from_btf) in enumerate(attempts):
            flags = [*cflags, *kflags]
            try:
                self._bpf = bcc.BPF(src_file=str(BPF_SOURCE).encode(), cflags=flags)
            except Exception as e:
                raise CaptureError(
                    f"compiling {BPF_SOURCE} failed (compiler output above): {e}; if that "
                    "output says 'Operation not permitted', the kernel refused the maps "
                    "(seccomp profile, kernel lockdown); otherwise the header tree named above "
                    "may not suit this source (LANNER_KERNEL_HEADERS picks another)"
                ) from e
            # The wall clock minus the BPF clock (CLOCK_MONOTONIC), for epoch timestamps.
            self._clock_offset = time.time_ns() - time.monotonic_ns()
            say("attaching the probes")
            try:
                self._configure(tracefs, {os.getpid(), *exclude_pids}, kind == "regs")
                self._open_reader(say)
            except Exception as e:
                self.close()
                if i == len(attempts) - 1:
                    # bcc raises bare Exceptions ("Need super-user privileges to run" for
                    # any EPERM): one line for the user, not a traceback.
                    raise CaptureError(f"attaching the probes failed: {e}") from e
                nxt = attempts[i + 1][0]
                how = " with helpers for the task fields" if nxt == kind else ""
                say(f"the kernel refused the {kind!r} probes ({e}); trying {nxt!r}{how}")
                continue
            self.stash_kind = kind
            self.task_from_btf = from_btf
            say(f"attached {self._bpf.num_open_tracepoints()} tracepoints")
            if self.not_in_kernel:
                say(
                    f"not traced: {', '.join(sorted(self.not_in_kernel))} (this kernel was built "
                    "without them: calls can only fail with ENOSYS)"
                )
            break

    # --- setup ---------------------------------------------------------------------

    def _configure(self, tracefs: Path, exclude: set[int], from_regs: bool = False) -> None:
        """Fills the maps and attaches. ``from_regs``: the exit program reads arguments from
        the saved registers, so only SC_EARLY syscalls get an enter program and nothing
        is stashed on fork's behalf."""
        b = self._bpf
        # A few tgids are compared inline (cpu_state.excl); past EXCL_INLINE, all go to the
        # hash. The settings are per CPU so that an event reads one cache line for them.
        cpu_state = b[b"cpu_state"]
        conf = cpu_state.sLeaf()
        conf.wake_ns = WAKE_INTERVAL_NS
        if len(exclude) <= _EXCL_INLINE:
            conf.nexcl = len(exclude)
            for i, pid in enumerate(sorted(exclude)):
                conf.excl[i] = pid
        else:
            conf.nexcl = _EXCL_HASH
            excluded = b[b"excluded"]
            for pid in exclude:
                excluded[ct.c_uint32(pid)] = ct.c_uint8(1)
        per_cpu = cpu_state.Leaf()
        for i in range(len(per_cpu)):
            per_cpu[i] = conf
        cpu_state[ct.c_int(0)] = per_cpu

        # Event types to emit, plus syscalls only stashed on others' behalf.
        stash_only: set[str] = set()
        if FORK in self.event_types and not from_regs:
            stash_only |= {"clone", "clone3"}
        syscalls = {t for t in self.event_types if t in SYSCALL_NUMBERS} | stash_only
        # A syscall without a tracepoint of its own is one this kernel was built without
        # (init_module and finit_module with modules compiled out): it can only fail with
        # ENOSYS. Catching those attempts would need raw_syscalls, which runs on every
        # syscall of the machine, so they are not traced; start-up names them.
        self.not_in_kernel = frozenset(n for n in syscalls if not _has_tracepoint(tracefs, n))
        syscalls -= self.not_in_kernel
        interest = b[b"interest"]
        for name in sorted(syscalls):
            spec = EVENT_SPECS[name]
            flags = _SC_TP
            if name in self.event_types:
                flags |= _SC_EMIT
            if any(p.kind == wire.K_ARGV for p in spec.params):
                # exec: argv and filename are gone from user memory once it succeeds.
                flags |= _SC_EARLY
            if name in self.state_only:
                flags |= _SC_OK_ONLY
            with_enter = not from_regs or bool(flags & _SC_EARLY)
            leaf = interest.Leaf()
            _fill_interest(leaf, name, flags)
            interest[ct.c_int(spec.type_id)] = leaf
            if with_enter:
                enter = f"sc_enter_{_tp_nargs(tracefs, name)}".encode()
                b.attach_tracepoint(tp=f"syscalls:sys_enter_{name}".encode(), fn_name=enter)
            b.attach_tracepoint(tp=f"syscalls:sys_exit_{name}".encode(), fn_name=b"sc_exit")

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

    def _open_reader(self, say: Callable[[str], None]) -> None:
        """Reads the ring buffer through its own mapping (:mod:`sensor.ringbuf`), or through
        bcc's per-record callback where the kernel or the architecture does not allow that."""
        table = self._bpf[b"events"]
        if ringbuf.supported():
            try:
                self._reader = RingReader(table.map_fd, table.max_entries)
            except (OSError, ValueError) as e:
                why = f"mapping it failed: {e}"
            else:
                self.read_mode = "mmap"
                return
        else:
            why = f"reading it directly needs x86-64's memory ordering, not {platform.machine()}'s"
        say(f"reading the ring buffer through bcc's per-record callback, the slower way ({why})")
        table.open_ring_buffer(self._on_event)

    def _on_event(self, _ctx: Any, data: Any, size: int) -> int:
        raw = ct.string_at(data, size)
        if self.recording is not None:
            self.recording.append(raw)
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

        Records are read in one batch from the ring buffer's mapping and decoded together
        (:func:`sensor.decode.decode_many`); a record that does not decode is counted
        (``decode_errors``) and left out.
        """
        if self._bpf is None:
            raise CaptureError("poll() on a closed Capture")
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, not {max_events}")
        # The kernel side wakes the reader at most once per WAKE_INTERVAL_NS per CPU
        # (``wake_ns`` in sensor.bpf.c), so records committed since the last wakeup do not
        # make epoll report the ring buffer: a wait is cut into slices of WAIT_SLICE_MS and
        # the ring is read after each, woken or not. A burst's last events wait a slice.
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000

        def next_wait() -> int:
            if deadline is None:
                return WAIT_SLICE_MS
            return min(WAIT_SLICE_MS, math.ceil((deadline - time.monotonic()) * 1000))

        reader = self._reader
        if reader is None:
            self._poll_limit = max_events
            while True:
                if not self._pending:
                    self._bpf.ring_buffer_consume()
                left = next_wait()
                if self._pending or left <= 0:
                    break
                self._bpf.ring_buffer_poll(left)
            out, self._pending = self._pending, []
            return out
        blob, spans = reader.read(max_events)
        while not spans and timeout_ms != 0:
            left = next_wait()
            if left <= 0:
                break
            reader.wait(left)
            blob, spans = reader.read(max_events)
        if not spans:
            return []
        if self.recording is not None:
            self.recording.extend(blob[start:end] for start, end in spans)
        out, errors = wire.decode_many(blob, spans, self._clock_offset)
        self._events += len(out)
        self._decode_errors += errors
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
        if self._reader is not None:
            r, self._reader = self._reader, None
            r.close()
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
