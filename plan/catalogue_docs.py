"""The catalogue as text: the docs' tables (generated, never typed) and `ft explain NAME`.

`python -m ftlang.plan.catalogue_docs` (or `make docs`) rewrites each table between its markers,
`<!-- catalogue:metrics -->` … `<!-- /catalogue -->`; a test fails when a doc is out of date.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from ftlang.plan.catalogue import (
    DATA_SOURCES,
    FILTER_FUNCTIONS,
    METHODS,
    METRICS,
    MODEL_SOURCES,
    SCHEDULES,
    TRACKERS,
)


def _shapes(shapes: tuple[str, ...]) -> str:
    return ", ".join(shapes)


def _direction(better: bool | None) -> str:
    return "— (reported, never ranked)" if better is None else ("higher" if better else "lower")


def metric_table() -> str:
    rows = ["| metric | prompts | what it is | better |", "|---|---|---|---|"]
    for name, spec in METRICS.items():
        written = f'`{name}("{spec.argument}")`' if spec.argument else f"`{name}`"
        rows.append(f"| {written} | {_shapes(spec.shapes)} | {spec.summary} | {_direction(spec.higher_is_better)} |")
    return "\n".join(rows)


TABLES: dict[str, Callable[[], str]] = {"metrics": metric_table}
_REGION = re.compile(r"(<!-- catalogue:(\w+) -->\n)(.*?)(<!-- /catalogue -->)", re.S)


def regenerate(text: str) -> str:
    """The doc with every catalogue table rewritten from the catalogue."""
    return _REGION.sub(lambda m: m.group(1) + TABLES[m.group(2)]() + "\n" + m.group(4), text)


def describe(name: str) -> str | None:
    """`ft explain NAME` for a name of the catalogue: what it is and where it fits; None if unknown."""
    text = _describe(name)
    return None if text is None else text.replace("**", "").replace("`", "")


def _describe(name: str) -> str | None:
    if (metric := METRICS.get(name)) is not None:
        written = f'{name}("{metric.argument}")' if metric.argument else name
        return (
            f"{written}: a metric\n\n{metric.summary}\n\nprompts: {_shapes(metric.shapes)}\n"
            f"better: {_direction(metric.higher_is_better)}\n"
        )
    if (method := METHODS.get(name)) is not None:
        return f"method {name}\n\n{method.summary}\n\nprompts: {_shapes(method.shapes)}\n"
    for kind, table in (("data source", DATA_SOURCES), ("model source", MODEL_SOURCES)):
        if (source := table.get(name)) is not None:
            arguments = ", ".join([*source.positional, *(f"{k} = …" for k in source.keywords)])
            return f"{name}({arguments}): a {kind}\n\n{source.summary}\n"
    if (function := FILTER_FUNCTIONS.get(name)) is not None:
        return (
            f"{name}({', '.join(function.arguments)}) -> {function.result}: a filter function\n\n{function.summary}\n"
        )
    if (schedule := SCHEDULES.get(name)) is not None:
        return f"{name}: a learning-rate schedule\n\n{schedule.summary}\n"
    if (tracker := TRACKERS.get(name)) is not None:
        return f"track = [{name}]: an experiment tracker\n\n{tracker.summary}\n\ninstall: pip install 'ftlang[{tracker.extra}]'\n"
    return None


def main(paths: list[str]) -> int:
    for path in map(Path, paths):
        text = path.read_text(encoding="utf-8")
        path.write_text(regenerate(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or [str(p) for p in sorted(Path("docs").glob("*.md"))]))
