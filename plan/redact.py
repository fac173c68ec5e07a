"""Redaction: tokens, keys and passwords are masked before any text reaches a diagnostic, log or report."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

MASK = "***"
# `--set` values whose names say they are secrets, one a line: kept in the environment so that the
# processes a run starts (torchrun's workers) mask them too.
SET_SECRETS = "FTLANG_SET_SECRETS"
_MIN_ENV, _MIN_SET = 8, 6  # shorter values (flags like `1`) would mask ordinary text

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
    # Values of secret-named environment variables, whatever their format, and the `--set` secrets.
    named = [v for k, v in os.environ.items() if SECRET_NAME.search(k) and k != SET_SECRETS and len(v) >= _MIN_ENV]
    given = [v for v in os.environ.get(SET_SECRETS, "").split("\n") if len(v) >= _MIN_SET]
    return sorted({*named, *given}, key=len, reverse=True)


def remember_set_value(name: str, value: str) -> None:
    """A `--set NAME=VALUE` whose name says it is a secret: its value is masked from here on."""
    if SECRET_NAME.search(name) and len(value) >= _MIN_SET and "\n" not in value:
        known = [v for v in os.environ.get(SET_SECRETS, "").split("\n") if v]
        os.environ[SET_SECRETS] = "\n".join(dict.fromkeys([*known, value]))


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


def redact_lines(text: str) -> str:
    """`redact` line by line: a secret's name at the end of one line never masks the next line."""
    return "".join(redact(line) for line in re.split(r"(?<=[\n\r])", text))


class _Redacting:
    """A text stream whose lines pass through `redact` before they reach the stream it wraps. Text is
    held until a line ends (or a flush), so a secret written in pieces is still masked whole."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        cut = max(self._pending.rfind("\n"), self._pending.rfind("\r")) + 1
        if cut:
            self._stream.write(redact_lines(self._pending[:cut]))
            self._pending = self._pending[cut:]
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(redact_lines(self._pending))
            self._pending = ""
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, …: the wrapped stream's
        return getattr(self._stream, name)


@contextmanager
def redacted_output() -> Iterator[None]:
    """Everything written to stdout and stderr meanwhile (prints, warnings, logs, progress bars)
    passes through the redaction; output written to the file descriptors directly does not."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Redacting(out), _Redacting(err)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = out, err
