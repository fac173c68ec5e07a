"""`ft run` on a recipe with a `sweep`: train every point of the grid, then rank the runs."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftlang.plan.catalogue import METRICS

from .common import EXIT_OK, EXIT_RECIPE, parse_set_pairs, print_diagnostics, print_run_error

if TYPE_CHECKING:
    from ftlang.compiler.api import CheckResult
    from ftlang.plan.models import Plan


def _score(summary: dict[str, Any], metric: str) -> float | None:
    for key in (f"eval_{metric}", metric, "final_loss" if metric == "loss" else ""):
        value = summary.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _recorded_key(plan: Plan, metric: str) -> str:
    """The key runs record `metric` under: `contains("refund")` for the eval's one `contains`."""
    from ftlang.runtime.evaluation.metrics import metric_key

    measured = [m for m in (plan.eval.metrics if plan.eval else []) if m.name == metric]
    return metric_key(measured[0]) if len(measured) == 1 else metric


def rank_runs(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Runs ordered best first by `metric` (its direction is the catalogue's); runs without a
    value for it go last. `ft check` refuses a `rank_by` with no better direction (E0220)."""
    better = METRICS[metric].higher_is_better
    if better is None:
        raise ValueError(f"`{metric}` has no better direction to rank by")
    sign = -1.0 if better else 1.0
    return sorted(rows, key=lambda r: (r["score"] is None, sign * (r["score"] or 0.0), r["index"]))


def comparison_markdown(rows: list[dict[str, Any]], metric: str) -> str:
    axes = list(rows[0]["point"]) if rows else []
    head = ["rank", *axes, metric, "final train loss", "plan", "run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rank, row in enumerate(rows, start=1):
        score = "—" if row["score"] is None else f"{row['score']:.4g}"
        cells = [
            str(rank),
            *[row["point"][a] for a in axes],
            score,
            f"{row['final_loss']:.4g}",
            row["plan_hash"][:12],
            row["run_dir"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_sweep(args: argparse.Namespace, base: CheckResult) -> int:
    """Train every point of `base`'s sweep (the recipe as `ft run` already checked it)."""
    from ftlang.compiler.api import variants_of
    from ftlang.plan.canonical import plan_hash
    from ftlang.runtime.errors import RunError
    from ftlang.runtime.run import run_plan

    variants = variants_of(base, args.file, parse_set_pairs(args.set))
    for _, variant in variants:
        if not variant.ok:
            print_diagnostics(variant, args.file)
            return EXIT_RECIPE
    assert base.plan is not None and base.resolution is not None
    metric = base.resolution.rank_by or "loss"
    key = _recorded_key(base.plan, metric)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    sweep_dir = Path(args.out) if args.out else Path("runs") / f"{base.plan.recipe}-sweep-{stamp}"
    sweep_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (point, variant) in enumerate(variants):
        assert variant.plan is not None
        digest = plan_hash(variant.plan)
        print(f"sweep {index + 1}/{len(variants)}: " + ", ".join(f"{k}={v}" for k, v in point.items()), file=sys.stderr)
        try:
            result = run_plan(variant.plan, sweep_dir / f"{index:02d}-{digest[:8]}", quiet=args.quiet)
        except RunError as exc:
            return print_run_error(exc)
        summary = json.loads((result.run_dir / "summary.json").read_text())
        rows.append(
            {
                "index": index,
                "point": point,
                "plan_hash": digest,
                "run_dir": result.run_dir.name,
                "final_loss": result.final_loss,
                "score": _score(summary, key),
            }
        )
    ranked = rank_runs(rows, metric)
    table = comparison_markdown(ranked, metric)
    higher = bool(METRICS[metric].higher_is_better)
    title = f"sweep ranked by {metric}, {'higher' if higher else 'lower'} is better"
    (sweep_dir / "comparison.md").write_text(f"# {base.plan.recipe}: {title}\n\n{table}")
    comparison = {"rank_by": metric, "higher_is_better": higher, "runs": ranked}
    (sweep_dir / "comparison.json").write_text(json.dumps(comparison, indent=2) + "\n")
    sys.stdout.write(table)
    print(f"sweep directory: {sweep_dir}")
    return EXIT_OK
