"""The memory a real model needs to fine-tune on a GPU, before anything is loaded:
full / LoRA / QLoRA, with and without gradient checkpointing, and what fttui's plan
(`fttui.train.plan`) would choose on a GPU of a given size.

Parameters are counted exactly, on PyTorch's meta device (no memory, no download), from
the model's config; the bytes per parameter and per token are the rules the plan uses:

- full fine-tune: float32 master weights (4 B), float32 gradients (4 B), AdamW's two
  float32 moments (8 B): 16 B per parameter; bf16 autocast for the matmuls.
- LoRA (rank r on every `nn.Linear` but the head, fttui's `all-linear`): the frozen base
  in bf16 (2 B per parameter), each adapter's r x (in + out) parameters at 16 B.
  A mixture of experts whose experts are fused 3-D parameters (transformers'
  `GptOssExperts`) gets no adapters on its experts: they are not `nn.Linear`.
- QLoRA: `nn.Linear` weights in NF4 with double quantisation (4.127 bits: 4 bits + a
  8-bit scale per 64 weights + a 32-bit scale per 256 scales), everything else (the
  embeddings, norms, fused experts) in bf16, adapters as LoRA.
- activations kept for the backward pass (`fttui.train.plan.activation_bytes_per_token`):
  per layer and token, 22 hidden-size + 8 MLP-width values in bf16 (a mixture of
  experts: the width of the experts each token goes through); with checkpointing, one
  float32 hidden state per layer and token plus one layer's activations. Attention
  that materialises its scores (`eager`, which gpt-oss trains with: its attention
  sinks are in neither flash-attention 2 nor fttui's varlen path) adds per layer
  heads x tokens^2 x 6 B (the float32 softmax and its bf16 copy) for one sequence.
- the loss: fttui's chunked cross-entropy keeps 64 MiB of logits at a time, counted
  as such.

`python -m fttui.train.memory_plan` prints the plan for gpt-oss-20b's and Qwen3-8B's
shapes on an 80 GiB and a 141 GiB GPU (docs/training.md has the figures).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from typing import Any

GIB = 1024**3
HEADROOM = 0.85  # fttui.train.plan.MEMORY_HEADROOM
NF4_BITS = 4 + 8 / 64 + 32 / (64 * 256)  # 4.127: NF4 with double quantisation
LOSS_CHUNK = 64 * 1024**2  # fttui.train.loss: 64 MiB of logits at a time

# The configs of the published models (their config.json), so nothing is downloaded.
SHAPES: dict[str, dict[str, Any]] = {
    "gpt-oss-20b": {
        "model_type": "gpt_oss",
        "num_hidden_layers": 24,
        "num_local_experts": 32,
        "num_experts_per_tok": 4,
        "vocab_size": 201088,
        "hidden_size": 2880,
        "intermediate_size": 2880,
        "head_dim": 64,
        "num_attention_heads": 64,
        "num_key_value_heads": 8,
        "sliding_window": 128,
        "tie_word_embeddings": False,
        "max_position_embeddings": 131072,
    },
    "qwen3-8b": {
        "model_type": "qwen3",
        "num_hidden_layers": 36,
        "vocab_size": 151936,
        "hidden_size": 4096,
        "intermediate_size": 12288,
        "head_dim": 128,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "tie_word_embeddings": False,
        "max_position_embeddings": 40960,
    },
}
SINK_ATTENTION = ("gpt_oss",)  # trained with eager attention (fttui.train.plan)


@dataclass(frozen=True)
class Counts:
    """A model's parameters, split by what LoRA and QLoRA do with them."""

    total: int
    linear: int  # in nn.Linear layers other than the head (LoRA/QLoRA targets)
    adapter_per_rank: int  # sum of (in + out) over those layers: LoRA params per rank
    layers: int
    hidden: int
    mlp_width: int  # per token: intermediate size x experts each token goes through
    heads: int
    vocab: int
    eager_attention: bool


def count(config: Any) -> Counts:
    """Exact counts from a transformers config, on the meta device."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    head = model.get_output_embeddings()
    linear = adapter = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            linear += module.weight.numel()
            adapter += module.in_features + module.out_features
    total = sum(p.numel() for p in model.parameters())
    experts = int(getattr(config, "num_experts_per_tok", 0) or 1)
    return Counts(
        total=total,
        linear=linear,
        adapter_per_rank=adapter,
        layers=int(config.num_hidden_layers),
        hidden=int(config.hidden_size),
        mlp_width=int(config.intermediate_size) * experts,
        heads=int(config.num_attention_heads),
        vocab=int(config.vocab_size),
        eager_attention=config.model_type in SINK_ATTENTION,
    )


def config_for(shape: str, **overrides: Any) -> Any:
    """The shape's transformers config (`overrides`: e.g. fewer layers for a smoke run)."""
    from transformers import AutoConfig

    values = {**SHAPES[shape], **overrides}
    model_type = values.pop("model_type")
    return AutoConfig.for_model(model_type, **values)


@dataclass(frozen=True)
class Row:
    method: str
    checkpointing: bool
    weights_gib: float
    gradients_and_optimizer_gib: float
    activations_gib: float
    total_gib: float
    fits: bool


