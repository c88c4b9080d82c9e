"""The ``syscall`` source: Falco's kernel-event fields, read from the sensor's record.

The sensor decodes each kernel event into one flat dict keyed by field name::

    {"evt.type": "openat", "evt.rawtime": 1700000000123456789, "proc.name": "cat",
     "proc.aname": ["cat", "bash", "sshd", "systemd"], "fd.name": "/etc/shadow", ...}

Every extractor here reads that dict; this module does no kernel work. Conventions the
sensor must follow (and the extractors rely on):

- Strings are ``str``, numbers ``int``, flags ``bool``, ``evt.buffer`` ``bytes``.
- Addresses (``fd.cip``, ``fd.sip``, ``fd.lip``, ``fd.rip``...) are strings in dotted
  IPv4 or colon IPv6 form; ports are ``int``.
- Ancestor chains (``proc.aname``, ``proc.apid``, ``proc.aexe``, ``proc.aexepath``,
  ``proc.acmdline``, ``proc.aargs``, ``proc.aenv``) are lists where item 0 is the process
  itself, item 1 its parent, and so on; this is Falco's numbering, so ``proc.aname[2]``
  is the grandparent. Without an index these fields give a tuple of the *ancestors*
  (item 1 onwards), which a filter matches if any one matches, as Falco does.
- Keyed fields read a dict under their base name: ``evt.arg`` and ``evt.rawarg``
  (parameter name to rendered / raw value, in the event's parameter order), ``proc.env``
  (variable to value), ``thread.cgroup`` (subsystem to path), ``k8s.pod.label``,
  ``container.label`` and ``container.k8s.pod.label`` (label to value), ``fd.types``
  (fd number to type name).
- ``container.mount`` is a list of dicts with keys ``source``, ``dest``, ``mode``,
  ``rdwr`` and ``propagation``; the ``container.mount*`` fields select from it.
- ``proc.args`` is the list of arguments after argv[0] (a pre-joined string is accepted).
- ``container.id`` is ``"host"`` for processes outside containers, as in Falco.

A few fields Falco computes from others are computed here when the record lacks them
and the rule is simple (``fd.directory`` from ``fd.name``, ``proc.pname`` from
``proc.aname``, ``proc.cmdline`` from ``proc.name`` and ``proc.args``...). A value the
record does not have is ``None``: Falco's "cannot be extracted".

Falco accepts some arguments after a dot instead of in brackets (``evt.arg.flags``,
``thread.cgroup.cpuacct``, ``k8s.pod.label.app``, ``evt.type.is.open``). Rows that do
carry :data:`FLAG_DOTTED_ARG`; :meth:`FieldRegistry.resolve` resolves such names.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lanner.event import Event
from lanner.fields import (
    FLAG_ANY_ANCESTOR,
    FLAG_DOTTED_ARG,
    FLAG_DYNAMIC_TYPE,
    FLAG_EITHER_END,
    FLAG_PRINT_ONLY,
    Arg,
    Extractor,
    FieldDef,
    FieldRegistry,
    FieldType,
    Source,
    parse_integer,
    simple,
    with_arg,
)
from lanner.sources.generic import event_time_ns, format_clock, generic_fields

__all__ = [
    "FLAG_ANY_ANCESTOR",
    "FLAG_DOTTED_ARG",
    "FLAG_DYNAMIC_TYPE",
    "FLAG_EITHER_END",
    "SYSCALL_EVENT_TYPES",
    "syscall_fields",
    "syscall_source",
]

_FILTER_ONLY = "EPF_FILTER_ONLY"
_TABLE_ONLY = "EPF_TABLE_ONLY"
# Informational, as in libsinsp, whose filters still read such a field (evt.outputtime);
# FLAG_PRINT_ONLY is the flag that keeps a field out of conditions.
_PRINT_ONLY = "EPF_PRINT_ONLY"
_DEPRECATED = "EPF_DEPRECATED"
_IS_LIST = "EPF_IS_LIST"

S = FieldType.STRING
P = FieldType.FSPATH
I = FieldType.INT  # noqa: E741
U = FieldType.UINT
B = FieldType.BOOL
PID = FieldType.PID
REL = FieldType.RELTIME
ABS = FieldType.ABSTIME
DBL = FieldType.DOUBLE

Doc = Mapping[str, Any]


# --- extractor builders -------------------------------------------------------------
#
# Each builder runs once per field (or per field argument) and returns the per-event
# closure, so key names, indexes and glob patterns are settled before any event.


def _none(_ev: Event) -> None:
    return None


def _get(key: str) -> Extractor:
    def extract(ev: Event) -> Any:
        return ev.doc.get(key)

    return extract


def _get_tuple(key: str) -> Extractor:
    def extract(ev: Event) -> Any:
        v = ev.doc.get(key)
        return tuple(v) if isinstance(v, list) else v

    return extract


def _or(key: str, derive: Callable[[Doc], Any]) -> Extractor:
    """Read ``key``; when the record lacks it, compute it from other keys."""

    def extract(ev: Event) -> Any:
        doc = ev.doc
        v = doc.get(key)
        return derive(doc) if v is None else v

    return extract


def _key(key: str) -> Callable[[Doc], Any]:
    return lambda doc: doc.get(key)


def _level(chain_key: str, level: int) -> Callable[[Doc], Any]:
    def derive(doc: Doc) -> Any:
        chain = doc.get(chain_key)
        if chain is None or level >= len(chain):
            return None
        return chain[level]

    return derive


def _ancestors(
    chain_key: str,
    self_value: Callable[[Doc], Any] | None,
    parent_value: Callable[[Doc], Any] | None,
    item: Callable[[Any], Any] | None = None,
) -> Callable[[str | None], Extractor]:
    """``proc.aname`` and friends: index 0 is the process, 1 its parent, and so on.

    ``item`` turns one chain entry into the field's value (``proc.aargs`` entries may
    be argument lists).
    """

    def bind(arg: str | None) -> Extractor:
        if arg is None:

            def any_ancestor(ev: Event) -> Any:
                chain = ev.doc.get(chain_key)
                if chain is None:
                    return None
                return tuple(chain[1:] if item is None else map(item, chain[1:]))

            return any_ancestor
        level = int(arg)
        if level < 0:
            return _none
        # Without a chain, levels 0 and 1 can still come from the process's own fields.
        fallback = {0: self_value, 1: parent_value}.get(level)

        def at_level(ev: Event) -> Any:
            doc = ev.doc
            chain = doc.get(chain_key)
            if chain is None:
                return None if fallback is None else fallback(doc)
            if level >= len(chain):
                return None
            return chain[level] if item is None else item(chain[level])

        return at_level

    return bind


def _args_list(doc: Doc) -> list[str] | None:
    args = doc.get("proc.args")
    if args is None:
        return None
    if isinstance(args, str):
        return args.split()
    return list(args)


def _args_str(doc: Doc) -> str | None:
    args = doc.get("proc.args")
    if args is None or isinstance(args, str):
        return args
    return " ".join(args)


def _bind_args(arg: str | None) -> Extractor:
    if arg is None:
        return lambda ev: _args_str(ev.doc)
    index = int(arg)
    if index < 0:
        return _none

    def extract(ev: Event) -> Any:
        args = _args_list(ev.doc)
        return None if args is None or index >= len(args) else args[index]

    return extract


def _cmdline(doc: Doc) -> str | None:
    # Falco: the name, then each argument after a space.
    name = doc.get("proc.name")
    if name is None:
        return None
    args = _args_str(doc)
    return f"{name} {args}" if args else name


def _exeline(doc: Doc) -> str | None:
    # Falco always puts a space after the exe, even with no arguments.
    exe = doc.get("proc.exe")
    if exe is None:
        return None
    return f"{exe} {_args_str(doc) or ''}"


def _nargs(doc: Doc) -> int | None:
    args = _args_list(doc)
    return None if args is None else len(args)


def _lenargs(doc: Doc) -> int | None:
    args = _args_list(doc)
    return None if args is None else sum(len(a) for a in args)


def _env_map(env: Any) -> Mapping[str, Any] | None:
    """An environment as a mapping; the sensor may send a dict or ``K=V`` strings."""
    if env is None or isinstance(env, Mapping):
        return env
    if isinstance(env, str):
        return None
    out: dict[str, str] = {}
    for item in env:
        k, _, v = str(item).partition("=")
        out.setdefault(k, v)
    return out


def _env_str(env: Any) -> str | None:
    if env is None or isinstance(env, str):
        return env
    if isinstance(env, Mapping):
        return " ".join(f"{k}={v}" for k, v in env.items())
    return " ".join(str(item) for item in env)


def _bind_env(arg: str | None) -> Extractor:
    if arg is None:
        return lambda ev: _env_str(ev.doc.get("proc.env"))

    def extract(ev: Event) -> Any:
        env = _env_map(ev.doc.get("proc.env"))
        # Falco yields an empty string, not "no value", for an unset variable.
        return None if env is None else env.get(arg, "")

    return extract


def _bind_aenv(arg: str | None) -> Extractor:
    chain_key = "proc.aenv"
    if arg is None:

        def any_ancestor(ev: Event) -> Any:
            chain = ev.doc.get(chain_key)
            return None if chain is None else tuple(_env_str(e) or "" for e in chain[1:])

        return any_ancestor
    if arg.lstrip("-").isdigit():
        level = int(arg)
        if level < 0:
            return _none

        def at_level(ev: Event) -> Any:
            doc = ev.doc
            chain = doc.get(chain_key)
            if chain is None:
                return _env_str(doc.get("proc.env")) if level == 0 else None
            return _env_str(chain[level]) if level < len(chain) else None

        return at_level

    def first_ancestor_with(ev: Event) -> Any:
        # Falco looks the variable up in the parents only, nearest first, 20 levels at most.
        chain = ev.doc.get(chain_key)
        if chain is None:
            return None
        for env in chain[1:21]:
            value = (_env_map(env) or {}).get(arg)
            if value:
                return value
        return ""

    return first_ancestor_with


def _keyed(base: str, missing: Any = None) -> Callable[[str | None], Extractor]:
    """A field whose argument is a key into the dict under ``base``."""

    def bind(arg: str | None) -> Extractor:
        key = arg or ""

        def extract(ev: Event) -> Any:
            table = ev.doc.get(base)
            return None if table is None else table.get(key, missing)

        return extract

    return bind


def _event_param(base: str) -> Callable[[str | None], Extractor]:
    """``evt.arg[name]`` by parameter name, or ``evt.arg[0]`` by position."""

    def bind(arg: str | None) -> Extractor:
        key = arg or ""
        if not key.isdigit():
            return _keyed(base)(key)
        position = int(key)

        def by_position(ev: Event) -> Any:
            params = ev.doc.get(base)
            if params is None or position >= len(params):
                return None
            return list(params.values())[position]

        return by_position

    return bind


def _bind_type_is(arg: str | None) -> Extractor:
    wanted = arg or ""

    def extract(ev: Event) -> Any:
        t = ev.doc.get("evt.type")
        return None if t is None else int(t == wanted)

    return extract


def _bind_fd_types(arg: str | None) -> Extractor:
    if arg is None:

        def all_types(ev: Event) -> Any:
            types = ev.doc.get("fd.types")
            if types is None:
                return None
            values = types.values() if isinstance(types, Mapping) else types
            return tuple(dict.fromkeys(values))

        return all_types
    num = int(arg)

    def one_fd(ev: Event) -> Any:
        types = ev.doc.get("fd.types")
        if not isinstance(types, Mapping):
            return None
        t = types.get(num, types.get(str(num)))
        return None if t is None else (t,)

    return one_fd


def _labels_str(base: str, sep: str) -> Callable[[Doc], Any]:
    def derive(doc: Doc) -> Any:
        labels = doc.get(base)
        if labels is None:
            return None
        return sep.join(f"{k}:{v}" if v != "" else str(k) for k, v in labels.items())

    return derive


def _labels_tuple(base: str) -> Callable[[Doc], Any]:
    def derive(doc: Doc) -> Any:
        labels = doc.get(base)
        return None if labels is None else tuple(f"{k}:{v}" for k, v in labels.items())

    return derive


def _cgroups(doc: Doc) -> str | None:
    groups = doc.get("thread.cgroup")
    if groups is None:
        return None
    return " ".join(f"{k}={v}" for k, v in groups.items())


# --- fd helpers -----------------------------------------------------------------------


def _fd_path(doc: Doc, kinds: tuple[str, ...]) -> str | None:
    name = doc.get("fd.name")
    if not isinstance(name, str):
        return None
    kind = doc.get("fd.type")
    if kind is not None and kind not in kinds:
        return None
    return name


def _fd_directory(doc: Doc) -> str | None:
    # Falco: cut at the last '/', unless that is the first or the last character.
    name = _fd_path(doc, ("file", "directory"))
    if name is None:
        return None
    if doc.get("fd.type") == "directory":
        return name
    pos = name.rfind("/")
    if pos <= 0:
        return "/"
    return name[:pos] if pos < len(name) - 1 else name


def _fd_filename(doc: Doc) -> str | None:
    name = _fd_path(doc, ("file",))
    if name is None:
        return None
    pos = name.rfind("/")
    if pos < 0:
        return "/"
    return name[pos + 1 :] if pos < len(name) - 1 else name


def _prefixed_container(value: Callable[[Doc], Any]) -> Callable[[Doc], Any]:
    def derive(doc: Doc) -> Any:
        cid, v = doc.get("container.id"), value(doc)
        return None if cid is None or v is None else f"{cid}:{v}"

    return derive


def _either(client: str, server: str) -> Callable[[Doc], Any]:
    """Falco's fd.ip / fd.port / fd.net / fd.proto: the client's and the server's value."""

    def derive(doc: Doc) -> Any:
        values = tuple(v for v in (doc.get(client), doc.get(server)) if v is not None)
        return values or None

    return derive


