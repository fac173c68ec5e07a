"""`ft reproduce`: what changed since a run was made, and whether its rerun gives the same artefacts.

Two halves: `input_changes` compares the run's lock with what is on disk and installed now
(data, model weights, tokenizer, library versions); `compare_runs` compares the old run
directory with the new one artefact by artefact, ignoring only the clock.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftlang.plan.hashing import sha256_path
from ftlang.plan.models import Plan
from ftlang.runtime import rundir
from ftlang.runtime.models import load_tokenizer, resolve_source, weights_sha256
from ftlang.runtime.pins import library_versions, tokenizer_pins

# Fields that say when or how fast, not what: they differ between any two runs.
CLOCK_FIELDS = frozenset({"elapsed", "tok_s", "created", "started", "finished", "wall_s", "train_s", "seconds"})
# Artefacts compared as JSON documents, besides metrics.jsonl and the weight files.
JSON_ARTEFACTS = ("evaluation.json", "summary.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
# "in 5.5 s", "1,234 tok/s": how long and how fast, written into the report's prose.
_DURATION = re.compile(r"\d[\d,.]*\s?(?:ms|s|min|h|tok/s|tokens/s)(?![\w/])")


@dataclass(frozen=True)
class Change:
    """One input that is not what the run used: `what` changed from `before` to `now`."""

    kind: str  # "data", "model", "tokenizer", "library"
    what: str
    before: str
    now: str
    decisive: bool  # True: the rerun cannot be the same run (other content); False: it may still be


@dataclass(frozen=True)
class Verdict:
    artefact: str
    identical: bool
    first_difference: str = ""


def input_changes(run_dir: Path, plan: Plan) -> list[Change]:
    """Data, model weights, tokenizer and library versions now, against the run's lock."""
    lock = rundir.read_lock(run_dir) or {}
    changes = _data_changes(lock, Path(plan.root))
    changes += _model_changes(lock, plan)
    before = lock.get("versions", {})
    for name, now in library_versions().items():
        if name in before and before[name] != now:
            changes.append(Change("library", name, before[name], now, decisive=False))
    return changes


def _short(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def _data_changes(lock: dict[str, Any], root: Path) -> list[Change]:
    changes = []
    for data in lock.get("data", []):
        for pinned in data.get("files", []):
            path = Path(pinned["path"])
            path = path if path.is_absolute() else root / path
            now = sha256_path(path)[:12] if path.exists() else "missing"
            if now != pinned["sha256"][:12]:
                changes.append(Change("data", pinned["path"], pinned["sha256"][:12], now, decisive=True))
    return changes


def _model_changes(lock: dict[str, Any], plan: Plan) -> list[Change]:
    """The base's weight files and its tokenizer, by content; a scratch model is made from the
    data, so the data's pins cover it."""
    source = resolve_source(plan.model, Path(plan.root))
    if source is None or not Path(source.ref).is_dir():
        return []  # a hub model is pinned by its revision, which the plan holds
    folder = Path(source.ref)
    changes = []
    pinned = lock.get("model", {}).get("weights_sha256", {})
    now = weights_sha256(folder)
    for name in sorted({*pinned, *now}):
        if pinned.get(name, "")[:12] != now.get(name, "")[:12]:
            was, is_ = pinned.get(name, "missing")[:12], now.get(name, "missing")[:12]
            changes.append(Change("model", f"{folder.name}/{name}", was, is_, decisive=True))
    if lock.get("tokenizer"):
        current = tokenizer_pins(load_tokenizer(plan.model, source), folder)
        if current != lock["tokenizer"]:
            changed = _changed_files(lock["tokenizer"].get("files", {}), current.get("files", {}))
            what = "tokenizer" + (f" ({', '.join(changed)})" if changed else "")
            changes.append(Change("tokenizer", what, _short(lock["tokenizer"]), _short(current), decisive=True))
    return changes


def _changed_files(before: dict[str, str], now: dict[str, str]) -> list[str]:
    return [name for name in sorted({*before, *now}) if before.get(name) != now.get(name)]


def compare_runs(old: Path, new: Path, steps: int | None = None) -> list[Verdict]:
    """Each artefact of `old` against `new`; with `steps`, the metrics up to that step only."""
    verdicts = [_compare_metrics(old, new, steps)]
    if steps is not None:
        return verdicts
    for name in JSON_ARTEFACTS:
        if (old / name).exists() or (new / name).exists():
            verdicts.append(_compare_json(old, new, name))
    verdicts += _compare_weights(old, new)
    if (old / "report.md").exists():
        verdicts.append(_compare_report(old, new))
    return verdicts


def _records(path: Path, steps: int | None) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line of a killed run is not an artefact
        if steps is not None and int(record.get("step", 0)) > steps:
            continue
        records.append({k: v for k, v in record.items() if k not in CLOCK_FIELDS})
    return records


def _compare_metrics(old: Path, new: Path, steps: int | None) -> Verdict:
    before, after = _records(old / rundir.METRICS, steps), _records(new / rundir.METRICS, steps)
    for index, (a, b) in enumerate(zip(before, after)):
        if a != b:
            field = next(k for k in sorted({*a, *b}) if a.get(k) != b.get(k))
            where = f"line {index + 1}, step {a.get('step', '?')}, `{field}`: {a.get(field)!r} → {b.get(field)!r}"
            return Verdict("metrics.jsonl", False, where)
    if len(before) != len(after):
        return Verdict("metrics.jsonl", False, f"{len(before)} records → {len(after)}")
    return Verdict("metrics.jsonl", True)


def _without_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k not in CLOCK_FIELDS}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


