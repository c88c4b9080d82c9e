"""A flood of events is handed out in bounded batches and none is lost on the way
(real eBPF, as root)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

if os.geteuid() != 0:
    pytest.skip("needs root and eBPF", allow_module_level=True)

from sensor.capture import Capture


def test_a_flood_comes_out_in_bounded_batches_without_loss() -> None:
    marker = f"/tmp/lanner-poll-{os.getpid()}"
    opens = 3000
    with Capture({"openat"}, exclude_pids=[os.getpid()], ringbuf_pages=1024) as cap:
        child = subprocess.run(
            [sys.executable, "-c",
             f"import os\nfor _ in range({opens}):\n    try: os.open({marker!r}, os.O_RDONLY)\n"
             "    except FileNotFoundError: pass\n"],
            check=True,
        )  # fmt: skip
        assert child.returncode == 0
        batches: list[int] = []
        seen = 0
        deadline = time.monotonic() + 20
        while seen < opens and time.monotonic() < deadline:
            batch = cap.poll(100, max_events=500)
            batches.append(len(batch))
            seen += sum(1 for e in batch if e.args.get("name") == marker)
        lost = {k: v for k, v in cap.stats().items() if k in ("ringbuf_full", "stash_full")}
        with pytest.raises(ValueError):
            cap.poll(0, max_events=0)
    assert max(batches) <= 500
    assert batches.count(500) >= opens // 500 - 1  # the backlog really came out in slices
    assert seen == opens, (seen, lost)
    assert lost == {"ringbuf_full": 0, "stash_full": 0}
