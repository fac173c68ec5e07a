"""Redaction for the runtime's reports and logs: the one implementation is ftlang.plan.redact,
which the compiler uses for diagnostics too."""

from __future__ import annotations

from ftlang.plan.redact import MASK, SECRET_NAME, redact, redact_param

__all__ = ["MASK", "SECRET_NAME", "redact", "redact_param"]
