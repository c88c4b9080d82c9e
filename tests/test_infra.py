"""The EKS deployment files in infra/ that are not the kustomize base: the sensor's IAM
policy and its image recipe, checked as a reviewer would before a build. The Dockerfile is
parsed, never built here (no Docker engine): each COPY source must be in the repository,
so that the image builds from a clean checkout alone. The kustomize base and overlays,
and the capability checks on this kernel, are in tests/infra/.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
POLICY = INFRA / "sensor-iam-policy.json"
DOCKERFILE = INFRA / "sensor.Dockerfile"
DOCKERIGNORE = INFRA / "sensor.Dockerfile.dockerignore"
BUNDLED_RULES_IN_IMAGE = "/opt/lanner/rules"


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


def test_dockerfile_copies_the_project_and_runs_lanner() -> None:
    inst = _instructions()
    copied = {w.rstrip("/") for op, rest in inst if op == "COPY" for w in rest.split()[:-1]}
    assert {"pyproject.toml", "lanner", "cli", "sensor", "deliver", "bpf", "rules"} <= copied
    assert ("ENTRYPOINT", '["lanner"]') in inst
    assert not [rest for op, rest in inst if op == "USER"], "the sensor must run as uid 0"


def _copy_sources() -> list[str]:
    """The build-context paths the Dockerfile's COPY lines take (not --from= a stage)."""
    out = []
    for op, rest in _instructions():
        if op != "COPY":
            continue
        words = shlex.split(rest)
        if any(w.startswith("--from=") for w in words):
            continue
        out += [w for w in words[:-1] if not w.startswith("--")]
    return out


def test_every_copy_source_is_in_the_repository() -> None:
    """A clean checkout is the whole build context: every COPY source exists, is not a
    file git ignores, and holds tracked files (a local leftover would build here only)."""
    sources = _copy_sources()
    assert sources, "no COPY lines found"
    git = shutil.which("git")
    for src in sources:
        assert not Path(src).is_absolute() and ".." not in Path(src).parts, src
        path = ROOT / src
        assert path.exists(), f"COPY {src}: not in the repository"
        if git is not None and (ROOT / ".git").exists():
            tracked = subprocess.run(
                [git, "-C", str(ROOT), "ls-files", "--", src],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert tracked.returncode == 0, tracked.stderr
            assert tracked.stdout.strip(), f"COPY {src}: nothing there is tracked by git"


def test_the_build_context_is_exactly_what_the_dockerfile_copies() -> None:
    """The ignore file (`*`, then one exception per COPY source) and the COPY lines agree,
    so the context sent to the builder is neither missing a source nor the whole checkout
    (.venv, .git)."""
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {src.rstrip("/") for src in _copy_sources()}
    assert {"**/__pycache__", "**/*.pyc"} <= set(lines)


def test_dockerfile_installs_the_sensor_extra() -> None:
    """boto3 (Kinesis), prometheus-client (/metrics) and pydantic (--config) come with the
    `sensor` extra; the build fails if one of them cannot be imported."""
    installs = [
        words
        for words in _commands(_instructions())
        if any(Path(w).name == "pip" for w in words) and "install" in words
    ]
    assert installs == [
        [
            "/opt/lanner/venv/bin/pip",
            "install",
            "--no-cache-dir",
            "--editable",
            "/opt/lanner[sensor]",
        ]
    ]
    checks = " ".join(rest for op, rest in _instructions() if op == "RUN")
    assert "import bcc, boto3, lanner, prometheus_client, pydantic" in checks
    assert ("EXPOSE", "9376") in _instructions()
    assert f"LANNER_RULES_DIR={BUNDLED_RULES_IN_IMAGE}" in DOCKERFILE.read_text()


def test_no_deployment_text_is_stale() -> None:
    """The raw manifest is gone in favour of the kustomize base; the page sends no admin to
    it, to placeholders to edit, to a restart for new rules, or to --kubelet-insecure."""
    assert not (INFRA / "sensor-daemonset.yaml").exists()
    readme = (INFRA / "README.md").read_text()
    for stale in ("sensor-daemonset.yaml", "Replace `<ACCOUNT_ID>`", "rules are read at start"):
        assert stale not in readme, stale
    for line in readme.splitlines():
        if "--kubelet-insecure" in line:
            assert "is gone" in line, line


def test_every_metric_the_page_names_is_one_the_sensor_serves() -> None:
    """infra/README.md names the sensor's metrics; sensor/metrics.py defines them."""
    named = set(re.findall(r"\blanner_[a-z0-9_]+", (INFRA / "README.md").read_text()))
    assert len(named) >= 20
    served = (ROOT / "sensor" / "metrics.py").read_text()
    missing = sorted(n for n in named if n.rstrip("_") not in served)
    assert not missing, f"named in infra/README.md, not in sensor/metrics.py: {missing}"
