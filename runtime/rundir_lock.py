"""One run directory, one writer: an exclusive flock held while a run creates or resumes the directory."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from ftlang.runtime.errors import RunError

LOCK_FILE = ".writer.lock"


class WriterLock:
    """The held lock; the kernel drops it when the file closes, so a killed run never leaves it stale."""

    def __init__(self, fd: int, path: Path):
        self.fd = fd
        self.path = path

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def take(run_dir: Path) -> WriterLock:
    """The run directory's writer lock, or a RunError naming the process that holds it."""
    path = Path(run_dir) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip()
        os.close(fd)
        who = f" (process {holder})" if holder.isdigit() else ""
        raise RunError(
            f"another ft run is writing this run directory{who}",
            location=str(run_dir),
            help="wait for it to end, or use another directory; a stopped run continues with `ft run --resume`",
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return WriterLock(fd, path)
