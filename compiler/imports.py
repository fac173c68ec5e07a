"""Resolve `import "lib/x.ft" as name`: load files, detect cycles, check pins and the lock."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import nodes as n
from .confine import is_allowed, outside_error
from .context import Context
from .diagnostics import error
from .parser import parse
from .source import SourceFile, Span

LOCK_SUFFIX = ".lock"


@dataclass
class Library:
    """An imported file: its declarations, by the name a recipe uses after the alias."""

    alias: str
    path: Path
    source: SourceFile
    recipe: n.Recipe
    digest: str
    imports: dict[str, Library] = field(default_factory=dict)

    def exported(self) -> dict[str, n.Decl]:
        return {d.name: d for d in self.recipe.items if isinstance(d, n.Decl) and d.name}


def normalised_hash(recipe: n.Recipe) -> str:
    """The sha256 of the syntax tree without positions or comments: formatting keeps it."""
    from .format import strip_spans

    return hashlib.sha256(repr(strip_spans(recipe.items)).encode()).hexdigest()


@dataclass
class ImportGraph:
    """Every file reached through imports, with the hashes `ft lock` writes."""

    sources: dict[str, SourceFile] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)  # path relative to the root recipe → hash


def load_imports(
    ctx: Context, recipe: n.Recipe, here: Path, graph: ImportGraph, stack: tuple[Path, ...] = ()
) -> dict[str, Library]:
    """The libraries `recipe` (the file `here`, absolute) imports, loaded recursively."""
    stack = (*stack, here)
    libraries: dict[str, Library] = {}
    for item in recipe.items:
        if not isinstance(item, n.ImportDecl):
            continue
        library = _load_one(ctx, item, here, graph, stack)
        if library is None:
            continue
        if item.alias in libraries:
            ctx.report(
                error(
                    "E0104",
                    f"the import name `{item.alias}` is used twice",
                    item.alias_span,
                    "used again",
                    help="give each import its own `as` name",
                )
            )
            continue
        libraries[item.alias] = library
    return libraries


def _resolve(ctx: Context, item: n.ImportDecl, here: Path, stack: tuple[Path, ...]) -> Path | None:
    """The imported file: relative to the importing one, existing, and not already being imported."""
    text = str(item.path.value)
    if Path(text).is_absolute() or "://" in text:
        ctx.report(
            error(
                "E0401",
                "imports take a path relative to the importing file",
                item.path.span,
                "not a relative path",
                help='write the path from this file\'s folder, e.g. "lib/lora.ft"',
            )
        )
        return None
    try:
        path = (here.parent / text).resolve()
        exists = path.is_file()
    except (OSError, ValueError):  # a NUL byte or an over-long name: no such file either way
        path, exists = here.parent / "?", False
    if not is_allowed(ctx.root, path):
        ctx.report(outside_error(ctx.root, text, item.path.span, "imported file"))
        ctx.broken_imports.add(item.alias)
        return None
    if path in stack:
        chain = " → ".join(_shown(p, ctx.root) for p in (*stack[stack.index(path) :], path))
        ctx.report(
            error(
                "E0402",
                "these imports form a cycle",
                item.path.span,
                "imports a file that imports this one",
                notes=[f"cycle: {chain}"],
                help="move what both files need into a third file",
            )
        )
        ctx.broken_imports.add(item.alias)
        return None
    if not exists:
        ctx.report(
            error(
                "E0401",
                f"imported file `{text}` not found",
                item.path.span,
                "no such file",
                notes=[f"imports resolve against the folder of {item.span.file}"],
            )
        )
        ctx.broken_imports.add(item.alias)
        return None
    return path


def _load_one(
    ctx: Context, item: n.ImportDecl, here: Path, graph: ImportGraph, stack: tuple[Path, ...]
) -> Library | None:
    text = str(item.path.value)
    path = _resolve(ctx, item, here, stack)
    if path is None:
        return None
    try:
        source = SourceFile.read(path, display_path(path))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = "is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else "cannot be read"
        ctx.report(error("E0401", f"imported file `{text}` {reason}", item.path.span, "this import"))
        ctx.broken_imports.add(item.alias)
        return None
    graph.sources[source.path] = source
    recipe, problems = parse(source)
    if recipe is None:
        ctx.sink.extend(problems)
        ctx.broken_imports.add(item.alias)
        return None
    digest = normalised_hash(recipe)
    graph.digests[_shown(path, ctx.root)] = digest
    if item.sha256 is not None and str(item.sha256.value) != digest:
        ctx.report(
            error(
                "E0404",
                f"`{text}` changed since it was pinned",
                item.sha256.span,
                "pinned hash",
                notes=[f"its normalised sha256 is now {digest}"],
                help="review the change, then update the pin (`ft lock` prints the hashes)",
            )
        )
    library = Library(item.alias, path, source, recipe, digest)
    library.imports = load_imports(ctx, recipe, path, graph, stack)
    return library


def display_path(path: Path) -> str:
    """How diagnostics name a file: relative to the working folder when it lies inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def lock_path(recipe_path: str | Path) -> Path:
    return Path(f"{recipe_path}{LOCK_SUFFIX}")


def lock_text(graph: ImportGraph) -> str:
    """The lock file: every imported file with the hash of its normalised source."""
    return json.dumps({"format_version": 1, "imports": dict(sorted(graph.digests.items()))}, indent=2) + "\n"


def check_lock(ctx: Context, recipe: n.Recipe, recipe_path: str, graph: ImportGraph) -> None:
    """With a lock beside the recipe, every imported file must still have its locked hash."""
    path = lock_path(recipe_path)
    if not path.is_file():
        return
    try:
        locked = json.loads(path.read_text(encoding="utf-8"))["imports"]
        if not isinstance(locked, dict):
            raise TypeError("`imports` is not a mapping")
    except (ValueError, KeyError, TypeError, RecursionError):
        ctx.report(
            error(
                "E0404",
                f"the lock file `{path.name}` is not valid",
                _first_import_span(recipe),
                "checked against the lock",
                help=f"rewrite it with `ft lock {recipe_path}`",
            )
        )
        return
    here = Path(recipe_path).resolve().parent
    direct = {
        _shown((here / str(i.path.value)).resolve(), ctx.root): i.span
        for i in recipe.items
        if isinstance(i, n.ImportDecl)
    }
    for name, digest in sorted(graph.digests.items()):
        where = direct.get(name, _first_import_span(recipe))
        if locked.get(name) != digest:
            what = "is not in the lock" if name not in locked else "changed since it was locked"
            ctx.report(
                error(
                    "E0404",
                    f"`{name}` {what}",
                    where,
                    "imports reach it",
                    notes=[f"locked in {path.name}: {locked.get(name, 'nothing')}", f"now: {digest}"],
                    help=f"review the change, then run `ft lock {recipe_path}`",
                )
            )


def _first_import_span(recipe: n.Recipe) -> Span:
    first = next((i for i in recipe.items if isinstance(i, n.ImportDecl)), None)
    return first.span if first is not None else recipe.items[0].span
