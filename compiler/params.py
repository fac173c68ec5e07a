"""Recipe parameters: declared types, defaults, and `--set name=value` from the command line."""

from __future__ import annotations

from typing import Any

from . import nodes as n
from .context import Context
from .diagnostics import Label, error
from .source import SourceFile, Span
from .suggest import did_you_mean
from .values import describe, plain

PARAM_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}
CLI = "<command line>"


def parse_cli_value(text: str) -> Any:
    """`--set` values: true/false, integers, floats, percentages, else text (quotes optional)."""
    lowered = text.strip()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(lowered.replace("_", ""))
        except ValueError:
            pass
    if lowered.endswith("%"):
        try:
            return float(lowered[:-1]) / 100
        except ValueError:
            pass
    if len(lowered) >= 2 and lowered[0] == lowered[-1] == '"':
        return lowered[1:-1]
    return text


def _fits(value: Any, type_name: str) -> bool:
    types = PARAM_TYPES[type_name]
    return isinstance(value, types) and (type_name == "bool" or not isinstance(value, bool))


def cli_source(index: int, name: str, value: str) -> SourceFile:
    """The `--set` item at `index` as a one-line source, so diagnostics can quote it."""
    return SourceFile(CLI if index == 0 else f"<command line {index + 1}>", f"--set {name}={value}")


def resolve_params(ctx: Context, decls: list[n.ParamDecl], overrides: dict[str, str]) -> dict[str, Any]:
    by_name = _declared_once(ctx, decls)
    for index, (name, value) in enumerate(overrides.items()):
        if name not in by_name and "." not in name:
            shown = cli_source(index, name, value)
            ctx.extra_sources[shown.path] = shown
            cli_span = Span(shown.path, 1, 7, 1, 7 + len(name))
            ctx.report(
                error(
                    "E0403",
                    f"`--set {name}=…` names no parameter of this recipe",
                    cli_span,
                    f"`{name}`",
                    help=did_you_mean(name, by_name),
                    notes=["parameters: " + (", ".join(by_name) or "none")],
                )
            )
    values: dict[str, Any] = {}
    for decl in by_name.values():
        value = _value(ctx, decl, overrides)
        if value is not _NO_VALUE:
            values[decl.name] = float(value) if decl.type == "float" else value
    return values


_NO_VALUE = object()  # a parameter whose value is in error (reported)


def _declared_once(ctx: Context, decls: list[n.ParamDecl]) -> dict[str, n.ParamDecl]:
    """Each parameter by name, first declaration kept; a second one is reported."""
    by_name: dict[str, n.ParamDecl] = {}
    for decl in decls:
        if decl.name in by_name:
            ctx.report(
                error(
                    "E0104",
                    f"the parameter `{decl.name}` is declared twice",
                    decl.name_span,
                    "declared again",
                    secondary=[Label(by_name[decl.name].name_span, "first declared here")],
                )
            )
            continue
        by_name[decl.name] = decl
    return by_name


def _value(ctx: Context, decl: n.ParamDecl, overrides: dict[str, str]) -> Any:
    """The `--set` value, else the default, checked against the declared type; or _NO_VALUE."""
    if decl.type not in PARAM_TYPES:
        ctx.report(
            error(
                "E0203",
                f"unknown parameter type `{decl.type}`",
                decl.type_span,
                "not a type",
                help=did_you_mean(decl.type, PARAM_TYPES),
                notes=["types: int, float, str, bool"],
            )
        )
        return _NO_VALUE
    if decl.name in overrides:
        value = parse_cli_value(overrides[decl.name])
        if _fits(value, decl.type):
            return value
        ctx.report(
            error(
                "E0201",
                f"`--set {decl.name}={overrides[decl.name]}` is not a {decl.type}",
                decl.type_span,
                f"`{decl.name}` is declared {decl.type} here",
            )
        )
        return _NO_VALUE
    if decl.default is None:
        ctx.report(
            error(
                "E0106",
                f"the parameter `{decl.name}` has no value",
                decl.name_span,
                "no default",
                help=f"give a default or pass `--set {decl.name}=…`",
            )
        )
        return _NO_VALUE
    value = plain(decl.default, {})
    if _fits(value, decl.type):
        return value
    ctx.report(
        error(
            "E0201",
            f"the default of `{decl.name}` is not a {decl.type}",
            decl.default.span,
            f"found {describe(decl.default)}",
        )
    )
    return _NO_VALUE
