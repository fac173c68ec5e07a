"""Metric functions: plain Python on predictions and references, each returning one float."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence

from ftlang.plan.catalogue import METRICS
from ftlang.plan.models import Metric
from ftlang.runtime.errors import RunError


def metric_key(metric: Metric) -> str:
    """The name a metric goes by in records and reports: `rouge_l`, `contains("refund")`."""
    return metric.name if metric.arg is None else f"{metric.name}({json.dumps(metric.arg, ensure_ascii=False)})"


def higher_is_better(name: str) -> bool:
    better = METRICS[name].higher_is_better
    if better is None:
        raise ValueError(f"`{name}` has no better direction")
    return better


def perplexity(loss: float) -> float:
    """exp(mean loss): per target token for language models, per example for classifiers."""
    return math.exp(loss) if loss < 700 else math.inf  # exp overflows a float past ~709


def accuracy(predicted: Sequence[int], gold: Sequence[int]) -> float:
    return sum(p == g for p, g in zip(predicted, gold, strict=True)) / max(1, len(gold))


def macro_f1(predicted: Sequence[int], gold: Sequence[int]) -> float:
    """Unweighted mean F1 over the classes present in the gold labels or the predictions.

    scikit-learn's definition: a class seen nowhere does not drag the mean down, and a
    class that is predicted but never right (or never predicted) scores 0.
    """
    from sklearn.metrics import f1_score

    if not gold:
        return 0.0
    return float(f1_score(list(gold), list(predicted), average="macro", zero_division=0))


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Share of predictions equal to their reference once surrounding whitespace is stripped."""
    pairs = list(zip(predictions, references, strict=True))
    return sum(p.strip() == r.strip() for p, r in pairs) / max(1, len(pairs))


def contains(predictions: Sequence[str], text: str) -> float:
    return sum(text in p for p in predictions) / max(1, len(predictions))


def compile_pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as e:
        raise RunError(
            f'regex("{pattern}") is not a valid regular expression: {e}',
            location="eval metrics",
            help="Python `re` syntax; escape a literal `\\` as `\\\\`",
        ) from None


def regex(predictions: Sequence[str], pattern: str) -> float:
    """Share of predictions in which the pattern matches somewhere (`re.search`)."""
    compiled = compile_pattern(pattern)
    return sum(compiled.search(p) is not None for p in predictions) / max(1, len(predictions))


def _not_json(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def parses_as_json(text: str) -> bool:
    """Whether the text is JSON as RFC 8259 defines it: `NaN` and `Infinity` (which Python's
    json accepts) are not, and nesting too deep for the parser's stack counts as not JSON
    rather than escaping as RecursionError."""
    try:
        json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return False
    return True


def json_valid(predictions: Sequence[str]) -> float:
    return sum(parses_as_json(p) for p in predictions) / max(1, len(predictions))


def length(predictions: Sequence[str]) -> float:
    """Mean length of the predictions in characters (independent of any tokenizer)."""
    return sum(len(p) for p in predictions) / max(1, len(predictions))


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F-measure per example, by Google's `rouge-score` (its default tokenizer:
    lower-cased ASCII letters and digits; no stemming)."""
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer(["rougeL"], use_stemmer=False)
    pairs = list(zip(predictions, references, strict=True))
    return sum(scorer.score(r, p)["rougeL"].fmeasure for p, r in pairs) / max(1, len(pairs))


def rouge_1(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-1 F-measure per example (unigram overlap), by `rouge-score` as `rouge_l` is."""
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer(["rouge1"], use_stemmer=False)
    pairs = list(zip(predictions, references, strict=True))
    return sum(scorer.score(r, p)["rouge1"].fmeasure for p, r in pairs) / max(1, len(pairs))


def chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF by sacreBLEU (its defaults: character n-grams up to 6, β = 2), on its 0–100 scale."""
    import sacrebleu

    if not predictions:
        return 0.0
    return float(sacrebleu.corpus_chrf(list(predictions), [list(references)]).score)


def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU by sacreBLEU (13a tokenizer, its default smoothing), on sacreBLEU's 0–100 scale."""
    import sacrebleu

    if not predictions:
        return 0.0
    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score)


# The implementations by name, one table per signature. The catalogue says which prompts a
# metric fits and which way is better; the loss metrics and the preference metrics are measured
# by the loss pass and by the method.
ON_LABELS: dict[str, Callable[[Sequence[int], Sequence[int]], float]] = {"accuracy": accuracy, "macro_f1": macro_f1}
WITH_REFERENCE: dict[str, Callable[[Sequence[str], Sequence[str]], float]] = {
    "exact_match": exact_match,
    "rouge_l": rouge_l,
    "bleu": bleu,
    "rouge_1": rouge_1,
    "chrf": chrf,
}
WITH_ARGUMENT: dict[str, Callable[[Sequence[str], str], float]] = {"contains": contains, "regex": regex}
ON_THEIR_OWN: dict[str, Callable[[Sequence[str]], float]] = {"json_valid": json_valid, "length": length}


def text_metric(metric: Metric, predictions: Sequence[str], references: Sequence[str] | None) -> float:
    """One generation metric over a set of generated texts (references: the expected texts)."""
    name = metric.name
    if name in WITH_REFERENCE:
        if references is None:
            raise RunError(
                f"`{name}` compares with an expected text, which this prompt has none of",
                location="eval metrics",
                help=f"use {', '.join(WITH_ARGUMENT)}, {' or '.join(ON_THEIR_OWN)}",
            )
        return WITH_REFERENCE[name](predictions, references)
    if name in WITH_ARGUMENT:
        return WITH_ARGUMENT[name](predictions, metric.arg or "")
    return ON_THEIR_OWN[name](predictions)
