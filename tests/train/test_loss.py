"""The chunked linear cross-entropy gives the plain loss, predictions and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fttui.train.loss import linear_cross_entropy


@pytest.mark.parametrize(("bias", "weighted"), [(False, False), (True, False), (False, True)])
def test_chunked_loss_matches_full_logits(bias: bool, weighted: bool) -> None:
    """Weighted: per-position weights as prompt_loss_weight gives them (0.1 on prompt
    positions, 1 on completion ones)."""
    torch.manual_seed(0)
    hidden = torch.randn(37, 16, requires_grad=True)
    weight = torch.randn(101, 16, requires_grad=True)
    b = torch.randn(101, requires_grad=True) if bias else None
    targets = torch.randint(0, 101, (37,))
    w = torch.where(torch.arange(37) % 3 == 0, 1.0, 0.1) if weighted else None

    logits = F.linear(hidden, weight, b)
    ce = F.cross_entropy(logits, targets, reduction="none")
    ref = (ce * w).sum() if w is not None else ce.sum()
    (ref * 0.3).backward()
    ref_grads = [t.grad.clone() for t in (hidden, weight, b) if t is not None]
    for t in (hidden, weight, b):
        if t is not None:
            t.grad = None

    loss, preds = linear_cross_entropy(
        hidden, weight, targets, bias=b, rows=8, weights=w
    )  # 5 chunks
    (loss * 0.3).backward()
    assert torch.allclose(loss, ref, rtol=1e-5)
    assert torch.equal(preds, logits.argmax(-1))
    got = [t.grad for t in (hidden, weight, b) if t is not None]
    for g, r in zip(got, ref_grads, strict=True):
        assert torch.allclose(g, r, rtol=1e-4, atol=1e-5)


def test_frozen_head_gets_no_gradient_and_bf16_autocast_stays_close() -> None:
    torch.manual_seed(1)
    hidden = torch.randn(20, 32, requires_grad=True)
    weight = torch.randn(64, 32)  # frozen, as under LoRA
    targets = torch.randint(0, 64, (20,))
    ref = F.cross_entropy(hidden @ weight.T, targets, reduction="sum")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = linear_cross_entropy(hidden, weight, targets)
    loss.backward()
    assert weight.grad is None and hidden.grad is not None
    assert abs(float(loss.detach()) - float(ref.detach())) / float(ref.detach()) < 0.02
