"""Checksums of a checkpoint's files: a manifest written last, verified before a resume trusts them."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MANIFEST = "manifest.json"
# The errors of a disk that cannot take a write: the machine's state, never a bug in ftlang.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM})
MANIFEST_VERSION = 1
_OS_ERROR = re.compile(r"os error (\d+)")


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a folder's entries (the names a rename or create made), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_manifest(folder: Path, names: list[str]) -> None:
    """After the named files are on the disk: their sizes and sha256, then the manifest itself on the disk."""
    for name in names:
        fsync_path(folder / name)
    fsync_path(folder)
    files = {name: {"size": (folder / name).stat().st_size, "sha256": sha256_of(folder / name)} for name in names}
    path = folder / MANIFEST
    path.write_text(json.dumps({"version": MANIFEST_VERSION, "files": files}, indent=2, sort_keys=True) + "\n")
    fsync_path(path)
    fsync_path(folder)


def _read_manifest(folder: Path) -> dict[str, dict[str, object]] | str:
    """The manifest's files, or why it cannot be read."""
    path = folder / MANIFEST
    if not path.is_file():
        return f"{path} is missing"
    try:
        files = json.loads(path.read_bytes())["files"]
    except (ValueError, KeyError, TypeError):
        return f"{path} is not a readable manifest (torn or overwritten)"
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        return f"{path} is not a readable manifest (torn or overwritten)"
    return files


def damage(folder: Path, required: tuple[str, ...]) -> str | None:
    """Why the checkpoint in `folder` cannot be trusted, naming the file; None when every file matches."""
    files = _read_manifest(folder)
    if isinstance(files, str):
        return files
    for name in required:
        path, expected = folder / name, files.get(name)
        if expected is None:
            return f"{path} is not in {MANIFEST}"
        if not path.is_file():
            return f"{path} is missing"
        size = path.stat().st_size
        if size != expected.get("size"):
            return f"{path} is {size} bytes, {expected.get('size')} were written (torn)"
        if sha256_of(path) != expected.get("sha256"):
            return f"{path} does not match its sha256 (zeroed or overwritten)"
    return None


@contextmanager
def removed_on_failure(folder: Path, shown: Path) -> Iterator[None]:
    """Writes into the temp `folder`; if they fail, the folder goes and the OS error behind it is raised.

    `shown` (the folder's final name) is the file the error names.
    """
    try:
        yield
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        cause = os_error(exc)
        if cause is None:
            raise
        raise OSError(cause.errno, cause.strerror, str(shown)) from exc


def os_error(exc: BaseException) -> OSError | None:
    """The operating system's error behind a failed write, if there is one.

    torch.save reports a failed write as a RuntimeError with the OSError as its context, and
    safetensors as its own error whose text carries "os error N": both are traced back here.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return seen
        if found := _OS_ERROR.search(str(seen)):
            code = int(found.group(1))
            return OSError(code, os.strerror(code))
        seen = seen.__cause__ or seen.__context__
    return None
