"""`ft eval`, `ft compare`, `ft report`: evaluate a finished run again, tabulate runs, rewrite reports."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .commands import UsageError, checked, print_diagnostics
from .main import EXIT_GATE


def _run_dir(path: str) -> Path:
    run_dir = Path(path)
    if not (run_dir / "plan.json").is_file() or not (run_dir / "summary.json").is_file():
        raise UsageError(f"{run_dir} is not a finished run directory (no plan.json or summary.json)")
    return run_dir


def _print_error(exc: Any) -> int:  # exc: ftlang.runtime.errors.RunError
    where = f"{exc.location}: " if exc.location else ""
    print(f"error: {where}{exc.message}", file=sys.stderr)
    if exc.help:
        print(f"  = help: {exc.help}", file=sys.stderr)
    return 1


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, for a terminal."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def print_outcome(run_dir: Path, outcome: Any) -> int:  # outcome: ftlang.runtime.evaluation.outcome.Outcome | None
    """What `ft run` ends with: the gate and guard results and where the reports are; its exit code."""
    lines = outcome.verdict.lines() if outcome else []
    if lines:
        print(f"gates and guards: {'PASS' if outcome.passed else 'FAIL'}")
        print("\n".join(lines))
    print(f"report: {run_dir / 'report.md'} (and report.html)")
    return EXIT_GATE if outcome and not outcome.passed else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ftlang.runtime.errors import RunError
    from ftlang.runtime.evaluation.reevaluate import reevaluate
    from ftlang.runtime.report.contents import outcome_tables

    run_dir = _run_dir(args.run)
    other = None
    if args.recipe:
        result = checked(args.recipe, args.set)
        print_diagnostics(result, args.recipe)
        if not result.ok or result.plan is None:
            return 1
        other = result.plan
    try:
        outcome = reevaluate(run_dir, other)
    except RunError as exc:
        return _print_error(exc)
    if args.json:
        print(json.dumps(outcome.as_dict(), indent=2, ensure_ascii=False))
    else:
        for table in outcome_tables(outcome):
            print(f"{table.title}\n{text_table(table.headers, table.rows)}\n")
    return EXIT_GATE if not outcome.passed else 0


def _compare_rows(run_dir: Path) -> dict[str, str]:
    """One run's column of `ft compare`: identity, key hyper-parameters, metrics, verdict."""
    from ftlang.plan.canonical import load_plan, plan_hash
    from ftlang.runtime.evaluation.outcome import read_outcome
    from ftlang.runtime.redact import redact_param
    from ftlang.runtime.report.contents import number

    plan = load_plan((run_dir / "plan.json").read_text(encoding="utf-8"))
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    tp, method = plan.train, plan.method
    rank = getattr(method, "rank", None)
    column = {
        "recipe": plan.recipe,
        "plan": plan_hash(plan)[:12],
        "method": method.kind + (f" r={rank}" if rank else ""),
        "lr": f"{tp.lr:g}",
        "batch": str(tp.batch),
        "epochs": str(tp.epochs),
        "steps": f"{summary['steps']} of {summary['total_steps']}",
        "seed": str(tp.seed),
        "max_len": str(summary.get("max_len", tp.max_len)),
    }
    column.update({f"param {k}": redact_param(k, v) for k, v in plan.params.items()})
    outcome = read_outcome(run_dir)
    if outcome:
        for key in outcome.keys:
            delta = outcome.delta(key)
            column[key] = number(outcome.tuned.get(key)) + (f" ({number(delta, True)})" if delta is not None else "")
        column["result"] = "PASS" if outcome.passed else "FAIL"
    return column


def cmd_compare(args: argparse.Namespace) -> int:
    from ftlang.runtime.report.contents import Table
    from ftlang.runtime.report.markdown import markdown_table

    runs = [_run_dir(p) for p in args.runs]
    columns = [_compare_rows(d) for d in runs]
    names = list(dict.fromkeys(k for c in columns for k in c if k != "result"))  # first-seen order
    rows = [[name, *(c.get(name, "–") for c in columns)] for name in [*names, "result"]]
    headers = ["", *args.runs]
    if args.format == "md":
        print("\n".join(markdown_table(Table("Runs compared (metrics: tuned (delta vs base))", headers, rows))))
    else:
        print(text_table(headers, rows))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ftlang.runtime.report.write import write_reports

    md, html = write_reports(_run_dir(args.run))
    print(f"wrote {md}\nwrote {html}")
    return 0
