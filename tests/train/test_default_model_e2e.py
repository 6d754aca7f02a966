"""End to end on the default model: SmolLM2-135M-Instruct learns a small classification
task through the real server and its trainer.

CI runs the short version: a few LoRA steps from the default model as fttui converts it
(once per test run, `default_model_converted`); its training loss falls and the served
fine-tuned model answers the held-out prompts with the trained labels, mostly the right
one, where the base model answers none of them. The `long` version (run by hand:
`python -m pytest -m long tests/train/test_default_model_e2e.py`) has the trainer convert
the GGUF itself and trains a full epoch: validation accuracy rises above 0.9 from below
the base model's + 0.2, measured the legacy guide's way."""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ServerProcess, running_server

from fttui.core.models import DEFAULT_MODEL

from .conftest import create_job, upload, wait_for

CODES = {"alpha": " red", "beta": " green", "gamma": " blue"}
SEP = "\n\n###\n\n"


def _examples(n: int, seed: int) -> list[dict[str, str]]:
    """The class is decided by a code word the base model cannot know."""
    rng = random.Random(seed)
    names = list(CODES)
    out = []
    for i in range(n):
        code = names[i % 3]
        item = rng.randint(100, 999)
        out.append({"prompt": f"Item {item} has code {code}.{SEP}", "completion": CODES[code]})
    rng.shuffle(out)
    return out