# --- container mounts -----------------------------------------------------------------

_MOUNT_PARTS = ("source", "dest", "mode", "rdwr", "propagation")


def _mount_part(mount: Mapping[str, Any], part: str) -> str:
    v = mount.get(part)
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def _mount_str(mount: Mapping[str, Any]) -> str:
    return ":".join(_mount_part(mount, p) for p in _MOUNT_PARTS)


def _mounts(doc: Doc) -> str | None:
    mounts = doc.get("container.mount")
    return None if mounts is None else ",".join(_mount_str(m) for m in mounts)


def _mount_binder(part: str | None, match_on: str) -> Callable[[str | None], Extractor]:
    """Select a mount by position, or by a glob over its ``match_on`` path; give ``part``."""

    def render(mount: Mapping[str, Any]) -> str:
        return _mount_str(mount) if part is None else _mount_part(mount, part)

    def bind(arg: str | None) -> Extractor:
        key = arg or ""
        if key.lstrip("-").isdigit():
            index = int(key)

            def by_index(ev: Event) -> Any:
                mounts = ev.doc.get("container.mount")
                if mounts is None or not 0 <= index < len(mounts):
                    return None
                return render(mounts[index])

            return by_index
        matches = re.compile(fnmatch.translate(key)).match

        def by_glob(ev: Event) -> Any:
            for mount in ev.doc.get("container.mount") or ():
                if matches(str(mount.get(match_on, ""))):
                    return render(mount)
            return None

        return by_glob

    return bind


