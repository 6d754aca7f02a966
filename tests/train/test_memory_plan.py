"""The memory plan for the GPU-shaped configs (`python -m fttui.train.memory_plan`):
the shapes are the published models' (their parameter counts as published), the
arithmetic is the plan's rules, and the choice follows from the GPU's size."""

from __future__ import annotations

import json

import pytest

from fttui.train import memory_plan as mp


@pytest.mark.parametrize(
    ("shape", "published"),
    [("gpt-oss-20b", 20.91e9), ("qwen3-8b", 8.19e9)],  # the model cards' totals
)
def test_the_shapes_have_the_published_parameter_counts(shape: str, published: float) -> None:
    counts = mp.count(mp.config_for(shape))
    assert abs(counts.total - published) / published < 0.01, counts.total


def test_the_rows_follow_the_rules_and_the_choice_follows_the_gpu(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert mp.main(["--shape", "qwen3-8b", "--gpu-gib", "80", "--json"]) == 0
    (plan,) = json.loads(capsys.readouterr().out)
    rows = {(r["method"], r["checkpointing"]): r for r in plan["rows"]}
    p = plan["parameters"]
    assert rows[("full", False)]["weights_gib"] == round(4 * p / mp.GIB, 1)
    assert rows[("full", False)]["gradients_and_optimizer_gib"] == round(12 * p / mp.GIB, 1)
    assert rows[("full", True)]["activations_gib"] < rows[("full", False)]["activations_gib"]
    # 16 bytes per parameter (~122 GiB) never fits 80 GiB: full says so
    assert not rows[("full", True)]["fits"] and "does not fit" in plan["fttui_full"]
    # LoRA on a bf16 base (~15 GiB, under half of 80) fits without 4-bit
    assert rows[("lora", False)]["fits"] and plan["fttui_lora"].startswith("lora")
    # gpt-oss-20b: trained with eager attention (its sinks), whose scores for two
    # 4,096-token sequences in every layer do not fit without checkpointing; its fused
    # experts are not nn.Linear, so QLoRA quantises almost nothing
    assert mp.main(["--shape", "gpt-oss-20b", "--gpu-gib", "80", "--json"]) == 0
    (oss,) = json.loads(capsys.readouterr().out)
    rows = {(r["method"], r["checkpointing"]): r for r in oss["rows"]}
    assert not rows[("lora", False)]["fits"] and rows[("lora", True)]["fits"]
    assert "checkpointing on" in oss["fttui_lora"]
    assert rows[("qlora", True)]["weights_gib"] > 0.9 * rows[("lora", True)]["weights_gib"]
    assert oss["linear_parameters"] < 0.05 * oss["parameters"]
