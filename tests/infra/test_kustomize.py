"""infra/kustomize: the sensor's base and every overlay, rendered offline with
``kubectl kustomize`` and checked as a cluster admin would before ``kubectl apply -k``.

Every rendering is validated against Kubernetes' own schemas (kubernetes-validate, strict:
an unknown or misspelt field fails) for each version from the oldest EKS still supports to
the newest the package ships. No overlay may grant the sensor more than the base does; the
privilege comparison is itself shown to notice each kind of growth.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions
from kustomized import (
    BASE,
    OVERLAY_NAMES,
    ROOT,
    Doc,
    growth,
    one,
    option,
    overlay,
    pod_spec,
    privileges,
    render,
    sensor_container,
    settings,
    settings_text,
)

from lanner import compile_rules, load_rules

TARGETS = ["base", *OVERLAY_NAMES]

# EKS's oldest Kubernetes version still in (extended) support when this was written; the
# schemas are checked from it up to the newest kubernetes-validate ships.
OLDEST_KUBERNETES = (1, 29)

# What the container may add back after dropping ALL, and nothing else (README explains each).
EXPECTED_CAPS = {"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE", "DAC_READ_SEARCH"}

# host path -> (path in the pod, read-only)
EXPECTED_HOST_PATHS = {
    ("/sys/kernel/tracing", "/sys/kernel/tracing", True),
    ("/proc", "/host/proc", True),
    ("/etc", "/host/etc", True),
    ("/sys/fs/cgroup", "/host/sys/fs/cgroup", True),
    # The one writable host path: the Kinesis spool, its size bounded by the sensor.
    ("/var/lib/lanner/spool", "/var/lib/lanner/spool", False),
}

# The sensor's Kubernetes permissions: read pods from the API server (the base), or read
# the kubelet's pod list through fine-grained kubelet authorization (overlays/kubelet-pods).
API_SERVER_RULES = {("", "pods", verb, "") for verb in ("get", "list", "watch")}
KUBELET_RULES = {("", "nodes/pods", "get", "")}

BASE_ARGS = [
    "sensor",
    "--config",
    "/etc/lanner/sensor.yaml",
    "--metrics-listen",
    "0.0.0.0:9376",
    "--k8s-api-url",
    "https://kubernetes.default.svc",
    "--json",
    "-r",
    "/opt/lanner/rules",
    "-r",
    "/etc/lanner/rules.d",
    "--spool-dir",
    "/var/lib/lanner/spool",
]

EXAMPLE_IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/lanner-sensor:0.1.0"


def _path(target: str) -> Path:
    return BASE if target == "base" else overlay(target)


def _schema_versions() -> list[str]:
    minors = {tuple(int(p) for p in v.split(".")[:2]) for v in all_versions()}
    return [f"{a}.{b}" for a, b in sorted(minors) if (a, b) >= OLDEST_KUBERNETES]


def _sensor_long_options() -> set[str]:
    from cli.main import main

    return {
        opt
        for param in main.commands["sensor"].params
        for opt in param.opts
        if opt.startswith("--")
    }


# --- what there is ------------------------------------------------------------------------


def test_the_overlays_are_the_documented_ones() -> None:
    assert OVERLAY_NAMES == ["example", "kubelet-pods", "node-selection", "resources", "user-rules"]
    readme = (ROOT / "infra" / "README.md").read_text()
    for name in OVERLAY_NAMES:
        assert f"overlays/{name}" in readme, f"infra/README.md does not document {name}"
        first = (overlay(name) / "kustomization.yaml").read_text().splitlines()[0]
        assert first.startswith("# "), f"overlays/{name} does not say what it is for"


def test_the_base_renders_the_objects_a_cluster_admin_reviews() -> None:
    docs = render(BASE)
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    assert [(k, n) for k, n in kinds if not n.startswith("lanner-sensor-config-")] == [
        ("ClusterRole", "lanner-sensor"),
        ("ClusterRoleBinding", "lanner-sensor"),
        ("ConfigMap", "lanner-user-rules"),
        ("DaemonSet", "lanner-sensor"),
        ("Namespace", "lanner"),
        ("ServiceAccount", "lanner-sensor"),
    ]
    # The settings ConfigMap carries a hash of its content: a change rolls the DaemonSet.
    [config] = [n for k, n in kinds if n.startswith("lanner-sensor-config-")]
    assert re.fullmatch(r"lanner-sensor-config-[a-z0-9]{10}", config)
    for d in docs:
        if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"]["namespace"] == "lanner", d["kind"]
        assert d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "lanner", d["kind"]
    # Pod Security admission would refuse hostPID, hostPath and added capabilities otherwise.
    labels = one(docs, "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    # No account, region, stream or role in the base: those are an overlay's.
    sa = one(docs, "ServiceAccount")
    assert "eks.amazonaws.com/role-arn" not in sa["metadata"].get("annotations", {})
    assert "kinesis-stream" not in settings(docs)
    assert "<" not in yaml.safe_dump_all(docs), "a placeholder is left in the base"


def test_the_base_image_is_the_release_this_checkout_builds() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert sensor_container(render(BASE))["image"] == f"lanner-sensor:{version}"


@pytest.mark.parametrize("target", TARGETS)
def test_renders_valid_objects_for_every_supported_kubernetes_version(target: str) -> None:
    docs = render(_path(target))
    versions = _schema_versions()
    assert versions[0] == "1.29" and len(versions) >= 6, versions
    errors = []
    for version in versions:
        for d in docs:
            name = f"{d['kind']}/{d['metadata']['name']}"
            try:
                kubernetes_validate.validate(d, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                errors.append(f"{version} {name}: {path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                errors.append(f"{version} {name}: {e.message}")
    assert not errors, "\n".join(errors)


def test_schema_validation_refuses_a_misspelt_field() -> None:
    """The validation above can fail: a typo in the container's securityContext (which
    the API server would drop silently with a warning, leaving the root writable)."""
    ds = one(render(BASE), "DaemonSet")
    sc = ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    sc["readOnlyRootFileSystem"] = sc.pop("readOnlyRootFilesystem")
    with pytest.raises(kubernetes_validate.ValidationError, match="readOnlyRootFileSystem"):
        kubernetes_validate.validate(ds, _schema_versions()[-1], strict=True)


# --- what the sensor runs -----------------------------------------------------------------


@pytest.mark.parametrize("target", [t for t in TARGETS if t != "kubelet-pods"])
def test_sensor_args_follow_the_contract(target: str) -> None:
    docs = render(_path(target))
    assert sensor_container(docs)["args"] == BASE_ARGS


def test_kubelet_overlay_reads_the_pod_list_from_this_nodes_kubelet() -> None:
    docs = render(overlay("kubelet-pods"))
    sensor = sensor_container(docs)
    args = sensor["args"]
    assert option(args, "--kubelet-url") == "https://$(NODE_IP):10250/pods"
    assert "--k8s-api-url" not in args
    assert [a for a in args if a not in ("--kubelet-url", "https://$(NODE_IP):10250/pods")] == [
        a for a in BASE_ARGS if a not in ("--k8s-api-url", "https://kubernetes.default.svc")
    ]
    env = {e["name"]: e for e in sensor["env"]}
    assert env["NODE_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"


@pytest.mark.parametrize("target", TARGETS)
def test_every_option_given_is_one_lanner_sensor_takes(target: str, tmp_path: Path) -> None:
    """The args are `lanner sensor` options and the settings file loads as `--config`
    reads it (a misspelt key would stop every pod at start); nothing turns TLS
    verification off."""
    from sensor.config import load_config

    docs = render(_path(target))
    known = _sensor_long_options()
    given = {a for a in sensor_container(docs)["args"] if a.startswith("--")}
    assert given <= known, f"not options of lanner sensor: {sorted(given - known)}"
    assert "--kubelet-insecure" not in given
    file = tmp_path / "sensor.yaml"
    file.write_text(settings_text(docs))
    config = load_config(file)  # ConfigError lists every problem
    assert config.model_fields_set
    assert config.spool_max_mb == 256
    if target == "example":
        assert config.kinesis_stream == "lanner-Stream-0123ABCD4567"
    else:
        assert "kinesis_stream" not in config.model_fields_set


def test_node_name_comes_from_the_downward_api() -> None:
    env = {e["name"]: e for e in sensor_container(render(BASE))["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["HOST_ROOT"]["value"] == "/host"


@pytest.mark.parametrize("target", TARGETS)
def test_prometheus_scrapes_the_port_the_sensor_listens_on(target: str) -> None:
    docs = render(_path(target))
    annotations = one(docs, "DaemonSet")["spec"]["template"]["metadata"]["annotations"]
    sensor = sensor_container(docs)
    port = option(sensor["args"], "--metrics-listen").rpartition(":")[2]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": port,
        "prometheus.io/path": "/metrics",
    }
    assert {"name": "metrics", "containerPort": int(port), "protocol": "TCP"} in sensor["ports"]


def test_example_overlay_names_the_image_stream_region_and_role() -> None:
    docs = render(overlay("example"))
    sensor = sensor_container(docs)
    assert sensor["image"] == EXAMPLE_IMAGE
    assert settings(docs)["kinesis-stream"] == "lanner-Stream-0123ABCD4567"
    env = {e["name"]: e for e in sensor["env"]}
    assert env["AWS_REGION"]["value"] == "eu-west-1"
    annotations = one(docs, "ServiceAccount")["metadata"]["annotations"]
    assert (
        annotations["eks.amazonaws.com/role-arn"] == "arn:aws:iam::111122223333:role/lanner-sensor"
    )
    # The role's trust (infra/sensor-irsa.yaml) names this service account in this namespace.
    sa = one(docs, "ServiceAccount")["metadata"]
    assert (sa["namespace"], sa["name"]) == ("lanner", "lanner-sensor")
    assert pod_spec(docs)["serviceAccountName"] == "lanner-sensor"
    # Its own settings replaced the base's, under a new hashed name the DaemonSet follows.
    assert settings(docs) != settings(render(BASE))


def _differences(a: Any, b: Any, path: str = "") -> set[str]:
    """Where ``b`` differs from ``a``: the paths of the differing leaves, lists of named
    objects (containers, env, volumes) matched by name, other lists compared whole."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in a.keys() | b.keys():
            out |= _differences(a.get(key), b.get(key), f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        named = all(isinstance(x, dict) and "name" in x for x in a + b)
        by_a = {x["name"]: x for x in a} if named else {}
        by_b = {x["name"]: x for x in b} if named else {}
        if named and by_a.keys() == by_b.keys():
            return set().union(*(_differences(by_a[n], by_b[n], f"{path}[{n}]") for n in by_a))
    return set() if a == b else {path}


_POD = ".spec.template.spec"
_SENSOR = f"{_POD}.containers[sensor]"

# What each overlay changes in the DaemonSet, and nothing else.
DAEMONSET_CHANGES = {
    "example": {
        f"{_SENSOR}.image",
        f"{_SENSOR}.env",  # AWS_REGION added
        f"{_POD}.volumes[sensor-config].configMap.name",  # its own settings file
    },
    "kubelet-pods": {f"{_SENSOR}.args", f"{_SENSOR}.env"},
    "node-selection": {f"{_POD}.nodeSelector.lanner.example.com/sensor", f"{_POD}.tolerations"},
    "resources": {
        f"{_SENSOR}.resources.requests.cpu",
        f"{_SENSOR}.resources.requests.memory",
        f"{_SENSOR}.resources.limits.cpu",
        f"{_SENSOR}.resources.limits.memory",
    },
    # A rules change leaves the pod template alone: applying it restarts no sensor.
    "user-rules": set(),
}


@pytest.mark.parametrize("name", OVERLAY_NAMES)
def test_each_overlay_changes_only_what_it_documents(name: str) -> None:
    base, docs = render(BASE), render(overlay(name))
    changed = _differences(one(base, "DaemonSet"), one(docs, "DaemonSet"))
    assert changed == DAEMONSET_CHANGES[name]
    assert {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] != "ConfigMap"} == {
        (d["kind"], d["metadata"]["name"]) for d in base if d["kind"] != "ConfigMap"
    }


