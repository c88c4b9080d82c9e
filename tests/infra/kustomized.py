"""The sensor's kustomize base and overlays as a cluster admin sees them: rendered by
``kubectl kustomize`` (offline, no cluster), then read as plain objects.

``privileges`` reduces a rendering to what it lets the sensor do on the node and in the
cluster, so that tests can say "this overlay grants nothing the base does not" in one
comparison, and show that the comparison notices each kind of growth.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "infra" / "kustomize"
BASE = KUSTOMIZE / "base"
OVERLAYS = KUSTOMIZE / "overlays"
OVERLAY_NAMES = sorted(p.parent.name for p in OVERLAYS.glob("*/kustomization.yaml"))

Doc = dict[str, Any]


def kubectl() -> str:
    """kubectl's path. Without it the rendering tests skip on a workstation and fail in CI,
    which must never pass by skipping them."""
    found = shutil.which("kubectl")
    if found is None:
        reason = "needs kubectl (kustomize is built in) to render infra/kustomize"
        if os.environ.get("CI") == "true" or os.environ.get("LANNER_REQUIRE_KUBECTL"):
            pytest.fail(f"CI (LANNER_REQUIRE_KUBECTL) but {reason}")
        pytest.skip(reason)
    return found


@functools.cache
def _render(path: str) -> tuple[Doc, ...]:
    out = subprocess.run(
        [kubectl(), "kustomize", path], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"kubectl kustomize {path}: {out.stderr}"
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def render(path: Path) -> list[Doc]:
    """The objects ``kubectl kustomize PATH`` prints (a copy: callers may change them)."""
    return copy.deepcopy(list(_render(str(path))))


def overlay(name: str) -> Path:
    return OVERLAYS / name


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_spec(docs: list[Doc]) -> Doc:
    spec: Doc = one(docs, "DaemonSet")["spec"]["template"]["spec"]
    return spec


def sensor_container(docs: list[Doc]) -> Doc:
    (container,) = pod_spec(docs)["containers"]
    assert isinstance(container, dict)
    return container


def containers(pod: Doc) -> Iterator[Doc]:
    yield from pod.get("initContainers", [])
    yield from pod.get("ephemeralContainers", [])
    yield from pod["containers"]


def option(args: list[str], name: str) -> str:
    """The value after ``name`` in ``args``; exactly one occurrence."""
    assert args.count(name) == 1, f"{name} given {args.count(name)} times in {args}"
    return args[args.index(name) + 1]


def settings_text(docs: list[Doc]) -> str:
    """The sensor's settings file as the DaemonSet mounts it at /etc/lanner/sensor.yaml."""
    pod = pod_spec(docs)
    (mount,) = [
        m
        for m in sensor_container(docs)["volumeMounts"]
        if m["mountPath"] == "/etc/lanner/sensor.yaml"
    ]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    text: str = one(docs, "ConfigMap", volume["configMap"]["name"])["data"][mount["subPath"]]
    return text


def settings(docs: list[Doc]) -> Doc:
    """The settings file's mapping."""
    loaded = yaml.safe_load(settings_text(docs))
    assert isinstance(loaded, dict), "the settings file is not a mapping"
    return loaded


# --- privileges ---------------------------------------------------------------------------

Rule = tuple[str, str, str, str]  # api group, resource, verb, resource name ("" = any)


@dataclass(frozen=True)
class Privileges:
    """What a rendering lets the sensor do, as sets that can only grow by granting more."""

    host_namespaces: frozenset[str]  # hostPID, hostNetwork, hostIPC
    privileged: frozenset[str]  # containers with privileged: true
    escalation: frozenset[str]  # containers without allowPrivilegeEscalation: false
    writable_root: frozenset[str]  # containers without readOnlyRootFilesystem: true
    capabilities: frozenset[str]  # added back after the drop, without CAP_
    not_dropping_all: frozenset[str]  # containers that do not drop ALL
    host_paths: frozenset[tuple[str, str, bool]]  # host path, mount path, read-only
    unconfined: frozenset[str]  # seccomp other than RuntimeDefault, SELinux/AppArmor/procMount
    containers: frozenset[str]  # every container, init and ephemeral included
    service_accounts: frozenset[str]  # whose token the pod gets
    volume_kinds: frozenset[str]  # hostPath, configMap, emptyDir, ... (a secret would be new)
    rbac: frozenset[Rule]
    bound_subjects: frozenset[tuple[str, str, str, str]]  # binding kind, role, subject, ns


