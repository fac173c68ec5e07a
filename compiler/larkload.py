"""Import lark without its optional accelerators, which `ft check` would pay for at every start.

When `regex` and `interegular` are installed (transformers brings `regex`; the strict-grammar
test brings `interegular`), lark imports both at start-up: 20-25 ms of a 250 ms budget for
features our parser does not use. They are hidden for the moment lark is first imported and
available again right after, so torch-side code importing `regex` later is unaffected. A process
that imported lark before (the strict-grammar test does, on purpose) keeps lark as it was.
"""

from __future__ import annotations

import sys

_OPTIONAL = ("regex", "interegular")

if "lark" not in sys.modules:
    _hidden = [name for name in _OPTIONAL if name not in sys.modules]
    for _name in _hidden:
        sys.modules[_name] = None  # type: ignore[assignment]  # makes `import name` fail fast
    try:
        import lark  # noqa: F401
    finally:
        for _name in _hidden:
            del sys.modules[_name]
