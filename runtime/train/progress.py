"""Progress: a rich bar with loss, tokens/s and ETA on stderr; quiet runs print one final line."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, name: str, total: int, done: int = 0, *, quiet: bool = False):
        self.quiet = quiet
        self._bar: RichProgress | None = None
        if not quiet:
            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[tok_s]} tok/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(name, total=total, completed=done, loss="-", tok_s="-")

    def __enter__(self) -> Progress:
        if self._bar:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar:
            self._bar.stop()

    def update(self, step: int, loss: float | None, tok_s: float | None) -> None:
        if not self._bar:
            return
        fields = {}
        if loss is not None:
            fields["loss"] = f"{loss:.4f}"
        if tok_s is not None:
            fields["tok_s"] = f"{tok_s:,.0f}"
        self._bar.update(self._task, completed=step, **fields)

    def final_line(self, text: str) -> None:
        print(text, file=sys.stdout, flush=True)
