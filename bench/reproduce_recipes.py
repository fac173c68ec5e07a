"""Run every tiny recipe, then `ft reproduce` it: the table of identical/different per artefact.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/reproduce_recipes.py [--out DIR] [RECIPE …]

Each recipe trains once into DIR/NAME, then `ft reproduce DIR/NAME` reruns and compares it. The
last line counts the recipes whose every artefact came out identical.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = sorted(p.name for p in (ROOT / "recipes").glob("*-tiny.ft"))


def ft(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ftlang.cli.main", *args], capture_output=True, text=True, cwd=ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", default=TINY, help="recipe file names in recipes/ (default: *-tiny.ft)")
    parser.add_argument("--out", help="where the runs go (default: a temporary folder)")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="ft-reproduce-bench-"))
    identical = 0
    for name in args.recipes:
        run = out / Path(name).stem
        start = time.perf_counter()
        made = ft("run", f"recipes/{name}", "--out", str(run), "--quiet")
        if made.returncode not in (0, 3):  # 3: a gate failed, the run itself is whole
            print(f"{name}: the run failed ({made.returncode}): {made.stderr.strip().splitlines()[-1:]}")
            continue
        again = ft("reproduce", str(run), "--format", "json")
        seconds = time.perf_counter() - start
        if again.returncode not in (0, 4):
            print(f"{name}: ft reproduce failed ({again.returncode}): {again.stderr.strip().splitlines()[-1:]}")
            continue
        table = json.loads(again.stdout)
        different = [a for a in table["artefacts"] if not a["identical"]]
        identical += not different
        verdict = "identical" if not different else f"{len(different)} different: {different[0]}"
        print(f"{name}: {len(table['artefacts'])} artefacts, {verdict} ({seconds:.0f} s)")
    print(f"identical={identical} of {len(args.recipes)}")
    return 0 if identical == len(args.recipes) else 4


if __name__ == "__main__":
    sys.exit(main())
