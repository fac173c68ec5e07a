"""KTO on two processes with an uneven last batch: the filler micro-batch counts in neither the loss
nor the KL reference point, which are those of the real rows alone (computed here independently)."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from ftlang.plan.models import KtoMethod, ScratchModel
from ftlang.runtime.data.prompts import IGNORE, Example, Rendered
from ftlang.runtime.methods.kto import KtoObjective, Rated, RatedCollator, tokenize_rated
from ftlang.runtime.methods.policy import Reference
from ftlang.runtime.models import build_scratch_model, train_scratch_tokenizer
from ftlang.runtime.train.prefetch import preparer

METHOD = KtoMethod(beta=0.5, desirable_weight=1.0, undesirable_weight=1.5)
TEAMS = ["billing", "shipping", "account", "billing refunds", "technical"]
# Five rows, two processes, micro-batches of two: rank 0 takes rows 0, 2, 4 as [0, 2] then [4];
# rank 1 takes [1, 3], then runs a filler (a copy of row 0) so both run two forward passes.
WORLD, MICRO = 2, 2
REAL = [[0, 2, 1, 3], [4]]  # the real rows of each micro-batch index, over both ranks
FILLER = 0  # the row the filler repeats


def _rows(tok: PreTrainedTokenizerFast) -> list[Rated]:
    rendered = [
        Rendered(f"r:{i}", input=f"Ticket {i}: where does it go? Team:", target=f" {team}", desirable=i % 2 == 0)
        for i, team in enumerate(TEAMS)
    ]
    return tokenize_rated(rendered, tok, max_len=64)[0]


def _models(folder: Path) -> None:
    """A tokenizer, a reference and a policy trained a little on the tickets, saved for the ranks.

    Trained, the policy finds every team name likelier than the reference does: the mismatched
    log-ratios are positive, so the KL estimate is not clamped to 0 and a counted filler shows.
    """
    texts = [f"Ticket {i}: where does it go? Team: {t}" for i in range(10) for t in TEAMS]
    tok = train_scratch_tokenizer(texts, 200)
    model = build_scratch_model(ScratchModel(hidden=32, layers=2, heads=4), tok, "generation", seed=0)
    model.save_pretrained(folder / "reference")
    ids = tok(texts, padding=True, return_tensors="pt")
    labels = ids["input_ids"].masked_fill(ids["attention_mask"] == 0, IGNORE)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(20):
        model(**ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(folder / "policy")
    tok.save_pretrained(folder / "tok")


def _rank(rank: int, port: int, folder: Path) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        tok = PreTrainedTokenizerFast.from_pretrained(folder / "tok")
        policy = AutoModelForCausalLM.from_pretrained(folder / "policy").eval()
        reference = AutoModelForCausalLM.from_pretrained(folder / "reference")
        objective = KtoObjective(METHOD, Reference(reference, has_adapter=False))
        prepare = preparer(_rows(tok), RatedCollator(tok.pad_token_id), MICRO, WORLD, rank, torch.device("cpu"))
        out = []
        with torch.no_grad():
            for batch, weight in prepare(list(range(len(TEAMS)))):
                loss, stats = objective(policy, batch)
                out.append((weight, loss.item(), stats["kl_estimate"].item() / len(batch.desirable)))
        torch.save(out, folder / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _sequence_logp(model: torch.nn.Module, example: Example) -> float:
    """Σ log p(token) over the answer tokens, straight from the logits of the unpadded sequence."""
    ids = torch.tensor([example.input_ids])
    with torch.no_grad():
        logp = F.log_softmax(model(input_ids=ids).logits[0].double(), -1)
    return sum(logp[t - 1, y].item() for t, y in enumerate(example.labels) if t > 0 and y != IGNORE)


def _kto(r: float, z0: float, desirable: bool) -> float:
    """Ethayarajh et al. 2024, eq. 8, for one completion."""
    sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    if desirable:
        return METHOD.desirable_weight * (1 - sigmoid(METHOD.beta * (r - z0)))
    return METHOD.undesirable_weight * (1 - sigmoid(METHOD.beta * (z0 - r)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_filler_micro_batch_counts_in_neither_the_kl_estimate_nor_the_loss(tmp_path: Path) -> None:
    _models(tmp_path)
    mp.spawn(_rank, args=(_free_port(), tmp_path), nprocs=WORLD, join=True)
    got = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]

    tok = PreTrainedTokenizerFast.from_pretrained(tmp_path / "tok")
    policy = AutoModelForCausalLM.from_pretrained(tmp_path / "policy").eval()
    reference = AutoModelForCausalLM.from_pretrained(tmp_path / "reference").eval()
    rows = _rows(tok)

    def ratio(e: Example) -> float:
        return _sequence_logp(policy, e) - _sequence_logp(reference, e)

    own, twin = [ratio(r.example) for r in rows], [ratio(r.mismatched) for r in rows]
    kl = [max(0.0, sum(twin[i] for i in real) / len(real)) for real in REAL]
    with_filler = max(0.0, (twin[4] + twin[FILLER]) / 2)
    assert abs(with_filler - kl[1]) > 1e-2, "the case must tell a counted filler apart"

    # Rank 0: two real micro-batches; rank 1: one real, then the filler (weight 0).
    assert [w for w, _, _ in got[0]] == [1, 1] and [w for w, _, _ in got[1]] == [1, 0]
    for rank, micro_batches in ((0, [[0, 2], [4]]), (1, [[1, 3], []])):
        for index, real in enumerate(micro_batches):
            _, loss, logged_kl = got[rank][index]
            expected = sum(_kto(own[i], kl[index], rows[i].desirable) for i in real)
            assert abs(loss - expected) < 1e-5, (rank, index, loss, expected)
            if real:  # the logged estimate is the pooled one, the same on every rank
                assert abs(logged_kl - kl[index]) < 1e-5, (rank, index, logged_kl, kl[index])


def test_a_zero_weight_row_is_out_of_the_kl_estimate() -> None:
    from ftlang.runtime.methods.kto import kl_estimate

    ratios = torch.tensor([0.4, 2.0, 1.0])
    weighted = kl_estimate(ratios, torch.tensor([1.0, 0.0, 1.0]), across_ranks=False)
    assert weighted.item() == kl_estimate(ratios[[0, 2]], across_ranks=False).item() == torch.tensor(0.7).item()
