"""The EKS deployment in infra/: what a reviewer checks before it reaches a cluster.

The manifest, the IAM policy and the Dockerfile are parsed, never applied: no cluster, no
Docker engine. The capability tests at the end run bcc with exactly the manifest's
capabilities, so the list stays both sufficient and necessary on a real kernel.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lanner import compile_rules, load_rules

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
MANIFEST = INFRA / "sensor-daemonset.yaml"
POLICY = INFRA / "sensor-iam-policy.json"
DOCKERFILE = INFRA / "sensor.Dockerfile"

# What the container may add back after dropping ALL, and nothing else (README explains each).
EXPECTED_CAPS = {"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE", "DAC_READ_SEARCH"}
BUNDLED_RULES_IN_IMAGE = "/opt/lanner/rules"


def _docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def _one(kind: str) -> dict[str, Any]:
    found = [d for d in _docs() if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def pod() -> dict[str, Any]:
    spec: dict[str, Any] = _one("DaemonSet")["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def sensor(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod["containers"]
    assert isinstance(container, dict)
    return container


def _all_containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod.get("initContainers", [])
    yield from pod["containers"]


# --- the manifest -------------------------------------------------------------------------


def test_manifest_holds_its_objects_all_in_the_lanner_namespace() -> None:
    docs = _docs()
    assert sorted(d["kind"] for d in docs) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "DaemonSet",
        "Namespace",
        "ServiceAccount",
    ]
    assert _one("Namespace")["metadata"]["name"] == "lanner"
    for d in docs:
        if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"]["namespace"] == "lanner", d["kind"]
    # Pod Security admission would refuse hostPID, hostPath and added capabilities otherwise.
    labels = _one("Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"


def test_daemonset_selector_matches_its_pod_template() -> None:
    ds = _one("DaemonSet")
    selector = ds["spec"]["selector"]["matchLabels"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    assert selector and selector.items() <= labels.items()


def test_pod_shares_the_host_pid_namespace_and_nothing_else(pod: dict[str, Any]) -> None:
    assert pod["hostPID"] is True
    assert not pod.get("hostNetwork", False)
    assert not pod.get("hostIPC", False)


def test_no_container_is_privileged_or_can_escalate(pod: dict[str, Any]) -> None:
    for c in _all_containers(pod):
        sc = c["securityContext"]
        assert sc.get("privileged", False) is False, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]


def test_capabilities_drop_all_and_add_back_only_the_listed_ones(sensor: dict[str, Any]) -> None:
    caps = sensor["securityContext"]["capabilities"]
    assert caps["drop"] == ["ALL"]
    added = {c.removeprefix("CAP_") for c in caps["add"]}
    assert added == EXPECTED_CAPS
    assert len(caps["add"]) == len(added), "a capability is listed twice"
    assert "SYS_ADMIN" not in added


def test_root_filesystem_is_read_only_and_the_sensor_runs_as_root(
    pod: dict[str, Any], sensor: dict[str, Any]
) -> None:
    sc = sensor["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["runAsUser"] == 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"


def test_every_host_path_is_mounted_read_only(pod: dict[str, Any], sensor: dict[str, Any]) -> None:
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in sensor["volumeMounts"]}
    assert mounts.keys() <= volumes.keys(), "a mount names no volume"
    host = {
        name: volumes[name]["hostPath"]["path"] for name in mounts if "hostPath" in volumes[name]
    }
    by_path = {path: mounts[name] for name, path in host.items()}
    for path, mount in by_path.items():
        if path == "/var/lib/lanner/spool":
            continue  # the one writable host path: the Kinesis spool, size bounded by the sensor
        assert mount.get("readOnly") is True, f"host {path} is writable in the pod"
    # Where the sensor finds what bcc and the enrichment need.
    assert by_path["/sys/kernel/tracing"]["mountPath"] == "/sys/kernel/tracing"
    assert by_path["/proc"]["mountPath"] == "/host/proc"
    assert by_path["/etc"]["mountPath"] == "/host/etc"
    assert by_path["/sys/fs/cgroup"]["mountPath"] == "/host/sys/fs/cgroup"
    assert by_path["/var/lib/lanner/spool"]["mountPath"] == "/var/lib/lanner/spool"
    # Otherwise only scratch space is writable: emptyDirs with a size limit.
    for name, mount in mounts.items():
        if not mount.get("readOnly") and name != "spool":
            assert "emptyDir" in volumes[name], f"{name} is writable and not an emptyDir"
            assert volumes[name]["emptyDir"].get("sizeLimit"), f"{name} has no size limit"


def test_the_node_lends_no_kernel_headers(pod: dict[str, Any], sensor: dict[str, Any]) -> None:
    """The image brings its headers: nodes need none installed, and nothing of the host's
    module or source trees is mounted (a pod could otherwise end up compiling against
    whatever the node happens to have, or fail on nodes without it)."""
    host_paths = [v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v]
    mounted = [m["mountPath"] for m in sensor["volumeMounts"]]
    for path in host_paths + mounted:
        assert not path.startswith(("/lib/modules", "/usr/src", "/usr/lib/modules")), path
    env = {e["name"] for e in sensor["env"]}
    assert not {"LANNER_KERNEL_HEADERS", "BCC_KERNEL_SOURCE"} & env  # chosen by looking


def test_resources_are_requested_and_limited(sensor: dict[str, Any]) -> None:
    res = sensor["resources"]
    assert res["requests"] == {"cpu": "100m", "memory": "256Mi"}
    assert res["limits"] == {"cpu": "500m", "memory": "512Mi"}


def test_pod_runs_on_every_node_whatever_its_taints(pod: dict[str, Any]) -> None:
    # An Exists toleration without a key and without an effect matches every taint.
    assert {"operator": "Exists"} in pod["tolerations"]
    assert pod["priorityClassName"] == "system-node-critical"


def test_rollout_and_shutdown_settings() -> None:
    spec = _one("DaemonSet")["spec"]
    strategy = spec["updateStrategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"]
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] >= 30


def test_node_name_comes_from_the_downward_api(sensor: dict[str, Any]) -> None:
    env = {e["name"]: e for e in sensor["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"


def test_sensor_args_and_probes(sensor: dict[str, Any]) -> None:
    args = sensor["args"]
    assert args[0] == "sensor"
    assert "--json" in args
    # Shipping to the stream, spooling to the node's disk with a bound.
    assert args[args.index("--kinesis-stream") + 1] == "$(LANNER_KINESIS_STREAM)"
    assert args[args.index("--spool-dir") + 1] == "/var/lib/lanner/spool"
    assert int(args[args.index("--spool-max-mb") + 1]) > 0
    env = {e["name"]: e for e in sensor["env"]}
    assert env["LANNER_KINESIS_STREAM"]["value"] == "lanner-events"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert sensor[probe]["exec"]["command"] == ["lanner", "sensor", "--check"], probe


def test_probe_command_reads_the_heartbeat_the_sensor_writes_in_its_volume(
    sensor: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probes' exact command, run as the kubelet runs it (no other argument): it reads
    the default heartbeat, which lies in the pod's writable `run` volume."""
    from click.testing import CliRunner

    from cli.main import main

    [command] = {tuple(sensor[p]["exec"]["command"]) for p in ("startupProbe", "livenessProbe")}
    mounts = {m["name"]: m["mountPath"] for m in sensor["volumeMounts"]}
    sensor_cmd = main.commands["sensor"]
    [option] = [p for p in sensor_cmd.params if p.name == "heartbeat"]
    monkeypatch.delenv("LANNER_HEARTBEAT", raising=False)
    assert Path(option.default()).parent == Path(mounts["run"])
    heartbeat = tmp_path / "heartbeat"
    monkeypatch.setenv("LANNER_HEARTBEAT", str(heartbeat))  # the default, moved for the test
    assert CliRunner().invoke(main, list(command[1:])).exit_code == 1  # no sensor yet
    heartbeat.write_text("1")  # what a running sensor's loop does every few seconds
    assert CliRunner().invoke(main, list(command[1:])).exit_code == 0


