"""How fast is `ft check`? Wall time of the real command (interpreter start included), and its
growth with recipe size. Run: .venv/bin/python bench/check_speed.py [--repeats N]."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FT = [sys.executable, "-m", "ftlang.cli.main", "check"]


def wall(args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, cwd=REPO, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def grown_recipe(lines: int) -> str:
    """The quickstart with `where` filters added until the file has about `lines` lines."""
    base = (REPO / "recipes" / "quickstart.ft").read_text().splitlines()
    anchor = base.index("  dedupe body")
    extra = max(lines - len(base), 0)
    filters = [f'  where len(body) > {i % 97} or team == "t{i}"' for i in range(extra)]
    return "\n".join(base[:anchor] + filters + base[anchor:]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    baseline = wall([sys.executable, "-c", "pass"], args.repeats)
    quick = wall(FT + ["recipes/quickstart.ft"], args.repeats)
    print(f"python -c pass              {baseline * 1000:7.1f} ms (median of {args.repeats})")
    print(f"ft check quickstart.ft      {quick * 1000:7.1f} ms (median of {args.repeats})")
    print()
    print("| recipe lines | ft check (ms) | ms per 1,000 lines added |")
    print("|---:|---:|---:|")
    first: tuple[int, float] | None = None  # the quickstart as it is (its own size, ~40 lines)
    with tempfile.TemporaryDirectory(dir=REPO / "recipes") as folder:
        for lines in (10, 100, 1_000, 10_000):
            path = Path(folder) / f"grown-{lines}.ft"
            text = grown_recipe(lines)
            path.write_text(text)
            ms = wall(FT + [str(path)], max(3, args.repeats // 2)) * 1000
            n = len(text.splitlines())
            first = first or (n, ms)
            slope = (ms - first[1]) / ((n - first[0]) / 1000) if n > first[0] else 0.0
            print(f"| {n:,} | {ms:.1f} | {slope:.1f} |")
    print(f"\nmachine: {os.cpu_count()} cores; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
