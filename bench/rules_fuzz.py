"""Rule-file fuzz benchmark: hostile macro/list/exception structures stay within bounds.

Generates rule files from seeded random shapes (macro DAGs where each macro uses the
previous ones several times, long and deep macro chains, huge 'or' conditions, big and
nested lists, exceptions with many rows and many appends, deep parentheses), loads and
compiles each as the detectors do, and reports the time and the peak Python memory
(tracemalloc) of each, and the worst per kind, against the stated bounds. Each file
either loads or is rejected with FILE:LINE:COL errors; nothing may raise anything else.

    python bench/rules_fuzz.py [--seed N] [--rounds N]

A benchmark, not a test: the figures depend on the machine (README, "How the rule
language is implemented", has the bounds and one run's figures).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lanner import LannerError, RuleLoadErrors, compile_rules, load_rules_text
from lanner.loader import MAX_EXPANDED_DEPTH, MAX_RULE_NODES, MAX_TOTAL_NODES

# The stated bounds: any rule file below MAX_OBJECT_BYTES (4 MiB, the S3 loader's cap)
# is loaded and compiled, or rejected, within these.
TIME_BOUND_S = 5.0
MEMORY_BOUND_MB = 256.0

RULE = (
    "- rule: {name}\n  desc: d\n  condition: {cond}\n  output: x %proc.name\n  priority: NOTICE\n"
)


def _macro_dag(rng: random.Random) -> tuple[str, str]:
    levels, width = rng.randint(2, 40), rng.randint(2, 4)
    ops = ["and", "or"]
    items = ["- macro: m0\n  condition: proc.name = a0\n"]
    for i in range(1, levels + 1):
        uses = [f"m{rng.randint(max(0, i - 3), i - 1)}" for _ in range(width)]
        uses[0] = f"m{i - 1}"
        body = f" {rng.choice(ops)} ".join(("not " if rng.random() < 0.3 else "") + u for u in uses)
        items.append(f"- macro: m{i}\n  condition: ({body})\n")
    items.append(RULE.format(name="r", cond=f"evt.type = execve and m{levels}"))
    return f"macro DAG {levels} levels x {width} uses", "".join(items)


def _macro_chain(rng: random.Random) -> tuple[str, str]:
    n = rng.choice([50, 99, 150, 1000, 5000])
    body = rng.choice(["c{p}", "not c{p}", "(c{p} and proc.name = x{i})", "(c{p} or c{p})"])
    items = ["- macro: c0\n  condition: proc.name = a\n"]
    items += [f"- macro: c{i}\n  condition: {body.format(p=i - 1, i=i)}\n" for i in range(1, n + 1)]
    items.append(RULE.format(name="r", cond=f"evt.type = execve and c{n}"))
    return f"macro chain {n} x '{body}'", "".join(items)


def _or_terms(rng: random.Random) -> tuple[str, str]:
    n = rng.choice([1_000, 9_000, 10_001, 50_000, 150_000])
    field = rng.choice(["proc.name", "evt.type"])
    cond = " or ".join(f"{field} = v{i}" for i in range(n))
    return f"{n:,} 'or' terms on {field}", RULE.format(name="r", cond=f"({cond})")


def _lists(rng: random.Random) -> tuple[str, str]:
    n, lists = rng.choice([1_000, 100_000, 400_000]), rng.randint(1, 50)
    per = max(1, n // lists)
    items = []
    for j in range(lists):
        values = [f"l{j}"] if j else []
        values += [f"v{j}_{i}" for i in range(per)]
        items.append(f"- list: l{j}\n  items: [{', '.join(values)}]\n")
    items.append(RULE.format(name="r", cond=f"evt.type = execve and proc.name in (l{lists - 1})"))
    return f"{lists} lists, {per * lists:,} items", "".join(items)


def _exceptions(rng: random.Random) -> tuple[str, str]:
    rows, fields, appends = rng.choice([10, 3_000, 20_000]), rng.randint(1, 4), rng.randint(0, 500)
    names = ["proc.name", "proc.pname", "fd.name", "user.name"][:fields]
    text = RULE.format(name="r", cond="evt.type = execve")
    text += f"  exceptions:\n    - name: e\n      fields: [{', '.join(names)}]\n      values:\n"
    text += "".join(
        f"      - [{', '.join(f'a{r}_{k}' for k in range(fields))}]\n" for r in range(rows)
    )
    for a in range(appends):
        row = ", ".join(f"b{a}_{k}" for k in range(fields))
        text += (
            f"- rule: r\n  exceptions:\n    - name: e\n      values:\n      - [{row}]\n"
            "  override:\n    exceptions: append\n"
        )
    return f"exception {rows:,} rows x {fields} fields, {appends} appends", text


def _parens(rng: random.Random) -> tuple[str, str]:
    n = rng.choice([10, 99, 100, 101, 5_000, 100_000])
    cond = "evt.type = execve and " + "(" * n + "proc.name = a" + ")" * n
    return f"{n:,} nested parentheses", RULE.format(name="r", cond=cond)


def _many_rules(rng: random.Random) -> tuple[str, str]:
    per = rng.choice([100, 5_000, 9_000])
    rules = MAX_TOTAL_NODES // per + rng.randint(-2, 2)
    cond = " or ".join(f"proc.name = p{i}" for i in range(per // 2))
    text = "".join(
        RULE.format(name=f"r{i}", cond=f"evt.type = execve and ({cond})") for i in range(rules)
    )
    return f"{rules} rules of ~{per // 2:,} checks", text


KINDS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "macro DAG": _macro_dag,
    "macro chain": _macro_chain,
    "or terms": _or_terms,
    "lists": _lists,
    "exceptions": _exceptions,
    "parentheses": _parens,
    "many rules": _many_rules,
}


@dataclass
class Result:
    kind: str
    shape: str
    size: int
    seconds: float
    peak_mb: float
    outcome: str


def _load(text: str) -> str:
    try:
        compile_rules(load_rules_text(text, name="fuzz.yaml"))
        return "loaded"
    except RuleLoadErrors as exc:
        first = exc.errors[0].message if exc.errors else ""
        return f"rejected ({len(exc.errors)}): {first[:60]}"
    except LannerError as exc:
        return f"rejected: {exc.message[:60]}"


def run_one(kind: str, shape: str, text: str) -> Result:
    """Time without tracemalloc (it slows allocation-heavy code 2-3x), then the peak
    memory in a second, traced run of the same file."""
    gc.collect()
    t0 = time.perf_counter()
    outcome = _load(text)
    seconds = time.perf_counter() - t0
    gc.collect()
    tracemalloc.start()
    _load(text)
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return Result(kind, shape, len(text), seconds, peak / 1e6, outcome)


def cases(seed: int, rounds: int) -> Iterator[tuple[str, str, str]]:
    rng = random.Random(seed)
    for _ in range(rounds):
        for kind, make in KINDS.items():
            shape, text = make(rng)
            yield kind, shape, text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    print(
        f"bounds: {MAX_RULE_NODES:,} nodes a rule, {MAX_TOTAL_NODES:,} all rules, depth "
        f"{MAX_EXPANDED_DEPTH}; stated: <= {TIME_BOUND_S} s and <= {MEMORY_BOUND_MB:.0f} MB "
        "per file"
    )
    worst: dict[str, Result] = {}
    peak: dict[str, Result] = {}
    for kind, shape, text in cases(args.seed, args.rounds):
        r = run_one(kind, shape, text)
        print(
            f"{r.kind:<12} {r.shape:<44} {r.size / 1e3:>8.0f} KB {r.seconds:>7.2f} s "
            f"{r.peak_mb:>7.1f} MB  {r.outcome}",
            flush=True,
        )
        if kind not in worst or r.seconds > worst[kind].seconds:
            worst[kind] = r
        if kind not in peak or r.peak_mb > peak[kind].peak_mb:
            peak[kind] = r
    print("\n| structure | max time (s) | max peak memory (MB) |")
    print("|---|---:|---:|")
    for kind in KINDS:
        print(f"| {kind} | {worst[kind].seconds:.2f} | {peak[kind].peak_mb:.0f} |")
    over = [r for r in (*worst.values(), *peak.values()) if r.seconds > TIME_BOUND_S]
    over += [r for r in peak.values() if r.peak_mb > MEMORY_BOUND_MB]
    print("within the stated bounds" if not over else f"OVER THE BOUNDS: {over}")


if __name__ == "__main__":
    main()
