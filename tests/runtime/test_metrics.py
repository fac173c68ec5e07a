"""Metric functions, gates, guards and early stopping against values worked out by hand."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from ftlang.plan.models import DataRef, EvalPlan, Gate, Guard, InlineData, Metric
from ftlang.runtime.errors import RunError
from ftlang.runtime.evaluation import metrics as m
from ftlang.runtime.evaluation.gates import check_plan, relative_drop, verdict
from ftlang.runtime.train.best import BestTracker


def test_class_metrics():
    assert m.accuracy([0, 1, 2, 1], [0, 1, 1, 1]) == 0.75
    # class 0: P 1/2 R 1/2 -> F1 .5; class 1: P 2/3 R 1 -> .8; class 2: never predicted -> 0
    assert m.macro_f1([0, 1, 1, 1, 0], [0, 0, 1, 1, 2]) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    # a class absent from both gold and predictions does not count
    assert m.macro_f1([0, 1], [0, 1]) == 1.0


def test_text_metrics():
    assert m.exact_match([" 18", "god", "x"], ["18", "dog", "x\n"]) == pytest.approx(2 / 3)
    assert m.contains(["a refund please", "no"], "refund") == 0.5
    assert m.regex(["ticket #1234", "none", "9999"], r"\d{4}") == pytest.approx(2 / 3)
    assert m.json_valid(['{"a": 1}', "[1,", "3"]) == pytest.approx(2 / 3)
    assert m.length(["ab", "abcd"]) == 3.0
    assert m.perplexity(math.log(4)) == pytest.approx(4.0)


def test_rouge_l_and_bleu():
    # LCS "the cat on the mat" = 5 of 6 tokens on both sides: P = R = F = 5/6
    assert m.rouge_l(["the cat sat on the mat"], ["the cat is on the mat"]) == pytest.approx(5 / 6)
    # n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths, so no brevity penalty
    expected = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert m.bleu(["the cat sat on the mat"], ["the cat sat on a mat"]) == pytest.approx(expected, rel=1e-6)


def _words(text: str) -> list[str]:
    """rouge-score's default tokenizer: lower case, every run of other than a-z0-9 splits."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _rouge_1_by_hand(prediction: str, reference: str) -> float:
    pred, ref = Counter(_words(prediction)), Counter(_words(reference))
    overlap = sum((pred & ref).values())
    if not overlap:
        return 0.0
    p, r = overlap / sum(pred.values()), overlap / sum(ref.values())
    return 2 * p * r / (p + r)


def test_rouge_1_is_unigram_f1():
    pairs = [("The cat sat on the mat.", "the cat is on the mat"), ("mat the on sat cat the", "the cat sat on the mat")]
    pairs += [("refund issued", "no refund"), ("x", "y")]
    # "the cat on the mat" = 5 shared words of 6 on both sides: F = 5/6; word order does not count
    assert _rouge_1_by_hand(*pairs[0]) == pytest.approx(5 / 6) and _rouge_1_by_hand(*pairs[1]) == 1.0
    expected = sum(_rouge_1_by_hand(p, r) for p, r in pairs) / len(pairs)
    assert m.rouge_1([p for p, _ in pairs], [r for _, r in pairs]) == pytest.approx(expected, abs=1e-12)


