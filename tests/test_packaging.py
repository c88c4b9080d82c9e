"""lanner as a user installs it: the sdist and the wheel built from it, installed into a fresh venv.

The build uses the setuptools of this environment (no build isolation) and the fresh venv sees
this environment's packages through a .pth file, so nothing is downloaded. Every command runs
from a directory outside the repository, with nothing of the checkout on the path, so what
works here works for a user who ran `pip install lanner-*.whl`.
"""

from __future__ import annotations

import email
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main

ROOT = Path(__file__).resolve().parent.parent
# What a clean clone holds and the build must not see: this checkout's own build output,
# environments and caches.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*cache", ".hypothesis",
    ".benchmarks", ".aws-sam", ".lanner-demo",
)  # fmt: skip
# The packages a wheel carries, as directories of the repository.
_PACKAGES = ("lanner", "cli", "sensor", "functions", "deliver", "dashboard")
# The dashboard's page and its vendored chart library: data files of the dashboard package.
STATIC = ROOT / "dashboard" / "static"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    build_log: str
    venv: Path
    outside: Path  # a working directory that is not the repository

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{self.venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.outside),
            "LANG": "C.UTF-8",
            **(env or {}),
        }
        return subprocess.run(
            args, cwd=self.outside, env=env, capture_output=True, text=True, timeout=timeout
        )

    def lanner(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "lanner"), *args, env=env)

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "python"), "-c", code)


