"""Rules reloaded while the sensor runs (``sensor.reload``), on real files: a change gives
one new engine, a broken file is told with FILE:LINE:COL and the last good rules stay, a
ConfigMap's symlink swap is seen, and SIGHUP reloads even unchanged files."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import pytest

import sensor.reload
from lanner import Engine, compile_rules, load_rules
from lanner.selection import select_by_tags
from sensor.reload import RulesReloader


def rule(name: str, act: str, tags: str = "[demo]", extra: str = "") -> str:
    return (
        f"- rule: {name}\n"
        "  desc: d\n"
        f"  condition: json.value[/act] = {act}{extra}\n"
        f'  output: "{name} %json.value[/act]"\n'
        "  priority: WARNING\n"
        "  source: json\n"
        f"  tags: {tags}\n"
    )


def fires(engine: Engine, act: str) -> list[str]:
    return [a.rule for a in engine.evaluate({"act": act}, "json")]


class Sensor:
    """What sensor/command.py gives the reloader: the paths, a build like start-up's, a
    log and a failure count; and what it keeps, the running engine."""

    def __init__(self, paths: list[Path], disabled_tags: tuple[str, ...] = ()) -> None:
        self.builds = 0
        self.lines: list[str] = []
        self.failures = 0

        def build() -> Engine:
            self.builds += 1
            ruleset = select_by_tags(load_rules(paths), disable=disabled_tags)
            return compile_rules(ruleset, hostname="node-1")

        def failed() -> None:
            self.failures += 1

        self.reloader = RulesReloader(paths, build, say=self.lines.append, on_failure=failed)
        self.engine = self.reloader.first()

    def check(self) -> Engine | None:
        """One round of the reloader's thread, then the main loop's poll."""
        self.reloader.check()
        new = self.reloader.poll()
        if new is not None:
            self.engine = new
        return new

    def said(self) -> list[str]:
        out, self.lines[:] = list(self.lines), []
        return out


def test_a_changed_file_gives_a_new_engine_once(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rule("Shell", "shell"))
    node = Sensor([path])
    assert node.reloader.status().loads_ok == 1
    assert node.check() is None and node.builds == 1  # nothing changed: nothing built

    path.write_text(rule("Shell", "shell") + rule("Scan", "scan"))
    new = node.check()
    assert new is not None
    assert fires(new, "scan") == ["Scan"]
    assert node.said() == ["lanner sensor: rules reloaded: 0 syscall rules from 1 file(s)"]
    assert node.reloader.poll() is None  # handed over once
    assert node.check() is None and node.builds == 2
    status = node.reloader.status()
    assert (status.last_ok, status.loads_ok, status.loads_failed) == (True, 2, 0)
    assert status.last_load_time is not None


def test_the_same_text_written_again_loads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rule("Shell", "shell"))
    node = Sensor([path])
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(rule("Shell", "shell"))
    os.utime(fresh, (time.time() + 100, time.time() + 100))
    os.replace(fresh, path)  # new inode, new time, same text (a ConfigMap resync)
    assert node.check() is None
    assert node.builds == 1 and node.said() == []


def test_a_broken_file_is_told_with_its_position_and_the_last_good_rules_stay(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rule("Shell", "shell"))
    node = Sensor([path])
    running = node.engine

    path.write_text(rule("Shell", "shell", extra=" and"))
    assert node.check() is None
    assert node.engine is running and fires(running, "shell") == ["Shell"]
    assert node.said() == [
        f"lanner sensor: {path}:3:39: error: in rule 'Shell': expected a condition after 'and'",
        "lanner sensor: the changed rules do not load (1 problem(s)); keeping the current rules",
    ]
    status = node.reloader.status()
    assert (status.last_ok, status.loads_ok, status.loads_failed) == (False, 1, 1)
    assert node.failures == 1

    # The same broken text is not loaded (nor reported) again at every poll.
    assert node.check() is None
    assert node.builds == 2 and node.said() == [] and node.failures == 1

    path.write_text(rule("Shell", "shell") + rule("Scan", "scan"))
    assert node.check() is not None
    assert fires(node.engine, "scan") == ["Scan"]
    status = node.reloader.status()
    assert (status.last_ok, status.loads_ok, status.loads_failed) == (True, 2, 1)


def test_broken_files_put_back_as_they_ran_clear_the_failure_without_a_load(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rule("Shell", "shell"))
    node = Sensor([path])
    path.write_text("- rule: Shell\n  desc: [\n")
    node.check()
    assert (
        node.said()[0]
        == f"lanner sensor: {path}:3:1: error: invalid YAML: did not find expected node content"
    )
    path.write_text(rule("Shell", "shell"))
    assert node.check() is None
    assert node.said() == ["lanner sensor: the rules files are back to the running rules"]
    assert node.reloader.status().last_ok is True
    assert node.builds == 2


def test_a_file_that_disappears_is_an_error_and_the_rules_stay(tmp_path: Path) -> None:
    keep, extra = tmp_path / "a.yaml", tmp_path / "b.yaml"
    keep.write_text(rule("Shell", "shell"))
    extra.write_text(rule("Scan", "scan"))
    node = Sensor([keep, extra])
    extra.unlink()
    assert node.check() is None
    assert node.said()[0] == f"lanner sensor: {extra}: error: no such file or directory"
    assert fires(node.engine, "scan") == ["Scan"]


def test_a_folder_gains_and_loses_files(tmp_path: Path) -> None:
    folder = tmp_path / "rules.d"
    folder.mkdir()
    (folder / "10-base.yaml").write_text(rule("Shell", "shell"))
    (folder / "notes.txt").write_text("not rules")
    node = Sensor([folder])
    (folder / "notes.txt").write_text("still not rules")  # not a file the loader reads
    assert node.check() is None
    (folder / "20-more.yml").write_text(rule("Scan", "scan"))
    assert node.check() is not None and fires(node.engine, "scan") == ["Scan"]
    (folder / "20-more.yml").unlink()
    assert node.check() is not None and fires(node.engine, "scan") == []


def _configmap_version(root: Path, name: str, text: str) -> Path:
    version = root / name
    version.mkdir()
    (version / "rules.yaml").write_text(text)
    return version


def test_a_configmap_symlink_swap_is_seen_though_no_visible_time_changes(
    tmp_path: Path,
) -> None:
    """The kubelet's layout: rules.yaml -> ..data/rules.yaml, ..data -> ..<timestamp>/, and
    an update is a new timestamped folder and an atomic rename of ..data onto it."""
    mount = tmp_path / "rules"
    mount.mkdir()
    old = _configmap_version(mount, "..2024_05_01_10_00_00.1", rule("Shell", "shell"))
    (mount / "..data").symlink_to(old.name)
    (mount / "rules.yaml").symlink_to("..data/rules.yaml")
    node = Sensor([mount])  # -r /etc/lanner/rules/
    visible = mount / "rules.yaml"
    before = (visible.lstat().st_mtime_ns, visible.stat().st_size, visible.stat().st_mtime_ns)

    # Same size, same modification time: only the content tells the versions apart.
    new = _configmap_version(mount, "..2024_05_01_10_01_00.2", rule("Shell", "scans"))
    stamp = old.joinpath("rules.yaml").stat().st_mtime_ns
    os.utime(new / "rules.yaml", ns=(stamp, stamp))
    (mount / "..data_tmp").symlink_to(new.name)
    os.replace(mount / "..data_tmp", mount / "..data")
    shutil.rmtree(old)
    after = (visible.lstat().st_mtime_ns, visible.stat().st_size, visible.stat().st_mtime_ns)
    assert after == before

    assert node.check() is not None
    assert fires(node.engine, "scans") == ["Shell"]
    assert fires(node.engine, "shell") == []


def test_a_request_reloads_unchanged_files_and_retries_a_failed_version(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rule("Shell", "shell"))
    node = Sensor([path])
    node.reloader.request()
    assert node.check() is not None and node.builds == 2

    path.write_text(rule("Shell", "shell", extra=" and"))
    node.check()
    node.said()
    node.reloader.request()  # the user asks again: tried and told again
    assert node.check() is None
    assert node.builds == 4 and len(node.said()) == 2
    assert node.reloader.status().loads_failed == 2


def test_a_reload_uses_the_start_ups_selection_and_tells_its_warnings(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rule("Shell", "shell", tags="[noisy]") + rule("Scan", "scan"))
    node = Sensor([path], disabled_tags=("noisy", "gone"))
    assert fires(node.engine, "shell") == []
    path.write_text(rule("Shell", "shell", tags="[noisy]") + rule("Scan", "scans"))
    assert node.check() is not None
    assert fires(node.engine, "shell") == [] and fires(node.engine, "scans") == ["Scan"]
    assert node.said() == [
        "lanner sensor: warning: tag 'gone' (-T): no loaded rule has it",
        "lanner sensor: rules reloaded: 0 syscall rules from 1 file(s)",
    ]


def test_a_build_that_fails_otherwise_is_told_counted_and_not_retried(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rule("Shell", "shell"))
    lines: list[str] = []
    calls: list[int] = []

    def build() -> Engine:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("out of \x1b[31mmemory")
        return compile_rules(load_rules([path]), hostname="h")

    reloader = RulesReloader([path], build, say=lines.append)
    reloader.first()
    path.write_text(rule("Scan", "scan"))
    assert reloader.check() is False
    assert reloader.check() is False
    assert len(calls) == 2
    assert lines == [
        "lanner sensor: error: RuntimeError: out of \\u001b[31mmemory",
        "lanner sensor: the changed rules do not load (1 problem(s)); keeping the current rules",
    ]


def test_a_file_too_large_to_hash_is_told_apart_by_its_inode_and_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sensor.reload, "MAX_HASHED_BYTES", 16)
    path = tmp_path / "rules.yaml"
    path.write_text(rule("Shell", "shell"))
    node = Sensor([path])
    assert node.check() is None
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(rule("Shell", "scans"))
    os.replace(fresh, path)
    assert node.check() is not None


def test_the_poll_interval_is_bounded(tmp_path: Path) -> None:
    for interval in (0.01, 301):
        with pytest.raises(ValueError, match="must be 1 to 300 s"):
            RulesReloader([tmp_path], lambda: None, say=print, interval=interval)


# --- the thread, as the sensor runs it ----------------------------------------------------------


def _until(new_engine: Callable[[], Engine | None]) -> Engine:
    """What the main loop does between batches, until the reloader hands over an engine."""
    deadline = time.monotonic() + 60  # a bound on a hang, not a measurement
    while time.monotonic() < deadline:
        engine = new_engine()
        if engine is not None:
            return engine
        time.sleep(0.01)
    raise AssertionError("no new engine")


def test_sighup_reloads_through_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rule("Shell", "shell"))
    lines: list[str] = []
    build = lambda: compile_rules(load_rules([path]), hostname="h")  # noqa: E731
    with RulesReloader([path], build, say=lines.append, interval=300) as reloader:
        reloader.first()

        def hangup(_sig: int, _frame: FrameType | None) -> None:
            reloader.request()  # the handler the sensor installs

        old = signal.signal(signal.SIGHUP, hangup)
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            engine = _until(reloader.poll)
        finally:
            signal.signal(signal.SIGHUP, old)
    assert fires(engine, "shell") == ["Shell"]
    assert lines == ["lanner sensor: rules reloaded: 0 syscall rules from 1 file(s)"]
    assert reloader.status().loads_ok == 2


def test_the_thread_finds_a_change_and_poll_passes_on_a_request(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(rule("Shell", "shell"))
    build = lambda: compile_rules(load_rules([path]), hostname="h")  # noqa: E731
    with RulesReloader([path], build, say=lambda _line: None, interval=1) as reloader:
        reloader.first()
        path.write_text(rule("Scan", "scan"))
        assert fires(_until(reloader.poll), "scan") == ["Scan"]
    with RulesReloader([path], build, say=lambda _line: None, interval=300) as reloader:
        reloader.first()
        asked = iter([True])
        # sensor.run's loop passes requested=True once, after a SIGHUP it caught itself.
        assert fires(_until(lambda: reloader.poll(next(asked, False))), "scan") == ["Scan"]
