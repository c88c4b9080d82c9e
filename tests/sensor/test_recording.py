"""Recordings (``lanner sensor --record``) written compressed, and replayed by ``lanner scan``
to the same alerts as the plain recording of the same events (sensor.recording)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from lanner import compile_rules, load_rules_text, wire
from sensor.events import RawEvent
from sensor.recording import RECORD_HEADER, Recorder, open_recording
from sensor.run import run

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "syscall" / "node-recording.jsonl"
RULES = ROOT / "rules"


def sample_docs() -> list[dict[str, Any]]:
    """The documents of the bundled node recording (a live capture of a small workload)."""
    decoder = wire.Decoder()
    with SAMPLE.open(encoding="utf-8") as f:
        assert json.loads(next(f)) == RECORD_HEADER
        docs = [decoder.decode(json.loads(line)) for line in f]
    return [d for d in docs if d is not None]


def record(path: Path, docs: list[dict[str, Any]], **kw: Any) -> Path:
    out = open_recording(path, **kw)
    recorder = Recorder(out)
    for doc in docs:
        recorder.write(doc)
    out.close()
    return path


def scan(path: Path) -> tuple[list[dict[str, Any]], str, int]:
    result = CliRunner().invoke(
        main, ["scan", "-r", str(RULES), "--json", "--source", "syscall", str(path)]
    )
    return (
        [json.loads(line) for line in result.stdout.splitlines()],
        result.stderr,
        result.exit_code,
    )


def test_a_compressed_recording_replays_to_the_same_alerts_as_a_plain_one(tmp_path: Path) -> None:
    docs = sample_docs()
    # The path as the user gave it, whatever its name says: lanner scan reads content.
    plain = record(tmp_path / "plain.jsonl", docs, compress=False)
    packed = record(tmp_path / "capture.jsonl", docs)
    assert packed.read_bytes()[:2] == b"\x1f\x8b" and plain.read_bytes()[:1] == b"{"
    assert packed.stat().st_size * 5 < plain.stat().st_size
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()

    alerts_plain, err_plain, code_plain = scan(plain)
    alerts_packed, err_packed, code_packed = scan(packed)
    assert (code_plain, code_packed) == (0, 0)
    assert len(alerts_plain) >= 5
    assert alerts_packed == alerts_plain  # rules, outputs, fields, uuids: all the same
    assert err_packed.replace("capture.jsonl", "plain.jsonl") == err_plain
    # ...and the same as the bundled recording they were made from.
    assert scan(SAMPLE)[0] == alerts_plain
    assert f"scanned {len(docs)} events (syscall: {len(docs)})" in err_packed


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_recording_cut_short_replays_up_to_its_last_flush(tmp_path: Path) -> None:
    # A sensor killed outright (SIGKILL, OOM) never closes the file: what it flushed, about
    # once a second, replays; the scan then says the file is incomplete.
    docs = sample_docs()
    path = tmp_path / "capture.jsonl.gz"
    clock = Clock()
    out = open_recording(path)
    recorder = Recorder(out, clock=clock)
    for doc in docs[:30]:
        recorder.write(doc)
    clock.now += 1.0  # a second later: the next write flushes the compressor
    recorder.write(docs[30])
    for doc in docs[31:]:
        recorder.write(doc)  # still in the compressor when the sensor dies
    killed = shutil.copy(path, tmp_path / "killed.jsonl.gz")
    out.close()

    alerts, err, code = scan(Path(killed))
    assert code == 1
    assert "scanned 31 events (syscall: 31)" in err
    assert "bad input: truncated gzip stream after" in err
    everything = {a["uuid"] for a in scan(path)[0]}
    assert {a["uuid"] for a in alerts} <= everything


@pytest.mark.parametrize("compress", [True, False])
def test_the_recorder_takes_the_place_of_the_loops_own(tmp_path: Path, compress: bool) -> None:
    rules = (
        "- rule: Shadow read\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/shadow\n"
        "  output: '%proc.name read %fd.name'\n  priority: WARNING\n  source: syscall\n"
    )

    class Capture:
        def __init__(self) -> None:
            self.batches = [
                [RawEvent(1, "openat", 10, 10, comm="cat", args={"name": "/etc/shadow"})]
            ]

        def poll(self, timeout_ms: int) -> list[RawEvent]:
            return self.batches.pop(0) if self.batches else []

        def stats(self) -> dict[str, int]:
            return {}

    class Enricher:
        def handle(self, ev: RawEvent) -> dict[str, Any]:
            return {"evt.type": ev.type, "fd.name": ev.args["name"], "proc.name": ev.comm}

    path = tmp_path / "capture"
    out = open_recording(path, compress=compress)
    engine = compile_rules(load_rules_text(rules), hostname="node-1")
    seen: list[Any] = []
    run(Capture(), Enricher(), engine, seen.append, recorder=Recorder(out), duration=0.3)
    out.close()
    assert [a.rule for a in seen] == ["Shadow read"]
    (tmp_path / "rules.yaml").write_text(rules)
    result = CliRunner().invoke(
        main, ["scan", "-r", str(tmp_path / "rules.yaml"), "--source", "syscall", str(path)]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.rstrip().endswith("Warning cat read /etc/shadow")


def test_a_replayed_alert_is_the_live_alert_uuid_included(tmp_path: Path) -> None:
    """The uuid a delivered alert carries is made of its document: a recording replays to
    the very alerts the node raised, also with fds 3 and 11 open (fd.types is keyed as a
    JSON object keys it, so key order does not change between the two)."""
    from sensor.enrich import Enricher

    rules = load_rules_text(
        "- rule: Shadow read\n  desc: d\n  condition: evt.type = openat and fd.name = "
        "/etc/shadow\n  output: '%proc.name read %fd.name'\n  priority: WARNING\n"
        "  source: syscall\n"
    )
    (tmp_path / "proc").mkdir()
    enricher = Enricher(proc_root=str(tmp_path / "proc"), hostname="node-1")
    engine = compile_rules(rules, hostname="node-1")
    ts = 1_700_000_000_000_000_000
    opens = [(3, "/etc/hostname"), (11, "/etc/motd"), (12, "/etc/shadow")]
    docs = [
        enricher.handle(
            RawEvent(ts + i, "openat", 77, 77, comm="cat", res=fd, args={"dirfd": -100, "name": n})
        )
        for i, (fd, n) in enumerate(opens)
    ]
    live = [a.to_dict() for d in docs if d is not None for a in engine.evaluate(d, "syscall")]
    assert len(live) == 1 and set(docs[-1]["fd.types"]) == {"3", "11", "12"}
    path = record(tmp_path / "capture.jsonl.gz", [d for d in docs if d is not None])
    engine2 = compile_rules(rules, hostname="node-1")
    decoder = wire.Decoder()
    with gzip.open(path, "rt", encoding="utf-8") as f:
        next(f)
        back = [d for line in f if (d := decoder.decode(json.loads(line))) is not None]
    again = [a.to_dict() for d in back for a in engine2.evaluate(d, "syscall")]
    assert [a["uuid"] for a in again] == [a["uuid"] for a in live]