def test_no_deployment_text_calls_the_health_check_unimplemented() -> None:
    for path in (MANIFEST, INFRA / "README.md"):
        text = path.read_text()
        for stale in (
            "TO BE IMPLEMENTED",
            "to be implemented",
            "Until it exists",
            "Until `--check`",
        ):
            assert stale not in text, (path.name, stale)
        assert "remove these three probes" not in text and "delete the three probes" not in text


def test_service_account_is_annotated_for_irsa_and_used_by_the_pod(pod: dict[str, Any]) -> None:
    sa = _one("ServiceAccount")
    arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::(<ACCOUNT_ID>|\d{12}):role/lanner-sensor", arn)
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    # The token only reads this node's pod list from its kubelet (see the ClusterRole test).
    assert pod["automountServiceAccountToken"] is True


def test_rbac_allows_only_the_kubelet_pod_list(sensor: dict[str, Any]) -> None:
    role = _one("ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}]
    binding = _one("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "lanner-sensor", "namespace": "lanner"}
    ]
    args = sensor["args"]
    assert args[args.index("--kubelet-url") + 1] == "https://$(NODE_IP):10250/pods"
    env = {e["name"]: e for e in sensor["env"]}
    assert env["NODE_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"


def _rules_dirs(sensor: dict[str, Any]) -> list[str]:
    args = sensor["args"]
    return [args[i + 1] for i, a in enumerate(args) if a in ("-r", "--rules")]


def test_user_rules_configmap_is_mounted_and_loaded_after_the_bundled_rules(
    pod: dict[str, Any], sensor: dict[str, Any]
) -> None:
    cm_name = _one("ConfigMap")["metadata"]["name"]
    (volume,) = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == cm_name]
    (mount,) = [m for m in sensor["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    assert _rules_dirs(sensor) == [BUNDLED_RULES_IN_IMAGE, mount["mountPath"]]
    assert "LANNER_RULES_DIR=/opt/lanner/rules" in DOCKERFILE.read_text()


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


def _uncommented_example(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line == "#":
            lines.append("")
        elif line.startswith(("# - ", "#   ")):
            lines.append(line[2:])
    return "\n".join(lines)


def test_shipped_configmap_loads_with_the_bundled_rules(
    tmp_path: Path, sensor: dict[str, Any]
) -> None:
    data = _one("ConfigMap")["data"]
    user_dir = _configmap_dir(tmp_path, data)
    ruleset = load_rules([str(ROOT / "rules"), str(user_dir)])
    bundled = load_rules([str(ROOT / "rules")])
    assert len(ruleset.rules) == len(bundled.rules)  # the shipped file is only comments
    assert Path(ruleset.files[-1]).name == "user_rules.yaml"


def test_commented_example_rule_fires_once_uncommented(tmp_path: Path) -> None:
    text = _one("ConfigMap")["data"]["user_rules.yaml"]
    user_dir = _configmap_dir(tmp_path, {"user_rules.yaml": _uncommented_example(text)})
    engine = compile_rules(load_rules([str(ROOT / "rules"), str(user_dir)]), match="all")
    doc = {
        "evt.type": "execve",
        "evt.res": "SUCCESS",
        "evt.rawres": 0,
        "evt.rawtime": 1_700_000_000_000_000_000,
        "proc.name": "bash",
        "proc.cmdline": "bash -i",
        "user.name": "root",
        "k8s.ns.name": "payments",
        "k8s.pod.name": "api-7f9c",
        "container.id": "3ad7b26ded6d",
        "container.name": "api",
        "container.image.repository": "example/api",
    }
    alerts = [
        a for a in engine.evaluate(doc, "syscall") if a.rule == "Shell started in a payments pod"
    ]
    assert len(alerts) == 1
    assert "Shell in payments pod (user=root command=bash -i pod=api-7f9c" in alerts[0].output
    doc["k8s.ns.name"] = "web"
    assert not [a for a in engine.evaluate(doc, "syscall") if a.rule.startswith("Shell started")]


# --- the IAM policy -----------------------------------------------------------------------


def test_iam_policy_only_writes_to_one_stream() -> None:
    policy = json.loads(POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    allowed_actions = {
        "kinesis:PutRecord",
        "kinesis:PutRecords",
        "kinesis:DescribeStreamSummary",
        "kinesis:ListShards",
    }
    actions: set[str] = set()
    for st in policy["Statement"]:
        assert st["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "Principal"} & st.keys()
        acts = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        assert all("*" not in a and "?" not in a for a in acts), acts
        actions |= set(acts)
        resource = st["Resource"]
        assert isinstance(resource, str), "one stream ARN, not a list"
        assert re.fullmatch(
            r"arn:aws:kinesis:(<REGION>|[a-z]{2}(-[a-z]+)+-\d):(<ACCOUNT_ID>|\d{12}):stream/[A-Za-z0-9_.-]+",
            resource,
        ), resource
    assert {"kinesis:PutRecord", "kinesis:PutRecords"} <= actions <= allowed_actions


# --- the Dockerfile -----------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions by build stage; the last stage is the image."""
    stages: list[list[tuple[str, str]]] = []
    for op, rest in _instructions():
        if op == "FROM":
            stages.append([])
        stages[-1].append((op, rest))
    return stages


def _commands(instructions: list[tuple[str, str]]) -> list[list[str]]:
    """The shell commands of the RUN instructions, as words: split at `&&`, `||`, `;` and `|`
    outside quotes (a `python -c "a; b"` is one command)."""
    commands: list[list[str]] = []
    for op, rest in instructions:
        if op != "RUN":
            continue
        lex = shlex.shlex(rest, posix=True, punctuation_chars=";&|")
        lex.whitespace_split = True
        words: list[str] = []
        for token in [*lex, ";"]:
            if token in (";", "&&", "||", "|"):
                if words:
                    commands.append(words)
                words = []
            else:
                words.append(token)
    return commands


def _apt_installed(instructions: list[tuple[str, str]]) -> list[str]:
    return [
        w
        for cmd in _commands(instructions)
        if cmd[:2] == ["apt-get", "install"]
        for w in cmd[2:]
        if not w.startswith("-")
    ]


def test_dockerfile_installs_bcc_from_debian_only() -> None:
    inst = _stages()[-1]
    assert inst[0] == ("FROM", "debian:bookworm-slim")
    assert {rest.split()[0] for op, rest in _instructions() if op == "FROM"} == {
        "debian:bookworm-slim"
    }
    assert {"python3", "python3-bpfcc"} <= set(_apt_installed(inst))
    # `pip install`, `pip3 install`, `python -m pip install`, with or without a version pin.
    for words in _commands(_instructions()):
        if any(Path(w).name.startswith("pip") for w in words) and "install" in words:
            names = {re.split(r"[=<>!~\[;@ ]", w)[0].lower() for w in words}
            assert not {"bcc", "bpfcc", "pybcc"} & names, words


def test_dockerfile_brings_debians_kernel_headers_without_their_compiler() -> None:
    *build_stages, image = _stages()
    [(_, header_from)] = [i for stage in build_stages for i in stage if i[0] == "FROM"]
    stage = header_from.split()[-1]  # `debian:bookworm-slim AS headers`
    [headers] = [s for s in build_stages if s[0][1] == header_from]
    # Debian's meta-package for the build platform's architecture (amd64, arm64).
    assert _apt_installed(headers) == ["linux-headers-$(dpkg --print-architecture)"]
    # Only the trees reach the image; the package's gcc and kbuild stay in the build stage.
    assert ("COPY", f"--from={stage} /usr/src/ /usr/src/") in image
    assert not [
        w for w in _apt_installed(image) if w.startswith(("linux-headers", "gcc", "linux-kbuild"))
    ]
    # The build fails if the copied headers are not a tree the sensor can compile against.
    runs = " ".join(rest for op, rest in image if op == "RUN")
    assert "resolve_tree(installed_trees()[0]" in runs
    assert "from sensor.headers import" in runs


def test_manifest_renders_with_kustomize(tmp_path: Path) -> None:
    """`kubectl kustomize` (offline) takes the manifest as a base, as overlays would."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("needs kubectl (kustomize is built in)")
    shutil.copy(MANIFEST, tmp_path / MANIFEST.name)
    (tmp_path / "kustomization.yaml").write_text(f"resources:\n  - {MANIFEST.name}\n")
    out = subprocess.run(
        [kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    rendered = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert sorted(d["kind"] for d in rendered) == sorted(d["kind"] for d in _docs())
    [ds] = [d for d in rendered if d["kind"] == "DaemonSet"]
    paths = [
        v["hostPath"]["path"] for v in ds["spec"]["template"]["spec"]["volumes"] if "hostPath" in v
    ]
    assert "/proc" in paths and "/lib/modules" not in paths and "/usr/src" not in paths


def test_dockerfile_copies_the_project_and_runs_lanner() -> None:
    inst = _instructions()
    copied = {w.rstrip("/") for op, rest in inst if op == "COPY" for w in rest.split()[:-1]}
    assert {"pyproject.toml", "lanner", "cli", "sensor", "deliver", "bpf", "rules"} <= copied
    assert ("ENTRYPOINT", '["lanner"]') in inst
    assert not [rest for op, rest in inst if op == "USER"], "the sensor must run as uid 0"


# --- the capabilities, on this kernel -----------------------------------------------------

# What the sensor's capture does: a syscall tracepoint reading a user string into a ring
# buffer, a raw tracepoint, the cgroup id.
_PROBE = textwrap.dedent(
    r"""
    import sys
    sys.path.append("/usr/lib/python3/dist-packages")
    from bcc import BPF
    b = BPF(text='''
    BPF_RINGBUF_OUTPUT(events, 8);
    struct ev { u64 cgroup; char path[64]; };
    TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
        struct ev *e = events.ringbuf_reserve(sizeof(struct ev));
        if (!e) return 0;
        e->cgroup = bpf_get_current_cgroup_id();
        bpf_probe_read_user_str(e->path, sizeof(e->path), args->filename);
        events.ringbuf_submit(e, 0);
        return 0;
    }
    RAW_TRACEPOINT_PROBE(sched_process_exec) { return 0; }
    ''')
    seen = []
    b["events"].open_ring_buffer(lambda ctx, data, size: seen.append(b["events"].event(data).path))
    for _ in range(40):
        open("/etc/hostname").close()
        b.ring_buffer_poll(timeout=50)
        if b"/etc/hostname" in seen:
            print("captured")
            break
    """
)


def _needs_root_and_bpf() -> str:
    if os.geteuid() != 0:
        pytest.skip("needs root and eBPF to load probes")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv (util-linux) to test eBPF capabilities")
    return setpriv


def _run_with_caps(
    setpriv: str, caps: set[str], argv: list[str]
) -> subprocess.CompletedProcess[str]:
    bounding = ",".join(["-all", *(f"+{c.lower()}" for c in sorted(caps))])
    return subprocess.run(
        [setpriv, "--bounding-set", bounding, "--inh-caps", "-all", "--", *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_probes_load_with_the_manifest_capabilities_and_not_without_bpf_or_perfmon(
    sensor: dict[str, Any],
) -> None:
    setpriv = _needs_root_and_bpf()
    caps = {c.removeprefix("CAP_") for c in sensor["securityContext"]["capabilities"]["add"]}
    probe = [sys.executable, "-c", _PROBE]
    ok = _run_with_caps(setpriv, caps, probe)
    assert ok.returncode == 0 and "captured" in ok.stdout, ok.stderr[-2000:]
    for missing in ("BPF", "PERFMON"):
        res = _run_with_caps(setpriv, caps - {missing}, probe)
        assert res.returncode != 0, f"probes loaded without CAP_{missing}: it is not needed"


_PROC_READ = textwrap.dedent(
    """
    import os, sys
    nobody, root = sys.argv[1], sys.argv[2]
    os.listdir(f"/proc/{nobody}/fd")
    os.readlink(f"/proc/{root}/exe")
    open(f"/proc/{root}/environ", "rb").close()
    print("read")
    """
)


def test_proc_of_other_processes_needs_sys_ptrace_and_dac_read_search(
    sensor: dict[str, Any],
) -> None:
    setpriv = _needs_root_and_bpf()
    caps = {c.removeprefix("CAP_") for c in sensor["securityContext"]["capabilities"]["add"]}
    sleep = shutil.which("sleep") or "/bin/sleep"
    # One process of an unprivileged user, one root process with all capabilities.
    nobody = subprocess.Popen(
        [setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups", sleep, "60"]
    )
    root = subprocess.Popen([sleep, "60"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{nobody.pid}/status").read_text().find("Uid:\t65534") < 0:
            assert time.monotonic() < deadline, "the unprivileged process did not start"
            time.sleep(0.01)
        argv = [sys.executable, "-c", _PROC_READ, str(nobody.pid), str(root.pid)]
        ok = _run_with_caps(setpriv, caps, argv)
        assert ok.returncode == 0 and "read" in ok.stdout, ok.stderr[-2000:]
        for missing in ("SYS_PTRACE", "DAC_READ_SEARCH"):
            res = _run_with_caps(setpriv, caps - {missing}, argv)
            assert res.returncode != 0 and "PermissionError" in res.stderr, missing
    finally:
        for p in (nobody, root):
            p.kill()
            p.wait()
