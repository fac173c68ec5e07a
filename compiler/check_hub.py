"""Check `hf("org/name", config, split, revision)` data against the local `datasets` cache."""

from __future__ import annotations

from typing import Any

from ftlang.plan import hubcache
from ftlang.plan.catalogue import DATA_SOURCES

from . import nodes as n
from .calls import call_arguments
from .context import Context
from .datapeek import Peek, peek_hub
from .diagnostics import error
from .source import Span
from .suggest import did_you_mean

_TEXTS = ("id", "config", "split", "revision")


def _span_of(call: n.Call, name: str) -> Span:
    """Where an argument was written: the first positional for `id`, else its keyword's value."""
    if name == "id" and call.args:
        return call.args[0].span
    return next((k.value.span for k in call.kwargs if k.name == name), call.span)


def hub_source(ctx: Context, call: n.Call, loc: tuple[Any, ...]) -> tuple[dict[str, Any] | None, Peek | None]:
    """The Plan's source of a hub dataset, pinned to the cached commit, and its first rows."""
    spec = DATA_SOURCES["hf"]
    args = call_arguments(ctx, call, loc, list(spec.positional), list(spec.keywords))
    if args is None:
        return None, None
    wrong = next((k for k in _TEXTS if k in args and not isinstance(args[k], str)), None)
    if wrong is not None:
        ctx.report(error("E0201", f"`{wrong}` expects a text", _span_of(call, wrong), "not a text"))
        return None, None
    hub_id = args["id"]
    if not hubcache.HUB_ID.fullmatch(hub_id):
        ctx.report(
            error(
                "E0320",
                f"`{hub_id}` is not a hub dataset id",
                _span_of(call, "id"),
                "expected `org/name`",
                help='name the owner and the dataset, e.g. `hf("tatsu-lab/alpaca")`',
            )
        )
        return None, None
    config, split, revision = args.get("config"), args.get("split", "train"), args.get("revision")
    source = {"kind": "hf", **args}
    lookup = hubcache.find(hub_id, config, revision)
    found = lookup.found
    if found is None:
        _not_cached(ctx, call, lookup, hub_id, config, split, revision)
        return source, None
    if split not in found.splits:
        ctx.report(
            error(
                "E0322",
                f"the hub dataset `{hub_id}` has no split `{split}`",
                _span_of(call, "split"),
                "no such split",
                help=did_you_mean(split, found.splits),
                notes=[f"splits of `{hub_id}` ({found.config}): {', '.join(found.splits)}"],
            )
        )
        return source, None
    return {**source, "commit": found.commit}, peek_hub(found.arrow_files(split), found.features)


def _not_cached(
    ctx: Context,
    call: n.Call,
    lookup: hubcache.Lookup,
    hub_id: str,
    config: str | None,
    split: str,
    revision: str | None,
) -> None:
    """E0321: the id, its config or its revision is not in the cache; say what is, and how to fetch."""
    fetch = f"fetch it where the hub is reachable: {hubcache.fetch_command(hub_id, config, split, revision)}"
    if not lookup.configs:
        what, span, label, notes = f"the hub dataset `{hub_id}` is not in the local cache", "id", "not cached", []
    elif (config or "default") not in lookup.configs:
        what, span, label = f"the config `{config or 'default'}` of `{hub_id}` is not in the local cache", "config", ""
        notes = [f"cached configs of `{hub_id}`: {', '.join(lookup.configs)}"]
        close = did_you_mean(config or "default", lookup.configs)
        fetch = close or fetch
        label = "not cached"
    else:
        what, span, label = (
            f"the revision `{revision}` of `{hub_id}` is not in the local cache",
            "revision",
            "not cached",
        )
        notes = [f"cached commits: {', '.join(c[:12] for c in lookup.commits)}"]
    notes.append("`ft check` reads hub data from the `datasets` cache and downloads nothing")
    ctx.report(error("E0321", what, _span_of(call, span), label, notes=notes, help=fetch))
