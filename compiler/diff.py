"""The semantic difference of two resolved plans: changed, added and removed fields."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ftlang.plan.edits import flatten

_IGNORED = ("root", "sources")


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # "changed" | "added" | "removed"
    old: Any = None
    new: Any = None
    origin: str | None = None  # file:line of the new value (or the old one, when removed)


def plan_diff(
    old: dict[str, Any], new: dict[str, Any], old_origins: dict[str, str], new_origins: dict[str, str]
) -> tuple[list[Change], list[Change]]:
    """Field changes, and changes of the files read (recipe and imports, by content hash)."""
    a = flatten({k: v for k, v in old.items() if k not in _IGNORED})
    b = flatten({k: v for k, v in new.items() if k not in _IGNORED})
    fields = []
    for path in sorted(a.keys() | b.keys()):
        if path not in b:
            fields.append(Change(path, "removed", old=a[path], origin=_origin(path, old_origins)))
        elif path not in a:
            fields.append(Change(path, "added", new=b[path], origin=_origin(path, new_origins)))
        elif a[path] != b[path]:
            fields.append(Change(path, "changed", a[path], b[path], _origin(path, new_origins)))
    files_a = {s["path"]: s["sha256"] for s in old.get("sources", [])}
    files_b = {s["path"]: s["sha256"] for s in new.get("sources", [])}
    files = [
        Change(
            p,
            "changed" if p in files_a and p in files_b else ("added" if p in files_b else "removed"),
            files_a.get(p),
            files_b.get(p),
        )
        for p in sorted(files_a.keys() | files_b.keys())
        if files_a.get(p) != files_b.get(p)
    ]
    return fields, files


def _origin(path: str, origins: dict[str, str]) -> str | None:
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:end]))
        if found:
            return found
    return None


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def render_diff(fields: list[Change], files: list[Change], markdown: bool = False) -> str:
    if not fields and not files:
        return "no semantic change: the two plans are the same\n"
    if markdown:
        lines = ["| field | before | after | set in |", "|---|---|---|---|"]
        for c in fields:
            before = "—" if c.kind == "added" else f"`{_show(c.old)}`"
            after = "—" if c.kind == "removed" else f"`{_show(c.new)}`"
            lines.append(f"| `{c.path}` | {before} | {after} | {c.origin or ''} |")
        for f in files:
            lines.append(f"| file `{f.path}` | {(f.old or '—')[:12]} | {(f.new or '—')[:12]} | {f.kind} |")
        return "\n".join(lines) + "\n"
    width = max((len(c.path) for c in fields), default=0)
    lines = []
    for c in fields:
        sign = {"changed": "~", "added": "+", "removed": "-"}[c.kind]
        value = {"changed": f"{_show(c.old)} → {_show(c.new)}", "added": _show(c.new), "removed": _show(c.old)}[c.kind]
        origin = f"   ({c.origin})" if c.origin else ""
        lines.append(f"{sign} {c.path:<{width}}  {value}{origin}")
    for f in files:
        lines.append(
            f"  file {f.path}: {f.kind}" + (f" (sha256 {f.old[:8]}… → {f.new[:8]}…)" if f.kind == "changed" else "")
        )
    return "\n".join(lines) + "\n"
