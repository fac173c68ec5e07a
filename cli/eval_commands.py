"""`ft eval`, `ft compare`, `ft report`: evaluate a finished run again, tabulate runs, rewrite reports."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import (
    EXIT_GATE,
    EXIT_OK,
    EXIT_RECIPE,
    UsageError,
    add_format_option,
    add_set_option,
    checked,
    command,
    print_diagnostics,
    print_run_error,
    redacting,
    require_runtime,
    text_table,
)
from .consent import add_trust_option, pinned_plan, read_plan


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = command(
        sub,
        "eval",
        cmd_eval,
        "evaluate a finished run's model again (exit 3 when a gate fails)",
        ["ft eval runs/support-20260101-120000-3f9c1e0a", "ft eval RUNDIR --recipe recipes/harder-eval.ft --format md"],
    )
    p.add_argument("run", metavar="RUNDIR", help="a finished run directory (it holds plan.json and summary.json)")
    p.add_argument("--recipe", metavar="OTHER.ft", help="use this recipe's eval block and data instead of the run's")
    add_format_option(p, ["text", "json", "md"], "the evaluation")
    add_trust_option(p)
    add_set_option(p)

    p = command(
        sub,
        "compare",
        cmd_compare,
        "tabulate runs side by side: metrics, plan hashes, hyper-parameters",
        ["ft compare runs/a runs/b", "ft compare runs/* --format md >> $GITHUB_STEP_SUMMARY"],
    )
    p.add_argument("runs", nargs="+", metavar="RUNDIR", help="finished run directories, one column each")
    add_format_option(p, ["text", "md", "json"], "the table")

    p = command(
        sub, "report", cmd_report, "rewrite a run's report.md and report.html from its files", ["ft report runs/a"]
    )
    p.add_argument("run", metavar="RUNDIR", help="a finished run directory")


def _run_dir(path: str) -> Path:
    run_dir = Path(path)
    if not (run_dir / "plan.json").is_file() or not (run_dir / "summary.json").is_file():
        raise UsageError(f"{run_dir} is not a finished run directory (no plan.json or summary.json)")
    if pinned_plan(run_dir / "plan.json") is None:  # edited since the run wrote it: its figures would lie
        raise SystemExit(EXIT_RECIPE)
    return run_dir


def print_outcome(run_dir: Path, outcome: Any) -> int:  # outcome: ftlang.runtime.evaluation.outcome.Outcome | None
    """What `ft run` ends with: the gate and guard results and where the reports are; its exit code."""
    lines = outcome.verdict.lines() if outcome else []
    if lines:
        print(f"gates and guards: {'PASS' if outcome.passed else 'FAIL'}")
        print("\n".join(lines))
    print(f"report: {run_dir / 'report.md'} (and report.html)")
    return EXIT_GATE if outcome and not outcome.passed else EXIT_OK


@redacting
def cmd_eval(args: argparse.Namespace) -> int:
    require_runtime("eval")  # before importing the runtime
    from ftlang.runtime.errors import RunError
    from ftlang.runtime.evaluation.reevaluate import reevaluate
    from ftlang.runtime.report.contents import outcome_tables

    run_dir = _run_dir(args.run)
    if read_plan(run_dir / "plan.json", args.trust_remote_code) is None:  # pinned, and consent asked for
        return EXIT_RECIPE
    other = None
    if args.recipe:
        result = checked(args.recipe, args.set)
        print_diagnostics(result, args.recipe)
        if not result.ok or result.plan is None:
            return EXIT_RECIPE
        other = result.plan
    try:
        outcome = reevaluate(run_dir, other)
    except RunError as exc:
        return print_run_error(exc)
    if args.format == "json":
        print(json.dumps(outcome.as_dict(), indent=2, ensure_ascii=False))
    else:
        for table in outcome_tables(outcome):
            print(_table_text(table, args.format) + "\n")
    return EXIT_GATE if not outcome.passed else EXIT_OK


def _table_text(table: Any, form: str) -> str:  # table: ftlang.runtime.report.contents.Table
    from ftlang.runtime.report.markdown import markdown_table

    if form == "md":
        return "\n".join(markdown_table(table))
    return f"{table.title}\n{text_table(table.headers, table.rows)}"


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
    require_runtime("compare")
    from ftlang.runtime.report.contents import Table

    runs = [_run_dir(p) for p in args.runs]
    columns = [_compare_rows(d) for d in runs]
    names = list(dict.fromkeys(k for c in columns for k in c if k != "result"))  # first-seen order
    rows = [[name, *(c.get(name, "–") for c in columns)] for name in [*names, "result"]]
    if args.format == "json":
        print(json.dumps({"format_version": 1, "runs": dict(zip(args.runs, columns))}, indent=2, ensure_ascii=False))
        return EXIT_OK
    table = Table("Runs compared (metrics: tuned (delta vs base))", ["", *args.runs], rows)
    print(_table_text(table, args.format))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    require_runtime("report")
    from ftlang.runtime.report.write import write_reports

    md, html = write_reports(_run_dir(args.run))
    print(f"wrote {md}\nwrote {html}")
    return EXIT_OK