def test_node_selection_overlay_narrows_where_the_sensor_runs() -> None:
    pod = pod_spec(render(overlay("node-selection")))
    assert pod["nodeSelector"] == {
        "kubernetes.io/os": "linux",
        "lanner.example.com/sensor": "enabled",
    }
    # The catch-all toleration is gone, not merely joined by another.
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "monitored", "effect": "NoSchedule"}
    ]


def test_resources_overlay_sets_requests_and_limits() -> None:
    assert sensor_container(render(overlay("resources")))["resources"] == {
        "requests": {"cpu": "250m", "memory": "384Mi"},
        "limits": {"cpu": "1", "memory": "768Mi"},
    }


# --- what the sensor may do ---------------------------------------------------------------


def test_base_privileges_are_the_reviewed_ones() -> None:
    docs = render(BASE)
    p = privileges(docs)
    assert p.host_namespaces == {"hostPID"}
    assert p.capabilities == EXPECTED_CAPS
    assert "SYS_ADMIN" not in p.capabilities
    assert p.host_paths == EXPECTED_HOST_PATHS
    assert p.containers == {"sensor"}
    assert p.service_accounts == {"lanner-sensor"}
    assert p.volume_kinds == {"hostPath", "configMap", "emptyDir"}
    assert not (p.privileged | p.escalation | p.writable_root | p.not_dropping_all | p.unconfined)
    sensor = sensor_container(docs)
    caps = sensor["securityContext"]["capabilities"]["add"]
    assert len(caps) == len(set(caps)), "a capability is listed twice"
    assert sensor["securityContext"]["runAsUser"] == 0  # see infra/README.md, "Root, no USER"
    # Otherwise only scratch space is writable: emptyDirs with a size limit.
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    for mount in sensor["volumeMounts"]:
        volume = volumes[mount["name"]]
        if not mount.get("readOnly") and "hostPath" not in volume:
            assert volume["emptyDir"]["sizeLimit"], mount["name"]