def _backend(call: str, cwd: Path, out: Path) -> tuple[str, str]:
    """``build_meta.<call>(out)`` in ``cwd``: (file name, everything the backend printed)."""
    code = f"import sys\nfrom setuptools import build_meta\nprint(build_meta.{call}(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1], done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "clone"
    shutil.copytree(ROOT, src, ignore=_NOT_SOURCE, symlinks=True)
    dist = tmp / "dist"
    # The wheel is built from the sdist, as pip does for a source download: both must be whole.
    sdist_name, sdist_log = _backend("build_sdist", src, dist)
    with tarfile.open(dist / sdist_name) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    (unpacked,) = (tmp / "unpacked").iterdir()
    wheel_name, wheel_log = _backend("build_wheel", unpacked, dist)

    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-deps", "--no-index", "--disable-pip-version-check",
         str(dist / wheel_name)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    # Only the dependencies the wheel declares (no extras), from this environment: what
    # `pip install lanner-*.whl` gives a user. A .pth line appends the directory to sys.path.
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    deps = tmp / "declared-dependencies"
    deps.mkdir()
    with zipfile.ZipFile(dist / wheel_name) as whl:
        metadata = whl.read(next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA")))
    for requirement in email.message_from_bytes(metadata).get_all("Requires-Dist") or []:
        if "extra ==" in requirement:
            continue
        dependency = importlib.metadata.distribution(re.split(r"[ <>=!~;\[]", requirement)[0])
        for top in {f.parts[0] for f in dependency.files or ()} - {".."}:
            if not top.endswith(".dist-info"):
                (deps / top).symlink_to(dependency.locate_file(top))
    Path(purelib, "zz_test_dependencies.pth").write_text(f"{deps}\n")
    outside = tmp / "elsewhere"
    outside.mkdir()
    return Installed(dist / wheel_name, sdist_log + wheel_log, venv, outside)


def test_lanner_runs_from_the_installed_package(installed: Installed) -> None:
    where = installed.python(
        "import lanner, sensor; print(lanner.__file__); print(sensor.__file__)"
    )
    assert where.returncode == 0, where.stderr
    for path in where.stdout.split():
        assert Path(path).is_relative_to(installed.venv), where.stdout


def test_installed_lanner_validates_its_bundled_rules(installed: Installed) -> None:
    done = installed.lanner("rules", "validate")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("valid: 3 file(s); aws_cloudtrail: "), done.stdout
    listed = installed.lanner("rules", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    ours = CliRunner().invoke(main, ["rules", "list", "--json", "-r", str(ROOT / "rules")])
    # The same rules from the same files, there installed and here in the checkout.
    rules_dir = ROOT / "rules"
    installed_dir = installed.venv.glob("lib/python*/site-packages/lanner/rules")
    assert listed.stdout.replace(str(next(installed_dir)), str(rules_dir)) == ours.output


def test_installed_lanner_runs_the_bundled_rule_tests_like_the_checkout(
    installed: Installed,
) -> None:
    done = installed.lanner("rules", "test", "--json")
    assert done.returncode in (0, 1), done.stderr  # 2: the rule tests were not found or unusable
    ours = CliRunner().invoke(main, ["rules", "test", "--json", "-r", str(ROOT / "rules")])

    def outcome(lines: str) -> list[tuple[str, str, int, int]]:
        records = [json.loads(line) for line in lines.splitlines()]
        return [(r["rule"], r["status"], r["fires"], r["quiet"]) for r in records]

    # Every rule test file and event file shipped: the same examples give the same results.
    assert outcome(done.stdout) == outcome(ours.stdout)
    tested = len(list((ROOT / "rules" / "tests").rglob("*.yaml")))
    assert f"examples in {tested} file(s)" in done.stderr


def test_installed_lanner_lists_fields(installed: Installed) -> None:
    done = installed.lanner("fields", "--source", "syscall")
    assert done.returncode == 0, done.stderr
    assert "\nproc.name " in done.stdout


def test_installed_lanner_scans_the_shipped_samples_like_the_checkout(installed: Installed) -> None:
    where = installed.python("from lanner.resources import samples_dir; print(samples_dir())")
    samples = Path(where.stdout.strip())
    assert samples.is_relative_to(installed.venv), where.stdout + where.stderr
    shipped = sorted(p.relative_to(samples).as_posix() for p in samples.rglob("*") if p.is_file())
    assert "k8s/kube-apiserver-audit.log" in shipped
    assert "syscall/node-recording.jsonl" in shipped
    assert any(p.startswith("AWSLogs/") and p.endswith(".json.gz") for p in shipped)

    # What the demo feeds the pipeline (samples/ also holds the scripts that made them).
    inputs = ("AWSLogs", "k8s", "syscall/node-recording.jsonl")
    done = installed.lanner("scan", "--json", *(str(samples / i) for i in inputs))
    assert done.returncode == 0, done.stderr
    ours = CliRunner().invoke(
        main, ["scan", "--json", *(str(ROOT / "samples" / i) for i in inputs)]
    )
    alerts = [(a["rule"], a["output"]) for a in map(json.loads, done.stdout.splitlines())]
    assert len(alerts) > 20, done.stderr
    assert alerts == [(a["rule"], a["output"]) for a in map(json.loads, ours.stdout.splitlines())]


def test_installed_lanner_notify_and_demo_start(installed: Installed) -> None:
    for command in ("notify", "demo", "sensor", "alerts", "ui"):
        done = installed.lanner(command, "--help")
        assert done.returncode == 0, (command, done.stderr)
        assert done.stdout.startswith("Usage: lanner "), (command, done.stdout)


def test_installed_lanner_ui_asks_for_the_demo_first(installed: Installed) -> None:
    # Its default store is where `lanner demo` leaves it, in the working directory.
    done = installed.lanner("ui")
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        "lanner ui: no alert store at .lanner-demo/alert-store.jsonl: run `lanner demo` first\n"
    )


def test_shell_completion_as_the_readme_documents_it(installed: Installed) -> None:
    readme = (ROOT / "README.md").read_text()
    for shell in ("bash", "zsh", "fish"):
        assert f"_LANNER_COMPLETE={shell}_source lanner" in readme, shell
        script = installed.lanner(env={"_LANNER_COMPLETE": f"{shell}_source"})
        assert script.returncode == 0, script.stderr
        assert "_LANNER_COMPLETE" in script.stdout, shell
    # What bash asks once that script is loaded, for `lanner ru<TAB>` and `lanner rules v<TAB>`.
    for words, expected in (("lanner ru", "plain,rules"), ("lanner rules v", "plain,validate")):
        env = {
            "_LANNER_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        }
        done = installed.lanner(env=env)
        assert done.stdout.split() == [expected], (words, done.stdout, done.stderr)


def test_installed_lanner_demo_finds_its_samples(installed: Installed) -> None:
    done = installed.python(
        "from cli import demo; from lanner.resources import samples_dir\n"
        "assert demo.SAMPLES == samples_dir(), (demo.SAMPLES, samples_dir())\n"
        "assert demo.RECORDING.is_file() and demo.WORKLOAD.is_file()\n"
    )
    assert done.returncode == 0, done.stderr


def test_installed_sensor_has_its_bpf_sources(installed: Installed) -> None:
    done = installed.python(
        "from sensor.capture import BPF_DIR, BPF_SOURCE; print(BPF_DIR); print(BPF_SOURCE)"
    )
    assert done.returncode == 0, done.stderr
    bpf_dir, source = map(Path, done.stdout.split())
    assert bpf_dir.is_relative_to(installed.venv), bpf_dir
    # The program includes the header from the same directory (-I BPF_DIR).
    assert source.read_bytes() == (ROOT / "bpf" / "sensor.bpf.c").read_bytes()
    assert (bpf_dir / "events.h").read_bytes() == (ROOT / "bpf" / "events.h").read_bytes()


def test_wheel_has_every_module_and_no_build_warnings(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    modules = {
        p.relative_to(ROOT).as_posix()
        for package in _PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert not modules - names, "modules missing from the wheel (pyproject.toml packages)"
    for rules in (ROOT / "rules").glob("*.yaml"):
        assert f"lanner/rules/{rules.name}" in names
    for data in (ROOT / "rules" / "tests").rglob("*"):
        if data.is_file():
            assert f"lanner/rules/{data.relative_to(ROOT / 'rules').as_posix()}" in names
    assert "lanner/py.typed" in names
    static = _files_under(STATIC)
    assert "index.html" in static, "dashboard/static has no page"
    assert not {f"dashboard/static/{f}" for f in static} - names, (
        "dashboard/static files missing from the wheel (pyproject.toml package-data)"
    )
    # setuptools warns when a directory under a package is left out of the packages list.
    assert "would be ignored" not in installed.build_log


def test_sensor_bench_finds_the_upstream_rules_beside_any_checkout(tmp_path: Path) -> None:
    # A clone anywhere, with shared/ beside it (as CI lays them out): the bench's default
    # rules are that shared/, not a path of the machine the bench was written on.
    clone = tmp_path / "elsewhere" / "lanner"
    (clone / "bench").mkdir(parents=True)
    shutil.copy(ROOT / "bench" / "sensor.py", clone / "bench" / "sensor.py")
    code = "import runpy, sys; print(runpy.run_path(sys.argv[1])['DEFAULT_RULES'])"
    done = subprocess.run(
        [sys.executable, "-c", code, str(clone / "bench" / "sensor.py")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = tmp_path / "elsewhere" / "shared" / "corpus" / "falco" / "falco_rules.yaml"
    assert Path(done.stdout.strip()) == expected


# --- the Lambda artifact: `sam build` runs `make build-<Function>` once per function ---------

_FAKE_PYTHON = """\
#!{python}
# pip as the Makefile calls it, without the network: logs the call, fills --target.
import os, sys, time
args = sys.argv[1:]
if args[:2] != ["-m", "pip"]:
    os.execv({python!r}, [{python!r}, *args])
with open({log!r}, "a") as log:
    log.write(" ".join(args) + "\\n")
time.sleep(0.5)  # a build takes a while: concurrent targets overlap
target = args[args.index("--target") + 1]
os.makedirs(os.path.join(target, "some_dependency"), exist_ok=True)
"""


def _sam_like_build(
    scratch: Path, fake: Path, artifacts: Path, function: str
) -> subprocess.Popen[str]:
    """What sam build does per function: make in a scratch copy, naming the original Makefile."""
    env = {**os.environ, "ARTIFACTS_DIR": str(artifacts / function)}
    return subprocess.Popen(
        ["make", "--no-print-directory", "--makefile", str(ROOT / "Makefile"),
         f"build-{function}", f"PYTHON={fake}"],
        cwd=scratch, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _files(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


def _files_under(path: Path) -> set[str]:
    """The regular files under ``path``, relative to it."""
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


def test_sam_build_builds_the_shared_artifact_once(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    shutil.copytree(ROOT, scratch, ignore=_NOT_SOURCE, symlinks=True)
    log = tmp_path / "pip.log"
    fake = tmp_path / "python"
    fake.write_text(_FAKE_PYTHON.format(python=sys.executable, log=str(log)))
    fake.chmod(0o755)
    artifacts = tmp_path / ".aws-sam" / "build"

    def build(*functions: str) -> None:
        # Together, as `sam build --parallel` runs them.
        running = [_sam_like_build(scratch, fake, artifacts, f) for f in functions]
        for make in running:
            out, _ = make.communicate(timeout=300)
            assert make.returncode == 0, out

    build("KinesisDetector", "CloudTrailDetector", "SlackDelivery")
    build("AlertSummarizer")
    assert len(log.read_text().splitlines()) == 1, log.read_text()
    first = _files(artifacts / "KinesisDetector")
    assert {"lanner/engine.py", "rules/syscall_rules.yaml", "some_dependency"} <= set(first)
    # The dashboard function serves its page from the artifact.
    assert {"dashboard/store.py", "functions/dashboard_handler.py"} <= set(first)
    assert {f"dashboard/static/{f}" for f in _files_under(STATIC)} <= set(first)
    # The command line is not part of a function: the Lambdas never import it.
    assert not [f for f in first if f.split("/")[0] in ("cli", "sensor")], first
    for function in ("CloudTrailDetector", "SlackDelivery", "AlertSummarizer"):
        assert _files(artifacts / function) == first, function

    # A changed source makes the next build a new one, not a copy of a stale artifact.
    changed = scratch / "rules" / "k8s_audit_rules.yaml"
    later = time.time() + 60  # newer than the artifact, whatever the clock's resolution
    os.utime(changed, (later, later))
    build("FalcoIntake")
    assert len(log.read_text().splitlines()) == 2, log.read_text()
