"""What capture hands to enrichment: one decoded kernel event, before any state is applied.

Capture (``sensor/capture.py`` + ``bpf/``) turns ring-buffer bytes into ``RawEvent``s with
pure decoders; enrichment (``sensor/enrich.py``) keeps the process, fd and container state
and turns each RawEvent into a flat ``syscall`` document keyed by Falco field names
(``{"evt.type": "openat", "proc.name": "cat", "fd.name": "/etc/shadow", ...}``), which the
rule core's ``syscall`` source reads. Neither side imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Process-lifecycle events (from sched tracepoints), besides syscall names.
FORK = "fork"  # sched_process_fork: args {"child_pid", "child_tid"}
EXEC = "exec"  # sched_process_exec: args {"filename"}; argv/env come with the execve exit
EXIT = "procexit"  # sched_process_exit


@dataclass(slots=True)
class RawEvent:
    """One event as the kernel reported it.

    ``type`` is the syscall name (``openat``, ``connect``...) or one of FORK/EXEC/EXIT.
    ``res`` is the syscall's return value (None for events without one). ``args`` holds
    the syscall's arguments by Falco's parameter names (``fd``, ``name``, ``flags``,
    ``mode``, ``dirfd``, ``addr``, ``tuple``, ``request``, ``target``, ``linkpath``...),
    decoded: paths as str, flags as int, socket addresses as
    ``{"family": "inet", "addr": "10.0.0.1", "port": 22}``. ``truncated`` names the
    arguments cut at their size limit (they are kept, never dropped).
    """

    ts_ns: int
    type: str
    pid: int
    tid: int
    uid: int = 0
    gid: int = 0
    comm: str = ""
    res: int | None = None
    args: dict[str, Any] = field(default_factory=dict)
    truncated: tuple[str, ...] = ()
    cgroup_id: int = 0
