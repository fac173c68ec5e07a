"""Packing: boundaries, reset positions, per-example label shift, and isolated attention."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from ftlang.runtime.data.batching import Collator, block_causal_mask, collate_lm, pack, singles
from ftlang.runtime.data.prompts import IGNORE, Example


def ex(n: int, start: int = 1, loss_from: int = 0) -> Example:
    ids = list(range(start, start + n))
    return Example(ids, [IGNORE] * loss_from + ids[loss_from:], f"e{start}")


def test_pack_keeps_order_and_never_splits_an_example():
    exs = [ex(5), ex(7, 10), ex(4, 20), ex(9, 30), ex(16, 40)]
    packs = pack(exs, 16)
    assert [[len(e.input_ids) for e in p] for p in packs] == [[5, 7, 4], [9], [16]]
    assert [e for p in packs for e in p] == exs


def test_pack_fills_the_tightest_gap_first():
    # Best-fit: 5 joins the sequence with 6 free rather than the one with 8, which 6 then fills.
    # Closing a sequence at the first misfit would have made three: [10], [8, 5], [6].
    exs = [ex(10, 1), ex(8, 20), ex(5, 40), ex(6, 50)]
    packs = pack(exs, 16)
    assert [[e.origin for e in p] for p in packs] == [["e1", "e40"], ["e20", "e50"]]


def test_collate_resets_positions_and_shifts_inside_each_example():
    a, b = ex(3, 1, loss_from=1), ex(4, 10, loss_from=2)
    batch = collate_lm([(a, b), (ex(2, 50),)], pad_id=0, packed=True)
    assert batch.position_ids[0].tolist() == [0, 1, 2, 0, 1, 2, 3]
    assert batch.position_ids[1].tolist()[:2] == [0, 1]
    # position t predicts t+1 within its example; an example's last token predicts nothing
    assert batch.targets[0].tolist() == [2, 3, IGNORE, IGNORE, 12, 13, IGNORE]
    assert batch.input_ids[1].tolist() == [50, 51, 0, 0, 0, 0, 0]
    assert batch.n_targets == 4 + 1 and batch.n_tokens == 9
    mask = batch.attention_mask
    assert mask.shape == (2, 1, 7, 7) and mask.dtype == torch.bool
    expected = torch.zeros(7, 7, dtype=torch.bool)
    expected[:3, :3] = torch.ones(3, 3).tril().bool()
    expected[3:, 3:] = torch.ones(4, 4).tril().bool()
    assert torch.equal(mask[0, 0], expected)
    # padding attends only to padding, and every row keeps its diagonal (no empty softmax)
    assert not mask[1, 0, 2:, :2].any() and mask[1, 0].diagonal().all()


def test_unpacked_collate_uses_a_padding_mask():
    batch = collate_lm(singles([ex(3), ex(5, 10)]), pad_id=0, packed=False)
    assert batch.attention_mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch.position_ids is None


@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_packed_logits_equal_each_example_alone(impl: str):
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        attn_implementation=impl,
    )
    model = LlamaForCausalLM(cfg).eval()
    exs = [ex(7, 1), ex(11, 20), ex(3, 40), ex(9, 5)]
    collator = Collator("chat", 0, True, impl, torch.float32)
    batch = collator(pack(exs, 24))  # two rows: [7, 11, 3] and [9] + padding
    with torch.no_grad():
        packed = model(**batch.model_inputs()).logits
        row, at = 0, 0
        for e in exs:
            if at + len(e.input_ids) > 24:
                row, at = row + 1, 0
            alone = model(input_ids=torch.tensor([e.input_ids])).logits[0]
            n = len(e.input_ids)
            assert (packed[row, at : at + n] - alone).abs().max() < 1e-5
            at += n
        # Why the mask matters: reset positions alone let the second example see the first.
        leaky = model(input_ids=batch.input_ids[:1], position_ids=batch.position_ids[:1]).logits
        alone = model(input_ids=torch.tensor([exs[1].input_ids])).logits[0]
        assert (leaky[0, 7:18] - alone).abs().max() > 1e-3


def test_padded_packed_rows_give_finite_gradients():
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    )
    batch = collate_lm([(ex(6, 1), ex(5, 9)), (ex(3, 30),)], pad_id=0, packed=True)
    logits = model(**batch.model_inputs()).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 64), batch.targets.reshape(-1), ignore_index=IGNORE)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_block_mask_of_one_segment_is_causal():
    m = block_causal_mask(torch.zeros(1, 4, dtype=torch.long))
    assert torch.equal(m[0, 0], torch.ones(4, 4).tril().bool())
