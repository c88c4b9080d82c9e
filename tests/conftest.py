"""Test-wide settings.

CI sets LANNER_REQUIRE_SHARED=1 (and LANNER_REQUIRE_BPF=1, LANNER_REQUIRE_BROWSER=1):
a test that would skip because ../shared (or eBPF, or the headless chromium) is
missing then fails instead, so CI can never pass by skipping what it is meant to run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
CORPUS = SHARED / "corpus" / "falco"

_REQUIRED = {
    "LANNER_REQUIRE_SHARED": ("shared", "corpus"),
    "LANNER_REQUIRE_BPF": ("ebpf", "bpf"),
    "LANNER_REQUIRE_BROWSER": ("chromium", "browser"),
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if not report.skipped:
        return
    reason = str(report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr)
    for env, words in _REQUIRED.items():
        if os.environ.get(env) == "1" and any(w in reason.lower() for w in words):
            report.outcome = "failed"
            report.longrepr = f"{env}=1 but the test skipped: {reason}"
