"""An ordinary developer session under the live sensor raises no alert.

A C build with gcc, a Python test-like script, a git repository with a commit, a tar
archive and a recursive listing, each in a child process under the real eBPF capture with
Falco's stable rules and our bundled rules. The sensor must see the work (its programs'
executions and file opens reach the rules) and raise nothing for it.

Needs root and eBPF; skipped otherwise (CI's LANNER_REQUIRE_BPF=1 makes that a failure).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from workloads import Done, LiveSensor, live_sensor

C_PROGRAM = r"""
#include <stdio.h>
#include <string.h>

static int add(int a, int b) { return a + b; }

int main(int argc, char **argv) {
    printf("%d %zu\n", add(2, 3), strlen(argc > 1 ? argv[1] : ""));
    return 0;
}
"""

PY_TESTS = r"""
import json, os, sys, tempfile, unittest

class T(unittest.TestCase):
    def test_roundtrip(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "data.json")
            with open(p, "w") as f:
                json.dump({"a": [1, 2, 3]}, f)
            with open(p) as f:
                self.assertEqual(json.load(f)["a"], [1, 2, 3])

    def test_env(self):
        self.assertTrue(os.path.isdir(os.getcwd()))

unittest.main(argv=["t"], verbosity=0)
"""


@pytest.fixture(scope="module")
def sensor() -> Iterator[LiveSensor]:
    with live_sensor(keep_docs=True) as live:
        yield live


def in_tree(doc: dict[str, object], pid: int) -> bool:
    """The event came from the workload process or one of its descendants."""
    apid = doc.get("proc.apid")
    return doc.get("proc.pid") == pid or (isinstance(apid, list) and pid in apid)


def quiet(sensor: LiveSensor, done: Done, programs: set[str]) -> None:
    """The workload's events reached the rules (``programs`` ran) and none alerted."""
    sensor.drain()
    docs = [d for d in sensor.docs if in_tree(d, done.pid)]
    ran = {d.get("proc.name") for d in docs if d.get("evt.type") in ("execve", "execveat")}
    assert programs <= ran, f"the sensor did not see {programs - ran} run"
    alerts = [s for s in sensor.alerts if in_tree(s.doc, done.pid)]
    assert alerts == []


def test_c_build(sensor: LiveSensor, tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "hello.c").write_text(C_PROGRAM)
    done = sensor.run(["gcc", "-O1", "-Wall", "-o", "hello", "hello.c"], cwd=tmp_path)
    quiet(sensor, done, {"gcc"})
    ran = sensor.run([str(tmp_path / "hello"), "abc"])
    assert ran.stdout == "5 3\n"
    quiet(sensor, ran, {"hello"})


def test_python_tests(sensor: LiveSensor, tmp_path: Path) -> None:
    (tmp_path / "test_it.py").write_text(PY_TESTS)
    done = sensor.run([sys.executable, "test_it.py"], cwd=tmp_path)
    assert "OK" in done.stderr
    quiet(sensor, done, {"python"})


def test_git_repository(sensor: LiveSensor, tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    (tmp_path / "README").write_text("hello\n")
    ident = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    script = (
        "git init -q . && git add README && "
        f"git {' '.join(ident)} commit -qm 'first' && git log --oneline"
    )
    done = sensor.run(["sh", "-c", script], cwd=tmp_path)
    assert "first" in done.stdout
    quiet(sensor, done, {"sh", "git"})


def test_tar_and_listing(sensor: LiveSensor, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}.txt").write_text(f"{i}\n")
    done = sensor.run(["tar", "-czf", "out.tgz", "src"], cwd=tmp_path)
    quiet(sensor, done, {"tar"})
    listing = sensor.run(["sh", "-c", "ls -R /usr/lib | head -n 50"])
    assert len(listing.stdout.splitlines()) == 50
    quiet(sensor, listing, {"sh", "ls", "head"})