# --- derived numbers ------------------------------------------------------------------


def _since(start_key: str) -> Callable[[Doc], Any]:
    def derive(doc: Doc) -> Any:
        now, start = doc.get("evt.rawtime"), doc.get(start_key)
        if not isinstance(now, int) or not start:
            return None
        return now - start

    return derive


def _same(a: str, b: str) -> Callable[[Doc], Any]:
    def derive(doc: Doc) -> Any:
        x, y = doc.get(a), doc.get(b)
        return None if x is None or y is None else x == y

    return derive


def _fd_usage(doc: Doc) -> float | None:
    # Falco's ratio is a percentage, capped at 100, and 0 without a known limit; an
    # unknown limit here (the record lacks proc.fdlimit) is "cannot be extracted".
    limit, count = doc.get("proc.fdlimit"), doc.get("proc.fdopencount")
    if not isinstance(limit, int) or not isinstance(count, int):
        return None
    if limit <= 0:
        return 0.0
    return min(count * 100 / limit, 100.0)


_U64 = (1 << 64) - 1


def _around(arg: str | None, delta: str | None) -> Extractor:
    """``evt.around[T] = D``: T - D ms <= the event's time <= T + D ms.

    As libsinsp computes it: T and D are read as unsigned 64-bit numbers, the window
    is [time - D * 10**6, time + D * 10**6] in 64-bit unsigned arithmetic (a bound
    past 0 or 2**64 wraps, as there), and ``exists``, having no D, is a window of 0
    (the event at exactly T)."""
    assert arg is not None  # the row requires its argument
    at = parse_integer(arg, signed=False)
    d = 0 if delta is None else parse_integer(delta, signed=False) * 1_000_000 & _U64

    def around(ev: Event) -> bool:
        ts = event_time_ns(ev)
        return ts is not None and (ts - d) & _U64 <= at <= (ts + d) & _U64

    return around


def _error_count(doc: Doc) -> int | None:
    res = doc.get("evt.rawres")
    return None if res is None else int(res < 0)


def _failed(doc: Doc) -> bool | None:
    res = doc.get("evt.rawres")
    return None if res is None else res < 0


def _output_time(ev: Event) -> str | None:
    ns = ev.source.event_time(ev.doc)
    return None if ns is None else format_clock(ns)


# --- rows -------------------------------------------------------------------------------


def _row(
    name: str,
    type: FieldType,
    desc: str,
    fn: Extractor | None = None,
    *,
    is_list: bool = False,
    flags: Iterable[str] = (),
) -> FieldDef:
    if fn is None:
        fn = _get_tuple(name) if is_list else _get(name)
    return simple(name, type, desc, fn, is_list=is_list, flags=flags)


def _derived(
    name: str,
    type: FieldType,
    desc: str,
    derive: Callable[[Doc], Any],
    *,
    is_list: bool = False,
    flags: Iterable[str] = (),
) -> FieldDef:
    return simple(name, type, desc, _or(name, derive), is_list=is_list, flags=flags)


def _ancestor_row(
    name: str,
    type: FieldType,
    desc: str,
    self_value: Callable[[Doc], Any] | None,
    parent_value: Callable[[Doc], Any] | None,
    item: Callable[[Any], Any] | None = None,
) -> FieldDef:
    return with_arg(
        name,
        type,
        desc,
        _ancestors(name, self_value, parent_value, item),
        Arg.INDEX_OPTIONAL,
        flags=(FLAG_ANY_ANCESTOR,),
    )


_ANCESTOR_NOTE = (
    " [N] picks one generation: 0 is the process itself, 1 its parent, 2 its"
    " grandparent. Without an index it matches when any ancestor (not the process"
    " itself) matches."
)


