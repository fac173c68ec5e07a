"""Quiet libraries: our progress bar is the only one; no tqdm bars, load reports or deprecations."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    import transformers.utils.logging as tlog

    was_bar = tlog.is_progress_bar_enabled()
    verbosity = tlog.get_verbosity()
    tlog.disable_progress_bar()
    # A new classification head is "missing from the checkpoint" by design: not a warning.
    tlog.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"(peft|transformers)\.")
            yield
    finally:
        tlog.set_verbosity(verbosity)
        if was_bar:
            tlog.enable_progress_bar()
