"""GRPO rewards: the built-in reward terms, plugins from installed packages, their weighted sum."""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ftlang.plan.models import GrpoMethod, MethodPlan, Reward
from ftlang.runtime.errors import RunError
from ftlang.runtime.evaluation.metrics import parses_as_json
from ftlang.runtime.methods.reward_scorer import RewardModelTerm

ENTRY_POINT_GROUP = "ftlang.rewards"

# What a reward term computes, and what a plugin registers: (prompt, completion, row) -> reward.
# `row` is the data row the prompt was rendered from, so a plugin can read any of its fields.
RewardFn = Callable[[str, str, Mapping[str, Any]], float]


@dataclass(frozen=True)
class Term:
    """One `reward` statement: its metric name, weight and function."""

    name: str
    weight: float
    fn: RewardFn


def _field(row: Mapping[str, Any], name: str) -> str:
    return str(row[name]).strip()


def _exact(field: str) -> RewardFn:
    return lambda prompt, completion, row: float(completion.strip() == _field(row, field))


def _fuzzy(field: str) -> RewardFn:
    # difflib's ratio: 2 * matching characters / total characters, in [0, 1].
    return lambda prompt, completion, row: difflib.SequenceMatcher(
        None, completion.strip(), _field(row, field), autojunk=False
    ).ratio()


def _contains(field: str) -> RewardFn:
    return lambda prompt, completion, row: float(_field(row, field) in completion)


def _regex(pattern: str) -> RewardFn:
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        raise RunError(
            f"the reward pattern {pattern!r} is not a valid regular expression: {e}", location="method grpo"
        ) from None
    return lambda prompt, completion, row: float(compiled.search(completion.strip()) is not None)


def _json_valid(prompt: str, completion: str, row: Mapping[str, Any]) -> float:
    return float(parses_as_json(completion))


def _length(limit: int) -> RewardFn:
    # 0 up to the limit, then -1 per `limit` characters beyond it: a penalty that keeps
    # growing, so an over-long completion is never as good as one that stops in time.
    return lambda prompt, completion, row: -max(0, len(completion.strip()) - limit) / limit


def reward_fields(method: MethodPlan) -> list[str]:
    """The data fields GRPO's rewards compare with: every row must have them, like prompt fields."""
    if not isinstance(method, GrpoMethod):
        return []
    return sorted({r.field for r in method.rewards if r.field})


def load_plugin(name: str) -> RewardFn:
    """The function an installed package registers as `name` under the `ftlang.rewards` entry point."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise RunError(
            f"no installed package registers the reward `{name}`",
            location="method grpo",
            help=f"install the package that provides it; rewards register under the "
            f"`{ENTRY_POINT_GROUP}` entry point (see docs/methods.md)",
        )
    try:
        fn = found[0].load()
    except Exception as e:  # the plugin's own import failed: its package's problem, told plainly
        raise RunError(
            f"the reward plugin `{name}` ({found[0].value}) failed to load: {type(e).__name__}: {e}",
            location="method grpo",
        ) from None
    if not callable(fn):
        raise RunError(f"the reward plugin `{name}` ({found[0].value}) is not a function", location="method grpo")
    return fn


def _function(spec: Reward, root: Path = Path(".")) -> tuple[str, RewardFn]:
    """A term's base metric name and function; the compiler has checked the arguments."""
    kind = spec.kind
    if kind == "model":
        assert spec.path is not None
        return "model", RewardModelTerm(root, spec.path)
    if kind in ("exact", "fuzzy", "contains"):
        assert spec.field is not None
        maker = {"exact": _exact, "fuzzy": _fuzzy, "contains": _contains}[kind]
        return f"{kind}_{spec.field}", maker(spec.field)
    if kind == "regex":
        assert spec.pattern is not None
        return "regex", _regex(spec.pattern)
    if kind == "length":
        assert spec.max is not None
        return "length", _length(spec.max)
    if kind == "plugin":
        assert spec.name is not None
        return spec.name, load_plugin(spec.name)
    return "json_valid", _json_valid


class Rewards:
    """The reward terms of a recipe; a completion's reward is their weighted sum."""

    def __init__(self, specs: Sequence[Reward], root: Path = Path(".")):
        """`root`: the folder a reward model's path is relative to (the recipe's)."""
        self.terms: list[Term] = []
        seen: dict[str, int] = {}
        for spec in specs:
            base, fn = _function(spec, root)
            seen[base] = seen.get(base, 0) + 1
            # Two regex terms must not share a metric name: number the later ones.
            name = base if seen[base] == 1 else f"{base}_{seen[base]}"
            self.terms.append(Term(name, spec.weight, fn))

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.terms]

    def score(self, prompt: str, completion: str, row: Mapping[str, Any], origin: str) -> list[float]:
        """Each term's unweighted value for one completion (a plugin's failure names the row)."""
        out = []
        for term in self.terms:
            try:
                value = term.fn(prompt, completion, row)
            except Exception as e:  # a plugin's bug: name the term and the row, not a traceback
                raise RunError(f"the reward `{term.name}` failed: {type(e).__name__}: {e}", location=origin) from None
            if not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise RunError(f"the reward `{term.name}` returned {value!r}, not a finite number", location=origin)
            out.append(float(value))
        return out

    def total(self, values: Sequence[float]) -> float:
        return sum(t.weight * v for t, v in zip(self.terms, values))