def _event_rows() -> list[FieldDef]:
    dep = (_DEPRECATED,)
    table = (_TABLE_ONLY,)
    rows = [
        _row("evt.reltime", REL, "Nanoseconds elapsed since the sensor started capturing."),
        _row("evt.reltime.s", REL, "Whole seconds elapsed since the capture started."),
        _row("evt.reltime.ns", REL, "Sub-second part of evt.reltime, in nanoseconds."),
        _row("evt.asynctype", S, "For asynchronous events, their kind (e.g. 'container')."),
        _row("evt.latency", REL, "Exit-minus-enter delay of the syscall, in ns.", flags=dep),
        _row("evt.latency.s", REL, "Whole seconds of evt.latency.", flags=dep),
        _row("evt.latency.ns", REL, "Sub-second nanoseconds of evt.latency.", flags=dep),
        _row("evt.latency.quantized", U, "Log10 of evt.latency.", flags=(*dep, *table)),
        _row("evt.latency.human", S, "evt.latency written for people (e.g. 10.3ms).", flags=dep),
        _row("evt.deltatime", REL, "Nanoseconds since the previous event."),
        _row("evt.deltatime.s", REL, "Whole seconds of evt.deltatime."),
        _row("evt.deltatime.ns", REL, "Sub-second nanoseconds of evt.deltatime."),
        _row(
            "evt.outputtime",
            S,
            "Event time as printed in output lines (same as evt.time here).",
            _output_time,
            flags=(_PRINT_ONLY,),
        ),
        _row("evt.dir", S, "'>' for a syscall's entry event, '<' for its exit.", flags=dep),
        _row(
            "evt.type",
            S,
            "Name of the event: the syscall (open, execve, connect...) or an internal"
            " event such as procexit or container.",
        ),
        with_arg(
            "evt.type.is",
            U,
            "1 if the event has the type given as argument (evt.type.is.open), else 0.",
            _bind_type_is,
            Arg.KEY,
            flags=(FLAG_DOTTED_ARG,),
        ),
        _row(
            "syscall.type",
            S,
            "The syscall's name, only for events that are syscalls; unset for"
            " scheduler and internal events.",
        ),
        _row("evt.category", S, "Event category: file, net, memory, process, ipc..."),
        _row("evt.cpu", I, "Number of the CPU the event happened on."),
        with_arg(
            "evt.around",
            U,
            "Accepts the event if its time is around T: evt.around[T]=D holds when T (an"
            " %evt.rawtime value, in ns) is at most D milliseconds before or after the"
            " event's time.",
            lambda _arg: _none,  # no value: printed, it is <NA> as in Falco
            Arg.INDEX,
            flags=(_FILTER_ONLY, "EPF_ARG_REQUIRED", "EPF_NO_RHS", "EPF_NO_TRANSFORMER"),
            test=_around,
        ),
        _row("evt.args", S, "All the event's parameters rendered into one string."),
        with_arg(
            "evt.arg",
            S,
            "One event parameter, rendered as text (fds, flags and errors as names),"
            " chosen by name (evt.arg.fd, evt.arg[fd]) or by position (evt.arg[0]).",
            _event_param("evt.arg"),
            Arg.KEY,
            flags=(FLAG_DOTTED_ARG,),
        ),
        with_arg(
            "evt.rawarg",
            I,
            "One event parameter as its raw value (evt.rawarg.res, evt.rawarg[uid]);"
            " its real type is the parameter's own.",
            _event_param("evt.rawarg"),
            Arg.KEY,
            flags=(FLAG_DOTTED_ARG, FLAG_DYNAMIC_TYPE, "EPF_NO_RHS", "EPF_NO_TRANSFORMER"),
        ),
        _derived("evt.info", S, "Same text as evt.args.", lambda d: d.get("evt.args")),
        _row(
            "evt.buffer",
            FieldType.BYTES,
            "The data buffer of I/O events (read, recvfrom...), to search with bcontains.",
        ),
        _row("evt.buflen", U, "Length of the I/O data buffer, for events that have one."),
        _row("evt.res", S, "Result as text: 'SUCCESS', or the error name (e.g. 'ENOENT')."),
        _row("evt.rawres", I, "Result as the raw number the syscall returned (e.g. -2)."),
        _derived("evt.failed", B, "True when the event returned an error.", _failed),
        _row("evt.is_io", B, "True for events that read or write through an fd."),
        _row("evt.is_io_read", B, "True for events that read through an fd."),
        _row("evt.is_io_write", B, "True for events that write through an fd."),
        _row("evt.io_dir", S, "'r' for reading events, 'w' for writing events."),
        _row("evt.is_wait", B, "True for events that block the thread (sleep, poll...)."),
        _row("evt.wait_latency", REL, "Time a blocking event spent waiting, in ns.", flags=dep),
        _row("evt.is_syslog", B, "True for writes to /dev/log."),
        _row("evt.count", U, "Always 1; handy for counting.", lambda ev: 1),
        _derived(
            "evt.count.error", U, "1 for events that returned an error, else 0.", _error_count
        ),
        _row("evt.count.error.file", U, "1 for failed file I/O events."),
        _row("evt.count.error.net", U, "1 for failed network events."),
        _row("evt.count.error.memory", U, "1 for failed memory-allocation events."),
        _row("evt.count.error.other", U, "1 for failed events of any other kind."),
        _row("evt.count.exit", U, "1 for exit events."),
        _row("evt.count.procinfo", U, "1 for process-info events of main threads.", flags=table),
        _row("evt.count.threadinfo", U, "1 for process-info events.", flags=table),
        _row(
            "evt.abspath",
            P,
            "Absolute path built from a dirfd and a relative path (openat, renameat,"
            " symlinkat...).",
        ),
        _derived(
            "evt.abspath.src",
            P,
            "Absolute source path of two-path syscalls (renameat, linkat).",
            lambda d: d.get("evt.abspath"),
        ),
        _row("evt.abspath.dst", P, "Absolute destination path of two-path syscalls."),
        _row("evt.buflen.in", U, "Buffer length of input I/O events only.", flags=table),
        _row("evt.buflen.out", U, "Buffer length of output I/O events only.", flags=table),
        _row("evt.buflen.file", U, "Buffer length of file I/O events only.", flags=table),
        _row("evt.buflen.file.in", U, "Buffer length of file reads only.", flags=table),
        _row("evt.buflen.file.out", U, "Buffer length of file writes only.", flags=table),
        _row("evt.buflen.net", U, "Buffer length of network I/O events only.", flags=table),
        _row("evt.buflen.net.in", U, "Buffer length of network reads only.", flags=table),
        _row("evt.buflen.net.out", U, "Buffer length of network writes only.", flags=table),
        _row("evt.is_open_read", B, "True for open-family events that open for reading."),
        _row("evt.is_open_write", B, "True for open-family events that open for writing."),
        _row(
            "evt.is_open_exec",
            B,
            "True for open-family or creat events that create a file with an execute bit.",
        ),
        _row("evt.is_open_create", B, "True for open-family events that create the file."),
        _row("evt.infra.docker.name", S, "Docker infrastructure events: their name.", flags=table),
        _row(
            "evt.infra.docker.container.id",
            S,
            "Docker infrastructure events: the container's id.",
            flags=table,
        ),
        _row(
            "evt.infra.docker.container.name",
            S,
            "Docker infrastructure events: the container's name.",
            flags=table,
        ),
        _row(
            "evt.infra.docker.container.image",
            S,
            "Docker infrastructure events: the container's image.",
            flags=table,
        ),
    ]
    return rows


