"""Which container (and Kubernetes pod) a process runs in, read from its cgroup paths.

Container runtimes name each container's cgroup after the container's 64-hex-digit id,
in a few layouts (cgroup v1 and v2, cgroupfs and systemd drivers)::

    /docker/<id>                                        docker, cgroupfs driver
    /system.slice/docker-<id>.scope                     docker, systemd driver
    /kubepods/besteffort/pod<uid>/<id>                  kubelet, cgroupfs driver
    /kubepods.slice/kubepods-burstable.slice/
        kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
    .../crio-<id>.scope                                 cri-o
    .../libpod-<id>.scope                               podman
    /system.slice/containerd.service/kubepods-...-pod<uid>.slice:cri-containerd:<id>

As Falco does, ``container.id`` is the id's first 12 characters, and ``host`` for a
process whose cgroups name no container. Nothing is guessed: a path that fits no layout
gives ``host``, an unknown runtime stays None, and a pod uid is only read from a
kubepods path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

HOST = "host"

_HEX64 = r"([0-9a-f]{64})"

# (pattern over one path component, runtime it implies or None when the layout is shared)
_COMPONENT_PATTERNS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (re.compile(rf"^docker-{_HEX64}\.scope$"), "docker"),
    (re.compile(rf"^cri-containerd-{_HEX64}\.scope$"), "containerd"),
    (re.compile(rf"^crio-{_HEX64}\.scope$"), "cri-o"),
    (re.compile(rf"^libpod-{_HEX64}\.scope$"), "podman"),
    (re.compile(rf"^.*:cri-containerd:{_HEX64}$"), "containerd"),
    (re.compile(rf"^.*:crio:{_HEX64}$"), "cri-o"),
)
_BARE_ID = re.compile(rf"^{_HEX64}$")
# cgroupfs: pod<uid with dashes>; systemd: ...-pod<uid with underscores>.slice
_POD_UID = re.compile(
    r"(?:^|-)pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})"
    r"(?:\.slice)?$"
)


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """What the cgroup paths say: ``id`` is Falco's ``container.id`` (12 chars or host)."""

    id: str = HOST
    full_id: str | None = None
    type: str | None = None
    pod_uid: str | None = None

    @property
    def is_host(self) -> bool:
        return self.id == HOST


HOST_INFO = ContainerInfo()


def container_from_path(path: str) -> ContainerInfo | None:
    """The container a single cgroup path names, or None when it names none."""
    parts = [p for p in path.split("/") if p]
    pod_uid: str | None = None
    in_kubepods = False
    for part in parts:
        if part.startswith("kubepods"):
            in_kubepods = True
        m = _POD_UID.search(part.split(":", 1)[0])
        if m and in_kubepods:
            pod_uid = m.group(1).replace("_", "-")
    # The container is the deepest component that names one (nested cgroups sit below).
    for part in reversed(parts):
        for pattern, runtime in _COMPONENT_PATTERNS:
            m = pattern.match(part)
            if m:
                full = m.group(1)
                return ContainerInfo(full[:12], full, runtime, pod_uid)
        m = _BARE_ID.match(part)
        if m:
            index = parts.index(part)
            under_docker = index > 0 and parts[index - 1] == "docker"
            # A bare 64-hex directory outside the docker/ and kubepods layouts is no
            # layout we know.
            if under_docker or in_kubepods:
                full = m.group(1)
                runtime = "docker" if under_docker else None
                return ContainerInfo(full[:12], full, runtime, pod_uid)
    return None


def parse_cgroup_file(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` lines as {controller or '' for cgroup v2: path}."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _hier, controllers, path = fields
        if not controllers:
            out.setdefault("", path)
            continue
        for c in controllers.split(","):
            # "name=systemd" is a named hierarchy; Falco shows it under that name.
            out.setdefault(c, path)
    return out


def container_from_cgroups(paths: Iterable[str]) -> ContainerInfo:
    """The container named by any of a process's cgroup paths; HOST_INFO when none."""
    for path in paths:
        info = container_from_path(path)
        if info is not None:
            return info
    return HOST_INFO


def read_cgroups(pid: int, proc_root: str = "/proc") -> dict[str, str] | None:
    """A process's cgroups, or None when /proc has no (readable) entry for it."""
    try:
        with open(os.path.join(proc_root, str(pid), "cgroup"), encoding="utf-8") as f:
            return parse_cgroup_file(f.read())
    except OSError:
        return None


def container_of_pid(pid: int, proc_root: str = "/proc") -> ContainerInfo | None:
    """The container of a live process; None when its cgroup file cannot be read."""
    groups = read_cgroups(pid, proc_root)
    if groups is None:
        return None
    return container_from_cgroups(groups.values())