def rows(c: Counts, *, tokens: int, sequence: int, rank: int, gpu_gib: float) -> list[Row]:
    """Every method with and without checkpointing, for one forward pass of `tokens`
    tokens (packed sequences of `sequence` tokens at most)."""
    acts_per_token = (22 * c.hidden + 8 * c.mlp_width) * c.layers  # bf16
    ckpt_per_token = 4 * c.hidden * c.layers + 22 * c.hidden + 8 * c.mlp_width
    scores = 0  # one layer's attention scores, all sequences of the pass
    if c.eager_attention:
        sequences = max(1, tokens // sequence)
        scores = 6 * c.heads * sequence * sequence * sequences
    adapters = rank * c.adapter_per_rank
    weights = {
        "full": 4 * c.total,
        "lora": 2 * c.total + 4 * adapters,
        "qlora": int(c.linear * NF4_BITS / 8) + 2 * (c.total - c.linear) + 4 * adapters,
    }
    state = {"full": 12 * c.total, "lora": 12 * adapters, "qlora": 12 * adapters}
    out = []
    for method in ("full", "lora", "qlora"):
        for ckpt in (False, True):
            acts = (ckpt_per_token if ckpt else acts_per_token) * tokens + LOSS_CHUNK
            acts += scores * (1 if ckpt else c.layers)  # checkpointed: one layer's at a time
            total = weights[method] + state[method] + acts
            out.append(
                Row(
                    method,
                    ckpt,
                    round(weights[method] / GIB, 1),
                    round(state[method] / GIB, 1),
                    round(acts / GIB, 1),
                    round(total / GIB, 1),
                    total <= HEADROOM * gpu_gib * GIB,
                )
            )
    return out


def choice(c: Counts, table: list[Row], gpu_gib: float, method: str) -> str:
    """What fttui's plan does for `method` ("full" or "lora") on this GPU, and why."""
    by = {(r.method, r.checkpointing): r for r in table}
    if method == "lora" and 2 * c.total > 0.5 * gpu_gib * GIB:
        method, why = "qlora", "bf16 weights over half the GPU: QLoRA (with bitsandbytes)"
    else:
        why = f"{method} as asked"
    plain, ckpt = by[(method, False)], by[(method, True)]
    if plain.fits:
        return f"{method}, checkpointing off ({why}; {plain.total_gib} GiB)"
    if ckpt.fits:
        return (
            f"{method}, checkpointing on ({why}; {ckpt.total_gib} GiB instead of {plain.total_gib})"
        )
    return f"{method} does not fit ({ckpt.total_gib} GiB even with checkpointing)"


def plan(shape: str, *, gpu_gib: float, tokens: int, sequence: int, rank: int) -> dict[str, Any]:
    c = count(config_for(shape))
    table = rows(c, tokens=tokens, sequence=sequence, rank=rank, gpu_gib=gpu_gib)
    return {
        "shape": shape,
        "gpu_gib": gpu_gib,
        "tokens_per_pass": tokens,
        "sequence": sequence,
        "lora_rank": rank,
        "parameters": c.total,
        "linear_parameters": c.linear,
        "lora_parameters": rank * c.adapter_per_rank,
        "rows": [asdict(r) for r in table],
        "fttui_full": choice(c, table, gpu_gib, "full"),
        "fttui_lora": choice(c, table, gpu_gib, "lora"),
    }


def _print(p: dict[str, Any]) -> None:
    print(
        f"{p['shape']} on a {p['gpu_gib']:g} GiB GPU: {p['parameters'] / 1e9:.2f}B parameters "
        f"({p['linear_parameters'] / 1e9:.2f}B in nn.Linear), LoRA r{p['lora_rank']}: "
        f"{p['lora_parameters'] / 1e6:.1f}M; {p['tokens_per_pass']} tokens per pass "
        f"(sequences of {p['sequence']})"
    )
    print(
        f"  {'method':<6} {'ckpt':<4} {'weights':>8} {'grad+opt':>9} {'acts':>7} {'total':>7}  fits"
    )
    for r in p["rows"]:
        print(
            f"  {r['method']:<6} {'on' if r['checkpointing'] else 'off':<4} "
            f"{r['weights_gib']:>8} {r['gradients_and_optimizer_gib']:>9} "
            f"{r['activations_gib']:>7} {r['total_gib']:>7}  {'yes' if r['fits'] else 'no'}"
        )
    print(f"  fttui, full: {p['fttui_full']}")
    print(f"  fttui, lora: {p['fttui_lora']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fttui.train.memory_plan",
        description="Memory to fine-tune gpt-oss-20b- and Qwen3-8B-shaped models on a GPU.",
    )
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append")
    parser.add_argument("--gpu-gib", type=float, action="append", help="GPU memory (80, 141)")
    parser.add_argument("--tokens", type=int, default=8192, help="tokens per forward pass")
    parser.add_argument("--sequence", type=int, default=4096, help="longest sequence")
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    plans = [
        plan(s, gpu_gib=g, tokens=args.tokens, sequence=args.sequence, rank=args.rank)
        for s in args.shape or sorted(SHAPES)
        for g in args.gpu_gib or [80.0, 141.0]
    ]
    if args.json:
        print(json.dumps(plans, indent=2))
    else:
        for p in plans:
            _print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