@pytest.fixture
def default_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that has not converted the default model yet (its trainer will)."""
    with running_server(tmp_path / "e2e-data") as srv:
        yield srv


@pytest.fixture
def converted_server(tmp_path: Path, default_model_converted: Path) -> Iterator[ServerProcess]:
    """A server whose data directory already holds the converted default model."""
    with running_server(tmp_path / "e2e-data", default_model=default_model_converted) as srv:
        yield srv


def _first_tokens(
    srv: ServerProcess, model: str, examples: list[dict[str, str]]
) -> list[dict[str, float]]:
    """Each prompt's top-5 first tokens with their logprobs (greedy, max_tokens=1), the
    prompts sent 16 to a request (a list `prompt`, as the completions API takes it; 16 is
    the server's limit), which the server decodes in one batch."""
    tops: list[dict[str, float]] = []
    for start in range(0, len(examples), 16):
        chunk = examples[start : start + 16]
        resp = httpx.post(
            f"{srv.base_url}/completions",
            json={
                "model": model,
                "prompt": [ex["prompt"] for ex in chunk],
                "max_tokens": 1,
                "temperature": 0,
                "logprobs": 5,
            },
            timeout=180,
        )
        assert resp.status_code == 200, resp.text
        choices = sorted(resp.json()["choices"], key=lambda c: c["index"])
        assert len(choices) == len(chunk)
        tops += [choice["logprobs"]["top_logprobs"][0] for choice in choices]
    return tops


def _answers(tops: list[dict[str, float]]) -> list[str]:
    """The most likely first token of each prompt."""
    return [max(top, key=lambda k: top[k]) for top in tops]


# `slow`: scheduled first in CI (tests/conftest.py), so that its worker converts the default
# model early and the GGUF export test, later in the other worker, finds it converted.
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_default_model_fine_tuned_in_a_few_steps_answers_the_task(
    converted_server: ServerProcess,
) -> None:
    srv = converted_server
    train_rows = _examples(48, seed=1)
    seen = {r["prompt"] for r in train_rows}
    held_out = [r for r in _examples(40, seed=2) if r["prompt"] not in seen][:8]
    train_id = upload(srv, "cls-train.jsonl", [json.dumps(r) for r in train_rows])
    job = create_job(
        srv,
        model=DEFAULT_MODEL,
        training_file=train_id,
        # Six steps; a higher rate than the guide's 0.1 so that six are enough.
        hyperparameters={
            "n_epochs": 1,
            "batch_size": 8,
            "learning_rate_multiplier": 0.3,
            "training_method": "lora",
        },
        suffix="codes",
        seed=3,
    )
    done = wait_for(srv, job["id"], {"succeeded", "failed", "cancelled"}, timeout=240)
    assert done["status"] == "succeeded", done["error"]
    text = httpx.get(f"{srv.base_url}/files/{done['result_files'][0]}/content", timeout=30).text
    losses = [float(row["train_loss"]) for row in csv.DictReader(io.StringIO(text))]
    assert len(losses) == 6  # 48 examples, batch size 8, one epoch
    assert (losses[-2] + losses[-1]) / 2 < losses[0] / 4, losses  # the loss falls

    labels = set(CODES.values())
    want = [ex["completion"] for ex in held_out]
    base = _answers(_first_tokens(srv, DEFAULT_MODEL, held_out))
    tuned = _answers(_first_tokens(srv, done["fine_tuned_model"], held_out))
    print(f"losses {losses}\nbase answers {base}\nfine-tuned answers {tuned}")
    # The base model answers none of the held-out prompts with a label; the fine-tuned
    # one answers each with a label, and 6 of 8 at least with the right one (a third is
    # chance; it got 8 of 8 here, with losses from 13.5 down to 0.3).
    assert not labels & set(base)
    assert set(tuned) <= labels
    right = sum(a == w for a, w in zip(tuned, want, strict=True))
    assert right >= 6, (right, tuned, want)


def _accuracy(srv: ServerProcess, model: str, examples: list[dict[str, str]]) -> float:
    """Share of prompts whose most likely class token (top-5 logprobs, max_tokens=1) is
    right."""
    right = 0
    for ex, top in zip(examples, _first_tokens(srv, model, examples), strict=True):
        scores = {label: top.get(label, -math.inf) for label in CODES.values()}
        best = max(scores, key=lambda k: scores[k])
        right += int(scores[best] > -math.inf and best == ex["completion"])
    return right / len(examples)


@pytest.mark.long
@pytest.mark.timeout(600)  # waits up to 420 s for the job on a busy box; 300 s is the default
def test_default_model_learns_a_classification_task(default_server: ServerProcess) -> None:
    train_rows = _examples(120, seed=1)
    # Training and validation data must be mutually exclusive (the server refuses overlap).
    seen = {r["prompt"] for r in train_rows}
    valid_rows = [r for r in _examples(40, seed=2) if r["prompt"] not in seen][:30]
    train_id = upload(default_server, "cls-train.jsonl", [json.dumps(r) for r in train_rows])
    valid_id = upload(default_server, "cls-valid.jsonl", [json.dumps(r) for r in valid_rows])
    job = create_job(
        default_server,
        model=DEFAULT_MODEL,
        training_file=train_id,
        validation_file=valid_id,
        hyperparameters={
            "n_epochs": 1,
            "batch_size": 8,
            "training_method": "lora",
            "compute_classification_metrics": True,
            "classification_n_classes": 3,
        },
        suffix="codes",
        seed=3,
    )
    done = wait_for(default_server, job["id"], {"succeeded", "failed", "cancelled"}, timeout=420)
    assert done["status"] == "succeeded", done["error"]
    text = httpx.get(
        f"{default_server.base_url}/files/{done['result_files'][0]}/content", timeout=30
    ).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert "classification/accuracy" in rows[0] and "classification/weighted_f1_score" in rows[0]
    trainer_acc = float(rows[-1]["classification/accuracy"])

    base_acc = _accuracy(default_server, DEFAULT_MODEL, valid_rows)
    tuned_acc = _accuracy(default_server, done["fine_tuned_model"], valid_rows)
    print(f"base {base_acc:.2f}, fine-tuned {tuned_acc:.2f}, trainer's epoch-end {trainer_acc:.2f}")
    assert tuned_acc >= 0.9 > base_acc + 0.2
    assert trainer_acc >= 0.9