@pytest.mark.parametrize("name", OVERLAY_NAMES)
def test_no_overlay_grows_the_sensors_privileges(name: str) -> None:
    base, docs = privileges(render(BASE)), privileges(render(overlay(name)))
    assert growth(base, docs, rbac=False) == []
    assert docs.host_paths == base.host_paths
    assert "hostNetwork" not in docs.host_namespaces
    assert not docs.privileged and not docs.writable_root


@pytest.mark.parametrize("target", TARGETS)
def test_rbac_is_exactly_the_least_privilege_set(target: str) -> None:
    docs = render(_path(target))
    expected = KUBELET_RULES if target == "kubelet-pods" else API_SERVER_RULES
    p = privileges(docs)
    assert p.rbac == expected
    assert p.bound_subjects == {("ClusterRoleBinding", "lanner-sensor", "lanner-sensor", "lanner")}
    assert not [r for r in p.rbac if r[1] == "nodes/proxy" or "*" in r]


def _escalated(tmp_path: Path, kind: str, ops: list[Doc]) -> list[Doc]:
    """The base with one JSON patch on its object of ``kind``, as an overlay would add."""
    kustomization = {
        "resources": [os.path.relpath(BASE, tmp_path)],
        "patches": [{"target": {"kind": kind}, "patch": yaml.safe_dump(ops)}],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return render(tmp_path)


_C = "/spec/template/spec/containers/0"
_SC = f"{_C}/securityContext"
_HARDENED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
# One grant of each kind, as an overlay could make it: (object kind, JSON patch).
ESCALATIONS: dict[str, tuple[str, list[Doc]]] = {
    "capabilities": (
        "DaemonSet",
        [{"op": "add", "path": f"{_SC}/capabilities/add/-", "value": "SYS_ADMIN"}],
    ),
    "not_dropping_all": (
        "DaemonSet",
        [{"op": "replace", "path": f"{_SC}/capabilities/drop", "value": ["NET_RAW"]}],
    ),
    "privileged": (
        "DaemonSet",
        [{"op": "replace", "path": f"{_SC}/privileged", "value": True}],
    ),
    "escalation": (
        "DaemonSet",
        [{"op": "remove", "path": f"{_SC}/allowPrivilegeEscalation"}],
    ),
    "writable_root": (
        "DaemonSet",
        [{"op": "replace", "path": f"{_SC}/readOnlyRootFilesystem", "value": False}],
    ),
    "host_namespaces": (
        "DaemonSet",
        [{"op": "replace", "path": "/spec/template/spec/hostNetwork", "value": True}],
    ),
    "host_paths": (
        "DaemonSet",
        [
            {
                "op": "add",
                "path": "/spec/template/spec/volumes/-",
                "value": {"name": "containerd", "hostPath": {"path": "/run/containerd"}},
            },
            {
                "op": "add",
                "path": f"{_C}/volumeMounts/-",
                "value": {"name": "containerd", "mountPath": "/run/containerd"},
            },
        ],
    ),
    "unconfined": (
        "DaemonSet",
        [
            {
                "op": "replace",
                "path": "/spec/template/spec/securityContext/seccompProfile/type",
                "value": "Unconfined",
            }
        ],
    ),
    # A hardened one: only the container itself is new.
    "containers": (
        "DaemonSet",
        [
            {
                "op": "add",
                "path": "/spec/template/spec/initContainers",
                "value": [{"name": "helper", "image": "busybox", "securityContext": _HARDENED}],
            }
        ],
    ),
    "service_accounts": (
        "DaemonSet",
        [{"op": "replace", "path": "/spec/template/spec/serviceAccountName", "value": "admin"}],
    ),
    "volume_kinds": (
        "DaemonSet",
        [
            {
                "op": "add",
                "path": "/spec/template/spec/volumes/-",
                "value": {"name": "creds", "secret": {"secretName": "cloud-credentials"}},
            }
        ],
    ),
    "rbac": (
        "ClusterRole",
        [
            {
                "op": "add",
                "path": "/rules/-",
                "value": {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]},
            }
        ],
    ),
}


