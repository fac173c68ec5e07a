"""The compiler's public API: check a recipe file or text, get a Plan and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .checker import check_recipe
from .diagnostics import Diagnostic, error
from .parser import parse
from .plan import Plan
from .source import SourceFile, Span


@dataclass
class CheckResult:
    plan: Plan | None
    diagnostics: list[Diagnostic]
    sources: dict[str, SourceFile] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.plan is not None and not any(d.severity == "error" for d in self.diagnostics)


def check_source(source: SourceFile, overrides: dict[str, str] | None = None) -> CheckResult:
    recipe, problems = parse(source)
    sources = {source.path: source}
    if recipe is None:
        return CheckResult(None, problems, sources)
    plan, diagnostics = check_recipe(recipe, source, overrides)
    return CheckResult(plan, diagnostics, sources)


def check_text(text: str, path: str = "recipe.ft", overrides: dict[str, str] | None = None) -> CheckResult:
    return check_source(SourceFile(path, text), overrides)


def check_path(path: str | Path, overrides: dict[str, str] | None = None) -> CheckResult:
    try:
        source = SourceFile.read(path)
    except (OSError, UnicodeDecodeError) as exc:
        span = Span(str(path), 1, 1, 1, 2)
        reason = getattr(exc, "strerror", None) or str(exc)
        return CheckResult(None, [error("E0005", f"cannot read `{path}`: {reason}", span, "")])
    return check_source(source, overrides)
