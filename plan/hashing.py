"""Content hashes of files and folders, the one definition the compiler and runtime share."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_path(path: Path) -> str:
    """The hash of a file, or of a folder's files (names and contents, in sorted order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
