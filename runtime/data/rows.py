"""The rows a run trains and evaluates on: loaded, rendered and label-checked before any model loads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from ftlang.plan.models import DataRef, Plan
from ftlang.plan.rows import rendered_fields
from ftlang.runtime.data.cache import DataCache
from ftlang.runtime.data.engine import RowTable, prepare_rows
from ftlang.runtime.data.mixture import mixed_table
from ftlang.runtime.data.prompts import Rendered, Renderer
from ftlang.runtime.data.tokenized import RenderedTable, keep_known_labels, render_table
from ftlang.runtime.errors import RunError


@dataclass(frozen=True)
class RunRows:
    """Every data declaration the run reads, its rendered train and eval rows, and the labels.

    The training rows stay on disk (a memory-mapped RenderedTable the method tokenizes and
    packs through the cache); the eval rows, a small split, are a list.
    """

    loaded: dict[str, RowTable]
    train: RenderedTable
    eval: list[Rendered]
    labels: list[str] | None  # classification only: the prompt's labels, or the training rows'
    skipped: list[dict[str, str]]  # rows dropped while rendering or for an unknown label
    mixture: list[dict[str, Any]] = field(default_factory=list)  # a mixture's rows per source
    eval_sets: list[tuple[str, list[Rendered]]] = field(default_factory=list)  # `eval.also_on`, by name

    def bad_rows_skipped(self) -> int:
        return sum(d.stats["bad_rows_skipped"] for d in self.loaded.values()) + len(self.skipped)


def load_rows(plan: Plan, extra_fields: Sequence[str] = (), *, quiet: bool = False) -> RunRows:
    """Data and templates: every row-level failure surfaces here, before a model loads.

    `extra_fields` are read besides the prompt's (the fields GRPO's rewards score).
    """
    cache = DataCache(quiet=quiet)
    loaded = _load_sources(plan, [*plan.prompt.fields, *extra_fields], cache)
    renderer = Renderer(plan.prompt)
    skipped: list[dict[str, str]] = []
    train_r, mixture = _train_rows(plan, loaded, renderer, cache)
    skipped += train_r.skipped
    eval_r: list[Rendered] = []
    eval_skip = False
    if plan.eval:
        table = _render(plan, plan.eval.on, loaded, renderer, cache)
        eval_r, eval_skip = list(table), table.skip_bad
        skipped += table.skipped
    eval_sets = []
    for ref in plan.eval.also_on if plan.eval else []:
        table = _render(plan, ref, loaded, renderer, cache)
        eval_sets.append((table.name, list(table), table.skip_bad))
        skipped += table.skipped
    labels = None
    if plan.prompt.task == "classification":
        labels = _class_labels(plan, train_r, skipped)
        eval_r = keep_known_labels(eval_r, labels, eval_skip, skipped)
        eval_sets = [(name, keep_known_labels(rows, labels, skip, skipped), skip) for name, rows, skip in eval_sets]
    if not len(train_r):
        raise RunError(
            f"no training rows left in `{', '.join(r.data for r in plan.train.data)}` after filters and splits",
            help="check the where filters and the split fractions",
        )
    extra = [(name, rows) for name, rows, _ in eval_sets]
    return RunRows(loaded, train_r, eval_r, labels, skipped, mixture, extra)


def _class_labels(plan: Plan, train: RenderedTable, skipped: list[dict[str, str]]) -> list[str]:
    """The classifier's labels, with the training rows' checked here, before a model loads: a label
    outside the prompt's `labels` stops the run at its row, or with `bad_rows = skip` is counted in
    `skipped` (the row is dropped as it is tokenized); the rows must hold two classes or more."""
    seen = train.labels()
    declared = list(plan.prompt.labels) if plan.prompt.labels else seen
    if set(seen) - set(declared):
        bad = (r for r in train if r.label not in declared)
        keep_known_labels(list(bad) if train.skip_bad else list(islice(bad, 1)), declared, train.skip_bad, skipped)
    known = [label for label in seen if label in declared]
    if len(known) < 2:
        held = f"only the label `{known[0]}`" if known else "no label of the prompt's `labels`"
        raise RunError(
            f"the training rows hold {held}: a classifier needs two classes or more",
            location=f"data `{', '.join(ref.data for ref in plan.train.data)}`",
            help="add training rows of the other classes",
        )
    return declared


def _load_sources(plan: Plan, fields: list[str], cache: DataCache) -> dict[str, RowTable]:
    """Each data declaration the train and eval blocks name, read once."""
    by_name = {d.name: d for d in plan.data}
    text = rendered_fields(plan.prompt.model_dump(mode="json"))
    refs = [*plan.train.data] + ([plan.eval.on, *plan.eval.also_on] if plan.eval else [])
    loaded: dict[str, RowTable] = {}
    for ref in refs:
        if ref.data not in by_name:
            raise RunError(f"no data named `{ref.data}`", help=f"declared: {', '.join(by_name)}")
        if ref.data not in loaded:
            loaded[ref.data] = prepare_rows(by_name[ref.data], Path(plan.root), fields, cache, text)
    return loaded


def _train_rows(
    plan: Plan, loaded: dict[str, RowTable], renderer: Renderer, cache: DataCache
) -> tuple[RenderedTable, list[dict[str, Any]]]:
    """The training rows: one source's, or a mixture's (with the rows each source gave)."""
    refs = plan.train.data
    tables = [_render(plan, ref, loaded, renderer, cache) for ref in refs]
    if len(refs) == 1 and refs[0].weight is None and refs[0].max_rows is None:
        return tables[0], []
    table, sources = mixed_table(tables, refs, plan.train.seed)
    return table, [s.as_dict() for s in sources]


def _render(
    plan: Plan, ref: DataRef, loaded: dict[str, RowTable], renderer: Renderer, cache: DataCache
) -> RenderedTable:
    """The referenced rows through the prompt, skipping bad ones when their data says so."""
    skip = next(d for d in plan.data if d.name == ref.data).bad_rows == "skip"
    return render_table(loaded[ref.data], ref.split, renderer, skip, cache)
