"""Reinforcement fine-tuning of the default model (SmolLM2-135M-Instruct) through the
real server and the OpenAI SDK, with the default hyperparameters: benchmarks/rft_task.py's
task (answer with the city name only, graded by a `python` grader: 1 for the city
alone, 0.5 for an answer that starts with it, 0 otherwise). On held-out prompts the
base model's greedy answers earn a mean reward of at most 0.3 and the fine-tuned
model's at least 0.8 (32 training prompts: the defaults make that 32 steps).

Long (minutes on 2 cores; docs/training.md has the measured time):
`nice -n 5 pytest -m long tests/train/test_rft_default_model.py -s`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rft_task() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rft_task", ROOT / "benchmarks" / "rft_task.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(data_dir=tmp_path_factory.mktemp("rft-default"), port=free_port())
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.long
@pytest.mark.timeout(3600)
def test_default_model_learns_the_answer_format_by_rft(
    rft_task: ModuleType, default_server: ServerProcess
) -> None:
    result = rft_task.run(default_server.base_url, 32, 8, seed=3, timeout=3300)
    print(
        f"\nRFT on {result['model']}: {result['train_prompts']} prompts, "
        f"{len(result['curve'])} steps in {result['job_seconds']:.0f} s; held-out mean "
        f"reward {result['base_valid_reward']:.3f} -> {result['tuned_valid_reward']:.3f}"
    )
    assert result["base_valid_reward"] <= 0.3
    assert result["tuned_valid_reward"] >= 0.8
    # The defaults were used: nothing but the grader was sent.
    assert result["hyperparameters"]["batch_size"] == 4
