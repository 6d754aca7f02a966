"""The training path's automatic choices: checkpointing when memory needs it (and the
same training either way), the loss for models whose head does more than a product,
and clear refusals of what this machine cannot run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from fttui.core.models import BaseModelSpec
from fttui.data.encode import Example, encode_prompt_completion
from fttui.train.engine import TrainConfig, choose_loss, train
from fttui.train.plan import (
    PlanError,
    TrainingPlan,
    load_model,
    longest_pass,
    plan_checkpointing,
    plan_loading,
)
from fttui.train.precision import choose as choose_precision

from .conftest import Losses, toy_lines

CPU = torch.device("cpu")


def _run(model_dir: Path, available: int) -> tuple[TrainingPlan, list[float]]:
    plan = plan_loading(None, "cpu", "full", str(model_dir))
    model, tokenizer = load_model(str(model_dir), plan, CPU)
    examples = []
    for i, line in enumerate(toy_lines(12), start=1):
        row = json.loads(line)
        ids, labels = encode_prompt_completion(tokenizer, row["prompt"], row["completion"])
        examples.append(Example(i, ids, labels, row["completion"]))
    tokens = longest_pass([e.n_tokens for e in examples], 4, 8192)
    plan_checkpointing(model, plan, CPU, tokens, "auto", available_bytes=available)
    reporter = Losses()
    config = TrainConfig(n_epochs=1, batch_size=4, learning_rate=2e-3, seed=5)
    train(model, examples, [], config, reporter, CPU)
    return plan, reporter.losses


def test_checkpointing_turns_on_when_memory_is_short_and_trains_the_same(
    tiny_model_dir: Path,
) -> None:
    roomy, plain = _run(tiny_model_dir, available=1 << 40)
    short, checkpointed = _run(tiny_model_dir, available=1 << 20)
    assert not roomy.gradient_checkpointing and short.gradient_checkpointing
    assert "GiB to spare" in short.notes["checkpointing"]
    assert checkpointed == pytest.approx(plain, rel=1e-5)


def test_longest_pass_is_a_micro_batch_or_one_long_example() -> None:
    assert longest_pass([10, 20, 30], batch_size=2, budget=8192) == 50
    assert longest_pass([9000, 20], batch_size=2, budget=8192) == 9000
    assert longest_pass([5000, 5000, 5000], batch_size=3, budget=8192) == 8192


def test_models_that_soft_cap_logits_keep_their_own_head(tiny_model_dir: Path) -> None:
    plan = plan_loading(None, "cpu", "full", str(tiny_model_dir))
    model, _ = load_model(str(tiny_model_dir), plan, CPU)
    assert choose_loss(model)[0] == "chunked"
    model.config.final_logit_softcapping = 30.0
    mode, why = choose_loss(model)
    assert mode == "logits" and "final_logit_softcapping" in why
    with pytest.raises(ValueError, match="cannot be used with this model"):
        choose_loss(model, "chunked")


def test_what_this_machine_cannot_run_is_refused_with_the_reason(tiny_model_dir: Path) -> None:
    location = str(tiny_model_dir)
    auto = plan_loading(None, "cpu", "lora", location)
    assert auto.attn_implementation is None and auto.base_dtype == "float32"
    assert not auto.quantize_4bit
    with pytest.raises(PlanError, match="needs a CUDA GPU and bitsandbytes"):
        plan_loading(None, "cpu", "qlora", location)
    four_bit = BaseModelSpec(id="m", source=location, quantization="4bit")
    with pytest.raises(PlanError, match="models.json asks for 4bit"):
        plan_loading(four_bit, "cpu", "lora", location)
    flash = BaseModelSpec(id="m", source=location, attn_implementation="flash_attention_2")
    with pytest.raises(PlanError, match="flash-attn"):
        plan_loading(flash, "cpu", "full", location)
    eager = BaseModelSpec(id="m", source=location, attn_implementation="eager")
    assert plan_loading(eager, "cpu", "full", location).attn_implementation == "eager"


def test_cuda_without_flash_attn_runs_each_packed_example_on_its_own(
    tiny_model_dir: Path,
) -> None:
    """On CUDA the plan picks fttui_varlen (unless flash-attn is installed); its
    per-example path (what runs on CPU, and on a GPU whose varlen kernel fails its
    probe) gives the logits and gradients of SDPA with transformers' block-diagonal
    mask, and of each example run alone. The GPU kernel itself needs a GPU."""
    bf16 = choose_precision("cuda", "auto", cuda_bf16=True)
    plan = plan_loading(None, "cuda", "full", str(tiny_model_dir), precision=bf16)
    expected = "flash_attention_2" if importlib.util.find_spec("flash_attn") else "fttui_varlen"
    assert plan.attn_implementation == expected
    varlen = TrainingPlan(device_type="cpu", precision=choose_precision("cpu", "fp32"),
                          method="full", attn_implementation="fttui_varlen")  # fmt: skip
    sdpa = TrainingPlan(device_type="cpu", precision=choose_precision("cpu", "fp32"),
                        method="full")  # fmt: skip
    ids = torch.randint(0, 300, (1, 23), generator=torch.Generator().manual_seed(0))
    positions = torch.tensor([list(range(10)) + list(range(13))])
    out = []
    for p in (varlen, sdpa):
        model, _ = load_model(str(tiny_model_dir), p, CPU)
        logits = model(input_ids=ids, position_ids=positions, use_cache=False).logits
        logits.float().square().mean().backward()
        grad = model.get_input_embeddings().weight.grad
        alone = torch.cat(
            [model(input_ids=part, use_cache=False).logits for part in (ids[:, :10], ids[:, 10:])],
            dim=1,
        )
        out.append((logits.detach(), grad, alone.detach()))
    (lv, gv, alone), (ls, gs, _) = out
    assert torch.allclose(lv, ls, atol=1e-5) and torch.allclose(lv, alone, atol=1e-5)
    assert torch.allclose(gv, gs, atol=1e-6)
