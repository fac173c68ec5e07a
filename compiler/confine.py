"""Confinement: a recipe reads files inside its repository (the git work tree holding it, or its own
folder outside git) and inside folders allowed on purpose; nothing else is read or quoted at check time.

A recipe from an untrusted pull request could otherwise name `/proc/self/environ` or `~/.ssh/id_rsa` as
data and have `ft check` quote its first line in CI's log. The allowance is explicit and outside the
recipe: `--allow-path DIR` on the command line, or FTLANG_ALLOW_PATHS (folders joined by os.pathsep).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from .diagnostics import Diagnostic, error
from .source import Span

ALLOW_ENV = "FTLANG_ALLOW_PATHS"


@lru_cache(maxsize=64)
def work_tree(folder: Path) -> Path | None:
    """The git work tree holding `folder`: its nearest ancestor with a `.git`."""
    start = folder.resolve()
    return next((c for c in (start, *start.parents) if (c / ".git").exists()), None)


def repository(folder: Path) -> Path:
    """The git work tree holding `folder`, else `folder` itself."""
    return work_tree(folder) or folder.resolve()


def allow(folder: Path) -> None:
    """Allow `folder` to this process and to those it starts: `--allow-path`, an editor's `allowPaths`."""
    folders = [p for p in os.environ.get(ALLOW_ENV, "").split(os.pathsep) if p]
    os.environ[ALLOW_ENV] = os.pathsep.join([*folders, str(folder.expanduser().resolve())])


def allowed_folders(root: Path) -> list[Path]:
    """The recipe's repository, the git work tree the command runs in (a checkout one works in is
    trusted by whoever works in it; a folder outside git, such as a home, is not), and every folder
    allowed on purpose."""
    extra = [Path(p).expanduser().resolve() for p in os.environ.get(ALLOW_ENV, "").split(os.pathsep) if p]
    here = work_tree(Path.cwd())
    return [repository(root), *([here] if here else []), *extra]


def is_allowed(root: Path, path: Path) -> bool:
    """Whether `path` (relative paths against `root`, the recipe's folder) lies in an allowed folder,
    once `..` and symbolic links are resolved."""
    try:
        resolved = (root / path).resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL byte, an over-long name, a symlink loop
        return False
    return any(resolved.is_relative_to(folder) for folder in allowed_folders(root))


def outside_error(root: Path, written: str, span: Span, what: str) -> Diagnostic:
    """E0620: the path leaves the recipe's repository; nothing of it was read."""
    return error(
        "E0620",
        f"the {what} `{written}` is outside the recipe's repository",
        span,
        "outside the repository: not read",
        notes=[
            "a recipe reads files inside the git work tree holding it (its folder, outside git) or the one `ft` runs in"
        ],
        help="move it into the repository, or allow its folder: `--allow-path DIR` (or FTLANG_ALLOW_PATHS)",
    )
