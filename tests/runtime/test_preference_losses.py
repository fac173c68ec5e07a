"""KTO, ORPO and SimPO losses against the papers' formulas written out in plain Python, and against TRL.

Each formula test also breaks the formula (a perturbed parameter or a missing piece) and checks
that the same comparison then fails: a comparison too loose to notice would pass anything.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from ftlang.runtime.methods.kto import kl_estimate, kto_loss
from ftlang.runtime.methods.orpo import orpo_loss
from ftlang.runtime.methods.reward_model import bradley_terry_loss
from ftlang.runtime.methods.simpo import simpo_loss

TOLERANCE = 1e-9


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _gap(got: torch.Tensor, want: list[float]) -> float:
    return max(abs(a - b) for a, b in zip(got.tolist(), want, strict=True))


def _random(n: int, seed: int, scale: float = 4.0) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale


def _average_logps(n: int, seed: int) -> torch.Tensor:
    """Mean token log-probabilities: always below 0."""
    return -_random(n, seed, 1.5).abs() - 0.01


# --- KTO (Ethayarajh et al. 2024) -----------------------------------------------------------


def _kto_paper(ratios, flags, mismatched, beta, wd, wu):
    z0 = max(0.0, sum(mismatched) / len(mismatched))
    return [
        wd * (1 - _sigmoid(beta * (r - z0))) if good else wu * (1 - _sigmoid(beta * (z0 - r)))
        for r, good in zip(ratios, flags)
    ]


@pytest.mark.parametrize(("beta", "wd", "wu", "shift"), [(0.1, 1.0, 1.0, 0.0), (0.5, 1.33, 0.7, 2.0)])
def test_kto_matches_the_paper(beta, wd, wu, shift):
    ratios, mismatched = _random(64, 1), _random(64, 2) + shift
    flags = (_random(64, 3) > 0).tolist()
    want = _kto_paper(ratios.tolist(), flags, mismatched.tolist(), beta, wd, wu)
    kl = kl_estimate(mismatched, across_ranks=False)

    def ours(kl: torch.Tensor = kl, **change: float) -> torch.Tensor:
        args = {"beta": beta, "desirable_weight": wd, "undesirable_weight": wu, **change}
        return kto_loss(ratios, torch.tensor(flags), kl, **args)

    assert _gap(ours(), want) < TOLERANCE
    # Broken: another β, another weight, or a reference point that is not the clamped mean.
    assert _gap(ours(beta=beta * 1.01), want) > 1e-4
    assert _gap(ours(desirable_weight=wd + 0.1), want) > 1e-4
    assert _gap(ours(undesirable_weight=wu + 0.1), want) > 1e-4
    assert _gap(ours(kl=kl + 0.05), want) > 1e-4


def test_the_kl_estimate_is_the_clamped_mean_and_never_trained():
    mismatched = torch.tensor([-3.0, 1.0], dtype=torch.float64, requires_grad=True)
    assert kl_estimate(mismatched, across_ranks=False).item() == 0.0  # the mean −1 clamps to 0
    assert kl_estimate(mismatched + 2, across_ranks=False).item() == 1.0
    ratios = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    loss = kto_loss(ratios, torch.tensor([True, False]), mismatched.mean(), beta=1.0, desirable_weight=1.0,
                    undesirable_weight=1.0).sum()  # fmt: skip
    loss.backward()
    assert mismatched.grad is None and ratios.grad is not None


# --- ORPO (Hong et al. 2024) ------------------------------------------------------------------


def _orpo_paper(chosen, rejected, lam):
    def odds(avg):
        p = math.exp(avg)
        return p / (1 - p)

    return [-c - lam * math.log(_sigmoid(math.log(odds(c) / odds(r)))) for c, r in zip(chosen, rejected)]


@pytest.mark.parametrize("lam", [0.1, 1.0, 3.5])
def test_orpo_matches_the_paper(lam):
    chosen, rejected = _average_logps(64, 4), _average_logps(64, 5)
    want = _orpo_paper(chosen.tolist(), rejected.tolist(), lam)
    assert _gap(orpo_loss(chosen, rejected, lam=lam), want) < TOLERANCE
    # Broken: another λ, or the SFT term dropped.
    assert _gap(orpo_loss(chosen, rejected, lam=lam * 1.01), want) > 1e-4
    assert _gap(orpo_loss(chosen, rejected, lam=lam) + chosen, want) > 1e-4


# --- SimPO (Meng et al. 2024) -----------------------------------------------------------------


def _simpo_paper(chosen, rejected, beta, gamma):
    return [-math.log(_sigmoid(beta * c - beta * r - gamma)) for c, r in zip(chosen, rejected)]


@pytest.mark.parametrize(("beta", "gamma"), [(2.0, 0.5), (2.5, 1.4), (0.3, 0.0)])
def test_simpo_matches_the_paper(beta, gamma):
    chosen, rejected = _average_logps(64, 6), _average_logps(64, 7)
    want = _simpo_paper(chosen.tolist(), rejected.tolist(), beta, gamma)
    assert _gap(simpo_loss(chosen, rejected, beta=beta, gamma=gamma), want) < TOLERANCE
    # Broken: another γ, or β on the margin γ too.
    assert _gap(simpo_loss(chosen, rejected, beta=beta, gamma=gamma + 0.01), want) > 1e-4
    assert _gap(simpo_loss(chosen, rejected, beta=beta, gamma=gamma * beta + 0.1), want) > 1e-4


# --- against TRL's own loss code (pip install trl; skipped without it) -------------------------


def test_orpo_matches_trl():
    orpo = pytest.importorskip("trl.experimental.orpo.orpo_trainer")
    chosen, rejected = _average_logps(64, 8), _average_logps(64, 9)
    lam = 0.25
    trainer = SimpleNamespace(beta=lam, accelerator=SimpleNamespace(device="cpu"))
    losses, *_ = orpo.ORPOTrainer.odds_ratio_loss(trainer, chosen, rejected)
    # TRL returns +λ·log σ(·), subtracted from its NLL: our odds-ratio term is its negation.
    ours = orpo_loss(chosen, rejected, lam=lam) + chosen
    assert (ours.float() + losses).abs().max().item() < 1e-6


def test_simpo_matches_trl():
    cpo = pytest.importorskip("trl.experimental.cpo.cpo_trainer")
    chosen, rejected = _average_logps(64, 10), _average_logps(64, 11)
    trainer = SimpleNamespace(
        alpha=0.0, beta=2.0, loss_type="simpo", simpo_gamma=0.7, label_smoothing=0.0,
        accelerator=SimpleNamespace(device="cpu"),
    )  # fmt: skip
    losses, *_ = cpo.CPOTrainer.cpo_loss(trainer, chosen, rejected)
    assert (simpo_loss(chosen, rejected, beta=2.0, gamma=0.7) - losses).abs().max().item() < 1e-12


# --- reward models: Bradley–Terry (Ouyang et al. 2022, eq. 1) --------------------------------


@pytest.mark.parametrize("center", [0.0, 0.01])
def test_the_reward_model_loss_is_bradley_terry(center):
    chosen, rejected = _random(64, 12), _random(64, 13)
    want = [-math.log(_sigmoid(c - r)) + center * (c + r) ** 2 for c, r in zip(chosen.tolist(), rejected.tolist())]
    assert _gap(bradley_terry_loss(chosen, rejected, center=center), want) < TOLERANCE
    # Broken: the scores swapped, or another centring weight.
    assert _gap(bradley_terry_loss(rejected, chosen, center=center), want) > 1e-4
    assert _gap(bradley_terry_loss(chosen, rejected, center=center + 0.01), want) > 1e-4