def _chrf_by_hand(predictions: list[str], references: list[str], order: int = 6, beta: float = 2.0) -> float:
    """chrF (Popović 2015) as sacreBLEU computes a corpus score: character n-gram counts without
    whitespace, summed over the corpus per order; precision and recall averaged over the orders
    both sides have; then the F-beta of those averages, times 100."""
    totals = [[0, 0, 0] for _ in range(order)]  # hypothesis n-grams, reference n-grams, matches
    for prediction, reference in zip(predictions, references, strict=True):
        hyp, ref = "".join(prediction.split()), "".join(reference.split())
        for n in range(1, order + 1):
            h = Counter(hyp[i : i + n] for i in range(len(hyp) - n + 1))
            r = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
            totals[n - 1][0] += sum(h.values())
            totals[n - 1][1] += sum(r.values())
            totals[n - 1][2] += sum((h & r).values())
    precisions = [match / hyp for hyp, ref, match in totals if hyp and ref]
    recalls = [match / ref for hyp, ref, match in totals if hyp and ref]
    if not precisions:
        return 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    return 100 * (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0


def test_chrf_is_the_character_f_score():
    predictions = ["the cat sat on the mat", "refund", "ok"]
    references = ["the cat is on the mat", "a refund", "fine"]
    assert m.chrf(predictions, references) == pytest.approx(_chrf_by_hand(predictions, references), rel=1e-9)
    assert m.chrf(["abc"], ["abc"]) == pytest.approx(100.0)
    assert m.chrf([], []) == 0.0


def test_metric_keys_and_bad_patterns():
    assert m.metric_key(Metric(name="rouge_l")) == "rouge_l"
    assert m.metric_key(Metric(name="contains", arg='re"fund')) == 'contains("re\\"fund")'
    with pytest.raises(RunError, match="not a valid regular expression"):
        m.regex(["x"], "(")
    with pytest.raises(RunError, match="expected text"):
        m.text_metric(Metric(name="exact_match"), ["x"], None)


def test_relative_drop_is_a_rise_for_loss():
    assert relative_drop("accuracy", 0.8, 0.6) == pytest.approx(0.25)
    assert relative_drop("accuracy", 0.8, 0.9) == pytest.approx(-0.125)
    assert relative_drop("loss", 2.0, 2.5) == pytest.approx(0.25)
    assert relative_drop("loss", 2.0, 1.0) == pytest.approx(-0.5)
    assert relative_drop("accuracy", 0.0, 0.0) == 0.0 and relative_drop("loss", 0.0, 0.1) == math.inf


def _eval(**kw) -> EvalPlan:
    return EvalPlan(on=DataRef(data="d", split="eval"), **kw)


def test_gates_and_guards_verdict():
    ev = _eval(
        metrics=[Metric(name="accuracy"), Metric(name="loss")],
        compare_base=True,
        require=[
            Gate(metric="accuracy", op=">=", value=0.8),
            Gate(metric="accuracy", delta=True, op=">", value=0.5),
            Gate(metric="loss", op="<", value=0.1),
        ],
        guards=[Guard(name="general", source=InlineData(rows=[{"a": 1}]), max_drop=0.1)],
    )
    v = verdict(ev, {"accuracy": 0.9, "loss": 0.2}, {"accuracy": 0.3, "loss": 1.0}, [(1.0, 1.05)])
    assert [(g.gate, round(g.measured, 6), g.passed) for g in v.gates] == [
        ("accuracy >= 0.8", 0.9, True),
        ("delta(accuracy) > 0.5", 0.6, True),
        ("loss < 0.1", 0.2, False),
    ]
    assert v.guards[0].drop == pytest.approx(0.05) and v.guards[0].passed
    assert not v.passed
    assert (
        verdict(ev, {"accuracy": 0.9, "loss": 0.2}, {"accuracy": 0.3, "loss": 1.0}, [(1.0, 1.2)]).guards[0].passed
        is False
    )


def test_plan_checks_before_any_model_loads():
    with pytest.raises(RunError, match="compare base"):
        check_plan(_eval(require=[Gate(metric="loss", delta=True, op="<", value=0)]), "chat", None)
    twice = [Metric(name="contains", arg="a"), Metric(name="contains", arg="b")]
    with pytest.raises(RunError, match="twice"):
        check_plan(_eval(metrics=twice, require=[Gate(metric="contains", op=">", value=0)]), "chat", None)
    with pytest.raises(RunError, match="cannot be measured on a chat"):
        check_plan(_eval(metrics=[Metric(name="accuracy")]), "chat", None)
    with pytest.raises(RunError, match="no better or worse"):
        check_plan(_eval(metrics=[Metric(name="length")]), "chat", "length")
    with pytest.raises(RunError, match="regular expression"):
        check_plan(_eval(metrics=[Metric(name="regex", arg="[")]), "completion", None)


def test_best_tracker_counts_patience_and_replays(tmp_path):
    tracker = BestTracker(Metric(name="loss"), patience=2, keep=False, run_dir=tmp_path)
    for step, value in [(1, 2.0), (2, 1.5), (3, 1.5), (4, 1.7)]:
        tracker.observe(step, value)
    assert (tracker.step, tracker.value, tracker.should_stop) == (2, 1.5, True)  # a tie is no gain
    again = BestTracker(Metric(name="accuracy"), patience=3, keep=False, run_dir=tmp_path)
    again.replay(
        [
            {"step": 0, "eval_accuracy": 0.9},  # the base model never counts
            {"step": 5, "eval_accuracy": 0.4},
            {"step": 10, "eval_accuracy": 0.6},
            {"step": 10, "loss": 0.3},
        ]
    )
    assert (again.step, again.since, again.should_stop) == (10, 0, False)


def test_json_valid_is_rfc_json_and_never_raises() -> None:
    """NaN and Infinity are Python's extensions, not JSON; 1,000 nested brackets must not escape
    as RecursionError from an eval or a GRPO reward (they count as not parsed)."""
    from ftlang.runtime.methods.rewards import _json_valid

    assert m.json_valid(["NaN", '{"a": Infinity}', "-Infinity", '{"a": 1}']) == pytest.approx(1 / 4)
    assert m.json_valid(["[" * 100_000 + "]" * 100_000]) == 0.0
    assert _json_valid("", "NaN", {}) == 0.0 and _json_valid("", "[" * 100_000, {}) == 0.0
