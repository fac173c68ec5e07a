"""Training mixtures: each source's rows per epoch, fixed by the seed; fractional epochs and
eval_every = epoch in the loop's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from ftlang.plan.mixture import mixture_sizes
from ftlang.plan.models import DataRef, TrainPlan
from ftlang.runtime.data.mixture import mix
from ftlang.runtime.errors import RunError
from ftlang.runtime.train.loop import LoopConfig


def ref(name: str, weight: float | None = None, max_rows: int | None = None) -> DataRef:
    return DataRef(data=name, split="train", weight=weight, max_rows=max_rows)


def test_without_weights_each_source_gives_its_rows_after_its_cap():
    assert mixture_sizes([100, 40], [ref("a"), ref("b", max_rows=10)]) == [100, 10]


def test_weights_share_the_sources_total():
    # 100 + 50 rows, shared 0.9 / 0.1: the small source gives fewer rows, the large one repeats.
    assert mixture_sizes([100, 50], [ref("a", 0.9), ref("b", 0.1)]) == [135, 15]
    assert mixture_sizes([100, 50], [ref("a", 1), ref("b", 1)]) == [75, 75]


def test_the_indices_are_a_seeded_sample_with_repeats_where_a_share_exceeds_the_rows():
    refs = [ref("a", 0.9), ref("b", 0.1, max_rows=20)]
    a, b = mix([100, 50], refs, seed=7)
    assert (a.available, len(a.indices), b.available, len(b.indices)) == (100, 108, 50, 12)
    counts = np.bincount(a.indices, minlength=100)
    assert counts.min() == 1 and counts.max() == 2 and counts.sum() == 108  # all rows once, 8 twice
    assert len(set(b.indices.tolist())) == 12 and b.indices.max() < 50
    again = mix([100, 50], refs, seed=7)
    assert all(np.array_equal(x.indices, y.indices) for x, y in zip(again, (a, b)))
    other = mix([100, 50], refs, seed=8)
    assert not np.array_equal(other[1].indices, b.indices)
    # The cap is a sample of the source, not its first rows.
    assert mix([50], [ref("c", max_rows=10)], seed=1)[0].indices.max() > 10


def test_a_weighted_source_without_rows_is_an_error():
    with pytest.raises(RunError, match="`b.train` has no rows"):
        mix([10, 0], [ref("a", 1), ref("b", 1)], seed=0)


@pytest.mark.parametrize(("epochs", "steps"), [(1, 13), (0.5, 7), (2.25, 30), (0.01, 1)])
def test_fractional_epochs_train_that_share_of_the_steps(epochs, steps):
    cfg = LoopConfig.from_plan(TrainPlan(data=[ref("a")], epochs=epochs, batch=8), 100)
    assert (cfg.steps_per_epoch, cfg.total_steps) == (13, steps)


def test_eval_every_epoch_evaluates_at_each_epochs_end():
    cfg = LoopConfig.from_plan(TrainPlan(data=[ref("a")], epochs=2, batch=8, eval_every="epoch"), 100)
    assert cfg.eval_every == 13


def test_a_mixture_trains_and_every_eval_set_is_measured(tmp_path):
    """Two sources mixed 3:1 with a cap, half an epoch, evaluated on both sources' eval splits."""
    from ftlang.plan.models import DataPlan, EvalPlan, FullMethod, InlineData, Plan, SplitPlan
    from ftlang.runtime import run_plan
    from ftlang.runtime.evaluation.outcome import read_outcome

    from .factories import arithmetic, chat_plan

    base = chat_plan(tmp_path, arithmetic(80), split={"train": 0.75, "eval": 0.25})
    other = DataPlan(
        name="more",
        source=InlineData(rows=arithmetic(60, seed=5)),
        split=SplitPlan(parts={"train": 0.75, "eval": 0.25}, seed=4),
        fields=["a", "q"],
    )
    sources = [
        DataRef(data="qa", split="train", weight=3),
        DataRef(data="more", split="train", weight=1, max_rows=10),
    ]
    plan = base.model_copy(
        update={
            "data": [*base.data, other],
            "method": FullMethod(),
            "train": base.train.model_copy(update={"data": sources, "epochs": 0.5, "eval_every": "epoch"}),
            "eval": EvalPlan(on=DataRef(data="qa", split="eval"), also_on=[DataRef(data="more", split="eval")]),
        }
    )
    plan = Plan.model_validate(plan.model_dump())
    result = run_plan(plan, tmp_path / "run", quiet=True)
    mixture = result.metrics["mixture"]
    assert [m["source"] for m in mixture] == ["qa.train", "more.train"]
    available = [m["available"] for m in mixture]
    assert [m["used"] for m in mixture] == mixture_sizes(available, sources)
    assert mixture[1]["used"] < mixture[0]["used"]
    per_epoch = -(-sum(m["used"] for m in mixture) // plan.train.batch)
    assert result.steps == -(-per_epoch // 2)
    outcome = read_outcome(result.run_dir)
    assert outcome.also_on == ["more.eval"]
    assert {"loss", "more.eval/loss", "more.eval/examples"} <= set(outcome.tuned)
    assert outcome.tuned["more.eval/loss"] != outcome.tuned["loss"]
    assert "Metrics on more.eval" in (result.run_dir / "report.md").read_text()
