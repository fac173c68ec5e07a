"""The compiler's public API: check a recipe file or text, get a Plan and diagnostics."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checker import Resolution, check_recipe
from .diagnostics import Diagnostic, error
from .parser import nested_too_deeply, parse
from .source import SourceFile, Span, undecodable

if TYPE_CHECKING:
    from ftlang.plan.models import Plan


@dataclass
class CheckResult:
    """Diagnostics and, for a recipe without errors, its plan data (a Plan on demand)."""

    plan_data: dict[str, Any] | None
    diagnostics: list[Diagnostic]
    sources: dict[str, SourceFile] = field(default_factory=dict)
    resolution: Resolution | None = None

    @property
    def is_library(self) -> bool:
        return self.resolution is not None and self.resolution.library

    @property
    def ok(self) -> bool:
        """No errors, and a plan (or, for a library file, nothing more to build)."""
        no_errors = not any(d.severity == "error" for d in self.diagnostics)
        return no_errors and (self.plan_data is not None or self.is_library)

    @cached_property
    def plan(self) -> Plan | None:
        """The pydantic Plan; built only when asked, since `ft check` does not need pydantic."""
        if not self.ok or self.plan_data is None:
            return None
        from ftlang.plan.models import Plan

        return Plan.model_validate(self.plan_data, strict=True)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsing allocates many small objects and no garbage worth collecting mid-way; the cyclic
    collector's passes over the growing heap made check time grow faster than the recipe."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_source(source: SourceFile, overrides: dict[str, str] | None = None) -> CheckResult:
    with _collector_paused():
        recipe, problems = parse(source)
        sources = {source.path: source}
        if recipe is None:
            return CheckResult(None, problems, sources)
        try:
            data, diagnostics, resolution = check_recipe(recipe, source, overrides)
        except RecursionError:  # a chain of operators too long for the checker's walk of the tree
            return CheckResult(None, [nested_too_deeply(source)], sources)
    return CheckResult(data, diagnostics, {**sources, **resolution.sources}, resolution)


def check_text(text: str, path: str = "recipe.ft", overrides: dict[str, str] | None = None) -> CheckResult:
    return check_source(SourceFile(path, text), overrides)


def check_path(path: str | Path, overrides: dict[str, str] | None = None) -> CheckResult:
    shown = str(path)
    try:
        raw = _read_regular(Path(path))
        source = SourceFile(shown, raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        quoted, span = undecodable(shown, raw, exc)
        message = f"cannot read `{path}`: it is not UTF-8 text (byte {exc.start} cannot be decoded)"
        return CheckResult(None, [error("E0005", message, span, "not UTF-8")], {shown: quoted})
    except OSError as exc:
        # The whole (unreadable) file is the location: an empty source so renderers can show it.
        reason = getattr(exc, "strerror", None) or str(exc)
        span = Span(shown, 1, 1, 1, 2)
        return CheckResult(
            None, [error("E0005", f"cannot read `{path}`: {reason}", span, "")], {shown: SourceFile(shown, "")}
        )
    return check_source(source, overrides)


def _read_regular(path: Path) -> bytes:
    """A recipe's bytes; a FIFO or device would block or never end, so only regular files are read."""
    if path.exists() and not path.is_file() and not path.is_dir():
        raise OSError(f"`{path}` is not a regular file")
    return path.read_bytes()


def sweep_variants(
    path: str | Path, overrides: dict[str, str] | None = None
) -> tuple[CheckResult, list[tuple[dict[str, str], CheckResult]]]:
    """The recipe, and one checked variant per point of its `sweep` grid.

    Command-line values win over the sweep's: a `--set` of a swept field pins it.
    """
    overrides = overrides or {}
    base = check_path(path, overrides)
    return base, variants_of(base, path, overrides)


def variants_of(
    base: CheckResult, path: str | Path, overrides: dict[str, str]
) -> list[tuple[dict[str, str], CheckResult]]:
    """Each point of an already checked recipe's sweep grid, checked with its values set."""
    variants = []
    for point in base.resolution.sweep if base.resolution else []:
        values = dict(item.split("=", 1) for item in point)
        variants.append((values, check_path(path, {**values, **overrides})))
    return variants
