"""Precision per machine: bf16 autocast where the CPU or GPU computes in bf16 natively,
float32 elsewhere, FTTUI_PRECISION to override, and bf16 training that lands where
float32 training lands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fttui.data.encode import Example, encode_prompt_completion
from fttui.train.engine import TrainConfig, train
from fttui.train.models import load_for_training
from fttui.train.precision import PrecisionError, choose, cpu_bf16_features

from .conftest import Losses, toy_lines

NATIVE = cpu_bf16_features()


def test_auto_is_bf16_exactly_where_the_cpu_has_native_bf16() -> None:
    amx = choose("cpu", "auto", cpu_features=["AMX-BF16", "AVX512-BF16"])
    assert amx.name == "bf16" and amx.bf16
    assert "AMX-BF16" in amx.describe() and "bf16 autocast" in amx.describe()
    assert choose("cpu", "auto", cpu_features=["AVX512-BF16"]).name == "bf16"
    plain = choose("cpu", "auto", cpu_features=[])
    assert plain.name == "fp32" and "no native bf16" in plain.describe()
    # This machine: what its flags say.
    assert choose("cpu", "auto").name == ("bf16" if NATIVE else "fp32")


def test_cpu_flags_are_read_from_the_kernel_list() -> None:
    assert cpu_bf16_features({"avx2", "amx_bf16", "amx_tile"}) == ["AMX-BF16"]
    assert cpu_bf16_features({"avx2", "avx512f"}) == []


def test_override_and_cuda_rules() -> None:
    assert choose("cpu", "fp32", cpu_features=["AMX-BF16"]).name == "fp32"
    forced = choose("cpu", "bf16", cpu_features=[])
    assert forced.name == "bf16" and "emulated" in forced.reason
    assert choose("cuda", "auto", cuda_bf16=True).name == "bf16"
    assert choose("cuda", "auto", cuda_bf16=False).name == "fp32"
    assert choose("cuda", "fp32", cuda_bf16=True).name == "fp32"
    with pytest.raises(PrecisionError, match="no bf16 support"):
        choose("cuda", "bf16", cuda_bf16=False)


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTTUI_PRECISION", "fp8")
    with pytest.raises(
        PrecisionError, match=r"FTTUI_PRECISION='fp8' is not one of auto, bf16, fp32"
    ):
        choose("cpu")
    monkeypatch.setenv("FTTUI_PRECISION", "FP32")
    assert choose("cpu", cpu_features=["AMX-BF16"]).name == "fp32"


def _final_loss(model_dir: Path, bf16: bool) -> tuple[float, float]:
    model, tokenizer = load_for_training(str(model_dir), torch.device("cpu"))
    examples = []
    for i, line in enumerate(toy_lines(48), start=1):
        row = json.loads(line)
        ids, labels = encode_prompt_completion(tokenizer, row["prompt"], row["completion"])
        examples.append(Example(i, ids, labels, row["completion"]))
    config = TrainConfig(n_epochs=3, batch_size=4, learning_rate=0.05 * 0.05, seed=3, bf16=bf16)
    losses = Losses()
    train(model, examples, [], config, losses, torch.device("cpu"))
    tail = losses.losses[-6:]
    return losses.losses[0], sum(tail) / len(tail)


@pytest.mark.skipif(
    not NATIVE,
    reason="this CPU has no native bf16 (neither AMX-BF16 nor AVX512-BF16): "
    "bf16 autocast would be emulated, slow and is not what auto chooses here",
)
def test_bf16_and_fp32_reach_the_same_final_loss(tiny_model_dir: Path) -> None:
    first32, final32 = _final_loss(tiny_model_dir, bf16=False)
    first16, final16 = _final_loss(tiny_model_dir, bf16=True)
    assert final32 < 0.6 * first32 and final16 < 0.6 * first16  # both learned
    assert abs(final16 - final32) <= 0.05 * final32, (final16, final32)


def test_trainer_module_loads_without_torch_so_its_process_settings_apply() -> None:
    """OMP_WAIT_POLICY only takes effect if set before torch (and OpenMP) load."""
    import subprocess
    import sys

    code = "import sys, fttui.train.run; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