def _process_rows() -> list[FieldDef]:
    table = (_TABLE_ONLY,)
    parent = lambda key: _level(key, 1)  # noqa: E731
    return [
        _row(
            "proc.exe",
            S,
            "argv[0] of the process: usually how the program was invoked, but the"
            " caller may set any string.",
        ),
        _derived("proc.pexe", S, "proc.exe of the parent process.", parent("proc.aexe")),
        _ancestor_row(
            "proc.aexe",
            S,
            "proc.exe of an ancestor." + _ANCESTOR_NOTE,
            _key("proc.exe"),
            _key("proc.pexe"),
        ),
        _row(
            "proc.exepath",
            P,
            "Full path of the executable file, symlinks resolved (may be truncated by"
            " the kernel probe).",
        ),
        _derived(
            "proc.pexepath", P, "proc.exepath of the parent process.", parent("proc.aexepath")
        ),
        _ancestor_row(
            "proc.aexepath",
            P,
            "proc.exepath of an ancestor." + _ANCESTOR_NOTE,
            _key("proc.exepath"),
            _key("proc.pexepath"),
        ),
        _row(
            "proc.name",
            S,
            "The process name the kernel keeps (comm), at most 16 characters; may"
            " differ from the executable's file name.",
        ),
        _derived("proc.pname", S, "proc.name of the parent process.", parent("proc.aname")),
        _ancestor_row(
            "proc.aname",
            S,
            "proc.name of an ancestor." + _ANCESTOR_NOTE,
            _key("proc.name"),
            _key("proc.pname"),
        ),
        with_arg(
            "proc.args",
            S,
            "Command-line arguments after argv[0], space-separated; proc.args[N] is"
            " the Nth of them, counting from 0.",
            _bind_args,
            Arg.INDEX_OPTIONAL,
        ),
        _ancestor_row(
            "proc.aargs",
            S,
            "proc.args of an ancestor." + _ANCESTOR_NOTE,
            _args_str,
            None,
            item=lambda v: v if v is None or isinstance(v, str) else " ".join(v),
        ),
        _derived("proc.cmdline", S, "proc.name followed by the arguments (proc.args).", _cmdline),
        _derived(
            "proc.pcmdline", S, "proc.cmdline of the parent process.", parent("proc.acmdline")
        ),
        _ancestor_row(
            "proc.acmdline",
            S,
            "proc.cmdline of an ancestor." + _ANCESTOR_NOTE,
            _key("proc.cmdline"),
            _key("proc.pcmdline"),
        ),
        _derived("proc.cmdnargs", U, "How many arguments proc.args holds.", _nargs),
        _derived(
            "proc.cmdlenargs",
            U,
            "Total characters in the arguments, not counting separating spaces.",
            _lenargs,
        ),
        _derived("proc.exeline", S, "proc.exe followed by the arguments.", _exeline),
        with_arg(
            "proc.env",
            S,
            "The environment as 'NAME=value NAME2=value2'; proc.env[NAME] gives one"
            " variable ('' when unset).",
            _bind_env,
            Arg.KEY_OPTIONAL,
        ),
        with_arg(
            "proc.aenv",
            S,
            "Ancestors' environments (experimental in Falco): proc.aenv[N] is the"
            " environment N generations up, proc.aenv[NAME] the nearest ancestor's"
            " value of NAME, and without argument it matches any ancestor's.",
            _bind_aenv,
            Arg.KEY_OPTIONAL,
            flags=(FLAG_ANY_ANCESTOR,),
        ),
        _row("proc.cwd", P, "Current working directory of the process."),
        _row(
            "proc.loginshellid",
            PID,
            "pid of the eldest shell among the process's ancestors, if any.",
        ),
        _row("proc.tty", U, "Controlling terminal of the process; 0 when it has none."),
        _derived("proc.pid", PID, "Process id (host pid namespace).", _level("proc.apid", 0)),
        _derived("proc.ppid", PID, "Parent's process id.", parent("proc.apid")),
        _ancestor_row(
            "proc.apid",
            PID,
            "pid of an ancestor." + _ANCESTOR_NOTE,
            _key("proc.pid"),
            _key("proc.ppid"),
        ),
        _row("proc.vpid", PID, "Process id as seen inside its own pid namespace."),
        _row("proc.pvpid", PID, "Parent's process id as seen inside its pid namespace."),
        _row("proc.sid", PID, "Session id of the process."),
        _row(
            "proc.sname",
            S,
            "proc.name of the session leader (the process whose pid is proc.sid, or the"
            " eldest ancestor sharing the session).",
        ),
        _row("proc.sid.exe", S, "proc.exe of the session leader."),
        _row("proc.sid.exepath", P, "proc.exepath of the session leader."),
        _row("proc.vpgid", PID, "Process group id, as seen inside the pid namespace."),
        _row("proc.vpgid.name", S, "proc.name of the leader of the process group (vpgid)."),
        _row("proc.vpgid.exe", S, "proc.exe of the leader of the process group (vpgid)."),
        _row("proc.vpgid.exepath", P, "proc.exepath of the process group leader (vpgid)."),
        _row("proc.pgid", PID, "Process group id, in the host pid namespace."),
        _row("proc.pgid.name", S, "proc.name of the leader of the process group (pgid)."),
        _row("proc.pgid.exe", S, "proc.exe of the leader of the process group (pgid)."),
        _row("proc.pgid.exepath", P, "proc.exepath of the process group leader (pgid)."),
        _derived(
            "proc.duration", REL, "Nanoseconds since the process started.", _since("proc.pid.ts")
        ),
        _derived(
            "proc.ppid.duration",
            REL,
            "Nanoseconds since the parent process started.",
            _since("proc.ppid.ts"),
        ),
        _row("proc.pid.ts", REL, "When the process started, in ns since the epoch."),
        _row("proc.ppid.ts", REL, "When the parent process started, in ns since the epoch."),
        _row(
            "proc.is_exe_writable",
            B,
            "True when the user who started the process can write its executable file.",
        ),
        _row(
            "proc.is_exe_upper_layer",
            B,
            "True when the executable lives in an overlayfs upper layer (written after"
            " the container image was built).",
        ),
        _row(
            "proc.is_exe_lower_layer",
            B,
            "True when the executable lives in an overlayfs lower layer (the image).",
        ),
        _row(
            "proc.is_exe_from_memfd",
            B,
            "True when the program was executed from an anonymous memfd_create file"
            " that exists only in memory.",
        ),
        _row(
            "proc.is_args_truncated",
            B,
            "True when the process's arguments were cut at capture (the lanner sensor's"
            " limits: an argument over 8 KiB, more than 128 arguments, or arguments past"
            " the first 16 KiB): proc.args and proc.cmdline then hold only their start,"
            " and what followed is not seen by any rule. False for processes running"
            " before the sensor started (their command line is read whole from /proc)."
            " Not a Falco field.",
        ),
        _derived(
            "proc.is_sid_leader",
            B,
            "True when the process leads its session (proc.sid equals proc.vpid).",
            _same("proc.sid", "proc.vpid"),
        ),
        _derived(
            "proc.is_vpgid_leader",
            B,
            "True when the process leads its process group (proc.vpgid equals"
            " proc.vpid), as a command typed at a shell does, unlike children a script"
            " spawns.",
            _same("proc.vpgid", "proc.vpid"),
        ),
        _derived(
            "proc.is_pgid_leader",
            B,
            "True when the process leads its process group (proc.pgid equals proc.pid).",
            _same("proc.pgid", "proc.pid"),
        ),
        _row("proc.exe_ino", I, "Inode number of the executable file."),
        _row(
            "proc.exe_ino.ctime",
            ABS,
            "Last status change (ctime) of the executable's inode, ns since the epoch.",
        ),
        _row(
            "proc.exe_ino.mtime",
            ABS,
            "Last content change (mtime) of the executable's inode, ns since the epoch.",
        ),
        _row(
            "proc.exe_ino.ctime_duration_proc_start",
            ABS,
            "Nanoseconds from the executable's last status change to this process's start.",
        ),
        _row(
            "proc.exe_ino.ctime_duration_pidns_start",
            ABS,
            "Nanoseconds from the pid namespace's start to the executable's last status"
            " change, when the namespace is older.",
        ),
        _row(
            "proc.pidns_init_start_ts",
            U,
            "When the process's pid namespace (container or host) started, ns since the epoch.",
        ),
        _row("thread.cap_permitted", S, "The thread's permitted capability set."),
        _row("thread.cap_inheritable", S, "The thread's inheritable capability set."),
        _row("thread.cap_effective", S, "The thread's effective capability set."),
        _row("proc.fdopencount", U, "How many fds the process has open."),
        _row("proc.fdlimit", I, "How many fds the process may open at most."),
        _derived(
            "proc.fdusage",
            DBL,
            "Open fds as a percentage of the most the process may open (proc.fdopencount"
            " over proc.fdlimit).",
            _fd_usage,
        ),
        _row("proc.vmsize", U, "Total virtual memory of the process, in KiB."),
        _row("proc.vmrss", U, "Resident (non-swapped) memory of the process, in KiB."),
        _row("proc.vmswap", U, "Swapped-out memory of the process, in KiB."),
        _row("thread.pfmajor", U, "Major page faults since the thread started."),
        _row("thread.pfminor", U, "Minor page faults since the thread started."),
        _row("thread.tid", PID, "Id of the thread that caused the event."),
        _derived(
            "thread.ismain",
            B,
            "True when the event comes from the process's main thread.",
            _same("thread.tid", "proc.pid"),
        ),
        _row("thread.vtid", PID, "Thread id as seen inside the pid namespace."),
        _row("thread.nametid", S, "Process name and thread id chained together.", flags=table),
        _row("thread.exectime", REL, "CPU time of the last scheduled thread (switch events)."),
        _row("thread.totexectime", REL, "Total CPU time of the thread (switch events)."),
        # Falco fills these on its periodic procinfo events only: never on a syscall.
        _row("thread.cpu", DBL, "CPU the thread consumed in the last second (procinfo events)."),
        _row(
            "thread.cpu.user",
            DBL,
            "User CPU the thread consumed in the last second (procinfo events).",
        ),
        _row(
            "thread.cpu.system",
            DBL,
            "System CPU the thread consumed in the last second (procinfo events).",
        ),
        _derived("thread.cgroups", S, "All the thread's cgroups in one string.", _cgroups),
        with_arg(
            "thread.cgroup",
            S,
            "The thread's cgroup for one subsystem: thread.cgroup.cpuacct.",
            _keyed("thread.cgroup"),
            Arg.KEY,
            flags=(FLAG_DOTTED_ARG,),
        ),
        _row("proc.nthreads", U, "Live threads of the process, leader included."),
        _row("proc.nchilds", U, "Live threads of the process other than the leader."),
        _row("thread.vmsize", U, "Main thread: the process's virtual memory in KiB; others: 0."),
        _row("thread.vmrss", U, "Main thread: the process's resident memory in KiB; others: 0."),
        _row("thread.vmsize.b", U, "thread.vmsize in bytes.", flags=table),
        _row("thread.vmrss.b", U, "thread.vmrss in bytes.", flags=table),
        _row("proc.stdin.type", S, "Type of the process's fd 0 (stdin)."),
        _row("proc.stdout.type", S, "Type of the process's fd 1 (stdout)."),
        _row("proc.stderr.type", S, "Type of the process's fd 2 (stderr)."),
        _row("proc.stdin.name", S, "Name of the process's fd 0 (stdin)."),
        _row("proc.stdout.name", S, "Name of the process's fd 1 (stdout)."),
        _row("proc.stderr.name", S, "Name of the process's fd 2 (stderr)."),
        _row(
            "proc.is_container_healthcheck",
            B,
            "True when the process runs as part of its container's health check.",
        ),
        _row(
            "proc.is_container_liveness_probe",
            B,
            "True when the process runs as part of a Kubernetes liveness probe.",
        ),
        _row(
            "proc.is_container_readiness_probe",
            B,
            "True when the process runs as part of a Kubernetes readiness probe.",
        ),
    ]


