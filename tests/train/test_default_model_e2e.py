"""End to end on the default model: SmolLM2-135M-Instruct (converted from its GGUF by
the trainer itself) learns a small classification task through the real server, and
its validation accuracy rises above the base model's, measured the legacy guide's way."""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Iterator

import httpx
import pytest
from conftest import ServerProcess, free_port

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


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(data_dir=tmp_path_factory.mktemp("e2e-data"), port=free_port())
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _accuracy(srv: ServerProcess, model: str, examples: list[dict[str, str]]) -> float:
    """Share of prompts whose most likely class token (top-5 logprobs, max_tokens=1) is
    right. The prompts go 16 to a request (a list `prompt`, as the completions API takes
    it; 16 is the server's limit), which the server decodes in one batch."""
    right = 0
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
        for ex, choice in zip(chunk, choices, strict=True):
            top = choice["logprobs"]["top_logprobs"][0]
            scores = {label: top.get(label, -math.inf) for label in CODES.values()}
            best = max(scores, key=lambda k: scores[k])
            right += int(scores[best] > -math.inf and best == ex["completion"])
    return right / len(examples)


@pytest.mark.slow
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
