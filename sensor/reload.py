"""Rules reloaded while the sensor runs: when a rules file changes, and on request (SIGHUP).

The behaviour of the detectors' S3 rules (``functions/rulecache.py``), on the node: new rules
are loaded and compiled off to the side, by the same loader and compiler as at start-up,
and handed over only when they are valid; rules that do not load are logged, one line per
error with its ``FILE:LINE:COL``, counted, and the last rules that did load keep running.
A version of the files that failed is not loaded again until it changes (or a reload is
requested): a broken push costs one report, not one a poll.

Changes are found by content, not by modification time: every poll hashes the files the
loader would read (each file given, and the ``*.yaml``/``*.yml`` files of each folder given,
in name order), so a Kubernetes ConfigMap volume, which swaps its ``..data`` symlink to a
new folder and leaves the visible paths' own times alone, is seen; so is a file added to or
removed from a folder. A ``touch`` or a ConfigMap resync with the same text loads nothing.

API (for sensor/command.py; ``poll`` is a ``sensor.run.Reload``)::

    from sensor.reload import RulesReloader

    reloader = RulesReloader(rules.paths, rules.compile, say=say)
    engine = reloader.first(load_engine)   # the start-up load (default: build), recorded
    reloader.start()                # a daemon thread checks every `interval` s (default 5)
    closing.callback(reloader.close)
    ...                             # in the main loop, between events:
    new = reloader.poll(requested)  # non-blocking: a new, valid Engine (once), else None
    reloader.status()               # ReloadStatus, for metrics that read rather than count

``paths`` are the rule paths as the loader gets them (files or folders; the bundled rules
folder when no ``-r`` is given). ``build`` loads and compiles them exactly as start-up does
(tag selection, minimum priority included) and returns the Engine, or raises the loader's
error (``lanner.RuleLoadErrors`` carries every error with its position); it must neither
print nor exit, and it runs on the reloader's thread. ``first(load)`` runs the start-up
load (which reports its own errors and warnings, and may exit) after reading the files, so
a change during a slow start is seen at the first check. A reload logs through ``say``, one
line each: the errors (and warnings) of rules that do not load, then one line saying the
current rules stay; the warnings of rules that do load, then one line saying so.
``on_failure`` is called once per failed load, on the reloader's thread.

``poll(requested=True)`` (a SIGHUP came) wakes the thread for a reload that builds even
files that have not changed, and even a version that failed before. ``request()`` does the
same from anywhere, a signal handler included: it only sets a flag, which the next
``poll()`` (or ``check()``) acts on. ``check()`` is one round of the thread's work, callable
without the thread (tests).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

from deliver.inert import inert
from lanner import Engine, LannerError, RuleLoadErrors

DEFAULT_INTERVAL = 5.0
MIN_INTERVAL, MAX_INTERVAL = 1.0, 300.0
"""Bounds on the poll interval, in seconds: hashing the rules costs milliseconds, and a
ConfigMap takes about a minute to reach the node anyway."""
RULE_SUFFIXES = (".yaml", ".yml")  # what the loader reads from a folder
MAX_HASHED_BYTES = 16 * 1024 * 1024
"""A file larger than this is told apart by its inode, size and times, not read each poll."""
SOURCE = "syscall"  # the rules the sensor evaluates, the ones it counts
_PREFIX = "lanner sensor: "
# One version of the rules files: per path, what is there (see _signature).
Signature = tuple[tuple[object, ...], ...]


@dataclass(frozen=True, slots=True)
class ReloadStatus:
    """What the metrics report about the rules."""

    last_ok: bool  # the rules files as they are now are the ones running
    last_load_time: float | None  # Unix time of the last load that succeeded (start-up too)
    loads_ok: int  # loads that succeeded, start-up included
    loads_failed: int  # loads that failed (each version once, unless requested again)
    rules_loaded: int  # rules the running engine evaluates: enabled rules of SOURCE


class RulesReloader:
    """Watches the rules files in use and builds a new Engine when they change (see the
    module docstring for the API and the behaviour)."""

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        build: Callable[[], Engine],
        *,
        say: Callable[[str], None],
        interval: float = DEFAULT_INTERVAL,
        on_failure: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise ValueError(
                f"the rules poll interval must be {MIN_INTERVAL:g} to {MAX_INTERVAL:g} s, "
                f"not {interval:g}"
            )
        self.paths = [os.fspath(p) for p in paths]
        self.interval = interval
        self._build = build
        self._say = say
        self._on_failure = on_failure
        self._clock = clock
        self._lock = threading.Lock()  # the status and the engine waiting to be taken
        self._loaded: Signature | None = None  # the files the running rules were built from
        self._rejected: Signature | None = None  # files that failed: not tried again
        self._ready: Engine | None = None
        self._status = ReloadStatus(False, None, 0, 0, 0)
        self._requested = False  # set by request(), maybe inside a signal handler
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- the caller's side ---

    def first(self, load: Callable[[], Engine] | None = None) -> Engine:
        """The start-up engine from ``load`` (default: ``build``; what it raises is raised),
        recorded as the running rules. The files are read first, so a change during the
        load is seen at the first check."""
        signature = _signature(self.paths)
        engine = (load or self._build)()
        self._loaded_ok(signature, engine)
        return engine

    def start(self) -> None:
        """Polls on a daemon thread every ``interval`` seconds, and at once on request."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="lanner-rules-reload", daemon=True
            )
            self._thread.start()

    def request(self) -> None:
        """Asks for a reload, even of unchanged files. Safe in a signal handler: it only
        sets a flag (the next ``poll()`` wakes the thread; without one, ``check()`` sees it)."""
        self._requested = True

    def poll(self, requested: bool = False) -> Engine | None:
        """The new Engine, once, when one has been built since the last call; else None.
        ``requested``: a reload was asked for (SIGHUP), see ``request()``. Never blocks on
        a build: this is ``sensor.run.Reload``, asked between every two batches."""
        if requested:
            self._requested = True
        if self._requested:
            self._wake.set()
        with self._lock:
            engine, self._ready = self._ready, None
        return engine

    def status(self) -> ReloadStatus:
        with self._lock:
            return self._status

    def close(self) -> None:
        """Stops the thread; a build under way is waited for (up to a minute)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def __enter__(self) -> RulesReloader:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the thread's side ---

    def check(self, force: bool = False) -> bool:
        """One round: builds an Engine if the files changed since the running rules were
        built and this version has not failed already, or if a reload was requested (or
        ``force``). True when a new Engine waits for ``poll()``."""
        if self._requested:
            self._requested = False
            force = True
        signature = _signature(self.paths)
        if not force:
            if signature == self._loaded:
                if self._rejected is not None:  # the broken files were put back as they ran
                    self._rejected = None
                    with self._lock:
                        self._status = replace(self._status, last_ok=True)
                    self._say(f"{_PREFIX}the rules files are back to the running rules")
                return False
            if signature == self._rejected:
                return False  # reported already; waits for a new version
        try:
            engine = self._build()
        except Exception as exc:
            self._failed(signature, exc)
            return False
        for warning in engine.warnings:
            self._say(_PREFIX + inert(str(warning)))
        self._loaded_ok(signature, engine)
        with self._lock:
            self._ready = engine
        files = len(engine.ruleset.files)
        self._say(
            f"{_PREFIX}rules reloaded: {self.status().rules_loaded} {SOURCE} rules from "
            f"{files} file(s)"
        )
        return True

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopping:
                break
            try:
                self.check()
            except Exception as exc:  # a bug must not end reloading silently
                self._say(f"{_PREFIX}rules reload check failed: {inert(repr(exc))}")

    def _failed(self, signature: Signature, exc: Exception) -> None:
        # Loading is deterministic: whatever failed fails the same way for the same files.
        self._rejected = signature
        if isinstance(exc, LannerError):
            errors = exc.errors if isinstance(exc, RuleLoadErrors) else [exc]
            lines = [str(e) for e in errors]
            lines += [str(w) for w in getattr(exc, "warnings", [])]  # often why it failed
        else:
            lines = [f"error: {type(exc).__name__}: {exc}"]
        for line in lines:
            self._say(_PREFIX + inert(line))
        with self._lock:
            s = self._status
            self._status = replace(s, last_ok=False, loads_failed=s.loads_failed + 1)
        if self._on_failure is not None:
            self._on_failure()
        self._say(
            f"{_PREFIX}the changed rules do not load ({len(lines)} problem(s)); "
            "keeping the current rules"
        )

    def _loaded_ok(self, signature: Signature, engine: Engine) -> None:
        self._loaded, self._rejected = signature, None
        rules = len(engine.rules_for(SOURCE))
        with self._lock:
            s = self._status
            self._status = replace(
                s,
                last_ok=True,
                last_load_time=self._clock(),
                loads_ok=s.loads_ok + 1,
                rules_loaded=rules,
            )


def _signature(paths: Iterable[str]) -> Signature:
    """What the loader would read from ``paths``, as it is now: per file its content's
    hash, per folder its rules files' names; what is missing or unreadable, and why."""
    out: list[tuple[object, ...]] = []
    for path in paths:
        try:
            is_dir = os.path.isdir(path)
            if not is_dir and not os.path.exists(path):
                out.append(("missing", path))
                continue
            if not is_dir:
                out.append(("file", path, _digest(path)))
                continue
            names = sorted(
                c.name for c in Path(path).iterdir() if c.suffix in RULE_SUFFIXES and c.is_file()
            )
            out.append(("folder", path, tuple(names)))
            for name in names:
                file = os.path.join(path, name)
                out.append(("file", file, _digest(file)))
        except OSError as exc:
            out.append(("unreadable", path, exc.strerror or str(exc)))
    return tuple(out)


def _digest(path: str) -> object:
    """The file's content hash; (inode, size, times) for one too large to read each poll.
    Opened through the path as given: a symlink is followed to what it points at now."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if st.st_size > MAX_HASHED_BYTES:
            return ("stat", st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        h = hashlib.sha256()
        while chunk := f.read(1 << 20):
            h.update(chunk)
        return h.hexdigest()
