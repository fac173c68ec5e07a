"""Fuzz the compiler: seeded mutated recipes through `ft check`/`plan`/`fmt`'s API, counting
internal errors, hangs, unlocated diagnostics and snippets that do not match the file.
Run: .venv/bin/python bench/fuzz.py --cases 10000 [--seed 0] [--show 3]."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import fuzz


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0, help="first seed; case i uses seed + i")
    parser.add_argument("--show", type=int, default=3, help="examples printed per kind of failure")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        totals = fuzz(
            range(args.seed, args.seed + args.cases),
            Path(folder) / "case",
            progress=lambda t: print(f"{t.line()} seconds={time.perf_counter() - start:.0f}", flush=True),
        )
    for kind, examples in totals.examples.items():
        for example in examples[: args.show]:
            print(f"[{kind}] {example}", file=sys.stderr)
    print(f"{totals.line()} seconds={time.perf_counter() - start:.0f}")
    return 0 if totals.line().endswith("internal_errors=0 hangs=0 unlocated=0 bad_snippets=0") else 1


if __name__ == "__main__":
    raise SystemExit(main())