def _first_path(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted({*a, *b}):
            if a.get(key) != b.get(key):
                return _first_path(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_path(x, y, f"{path}[{index}]")
    return f"{path or 'the document'}: {a!r} → {b!r}"


def _compare_json(old: Path, new: Path, name: str) -> Verdict:
    try:
        a = _without_clock(json.loads((old / name).read_text(encoding="utf-8")))
        b = _without_clock(json.loads((new / name).read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        return Verdict(name, False, f"unreadable: {exc}")
    return Verdict(name, True) if a == b else Verdict(name, False, _first_path(a, b))


def _weight_files(run_dir: Path) -> dict[str, str]:
    found = {}
    for path in sorted(run_dir.rglob("*")):
        if path.is_file() and path.suffix in WEIGHT_SUFFIXES:
            found[path.relative_to(run_dir).as_posix()] = sha256_path(path)
    return found


def _compare_weights(old: Path, new: Path) -> list[Verdict]:
    before, after = _weight_files(old), _weight_files(new)
    verdicts = []
    for name in sorted({*before, *after}):
        if name not in after or name not in before:
            verdicts.append(Verdict(name, False, "missing in the rerun" if name not in after else "new in the rerun"))
        elif before[name] != after[name] and not _same_state(old / name, new / name):
            verdicts.append(Verdict(name, False, f"sha256 {before[name][:12]} → {after[name][:12]}"))
        else:
            verdicts.append(Verdict(name, True))
    return verdicts


def _same_state(a: Path, b: Path) -> bool:
    """Two torch state files (a checkpoint's loop state) equal but for their clock fields."""
    if a.suffix != ".pt":
        return False
    import torch

    try:
        first, second = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    except (OSError, RuntimeError, ValueError):  # not loadable as plain data: the hashes decide
        return False
    return _equal(_without_clock(first), _without_clock(second))


def _equal(a: Any, b: Any) -> bool:
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _report_numbers(path: Path) -> list[str]:
    """The report's lines with durations and speeds blanked: they are the clock, not the result."""
    return [_DURATION.sub("…", line) for line in path.read_text(encoding="utf-8").splitlines()]


def _compare_report(old: Path, new: Path) -> Verdict:
    if not (new / "report.md").exists():
        return Verdict("report.md", False, "missing in the rerun")
    a, b = _report_numbers(old / "report.md"), _report_numbers(new / "report.md")
    for x, y in zip(a, b):
        if x != y:
            return Verdict("report.md", False, f"{x.strip()[:60]!r} → {y.strip()[:60]!r}")
    return Verdict("report.md", len(a) == len(b), "" if len(a) == len(b) else "a different number of lines")
