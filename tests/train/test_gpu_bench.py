"""benchmarks/gpu_bench.py on the CPU: its fttui side trains through the real engine and
turns the steps into tokens/s, MFU and peak memory; without a GPU it refuses the GPU run
saying why. The H200 figures themselves need a GPU (docs/training.md says which were
measured). The tiny test model, in this process: a few seconds."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gpu_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_bench", ROOT / "benchmarks" / "gpu_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("method", ["full", pytest.param("lora", marks=pytest.mark.long)])
def test_fttui_side_measures_tokens_per_second_on_cpu(
    gpu_bench: ModuleType, tiny_model_dir: Path, method: str
) -> None:
    args = argparse.Namespace(
        device="cpu",
        method=method,
        model=str(tiny_model_dir),
        warmup=1,
        steps=2,
        window=1,
        batch_size=4,
        lr=2e-5,
    )
    rows = gpu_bench.make_data(16, 5, 20)
    result = gpu_bench.measure(gpu_bench.run_fttui, args, rows)
    # 3 steps: timing starts at the end of the warm-up step, two windows of 1 step.
    assert len(result["tokens_per_second"]) == 2
    assert all(rate > 0 for rate in result["tokens_per_second"])
    assert result["median"] > 0
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert result["params"] == sum(p.numel() for p in model.parameters())
    assert "precision" in result["plan"] and result["device"] == "cpu"
    assert result["peak_mib"] > 0


def test_throughput_and_mfu_arithmetic(gpu_bench: ModuleType) -> None:
    # (time, tokens so far) after each step: 1,000 tokens a second, then a slow step.
    marks = [(float(t), 1000 * t) for t in range(5)] + [(6.0, 5000), (7.0, 6000)]
    out = gpu_bench.throughput(marks, warmup=1, window=2)
    assert out["tokens_per_second"] == [1000.0, 1000.0, 2000.0 / 3]
    assert out["median"] == 1000.0
    # Qwen2.5-0.5B's 494M parameters at 100k tokens/s on an H200 (989 TFLOP/s bf16).
    assert gpu_bench.peak_tflops("NVIDIA H200") == 989.0
    assert gpu_bench.mfu(494_000_000, 100_000, 989.0) == pytest.approx(0.2997, abs=1e-4)
    assert gpu_bench.mfu(494_000_000, 100_000, None) is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_run_without_a_gpu_says_so(
    gpu_bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["gpu_bench.py", "--steps", "1"])
    with pytest.raises(SystemExit, match="no CUDA device is visible.*--tiny"):
        gpu_bench.main()
