"""Reinforcement fine-tuning resumes exactly: the tiny model trained by the engine's loop
with the RFT objective, stopped after a step, its state saved to disk and loaded into
a fresh set of objects, samples the same answers, earns the same rewards and ends with
the same weights as the run that never stopped. (Sampling makes this stricter than
for supervised training: a weight off in its last bit can change a sampled token, and
from there every later answer.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from fttui.data.chat_format import render_prompt
from fttui.data.encode import PromptExample
from fttui.train.engine import Outcome, Resume, TrainConfig, train
from fttui.train.grading import Grading
from fttui.train.models import load_for_training
from fttui.train.rft import RFTObjective

from .test_resume_engine import Recorder, _weights

CPU = torch.device("cpu")
# Partial credit (how close the answer is to "aaaa"): rewards differ within a group,
# so every step updates the weights.
GRADER = {
    "type": "text_similarity",
    "name": "close",
    "input": "{{sample.output_text}}",
    "reference": "{{item.want}}",
    "evaluation_metric": "fuzzy_match",
}


@pytest.fixture(scope="module")
def prompts(tiny_model_dir: Path) -> list[PromptExample]:
    _, tokenizer = load_for_training(str(tiny_model_dir), CPU)
    return [
        PromptExample(
            line=i + 1,
            prompt_ids=render_prompt(tokenizer, [{"role": "user", "content": f"say {i}"}]),
            item={"want": "aaaa"},
        )
        for i in range(6)
    ]


def _config(method: str) -> TrainConfig:
    return TrainConfig(
        n_epochs=2, batch_size=2, learning_rate=0.01, seed=7, method=method, lora_dropout=0.1
    )


def _objective(tokenizer: Any) -> RFTObjective:
    objective = RFTObjective(Grading(GRADER), tokenizer, group_size=4, max_new_tokens=8, seed=7)
    objective.grading.judge = objective.judge
    return objective


@pytest.mark.parametrize("method", ["full", "lora"])
def test_a_stopped_rft_run_resumed_from_its_saved_state_equals_the_uninterrupted_run(
    method: str, tiny_model_dir: Path, prompts: list[PromptExample], tmp_path: Path
) -> None:
    model, tokenizer = load_for_training(str(tiny_model_dir), CPU)
    whole = Recorder()
    model, outcome = train(
        model, prompts, [], _config(method), whole, CPU, objective=_objective(tokenizer)
    )
    assert not outcome.stopped and outcome.steps == 6
    reference = _weights(model)

    model, _ = load_for_training(str(tiny_model_dir), CPU)
    first = Recorder(stop_after=2)
    model, stopped = train(
        model, prompts, [], _config(method), first, CPU, objective=_objective(tokenizer)
    )
    assert isinstance(stopped, Outcome) and stopped.stopped and stopped.steps == 2
    assert stopped.state is not None and stopped.state["rft_steps"] == 2
    ckpt = tmp_path / "ckpt"
    model.save_pretrained(ckpt)
    state = dict(stopped.state)
    torch.save(state.pop("optimizer"), ckpt / "optimizer.pt")
    torch.save(state, ckpt / "training_state.pt")
    del model

    saved = torch.load(ckpt / "training_state.pt", weights_only=True)
    resume = Resume(
        step=saved["step"],
        optimizer=torch.load(ckpt / "optimizer.pt", weights_only=True),
        scheduler=saved["scheduler"],
        elapsed_tokens=saved["elapsed_tokens"],
        elapsed_examples=saved["elapsed_examples"],
        epoch_losses=saved["epoch_losses"],
        rng=saved["rng"],
        adapter_dir=str(ckpt) if method == "lora" else None,
    )
    objective = _objective(tokenizer)
    objective.steps_done = saved["rft_steps"]
    if method == "lora":
        model, _ = load_for_training(str(tiny_model_dir), CPU)
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(ckpt, dtype="float32")
        # The reference is the model the job started from, not the checkpoint.
        objective.reference_model, _ = load_for_training(str(tiny_model_dir), CPU)
    second = Recorder()
    model, outcome = train(
        model, prompts, [], _config(method), second, CPU, resume=resume, objective=objective
    )
    assert not outcome.stopped and outcome.steps == 6

    rows = first.rows + second.rows
    assert [r["step"] for r in rows] == list(range(1, 7))
    for got, want in zip(rows, whole.rows, strict=True):
        assert got["train_reward_mean"] == pytest.approx(want["train_reward_mean"], abs=1e-9)
        assert got["training_loss"] == pytest.approx(want["training_loss"], rel=1e-5, abs=1e-7)
        assert got["train_kl"] == pytest.approx(want["train_kl"], rel=1e-4, abs=1e-7)
    final = _weights(model)
    assert final.keys() == reference.keys()
    for name, tensor in reference.items():
        torch.testing.assert_close(final[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    # ...and the run did learn something: the rewards differed within groups, so the
    # weights moved.
    base, _ = load_for_training(str(tiny_model_dir), CPU)
    if method == "lora":
        assert any(t.abs().sum() > 0 for n, t in final.items() if "lora_B" in n)
    else:
        assert any(not torch.equal(t, final[n]) for n, t in base.state_dict().items())
