"""The sensor's record format: what is written reads back as the same events, smaller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from lanner import wire

DOCS = Path(__file__).parent / "data" / "syscall"


def _docs() -> list[dict[str, Any]]:
    docs = [json.loads(p.read_text()) for p in sorted(DOCS.glob("*.json"))]
    assert len(docs) > 20
    return docs


def _thread(doc: dict[str, Any], tid: int, **changes: Any) -> dict[str, Any]:
    return {**doc, "thread.tid": tid, "proc.pid": tid, **changes}


def test_round_trip_gives_back_every_document() -> None:
    enc, dec = wire.Encoder(), wire.Decoder()
    docs = _docs()
    out = [dec.decode(line) for doc in docs for line in enc.encode(doc)]
    assert [d for d in out if d is not None] == docs


def test_a_process_is_written_once_until_it_changes() -> None:
    base = _docs()[0]
    enc = wire.Encoder()
    first = enc.encode(_thread(base, 42, **{"evt.num": 1}))
    second = enc.encode(_thread(base, 42, **{"evt.num": 2, "proc.fdopencount": 9}))
    changed = enc.encode(_thread(base, 42, **{"evt.num": 3, "proc.name": "renamed"}))
    assert [sorted(line) for line in first] == [["p", "proc"], ["e", "p"]]
    assert [sorted(line) for line in second] == [["e", "p"]]  # same snapshot, per-event field
    assert second[0]["p"] == first[0]["p"] and second[0]["e"]["proc.fdopencount"] == 9
    assert [sorted(line) for line in changed] == [["p", "proc"], ["e", "p"]]
    assert changed[0]["p"] != first[0]["p"]


def test_decoding_errors_are_clear() -> None:
    dec = wire.Decoder()
    with pytest.raises(wire.WireError, match="snapshot 3, which the record never defined"):
        dec.decode({"p": 3, "e": {"evt.type": "openat"}})
    with pytest.raises(wire.WireError, match="no snapshot reference"):
        dec.decode({"evt.type": "openat"})


def test_scan_replays_a_record_and_reports_a_broken_line(tmp_path: Path) -> None:
    docs = _docs()
    enc = wire.Encoder()
    lines = [wire.HEADER] + [line for doc in docs for line in enc.encode(doc)]
    lines.insert(3, {"p": 999, "e": {"evt.type": "openat"}})  # a reference to nothing
    record = tmp_path / "node.jsonl"
    record.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rules = Path(__file__).resolve().parent.parent / "rules" / "syscall_rules.yaml"
    result = CliRunner().invoke(
        main, ["scan", "-r", str(rules), "--source", "syscall", "--json", str(record)]
    )
    assert result.exit_code == 1, result.output  # a bad record: scanned on, but not a pass
    assert f"{record}:4: bad input: event refers to snapshot 999" in result.stderr
    assert f"scanned {len(docs)} events (syscall: {len(docs)})" in result.stderr
    direct = CliRunner().invoke(main, ["scan", "-r", str(rules), "--source", "syscall", "--json",
                                       *map(str, sorted(DOCS.glob("*.json")))])  # fmt: skip
    assert sorted(result.stdout.splitlines()) == sorted(direct.stdout.splitlines())
    assert result.stdout.strip()  # the attack documents do raise alerts
