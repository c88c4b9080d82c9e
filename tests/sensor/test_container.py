"""Container ids and pod uids from cgroup paths, in the layouts runtimes use."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensor.container import container_from_path, container_of_pid, parse_cgroup_file

CID = "0123456789ab" + "cdef0123" * 6 + "4567"
UID = "6a1c0e2d-93b4-4c1d-8f2e-1b2c3d4e5f60"


@pytest.mark.parametrize(
    ("path", "runtime", "pod"),
    [
        (f"/sys/fs/cgroup/pids/docker/{CID}", "docker", None),
        (f"/docker/{CID}", "docker", None),
        (f"/system.slice/docker-{CID}.scope", "docker", None),
        (f"/kubepods/besteffort/pod{UID}/{CID}", None, UID),
        (
            "/kubepods.slice/kubepods-burstable.slice/"
            f"kubepods-burstable-pod{UID.replace('-', '_')}.slice/cri-containerd-{CID}.scope",
            "containerd",
            UID,
        ),
        (
            f"/kubepods.slice/kubepods-pod{UID.replace('-', '_')}.slice/crio-{CID}.scope",
            "cri-o",
            UID,
        ),
        (f"/machine.slice/libpod-{CID}.scope/container", "podman", None),
        (
            f"/system.slice/containerd.service/kubepods-besteffort-pod{UID.replace('-', '_')}"
            f".slice:cri-containerd:{CID}",
            "containerd",
            UID,
        ),
    ],
)
def test_layouts(path: str, runtime: str | None, pod: str | None) -> None:
    info = container_from_path(path)
    assert info is not None
    assert info.id == CID[:12] and info.full_id == CID
    assert info.type == runtime
    assert info.pod_uid == pod


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/user.slice/user-1000.slice/session-3.scope",
        "/system.slice/sshd.service",
        f"/some/other/{CID}",  # a 64-hex name outside any runtime layout: not guessed
        "/system.slice/docker-1234.scope",  # not a full id
        f"/kubepods/besteffort/pod{UID}",  # the pod's own cgroup, no container in it
    ],
)
def test_not_a_container(path: str) -> None:
    assert container_from_path(path) is None


def test_cgroup_file_v1_and_v2() -> None:
    groups = parse_cgroup_file(
        f"12:pids:/docker/{CID}\n11:cpu,cpuacct:/docker/{CID}\n1:name=systemd:/docker/{CID}\n0::/\n"
    )
    assert groups["pids"] == groups["cpuacct"] == groups["name=systemd"] == f"/docker/{CID}"
    assert groups[""] == "/"


def test_of_pid(tmp_path: Path) -> None:
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "cgroup").write_text(f"0::/system.slice/docker-{CID}.scope\n")
    (tmp_path / "8").mkdir()
    (tmp_path / "8" / "cgroup").write_text("0::/init.scope\n")
    info = container_of_pid(7, str(tmp_path))
    assert info is not None and info.id == CID[:12]
    host = container_of_pid(8, str(tmp_path))
    assert host is not None and host.id == "host" and host.is_host
    assert container_of_pid(9, str(tmp_path)) is None
