"""`prompt_loss_weight` on prompt/completion data: the engine's loss is the weighted mean
sum(w_i * CE_i) / sum(w_i) (completion tokens weight 1, prompt tokens the weight),
checked against cross-entropy computed here from a plain forward pass of the whole
sequences; and training with weight 1 learns the prompts, with weight 0 it does not.
The tiny random-weight model, ten short examples: a few seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from fttui.train.data import IGNORE, Example, read_file
from fttui.train.engine import TrainConfig, evaluate, train
from fttui.train.models import load_for_training

from .conftest import toy_lines

CPU = torch.device("cpu")


class Rows:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def should_stop(self) -> bool:
        return False

    def on_step(self, row: dict[str, Any], total_steps: int) -> None:
        self.rows.append(dict(row))

    def on_epoch_end(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture(scope="module")
def examples(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Example]:
    path = tmp_path_factory.mktemp("plw") / "train.jsonl"
    path.write_text("\n".join(toy_lines(10)) + "\n")
    _, tokenizer = load_for_training(str(tiny_model_dir), CPU)
    return list(read_file(path, tokenizer, 256).examples)


@torch.no_grad()
def _token_losses(model: Any, examples: list[Example]) -> tuple[list[float], list[float]]:
    """Cross-entropy of every predicted token, split into (prompt, completion) tokens,
    from one ordinary forward pass per example (no packing, no kept positions)."""
    prompt: list[float] = []
    completion: list[float] = []
    for ex in examples:
        ids = torch.tensor([ex.input_ids])
        logits = model(input_ids=ids, use_cache=False).logits[0, :-1].float()
        ce = F.cross_entropy(logits, ids[0, 1:], reduction="none").tolist()
        for t, value in enumerate(ce):
            (prompt if ex.labels[t + 1] == IGNORE else completion).append(value)
    return prompt, completion


def _weighted(prompt: list[float], completion: list[float], w: float) -> float:
    return (sum(completion) + w * sum(prompt)) / (len(completion) + w * len(prompt))


def test_the_loss_weights_prompt_tokens_by_the_prompt_loss_weight(
    tiny_model_dir: Path, examples: list[Example]
) -> None:
    model, _ = load_for_training(str(tiny_model_dir), CPU)
    prompt, completion = _token_losses(model, examples)
    assert len(prompt) > len(completion) > 0
    # Validation: the same objective as training, accuracies on the completion only.
    measured = {w: evaluate(model, examples, CPU, False, prompt_weight=w) for w in (0, 0.1, 1)}
    for w, metrics in measured.items():
        assert metrics["validation_loss"] == pytest.approx(
            _weighted(prompt, completion, w), rel=1e-4
        )
        assert metrics["validation_token_accuracy"] == measured[0]["validation_token_accuracy"]
    assert measured[0]["validation_loss"] == pytest.approx(sum(completion) / len(completion))
    assert measured[1]["validation_loss"] != pytest.approx(measured[0]["validation_loss"])

    # Training: step 1's loss is computed before its update, on the whole set (one batch).
    first: dict[float, float] = {}
    for w in (0.0, 1.0):
        model, _ = load_for_training(str(tiny_model_dir), CPU)
        rows = Rows()
        config = TrainConfig(n_epochs=1, batch_size=len(examples), learning_rate=0.0)
        config.prompt_loss_weight = w
        train(model, examples, [], config, rows, CPU)
        first[w] = rows.rows[0]["training_loss"]
    assert first[0.0] == pytest.approx(_weighted(prompt, completion, 0), rel=1e-4)
    assert first[1.0] == pytest.approx(_weighted(prompt, completion, 1), rel=1e-4)


def test_weight_one_learns_the_prompts_and_weight_zero_does_not(
    tiny_model_dir: Path, examples: list[Example]
) -> None:
    after: dict[float, tuple[float, float]] = {}
    for w in (0.0, 1.0):
        model, _ = load_for_training(str(tiny_model_dir), CPU)
        config = TrainConfig(n_epochs=5, batch_size=5, learning_rate=6e-3, seed=3)
        config.prompt_loss_weight = w
        model, outcome = train(model, examples, [], config, Rows(), CPU)
        assert not outcome.stopped
        prompt, completion = _token_losses(model, examples)
        after[w] = (sum(prompt) / len(prompt), sum(completion) / len(completion))
    model, _ = load_for_training(str(tiny_model_dir), CPU)
    prompt, completion = _token_losses(model, examples)
    before = sum(prompt) / len(prompt)
    before_completion = sum(completion) / len(completion)
    # Measured (seed 3): prompt CE 5.96 before; after, weight 0: 5.02, weight 1: 3.35.
    # Weight 0 never trains on the prompt (it moves only through what the completions
    # share with it): its loss there stays well above weight 1's.
    assert after[1.0][0] < after[0.0][0] - 1.0, (before, after)
    assert after[1.0][0] < before - 2.0, (before, after)
    # Both learn the completions (weight 1 a little less: the prompts share the steps).
    assert after[0.0][1] < 0.65 * before_completion, (before_completion, after)
    assert after[1.0][1] < 0.65 * before_completion, (before_completion, after)