def _user_rows() -> list[FieldDef]:
    return [
        _row("user.uid", U, "User id the process runs as."),
        _row("user.name", S, "Name of that user."),
        _row("user.homedir", P, "Home directory of that user."),
        _row("user.shell", P, "Login shell of that user."),
        _row(
            "user.loginuid",
            I,
            "Audit login user id (auid): who originally logged in; -1 when unset.",
        ),
        _row("user.loginname", S, "Name of the audit login user."),
        _row("group.gid", U, "Group id the process runs as."),
        _row("group.name", S, "Name of that group."),
    ]


def _fd_rows() -> list[FieldDef]:
    filt = (_FILTER_ONLY,)
    either = (_FILTER_ONLY, FLAG_EITHER_END)
    return [
        _row("fd.num", FieldType.FD, "Number of the file descriptor the event uses."),
        _row(
            "fd.type",
            S,
            "Kind of fd: file, directory, ipv4, ipv6, unix, pipe, event, signalfd,"
            " eventpoll, inotify, memfd...",
        ),
        _row(
            "fd.typechar",
            S,
            "Kind of fd as one character: f file, 4 IPv4, 6 IPv6, u unix, p pipe, e"
            " eventfd, s signalfd, l eventpoll, i inotify, m memfd, o other...",
        ),
        _row(
            "fd.name",
            P,
            "Full name of the fd: the absolute path for files, the connection tuple for sockets.",
        ),
        _derived("fd.directory", P, "For files, the directory holding the file.", _fd_directory),
        _derived("fd.filename", S, "For files, the file name without its directory.", _fd_filename),
        _derived(
            "fd.ip",
            FieldType.IPADDR,
            "Matches either end's IP address (client or server).",
            _either("fd.cip", "fd.sip"),
            flags=either,
        ),
        _row("fd.cip", FieldType.IPADDR, "IP address of the client end."),
        _row("fd.sip", FieldType.IPADDR, "IP address of the server end."),
        _row("fd.lip", FieldType.IPADDR, "IP address of the local end."),
        _row("fd.rip", FieldType.IPADDR, "IP address of the remote end."),
        _derived(
            "fd.port",
            FieldType.PORT,
            "Matches either end's port (client or server).",
            _either("fd.cport", "fd.sport"),
            flags=either,
        ),
        _row("fd.cport", FieldType.PORT, "TCP/UDP port of the client end."),
        _row("fd.sport", FieldType.PORT, "TCP/UDP port of the server end."),
        _row("fd.lport", FieldType.PORT, "TCP/UDP port of the local end."),
        _row("fd.rport", FieldType.PORT, "TCP/UDP port of the remote end."),
        _row("fd.l4proto", S, "IP protocol of the socket: tcp, udp, icmp or raw."),
        _row("fd.sockfamily", S, "Socket family: ip or unix."),
        _row("fd.is_server", B, "True when this process is the server end of the connection."),
        _row("fd.uid", S, "Unique id of the fd: its number chained with the thread id."),
        _derived(
            "fd.containername",
            S,
            "container.id and fd.name joined by ':'.",
            _prefixed_container(lambda d: d.get("fd.name")),
        ),
        _derived(
            "fd.containerdirectory",
            S,
            "container.id and fd.directory joined by ':'.",
            _prefixed_container(_fd_directory),
        ),
        _derived(
            "fd.proto",
            S,
            "Matches either end's protocol name (client or server).",
            _either("fd.cproto", "fd.sproto"),
            flags=either,
        ),
        _row("fd.cproto", S, "Protocol name of the client end's port."),
        _row("fd.sproto", S, "Protocol name of the server end's port."),
        _row("fd.lproto", S, "Protocol name of the local end's port."),
        _row("fd.rproto", S, "Protocol name of the remote end's port."),
        _derived(
            "fd.net",
            FieldType.IPNET,
            "Matches when either end's address is in the given network.",
            _either("fd.cip", "fd.sip"),
            flags=either,
        ),
        _derived(
            "fd.cnet",
            FieldType.IPNET,
            "Matches when the client's address is in the given network.",
            lambda d: d.get("fd.cip"),
            flags=filt,
        ),
        _derived(
            "fd.snet",
            FieldType.IPNET,
            "Matches when the server's address is in the given network.",
            lambda d: d.get("fd.sip"),
            flags=filt,
        ),
        _derived(
            "fd.lnet",
            FieldType.IPNET,
            "Matches when the local address is in the given network.",
            lambda d: d.get("fd.lip"),
            flags=filt,
        ),
        _derived(
            "fd.rnet",
            FieldType.IPNET,
            "Matches when the remote address is in the given network.",
            lambda d: d.get("fd.rip"),
            flags=filt,
        ),
        _row("fd.connected", B, "For TCP/UDP fds, true once the socket is connected."),
        _row(
            "fd.name_changed",
            B,
            "True when this event changed the fd's name (e.g. a UDP socket's tuple).",
        ),
        _row("fd.cip.name", S, "Domain name the client's address was resolved from."),
        _row("fd.sip.name", S, "Domain name the server's address was resolved from."),
        _row("fd.lip.name", S, "Domain name the local address was resolved from."),
        _row("fd.rip.name", S, "Domain name the remote address was resolved from."),
        _row("fd.dev", I, "Device number (major and minor) holding the file."),
        _row("fd.dev.major", I, "Major number of the device holding the file."),
        _row("fd.dev.minor", I, "Minor number of the device holding the file."),
        _row("fd.ino", I, "Inode number of the file."),
        _row(
            "fd.nameraw",
            P,
            "The path as the program passed it, not made absolute (files only).",
        ),
        with_arg(
            "fd.types",
            S,
            "Distinct types of all the process's open fds; fd.types[N] is the type of fd N alone.",
            _bind_fd_types,
            Arg.INDEX_OPTIONAL,
            is_list=True,
            flags=(_IS_LIST,),
        ),
        _row("fd.is_upper_layer", B, "True when the file is in an overlayfs upper layer."),
        _row("fd.is_lower_layer", B, "True when the file is in an overlayfs lower layer."),
        _row("fdlist.nums", S, "poll events: the polled fd numbers, comma-separated."),
        _row("fdlist.names", S, "poll events: the polled fd names, comma-separated."),
        _row("fdlist.cips", S, "poll events: client addresses of the polled fds."),
        _row("fdlist.sips", S, "poll events: server addresses of the polled fds."),
        _row("fdlist.cports", S, "poll events: client ports of the polled fds."),
        _row("fdlist.sports", S, "poll events: server ports of the polled fds."),
    ]


