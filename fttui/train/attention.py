"""Attention over packed rows that computes only each example's own causal block.

The engine packs a batch's examples into one row with `position_ids` restarting per
example. With transformers' SDPA that row gets a block-diagonal mask, and a masked
SDPA call computes the whole row x row score matrix (and cannot use the flash
kernel): on a GPU, 16 examples of 1,000 tokens in one 16,000-token row cost 16 times
the attention work they need. flash-attention's variable-length kernel is the fix;
where the `flash-attn` package is not installed, this module registers the same idea
with transformers as the attention implementation "fttui_varlen":

- CUDA in bf16/fp16: PyTorch's own variable-length flash attention
  (`torch.nn.attention.varlen.varlen_attn`), one call per layer, with the examples'
  boundaries taken from `position_ids`;
- elsewhere (CPU, float32, older torch): one causal SDPA call per example, which on
  CUDA still runs the flash kernel (no mask) and on CPU is exact and simple.

`varlen_works()` checks once per process, on a tiny input, that the varlen kernel runs
forward and backward on this GPU; if not, the per-example path is used.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F

NAME = "fttui_varlen"


def _spans(position_ids: torch.Tensor, total: int) -> tuple[torch.Tensor, list[int]]:
    """(cumulative start offsets as int32 [n + 1], lengths) of the packed examples."""
    starts = (position_ids.reshape(-1) == 0).nonzero().flatten()
    if starts.numel() == 0 or int(starts[0]) != 0:
        starts = torch.cat([torch.zeros(1, dtype=starts.dtype, device=starts.device), starts])
    ends = torch.cat([starts[1:], torch.tensor([total], device=starts.device)])
    cu = torch.cat([starts, ends[-1:]]).to(torch.int32)
    return cu, (ends - starts).tolist()


def _varlen_available() -> bool:
    try:
        from torch.nn.attention.varlen import varlen_attn  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def varlen_works(device_index: int = 0) -> bool:
    """Whether PyTorch's varlen flash attention runs forward and backward here (CUDA)
    and gives what causal SDPA gives each example on its own (else the per-example
    path is used: slower, never wrong)."""
    if not torch.cuda.is_available() or not _varlen_available():
        return False
    from torch.nn.attention.varlen import varlen_attn

    try:
        dev = torch.device("cuda", device_index)
        q = torch.randn(24, 4, 64, device=dev, dtype=torch.bfloat16, requires_grad=True)
        kv = torch.randn(24, 2, 64, device=dev, dtype=torch.bfloat16, requires_grad=True)
        cu = torch.tensor([0, 10, 24], device=dev, dtype=torch.int32)
        out = varlen_attn(q, kv, kv, cu, cu, 14, 14, window_size=(-1, 0), enable_gqa=True)
        assert isinstance(out, torch.Tensor)  # no return_aux: just the output
        out.float().sum().backward()
        with torch.no_grad():
            ref = torch.cat(
                [
                    F.scaled_dot_product_attention(
                        q[a:b].transpose(0, 1),
                        kv[a:b].transpose(0, 1),
                        kv[a:b].transpose(0, 1),
                        is_causal=True,
                        enable_gqa=True,
                    ).transpose(0, 1)
                    for a, b in ((0, 10), (10, 24))
                ]
            )
            same = bool(torch.allclose(out.float(), ref.float(), atol=3e-2, rtol=3e-2))
        torch.cuda.synchronize(dev)
    except Exception:
        return False
    return same


def varlen_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' attention interface: query (1, heads, T, d), key/value (1, kv heads,
    T, d) -> output (1, T, heads, d)."""
    position_ids = kwargs.get("position_ids")
    if query.shape[0] != 1:
        # The mask function of NAME builds no mask, so a padded batch would attend to
        # its padding: refuse rather than compute something wrong. The engine only
        # ever sends packed rows (batch 1); the saved model does not keep NAME.
        raise ValueError(f"attention {NAME!r} runs packed rows of batch size 1 only")
    if position_ids is None or query.shape[2] != key.shape[2]:
        # Not a packed training row (e.g. generation with a cache): plain causal SDPA.
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(  # type: ignore[no-any-return]
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    total = query.shape[2]
    cu, lengths = _spans(position_ids, total)
    gqa = query.shape[1] != key.shape[1]
    dtype = query.dtype
    if query.is_cuda and torch.is_autocast_enabled("cuda"):
        dtype = torch.get_autocast_dtype("cuda")
    if (
        query.is_cuda
        and dtype in (torch.bfloat16, torch.float16)
        and varlen_works(query.device.index or 0)
    ):
        from torch.nn.attention.varlen import varlen_attn

        q, k, v = (t[0].transpose(0, 1).to(dtype).contiguous() for t in (query, key, value))
        longest = max(lengths)
        out = varlen_attn(
            q, k, v, cu, cu, longest, longest, scale=scaling, window_size=(-1, 0), enable_gqa=gqa
        )
        assert isinstance(out, torch.Tensor)
        return out.unsqueeze(0), None
    pieces = []
    start = 0
    for length in lengths:
        end = start + length
        pieces.append(
            F.scaled_dot_product_attention(
                query[:, :, start:end],
                key[:, :, start:end],
                value[:, :, start:end],
                is_causal=True,
                scale=scaling,
                enable_gqa=gqa,
            )
        )
        start = end
    return torch.cat(pieces, dim=2).transpose(1, 2), None


def _no_mask(*args: Any, **kwargs: Any) -> None:
    """The mask function for NAME: the kernel takes the examples' boundaries instead."""
    return None


@functools.cache
def register() -> str:
    """Make NAME a transformers attention implementation (idempotent); returns NAME."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(NAME, varlen_attention_forward)
    AttentionMaskInterface.register(NAME, _no_mask)
    return NAME
