"""Trims a live recording (``lanner sensor --record``) to the sample kept here.

``node-recording.jsonl`` was recorded on a development VM by running
``lanner sensor --record raw.jsonl`` as root while
``env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 sh samples/syscall/workload.sh`` ran, then::

    python samples/syscall/trim_recording.py raw.jsonl > samples/syscall/node-recording.jsonl

What the trim does, and nothing else: it keeps the events of the workload's process tree
(the shell running workload.sh and its descendants) — every event but the opens and closes,
and the opens the bundled rules alert on; it cuts the ancestor lists at the workload's
shell (the VM's own process tree above it is not part of the story), keeps only PATH, HOME
and LANG of each environment (the workload runs under ``env -i`` with just those), writes
``/`` for the VM's cgroup paths, and names the host ``demo-node-1``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from lanner import compile_rules, load_rules, wire

ROOT = Path(__file__).resolve().parents[2]
KEEP_ENV = ("PATH=", "HOME=", "LANG=")


def main(raw_path: str) -> None:
    engine = compile_rules(load_rules([str(ROOT / "rules")]))
    decoder = wire.Decoder()
    docs: list[dict[str, Any]] = []
    with open(raw_path, encoding="utf-8") as f:
        next(f)
        for line in f:
            doc = decoder.decode(json.loads(line))
            if doc is not None:
                docs.append(doc)
    roots = {d["proc.pid"] for d in docs if "workload.sh" in str(d.get("proc.cmdline"))}
    encoder = wire.Encoder()
    out = sys.stdout
    out.write(json.dumps(wire.HEADER) + "\n")
    for doc in docs:
        apid = doc.get("proc.apid") or []
        if not roots & set(apid):
            continue
        if doc["evt.type"] in ("openat", "close") and not engine.evaluate(doc, "syscall"):
            continue
        for line in encoder.encode(_trimmed(doc, roots)):
            out.write(json.dumps(line, separators=(",", ":")) + "\n")


def _trimmed(doc: dict[str, Any], roots: set[int]) -> dict[str, Any]:
    apid = doc["proc.apid"]
    cut = next(i for i, pid in enumerate(apid) if pid in roots) + 1
    out = dict(doc)
    for key, value in doc.items():
        if key.startswith("proc.a") and isinstance(value, list) and len(value) == len(apid):
            out[key] = value[:cut]
    out["proc.env"] = [e for e in doc.get("proc.env") or [] if e.startswith(KEEP_ENV)]
    out["proc.aenv"] = [
        [e for e in env if e.startswith(KEEP_ENV)] for env in out.get("proc.aenv") or []
    ]
    # The exec event's own env argument (the sensor reads it from /proc, and a process
    # that has exited by then shows its parent's).
    for key in ("evt.arg", "evt.rawarg"):
        args = out.get(key)
        if isinstance(args, dict) and isinstance(args.get("env"), str):
            old = args["env"]
            new = " ".join(e for e in old.split(" ") if e.startswith(KEEP_ENV))
            out[key] = {**args, "env": new}
            if isinstance(out.get("evt.args"), str):
                out["evt.args"] = out["evt.args"].replace(f"env={old}", f"env={new}")
    if isinstance(out.get("thread.cgroup"), dict):
        out["thread.cgroup"] = dict.fromkeys(out["thread.cgroup"], "/")
    if "evt.hostname" in out:
        out["evt.hostname"] = "demo-node-1"
    return out


if __name__ == "__main__":
    main(sys.argv[1])