def _fspath_rows() -> list[FieldDef]:
    return [
        _row(
            "fs.path.name",
            P,
            "Path a filesystem syscall acts on (open, mkdir, unlink, chmod...), made"
            " absolute with the process's cwd.",
        ),
        _row("fs.path.nameraw", P, "That path exactly as passed to the syscall."),
        _row(
            "fs.path.source",
            P,
            "Source path of two-path syscalls (rename, link, symlink, mount), made absolute.",
        ),
        _row("fs.path.sourceraw", P, "That source path exactly as passed to the syscall."),
        _row(
            "fs.path.target",
            P,
            "Target path of two-path syscalls (rename, link, symlink, mount), made absolute.",
        ),
        _row("fs.path.targetraw", P, "That target path exactly as passed to the syscall."),
    ]


def _container_rows() -> list[FieldDef]:
    dep = (_DEPRECATED,)
    mount_arg = (
        " Pick the mount by position (container.mount.dest[0]) or by a glob over the other path"
    )
    return [
        _row(
            "container.id",
            S,
            "Short container id (12 characters), from the process's cgroups; 'host'"
            " for processes outside containers.",
        ),
        _row("container.full_id", S, "Full container id, from the container engine."),
        _row("container.name", S, "Container name; 'host' outside containers."),
        _row("container.image", S, "Image the container runs (e.g. repo/app:1.2)."),
        _row("container.image.id", S, "Id of the container's image."),
        _row("container.type", S, "Container engine: docker, cri-o, containerd, podman..."),
        _row("container.privileged", B, "True for privileged containers."),
        _row(
            "container.info",
            S,
            "Deprecated output placeholder: removed from outputs with a warning, as Falco"
            " does (container fields are printed by name); no field to filter on.",
            lambda _ev: "",
            flags=(FLAG_PRINT_ONLY, _DEPRECATED),
        ),
        _derived(
            "container.mounts",
            S,
            "All mounts, comma-separated, each as source:dest:mode:rdwr:propagation.",
            _mounts,
        ),
        with_arg(
            "container.mount",
            S,
            "One mount as source:dest:mode:rdwr:propagation." + mount_arg + " (source).",
            _mount_binder(None, "source"),
            Arg.KEY,
        ),
        with_arg(
            "container.mount.source",
            P,
            "Source of one mount." + mount_arg + " (destination).",
            _mount_binder("source", "dest"),
            Arg.KEY,
        ),
        with_arg(
            "container.mount.dest",
            P,
            "Destination of one mount." + mount_arg + " (source).",
            _mount_binder("dest", "source"),
            Arg.KEY,
        ),
        with_arg(
            "container.mount.mode",
            S,
            "Mode of one mount." + mount_arg + " (source).",
            _mount_binder("mode", "source"),
            Arg.KEY,
        ),
        with_arg(
            "container.mount.rdwr",
            S,
            "'true' if one mount is read-write." + mount_arg + " (source).",
            _mount_binder("rdwr", "source"),
            Arg.KEY,
        ),
        with_arg(
            "container.mount.propagation",
            S,
            "Propagation of one mount." + mount_arg + " (source).",
            _mount_binder("propagation", "source"),
            Arg.KEY,
        ),
        _row("container.image.repository", S, "Repository part of the image name."),
        _row("container.image.tag", S, "Tag part of the image name (e.g. latest)."),
        _row("container.image.digest", S, "Registry digest of the image (sha256:...)."),
        _row("container.healthcheck", S, "The container's health-check command.", flags=dep),
        _row("container.liveness_probe", S, "The container's liveness probe command.", flags=dep),
        _row("container.readiness_probe", S, "The container's readiness probe command.", flags=dep),
        _row(
            "container.start_ts",
            ABS,
            "When the container started, in ns since the epoch (start of its pid namespace).",
        ),
        _derived(
            "container.duration",
            REL,
            "Nanoseconds since the container started.",
            _since("container.start_ts"),
        ),
        _row("container.ip", S, "Primary IPv4 address of the container or pod."),
        _row("container.cni.json", S, "The pod's CNI result, as raw JSON text."),
        _row("container.host_pid", B, "True when the container shares the host pid namespace."),
        _row(
            "container.host_network",
            B,
            "True when the container shares the host network namespace.",
        ),
        _row("container.host_ipc", B, "True when the container shares the host IPC namespace."),
        with_arg(
            "container.label",
            S,
            "One container label: container.label[foo] or container.label.foo.",
            _keyed("container.label"),
            Arg.KEY,
            flags=(FLAG_DOTTED_ARG,),
        ),
        _derived(
            "container.labels",
            S,
            "All container labels as key:value, comma-separated.",
            _labels_str("container.label", ","),
        ),
        _row("container.k8s.pod.name", S, "Pod name of the container.", flags=dep),
        _row("container.k8s.pod.id", S, "Pod id of the container.", flags=dep),
        with_arg(
            "container.k8s.pod.label",
            S,
            "One label of the container's pod: container.k8s.pod.label[foo].",
            _keyed("container.k8s.pod.label"),
            Arg.KEY,
            flags=dep,
        ),
        _derived(
            "container.k8s.pod.labels",
            S,
            "The pod's labels, one key:value item each.",
            _labels_tuple("container.k8s.pod.label"),
            is_list=True,
            flags=(*dep, _IS_LIST),
        ),
        _row("container.k8s.ns.name", S, "Namespace of the container's pod.", flags=dep),
    ]


def _k8s_rows() -> list[FieldDef]:
    rows = [
        _row("k8s.ns.name", S, "Kubernetes namespace of the pod, from the container runtime."),
        _row("k8s.pod.name", S, "Kubernetes pod name, from the container runtime."),
        _derived(
            "k8s.pod.id",
            S,
            "Legacy name for k8s.pod.uid.",
            lambda d: d.get("k8s.pod.uid"),
        ),
        _row("k8s.pod.uid", S, "The pod's UID, assigned by Kubernetes when it was created."),
        _row("k8s.pod.sandbox_id", S, "Short (12-character) id of the pod's sandbox."),
        _row("k8s.pod.full_sandbox_id", S, "Full id of the pod's sandbox."),
        with_arg(
            "k8s.pod.label",
            S,
            "One pod label: k8s.pod.label[app.kubernetes.io/name] or k8s.pod.label.app.",
            _keyed("k8s.pod.label", missing=""),
            Arg.KEY,
            flags=(FLAG_DOTTED_ARG,),
        ),
        _derived(
            "k8s.pod.labels",
            S,
            "All pod labels as key:value, comma-separated.",
            _labels_str("k8s.pod.label", ", "),
        ),
        _row("k8s.pod.ip", S, "Primary IPv4 address of the pod."),
        _row("k8s.pod.cni.json", S, "The pod's CNI result, as raw JSON text."),
    ]
    # Kept for rule compatibility only: Falco no longer fills these.
    for kind, what in (
        ("rc", "replication controller"),
        ("svc", "service"),
        ("ns", "namespace"),
        ("rs", "replica set"),
        ("deployment", "deployment"),
    ):
        dep = (_DEPRECATED,)
        if kind != "ns":
            rows.append(_row(f"k8s.{kind}.name", S, f"Name of the {what} (obsolete).", flags=dep))
        rows.append(_row(f"k8s.{kind}.id", S, f"Id of the {what} (obsolete).", flags=dep))
        rows.append(
            with_arg(
                f"k8s.{kind}.label",
                S,
                f"One label of the {what} (obsolete).",
                _keyed(f"k8s.{kind}.label"),
                Arg.KEY,
                flags=(*dep, FLAG_DOTTED_ARG),
            )
        )
        rows.append(
            _derived(
                f"k8s.{kind}.labels",
                S,
                f"Labels of the {what} as key:value, comma-separated (obsolete).",
                _labels_str(f"k8s.{kind}.label", ", "),
                flags=dep,
            )
        )
    return rows


