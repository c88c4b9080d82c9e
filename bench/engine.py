"""Rule-evaluation throughput against the cost of decoding the same events.

    python bench/engine.py [--events N] [--rules-dir DIR]

For the upstream k8s audit rules and CloudTrail rules (from ../shared, or
--rules-dir), over a generated realistic corpus: events per second per core
(one process, one thread), and the ratio of rule-evaluation time to
``json.loads`` time of the same events, both measured in this run, best of
several rounds. Ratios are what to compare: absolute rates move with the
machine's load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import cloudtrail_records, k8s_audit_events

import lanner


def _best(fn: Callable[[], Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(
    rules_file: Path, source: str, docs: list[dict[str, Any]], rounds: int
) -> dict[str, Any]:
    engine = lanner.compile_rules(lanner.load_rules([rules_file]), hostname="bench")
    blobs = [json.dumps(d) for d in docs]
    decoded = [json.loads(b) for b in blobs]
    evaluate = engine.evaluate
    hits: Counter[str] = Counter()
    for d in decoded:  # warm the candidate cache and count what fires
        for a in evaluate(d, source):
            hits[a.rule] += 1

    def decode() -> None:
        loads = json.loads
        for b in blobs:
            loads(b)

    def rules() -> None:
        for d in decoded:
            evaluate(d, source)

    # Interleave the two so that machine noise hits both alike.
    t_decode = t_eval = float("inf")
    for _ in range(rounds):
        t_decode = min(t_decode, _best(decode, 1))
        t_eval = min(t_eval, _best(rules, 1))
    n = len(docs)
    return {
        "source": source,
        "rules": len(engine.rules_for(source)),
        "events": n,
        "eval_events_per_s": n / t_eval,
        "decode_events_per_s": n / t_decode,
        "eval_us_per_event": t_eval / n * 1e6,
        "decode_us_per_event": t_decode / n * 1e6,
        "ratio_eval_to_decode": t_eval / t_decode,
        "alerts": sum(hits.values()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--rules-dir",
        type=Path,
        default=Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "falco",
    )
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    args = ap.parse_args()
    cases = [
        ("k8s_audit_rules.yaml", "k8s_audit", k8s_audit_events(args.events)),
        ("aws_cloudtrail_rules.yaml", "aws_cloudtrail", cloudtrail_records(args.events)),
    ]
    results = []
    for fname, source, docs in cases:
        path = args.rules_dir / fname
        if not path.exists():
            print(f"skipping {source}: {path} not found", file=sys.stderr)
            continue
        results.append(measure(path, source, docs, args.rounds))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"{'source':<16}{'rules':>6}{'events/s/core':>15}{'µs/event':>10}{'json.loads µs':>15}"
        f"{'eval/decode':>13}{'alerts':>8}"
    )
    for r in results:
        print(
            f"{r['source']:<16}{r['rules']:>6}{r['eval_events_per_s']:>15,.0f}"
            f"{r['eval_us_per_event']:>10.2f}{r['decode_us_per_event']:>15.2f}"
            f"{r['ratio_eval_to_decode']:>13.2f}{r['alerts']:>8}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