@pytest.mark.parametrize("field", sorted(ESCALATIONS))
def test_the_privilege_comparison_notices_each_kind_of_growth(field: str, tmp_path: Path) -> None:
    grown = growth(privileges(render(BASE)), privileges(_escalated(tmp_path, *ESCALATIONS[field])))
    assert [line.split(":")[0] for line in grown] == [field]


def test_a_writable_host_mount_counts_as_growth(tmp_path: Path) -> None:
    patch = [{"op": "replace", "path": f"{_C}/volumeMounts/2/readOnly", "value": False}]
    docs = _escalated(tmp_path, "DaemonSet", patch)
    assert sensor_container(docs)["volumeMounts"][2]["mountPath"] == "/host/etc"
    assert growth(privileges(render(BASE)), privileges(docs)) == [
        "host_paths: [('/etc', '/host/etc', False)]"
    ]


@pytest.mark.parametrize("target", TARGETS)
def test_the_node_lends_no_kernel_headers(target: str) -> None:
    """The image brings its headers: nothing of the host's module or source trees is
    mounted (a pod could otherwise compile against whatever the node happens to have)."""
    docs = render(_path(target))
    mounted = {p for hp in privileges(docs).host_paths for p in hp[:2]}
    for path in mounted:
        assert not path.startswith(("/lib/modules", "/usr/src", "/usr/lib/modules")), path
    env = {e["name"] for e in sensor_container(docs)["env"]}
    assert not {"LANNER_KERNEL_HEADERS", "BCC_KERNEL_SOURCE"} & env  # chosen by looking