def syscall_fields() -> list[FieldDef]:
    """The syscall source's own rows, without the generic ones."""
    return [
        *_event_rows(),
        *_process_rows(),
        *_user_rows(),
        *_fd_rows(),
        *_fspath_rows(),
        *_container_rows(),
        *_k8s_rows(),
    ]


def _event_time(doc: Any) -> int | None:
    t = doc.get("evt.rawtime")
    return t if isinstance(t, int) and not isinstance(t, bool) else None


def _hostname(doc: Any) -> str | None:
    h = doc.get("evt.hostname")
    return h if isinstance(h, str) else None


def syscall_source() -> Source:
    """The ``syscall`` source: generic rows first (they win on a shared name), then ours."""
    generic = generic_fields()
    taken = {f.name for f in generic}
    registry = FieldRegistry(generic)
    for row in syscall_fields():
        if row.name not in taken:
            registry.add(row)
    return Source(
        name="syscall",
        fields=registry,
        index_fields=("evt.type",),
        event_time=_event_time,
        hostname=_hostname,
        description="Linux system calls and kernel events, as decoded by the lanner sensor.",
    )


# --- event type names -------------------------------------------------------------------
#
# What `evt.type` may be compared against: the syscall names Falco's drivers know (its
# ppm_sc table, lower-cased), the names of its own events where they differ from the
# syscall's, and a few newer Linux syscalls.

_SYSCALL_NAMES = """
restart_syscall exit read write open close creat link unlink chdir time mknod chmod stat
lseek getpid mount ptrace alarm fstat pause utime access sync kill rename mkdir rmdir dup
pipe times brk acct ioctl fcntl setpgid umask chroot ustat dup2 getppid getpgrp setsid
sethostname setrlimit getrusage gettimeofday settimeofday symlink lstat readlink uselib
swapon reboot mmap munmap truncate ftruncate fchmod getpriority setpriority statfs fstatfs
syslog setitimer getitimer uname vhangup wait4 swapoff sysinfo fsync setdomainname adjtimex
mprotect init_module delete_module quotactl getpgid fchdir sysfs personality getdents select
flock msync readv writev getsid fdatasync mlock munlock mlockall munlockall sched_setparam
sched_getparam sched_setscheduler sched_getscheduler sched_yield sched_get_priority_max
sched_get_priority_min sched_rr_get_interval nanosleep mremap poll prctl rt_sigaction
rt_sigprocmask rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend getcwd capget
capset sendfile getrlimit lchown getuid getgid geteuid getegid setreuid setregid getgroups
setgroups fchown setresuid getresuid setresgid getresgid chown setuid setgid setfsuid
setfsgid pivot_root mincore madvise gettid setxattr lsetxattr fsetxattr getxattr lgetxattr
fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr tkill futex
sched_setaffinity sched_getaffinity set_thread_area get_thread_area io_setup io_destroy
io_getevents io_submit io_cancel exit_group epoll_create epoll_ctl epoll_wait
remap_file_pages set_tid_address timer_create timer_settime timer_gettime timer_getoverrun
timer_delete clock_settime clock_gettime clock_getres clock_nanosleep tgkill utimes mq_open
mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr kexec_load waitid add_key
request_key keyctl ioprio_set ioprio_get inotify_init inotify_add_watch inotify_rm_watch
openat mkdirat mknodat fchownat futimesat unlinkat renameat linkat symlinkat readlinkat
fchmodat faccessat pselect6 ppoll unshare set_robust_list get_robust_list splice tee
vmsplice getcpu epoll_pwait utimensat signalfd timerfd_create eventfd timerfd_settime
timerfd_gettime signalfd4 eventfd2 epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev
rt_tgsigqueueinfo perf_event_open fanotify_init prlimit64 clock_adjtime syncfs setns
getdents64 socket bind connect listen accept getsockname getpeername socketpair sendto
recvfrom shutdown setsockopt getsockopt sendmsg sendmmsg recvmsg recvmmsg accept4 semop
semget semctl msgsnd msgrcv msgget msgctl shmdt shmget shmctl statfs64 fstatfs64 fstatat64
sendfile64 ugetrlimit bdflush sigprocmask ipc socketcall stat64 lstat64 fstat64 fcntl64
mmap2 _newselect sgetmask ssetmask sigpending olduname umount signal nice stime _llseek
waitpid pread64 pwrite64 arch_prctl shmat rt_sigreturn fallocate newfstatat
process_vm_readv process_vm_writev fork vfork setuid32 getuid32 setgid32 geteuid32 getgid32
setresuid32 setresgid32 getresuid32 getresgid32 finit_module bpf seccomp sigaltstack
getrandom fadvise64 renameat2 userfaultfd openat2 umount2 execve execveat copy_file_range
clone clone3 open_by_handle_at io_uring_setup io_uring_enter io_uring_register mlock2
getegid32 fsconfig fspick fsmount fsopen open_tree move_mount mount_setattr memfd_create
memfd_secret ioperm kexec_file_load pidfd_getfd pidfd_open pidfd_send_signal pkey_alloc
pkey_mprotect pkey_free landlock_create_ruleset quotactl_fd landlock_restrict_self
landlock_add_rule epoll_pwait2 migrate_pages move_pages preadv2 pwritev2 kcmp
sched_setattr mbind epoll_ctl_old lookup_dcookie modify_ldt statx set_mempolicy
io_pgetevents set_mempolicy_home_node semtimedop get_kernel_syms readahead futex_waitv
getpmsg name_to_handle_at process_mrelease nfsservctl epoll_wait_old rseq create_module
sched_getattr faccessat2 _sysctl query_module get_mempolicy sync_file_range process_madvise
membarrier iopl close_range fanotify_mark recv send
sched_process_exit sched_switch page_fault_user page_fault_kernel signal_deliver
"""

# Falco's own event names (from its event table) that are not syscall names above.
_FALCO_EVENT_NAMES = """
syscall procexit switch drop scapevent container signaldeliver procinfo cpu_hotplug k8s
tracer mesos notification infra page_fault pluginevent asyncevent pread pwrite llseek prlimit
"""

# Linux syscalls newer than the driver table above.
_NEWER_SYSCALL_NAMES = """
fchmodat2 map_shadow_stack futex_wake futex_wait futex_requeue cachestat statmount listmount
lsm_get_self_attr lsm_set_self_attr lsm_list_modules mseal setxattrat getxattrat listxattrat
removexattrat uretprobe
"""

SYSCALL_EVENT_TYPES: frozenset[str] = frozenset(
    (_SYSCALL_NAMES + _FALCO_EVENT_NAMES + _NEWER_SYSCALL_NAMES).split()
)