def _rules(docs: list[Doc]) -> frozenset[Rule]:
    out: set[Rule] = set()
    for d in docs:
        if d["kind"] not in ("ClusterRole", "Role"):
            continue
        assert "aggregationRule" not in d, "an aggregated role grants what other roles grant"
        for r in d.get("rules", []):
            assert not r.get("nonResourceURLs"), r
            for group in r.get("apiGroups", []):
                for resource in r.get("resources", []):
                    for verb in r.get("verbs", []):
                        for name in r.get("resourceNames") or [""]:
                            out.add((group, resource, verb, name))
    return frozenset(out)


def privileges(docs: list[Doc]) -> Privileges:
    pod = pod_spec(docs)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    all_containers = list(containers(pod))
    host_ns = {k for k in ("hostPID", "hostNetwork", "hostIPC") if pod.get(k)}
    unconfined = set()
    pod_sc = pod.get("securityContext", {})
    for where, sc in [("pod", pod_sc)] + [
        (c["name"], c.get("securityContext", {})) for c in all_containers
    ]:
        seccomp = sc.get("seccompProfile", {}).get("type")
        if seccomp not in (None, "RuntimeDefault"):
            unconfined.add(f"{where}: seccomp {seccomp}")
        for key in ("seLinuxOptions", "appArmorProfile", "windowsOptions", "sysctls"):
            if sc.get(key):
                unconfined.add(f"{where}: {key}")
        if sc.get("procMount", "Default") != "Default":
            unconfined.add(f"{where}: procMount")
    if pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        unconfined.add("pod: no RuntimeDefault seccomp")
    caps: set[str] = set()
    host_paths: set[tuple[str, str, bool]] = set()
    for c in all_containers:
        for m in c.get("volumeMounts", []):
            hp = volumes[m["name"]].get("hostPath")
            if hp is not None:
                host_paths.add((hp["path"], m["mountPath"], bool(m.get("readOnly"))))
        caps |= {
            cap.removeprefix("CAP_")
            for cap in c.get("securityContext", {}).get("capabilities", {}).get("add", [])
        }
    for name, v in volumes.items():
        if "hostPath" in v and not any(
            m["name"] == name for c in all_containers for m in c.get("volumeMounts", [])
        ):
            host_paths.add((v["hostPath"]["path"], "", False))  # declared, mounted nowhere
    names = {c["name"] for c in all_containers}

    def flagged(test: Any) -> frozenset[str]:
        return frozenset(c["name"] for c in all_containers if test(c.get("securityContext", {})))

    bound = frozenset(
        (d["kind"], d["roleRef"]["name"], s["name"], s.get("namespace", ""))
        for d in docs
        if d["kind"] in ("ClusterRoleBinding", "RoleBinding")
        for s in d.get("subjects", [])
    )
    return Privileges(
        host_namespaces=frozenset(host_ns),
        privileged=flagged(lambda sc: sc.get("privileged") is True),
        escalation=flagged(lambda sc: sc.get("allowPrivilegeEscalation") is not False),
        writable_root=flagged(lambda sc: sc.get("readOnlyRootFilesystem") is not True),
        capabilities=frozenset(caps),
        not_dropping_all=flagged(lambda sc: sc.get("capabilities", {}).get("drop") != ["ALL"]),
        host_paths=frozenset(host_paths),
        unconfined=frozenset(unconfined),
        containers=frozenset(names),
        service_accounts=frozenset({pod.get("serviceAccountName", "default")}),
        volume_kinds=frozenset(k for v in volumes.values() for k in v if k != "name"),
        rbac=_rules(docs),
        bound_subjects=bound,
    )


def growth(base: Privileges, other: Privileges, *, rbac: bool = True) -> list[str]:
    """What ``other`` grants that ``base`` does not, one line each; empty if nothing.
    ``rbac=False`` leaves the roles' rules out (compared exactly elsewhere)."""
    out = []
    for field in Privileges.__dataclass_fields__:
        if field == "rbac" and not rbac:
            continue
        mine, theirs = getattr(base, field), getattr(other, field)
        if field == "host_paths":
            # The same host path read-only where the base has it writable is less, not more.
            extra = {hp for hp in theirs if hp not in mine and (hp[0], hp[1], False) not in mine}
        else:
            extra = theirs - mine
        if extra:
            out.append(f"{field}: {sorted(extra)}")
    return out
