"""'Did you mean': candidates within a small restricted Damerau-Levenshtein distance."""

from __future__ import annotations

from collections.abc import Iterable


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insert, delete, substitute, swap neighbours."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def suggest(name: str, candidates: Iterable[str]) -> list[str]:
    """Close candidates, nearest first: distance <= 1 for short names, else <= 2."""
    limit = 1 if len(name) < 4 else 2
    lowered = name.lower()
    scored = []
    for candidate in set(candidates):
        distance = edit_distance(lowered, candidate.lower())
        # A candidate that contains the name whole (lr ⊂ lr_scale) is a good guess too.
        if distance <= limit or (len(name) >= 3 and (lowered in candidate.lower() or candidate.lower() in lowered)):
            scored.append((distance, candidate))
    return [c for _, c in sorted(scored)]


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A ready `help` line, or None when nothing is close."""
    found = suggest(name, candidates)
    if not found:
        return None
    return "did you mean " + " or ".join(f"`{c}`" for c in found[:2]) + "?"
