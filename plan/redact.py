"""Redaction: tokens, keys and passwords are masked before any text reaches a diagnostic, log or report."""

from __future__ import annotations

import os
import re

MASK = "***"

# Names that say a value is a secret: HF_TOKEN, api_key, db_password, CLIENT_SECRET, …
# `token` followed by a letter is a count or a tool (max_new_tokens, tokenizer), not a secret.
_SECRET_WORDS = r"token(?![a-z])|secret|passw(?:or)?d|api[_-]?key|access[_-]?key|credential"
# KEY as a word of its own (OPENAI_KEY, signing_key) names a secret too; in free text, `key = …` is
# too common (a dedupe key) to mask, so assignments are matched on the narrower words only.
SECRET_NAME = re.compile(_SECRET_WORDS + r"|(?<![a-z])key(?![a-z])", re.I)

# Formats of well-known credentials, masked wherever they appear.
_PATTERNS = [
    re.compile(r"\bhf_[A-Za-z0-9]{20,}"),  # Hugging Face
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),  # OpenAI-style
    re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),  # GitHub
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),  # Slack
    re.compile(r"(?<=Bearer )[A-Za-z0-9._~+/=-]{8,}"),  # HTTP authorization headers
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in a URL
]
# `token = abc`, `password: abc`: the name stays, its value goes.
_ASSIGNED = re.compile(rf"((?:{_SECRET_WORDS})\w*\s*[=:]\s*)([^\s,;&]+)", re.I)


def _environment_secrets() -> list[str]:
    # Values of secret-named environment variables, whatever their format; short ones
    # (flags like `1`) would mask ordinary text.
    return sorted((v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 8), key=len, reverse=True)


def redact(text: str) -> str:
    for secret in _environment_secrets():
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return _ASSIGNED.sub(lambda m: m.group(1) + MASK, text)


def masked_param(name: str, value: object) -> object:
    """A parameter as a plan records it: the mask when its name says it is a secret. The value still
    reaches the run wherever the recipe used it; only the record of what was set hides it."""
    return MASK if SECRET_NAME.search(name) else value


def redact_param(name: str, value: object) -> str:
    """A recipe parameter as shown: masked whole when its name says it is a secret."""
    return MASK if SECRET_NAME.search(name) else redact(str(value))
