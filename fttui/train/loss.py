"""Cross-entropy over the vocabulary without materialising every position's logits.

A causal LM's loss needs, for each trained position, the log-sum-exp of its logits
over the whole vocabulary (49,152 entries for SmolLM2, 151,936 for Qwen2). Computing
the logits for all trained positions at once costs positions x vocabulary floats,
twice (logits and their gradient): 8,192 trained positions of Qwen2 are 5 GB in
float32. `linear_cross_entropy` walks the positions in chunks and, for each chunk,
computes the logits, the loss, the predicted token and straight away the gradient
with respect to the hidden states and the head's weight, then drops the logits. The
backward pass only scales those stored gradients. Same three matrix products per
chunk as the plain way (logits, d hidden, d weight), so no extra compute; peak
memory is one chunk's logits. This is the fused linear cross-entropy of Liger
Kernel, written in plain torch so it runs on CPU and GPU alike; where Liger Kernel is
installed (an optional extra, CUDA only) `liger_loss` uses its Triton kernel instead.

Numerics: logits and softmax in float32; under bf16 autocast the matrix products
take bf16 inputs like the model's own head would, and gradients accumulate in float32.
"""

from __future__ import annotations

from typing import Any

import torch

# Elements (positions x vocabulary) of one chunk's float32 logits: 64 MiB.
CHUNK_ELEMENTS = 1 << 24


def chunk_rows(vocab: int, elements: int = CHUNK_ELEMENTS) -> int:
    """Positions per chunk so that a chunk's logits stay within `elements` floats."""
    return max(16, elements // max(1, vocab))


class _LinearCrossEntropy(torch.autograd.Function):
    """sum_i CE(hidden_i @ W^T + b, target_i), with gradients computed chunk by chunk."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        targets: torch.Tensor,
        rows: int,
        compute_dtype: torch.dtype | None,
        weights: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        need_h, need_w, need_b = (
            ctx.needs_input_grad[0],
            ctx.needs_input_grad[1],
            (bias is not None and ctx.needs_input_grad[2]),
        )
        dtype = compute_dtype or hidden.dtype
        w = weight.to(dtype)
        b = bias.to(dtype) if bias is not None else None
        grad_h = torch.empty_like(hidden) if need_h else None
        grad_w = torch.zeros_like(weight, dtype=torch.float32) if need_w else None
        grad_b = (
            torch.zeros_like(bias, dtype=torch.float32) if need_b and bias is not None else None
        )
        loss = torch.zeros((), dtype=torch.float32, device=hidden.device)
        preds = torch.empty_like(targets)
        for start in range(0, hidden.shape[0], rows):
            h = hidden[start : start + rows].to(dtype)
            t = targets[start : start + rows]
            logits = torch.nn.functional.linear(h, w, b).float()
            lse = torch.logsumexp(logits, dim=-1)
            ce = lse - logits.gather(1, t[:, None]).squeeze(1)
            wt = weights[start : start + rows].float() if weights is not None else None
            loss += (ce * wt).sum() if wt is not None else ce.sum()
            preds[start : start + rows] = logits.argmax(-1)
            if not (need_h or need_w or need_b):
                continue
            # d(sum CE)/d logits = softmax - one_hot(target), in place over the logits.
            grad = logits.sub_(lse[:, None]).exp_()
            grad[torch.arange(t.shape[0], device=t.device), t] -= 1.0
            if wt is not None:  # d(sum w_i CE_i)/d logits_i = w_i (softmax - one_hot)
                grad.mul_(wt[:, None])
            g = grad.to(dtype)
            if grad_h is not None:
                grad_h[start : start + rows] = (g @ w).to(hidden.dtype)
            if grad_w is not None:
                grad_w += (g.t() @ h).float()
            if grad_b is not None:
                grad_b += grad.sum(0)
        ctx.save_for_backward(
            grad_h if grad_h is not None else torch.empty(0),
            grad_w if grad_w is not None else torch.empty(0),
            grad_b if grad_b is not None else torch.empty(0),
        )
        ctx.has = (grad_h is not None, grad_w is not None, grad_b is not None)
        ctx.dtypes = (weight.dtype, bias.dtype if bias is not None else None)
        ctx.mark_non_differentiable(preds)
        return loss, preds

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad_loss: torch.Tensor, _grad_preds: Any
    ) -> tuple[Any, ...]:
        grad_h, grad_w, grad_b = ctx.saved_tensors
        has_h, has_w, has_b = ctx.has
        w_dtype, b_dtype = ctx.dtypes
        # The stored gradients are this call's own buffers: scaled in place.
        return (
            grad_h.mul_(grad_loss.to(grad_h.dtype)) if has_h else None,
            grad_w.mul_(grad_loss).to(w_dtype) if has_w else None,
            grad_b.mul_(grad_loss).to(b_dtype) if has_b else None,
            None,
            None,
            None,
            None,
        )


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    bias: torch.Tensor | None = None,
    rows: int | None = None,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed cross-entropy, argmax predictions) of `hidden @ weight.T + bias` vs `targets`.

    `hidden` is (positions, hidden size), `weight` the LM head's (vocabulary, hidden
    size). `weights` (one per position, e.g. prompt_loss_weight on prompt tokens) makes
    the sum a weighted one. Follows the autocast state: under bf16 autocast the
    products run in bf16.
    """
    compute_dtype = None
    if torch.is_autocast_enabled(hidden.device.type):
        compute_dtype = torch.get_autocast_dtype(hidden.device.type)
    if rows is None:
        rows = chunk_rows(weight.shape[0])
    with torch.autocast(hidden.device.type, enabled=False):
        loss, preds = _LinearCrossEntropy.apply(
            hidden, weight, bias, targets, rows, compute_dtype, weights
        )
    return loss, preds


def liger_available(device_type: str) -> bool:
    """Liger Kernel's fused linear cross-entropy is installed and usable here (CUDA)."""
    if device_type != "cuda":
        return False
    try:
        from liger_kernel.transformers.functional import (  # noqa: F401
            liger_fused_linear_cross_entropy,
        )
    except Exception:  # not installed, or its Triton build does not load
        return False
    return True


def liger_loss(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, bias: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Liger Kernel's fused loss (summed) and its predicted tokens (for the accuracies).

    Under autocast the inputs are cast to its dtype like the model's head would; the
    weight's gradient accumulates in float32 (`accum_dtype`).
    """
    from liger_kernel.transformers.functional import liger_fused_linear_cross_entropy

    dtype = torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else None
    h = hidden.to(dtype) if dtype else hidden
    w = weight.to(dtype) if dtype else weight
    b = bias.to(dtype) if dtype and bias is not None else bias
    with torch.autocast("cuda", enabled=False):
        out = liger_fused_linear_cross_entropy(
            h,
            w,
            targets,
            b,
            reduction="sum",
            accum_dtype=torch.float32,
            return_predicted_tokens=True,
        )
    return out.loss.float(), out.predicted_tokens
