"""The recorded form of enriched ``syscall`` events (``lanner sensor --record``), version 2.

An enriched event is mostly its process: name, command line, ancestors, user,
capabilities, container — the same for every event the process makes. The
record therefore writes a thread's process part once, as a snapshot line,
and each event as its own fields plus a reference to the snapshot; a new
snapshot follows only when the process part changes (an exec, a setuid...).

    {"lanner_record": "syscall", "version": 2}            header
    {"p": 7, "proc": {"proc.name": "cat", ...}}           snapshot 7
    {"p": 7, "e": {"evt.type": "openat", "fd.name": ...}} an event of snapshot 7

Decoding gives back exactly the documents that were encoded. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

HEADER: dict[str, Any] = {"lanner_record": "syscall", "version": 2}

# Fields that describe the process (or thread) rather than the event.
_PROCESS_PREFIXES = ("proc.", "user.", "group.", "thread.", "container.", "k8s.")
# ...except these, which change from event to event.
_PER_EVENT = frozenset({"proc.fdopencount"})
# Snapshots kept per writer and reader; past this the oldest are forgotten and
# re-sent when needed, so memory stays bounded on a node with many threads.
_MAX_SNAPSHOTS = 65536


class WireError(ValueError):
    """A record line that cannot be decoded (a reference to an unknown snapshot...)."""


def _is_process_field(key: str) -> bool:
    return key.startswith(_PROCESS_PREFIXES) and key not in _PER_EVENT


class Encoder:
    """Splits documents into snapshot and event lines."""

    def __init__(self) -> None:
        self._last: dict[Any, tuple[int, dict[str, Any]]] = {}
        self._next = 0

    def encode(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        """The lines (one or two) that record ``doc``."""
        proc: dict[str, Any] = {}
        event: dict[str, Any] = {}
        for k, v in doc.items():
            (proc if _is_process_field(k) else event)[k] = v
        key = doc.get("thread.tid", doc.get("proc.pid"))
        last = self._last.get(key)
        lines: list[dict[str, Any]] = []
        if last is None or last[1] != proc:
            if len(self._last) >= _MAX_SNAPSHOTS:
                self._last.clear()
            self._next += 1
            last = self._last[key] = (self._next, proc)
            lines.append({"p": self._next, "proc": proc})
        lines.append({"p": last[0], "e": event})
        return lines


class Decoder:
    """Rebuilds documents from snapshot and event lines, in order."""

    def __init__(self) -> None:
        self._snapshots: dict[int, dict[str, Any]] = {}

    def decode(self, line: Any) -> dict[str, Any] | None:
        """The document an event line stands for; None for a snapshot line."""
        if not isinstance(line, dict) or not isinstance(line.get("p"), int):
            raise WireError("not a version 2 record line (no snapshot reference 'p')")
        ref = line["p"]
        if "proc" in line:
            if not isinstance(line["proc"], dict):
                raise WireError(f"snapshot {ref} is not an object")
            if len(self._snapshots) >= _MAX_SNAPSHOTS:
                self._snapshots.clear()
            self._snapshots[ref] = line["proc"]
            return None
        event = line.get("e")
        if not isinstance(event, dict):
            raise WireError("record line has neither 'proc' nor 'e'")
        proc = self._snapshots.get(ref)
        if proc is None:
            raise WireError(f"event refers to snapshot {ref}, which the record never defined")
        return {**proc, **event}


def is_header(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("lanner_record") == "syscall"
