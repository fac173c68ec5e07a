"""What this machine has installed, for the checks that depend on it: read from metadata, never imported.

A recipe may need packages beyond the compiler (a tracker, bitsandbytes, a model shipped as a
package). Where the runtime is installed, a missing one is an error: a run here would fail. On a
light install (`pip install ftlang`, no torch) nothing runs here, as in a review job: the same
diagnostic is a warning, so the recipe itself still checks.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata

from .diagnostics import Diagnostic, error, warning
from .source import Span

_LIGHT = "this machine has no runtime (a light install): it checks the recipe, and what a run needs is a warning"


def installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


@lru_cache(maxsize=1)
def runtime_installed() -> bool:
    return installed("torch")


def missing_package(code: str, message: str, span: Span, label: str, *, help: str) -> Diagnostic:
    """A package a run of the recipe needs and this machine lacks (see the module's docstring)."""
    if runtime_installed():
        return error(code, message, span, label, help=help)
    return warning(code, message, span, label, help=help, notes=(_LIGHT,))
