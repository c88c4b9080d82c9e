"""Metadata only a container runtime can give (the image) cannot appear in live tests here:
no runtime runs on this machine. Recorded events carry it, and replaying them checks that
rules use it as Falco's do: an image allow-list silences the stable rule, and outputs show it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from lanner import wire

ROOT = Path(__file__).resolve().parents[2]
STABLE = ROOT.parent / "shared/corpus/falco/falco_rules.yaml"
SHADOW = ROOT / "tests/data/syscall/read_shadow.json"

pytestmark = pytest.mark.skipif(not STABLE.exists(), reason="upstream corpus (shared) absent")

CONTAINER = {
    "container.id": "3f2c1a9b8d7e",
    "container.full_id": "3f2c1a9b8d7e" + "a" * 52,
    "container.type": "containerd",
    "container.image.repository": "registry.example.com/acme/backup",
    "container.image.tag": "1.4.2",
    "container.name": "backup",
}


def _record(tmp_path: Path) -> Path:
    doc = {**json.loads(SHADOW.read_text()), **CONTAINER}
    path = tmp_path / "node.jsonl"
    lines = [wire.HEADER, *wire.Encoder().encode(doc)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_replayed_image_reaches_rules_and_outputs(tmp_path: Path) -> None:
    record = _record(tmp_path)
    result = CliRunner().invoke(main, ["scan", "-r", str(STABLE), "--json", str(record)])
    assert result.exit_code == 0, result.output
    (alert,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert alert["rule"] == "Read sensitive file untrusted"
    assert alert["output_fields"]["fd.name"] == "/etc/shadow"
    # Our own rules print the container and its image.
    ours = CliRunner().invoke(main, ["scan", "-r", str(ROOT / "rules"), "--json", str(record)])
    fields = [json.loads(line)["output_fields"] for line in ours.stdout.splitlines()]
    assert fields, ours.output
    assert fields[0]["container.id"] == "3f2c1a9b8d7e"
    assert fields[0]["container.image.repository"] == "registry.example.com/acme/backup"


def test_an_image_allow_list_silences_the_stable_rule(tmp_path: Path) -> None:
    record = _record(tmp_path)
    allow = tmp_path / "allow.yaml"
    allow.write_text(
        "- list: read_sensitive_file_images\n"
        "  items: [registry.example.com/acme/backup]\n"
        "  override:\n"
        "    items: append\n"
    )
    result = CliRunner().invoke(
        main, ["scan", "-r", str(STABLE), "-r", str(allow), "--json", str(record)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "scanned 1 events (syscall: 1); 0 alerts" in result.stderr