# --- scheduling, rollout, health ----------------------------------------------------------


def test_daemonset_selector_matches_its_pod_template() -> None:
    ds = one(render(BASE), "DaemonSet")
    selector = ds["spec"]["selector"]["matchLabels"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    assert selector and selector.items() <= labels.items()


def test_the_base_runs_on_every_linux_node_but_fargate_whatever_its_taints() -> None:
    pod = pod_spec(render(BASE))
    # An Exists toleration without a key and without an effect matches every taint.
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    [term] = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"] == [
        {"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["fargate"]}
    ]


def test_rollout_and_shutdown_settings() -> None:
    spec = one(render(BASE), "DaemonSet")["spec"]
    strategy = spec["updateStrategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"] == {"maxUnavailable": 1, "maxSurge": 0}
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] >= 30


def test_base_resources_are_requested_and_limited() -> None:
    assert sensor_container(render(BASE))["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }


def test_probe_command_reads_the_heartbeat_the_sensor_writes_in_its_volume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probes' exact command, run as the kubelet runs it (no other argument): it reads
    the default heartbeat, which lies in the pod's writable `run` volume."""
    from click.testing import CliRunner

    from cli.main import main

    sensor = sensor_container(render(BASE))
    commands = {
        tuple(sensor[p]["exec"]["command"])
        for p in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert commands == {("lanner", "sensor", "--check")}
    [command] = commands
    mounts = {m["name"]: m["mountPath"] for m in sensor["volumeMounts"]}
    [param] = [p for p in main.commands["sensor"].params if p.name == "heartbeat"]
    monkeypatch.delenv("LANNER_HEARTBEAT", raising=False)
    default = param.default() if callable(param.default) else param.default
    assert Path(str(default)).parent == Path(mounts["run"])
    heartbeat = tmp_path / "heartbeat"
    monkeypatch.setenv("LANNER_HEARTBEAT", str(heartbeat))  # the default, moved for the test
    assert CliRunner().invoke(main, list(command[1:])).exit_code == 1  # no sensor yet
    heartbeat.write_text("1")  # what a running sensor's loop does every few seconds
    assert CliRunner().invoke(main, list(command[1:])).exit_code == 0


# --- rules --------------------------------------------------------------------------------


def _configmap_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    """Lays files out as the kubelet does for a ConfigMap volume: dot-dirs and symlinks."""
    root = tmp_path / "rules.d"
    stamp = root / "..2026_01_01_00_00_00.000000001"
    stamp.mkdir(parents=True)
    for name, text in files.items():
        (stamp / name).write_text(text)
    (root / "..data").symlink_to(stamp.name)
    for name in files:
        (root / name).symlink_to(f"..data/{name}")
    return root


def _user_rules(docs: list[Doc]) -> dict[str, str]:
    """The rules ConfigMap the DaemonSet mounts as a directory at /etc/lanner/rules.d."""
    sensor = sensor_container(docs)
    (mount,) = [m for m in sensor["volumeMounts"] if m["mountPath"] == "/etc/lanner/rules.d"]
    assert mount["readOnly"] is True
    # A subPath mount would never see the kubelet's updates of the ConfigMap.
    assert "subPath" not in mount
    (volume,) = [v for v in pod_spec(docs)["volumes"] if v["name"] == mount["name"]]
    name = volume["configMap"]["name"]
    # No hash suffix: a rules change updates this ConfigMap in place, with no rollout.
    assert name == "lanner-user-rules"
    # The bundled rules are named first, the ConfigMap's directory after them.
    args = sensor["args"]
    assert [args[i + 1] for i, a in enumerate(args) if a in ("-r", "--rules")] == [
        "/opt/lanner/rules",
        mount["mountPath"],
    ]
    data: dict[str, str] = one(docs, "ConfigMap", name)["data"]
    return data


def _uncommented_example(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line == "#":
            lines.append("")
        elif line.startswith(("# - ", "#   ")):
            lines.append(line[2:])
    return "\n".join(lines)


def _shell_event(namespace: str, proc: str = "bash") -> dict[str, Any]:
    return {
        "evt.type": "execve",
        "evt.res": "SUCCESS",
        "evt.rawres": 0,
        "evt.rawtime": 1_700_000_000_000_000_000,
        "proc.name": proc,
        "proc.cmdline": f"{proc} -i",
        "user.name": "root",
        "k8s.ns.name": namespace,
        "k8s.pod.name": "api-7f9c",
        "container.id": "3ad7b26ded6d",
        "container.name": "api",
        "container.image.repository": "example/api",
    }


def test_shipped_rules_configmap_loads_with_the_bundled_rules(tmp_path: Path) -> None:
    user_dir = _configmap_dir(tmp_path, _user_rules(render(BASE)))
    ruleset = load_rules([str(ROOT / "rules"), str(user_dir)])
    bundled = load_rules([str(ROOT / "rules")])
    assert len(ruleset.rules) == len(bundled.rules)  # the shipped file is only comments
    assert Path(ruleset.files[-1]).name == "user_rules.yaml"


def test_commented_example_rule_fires_once_uncommented(tmp_path: Path) -> None:
    text = _user_rules(render(BASE))["user_rules.yaml"]
    user_dir = _configmap_dir(tmp_path, {"user_rules.yaml": _uncommented_example(text)})
    engine = compile_rules(load_rules([str(ROOT / "rules"), str(user_dir)]), match="all")
    alerts = [
        a
        for a in engine.evaluate(_shell_event("payments"), "syscall")
        if a.rule == "Shell started in a payments pod"
    ]
    assert len(alerts) == 1
    assert "Shell in payments pod (user=root command=bash -i pod=api-7f9c" in alerts[0].output
    benign = engine.evaluate(_shell_event("web"), "syscall")
    assert not [a for a in benign if a.rule.startswith("Shell started")]


def test_user_rules_overlay_adds_a_file_that_loads_and_fires(tmp_path: Path) -> None:
    files = _user_rules(render(overlay("user-rules")))
    assert sorted(files) == ["my_rules.yaml", "user_rules.yaml"]
    user_dir = _configmap_dir(tmp_path, files)
    ruleset = load_rules([str(ROOT / "rules"), str(user_dir)])
    assert [Path(f).name for f in ruleset.files[-2:]] == ["my_rules.yaml", "user_rules.yaml"]
    engine = compile_rules(ruleset, match="all")
    rule = "Package manager run in a production pod"
    fired = [
        a
        for a in engine.evaluate(_shell_event("production", "apt-get"), "syscall")
        if a.rule == rule
    ]
    assert len(fired) == 1
    assert "Package manager in a production pod (user=root command=apt-get -i" in fired[0].output
    for benign in (_shell_event("web", "apt-get"), _shell_event("production", "bash")):
        assert not [a for a in engine.evaluate(benign, "syscall") if a.rule == rule]
