"""Reinforcement fine-tuning through the real server with the tiny model.

The task: answer in a word the grader likes. The grader is OpenAI's multi grader
with a python grader (partial credit: the share of the answer's characters that are
'a') and a string_check (ilike 'a'); the tiny random-weight model's answers start
with little of either, so the reward can only rise if the GRPO step works.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest
from conftest import ServerProcess

from tests.train.conftest import create_job, events, get_job, upload, wait_for

FINAL = {"succeeded", "failed", "cancelled"}
GRADE = """
def grade(sample, item):
    text = sample["output_text"]
    if not text:
        return 0.0
    return sum(c == item["letter"] for c in text) / len(text)
"""
GRADER = {
    "type": "multi",
    "name": "letters",
    "graders": {
        "share": {"type": "python", "name": "share", "source": GRADE},
        "has": {
            "type": "string_check",
            "name": "has",
            "input": "{{sample.output_text}}",
            "reference": "{{item.letter}}",
            "operation": "ilike",
        },
    },
    "calculate_output": "0.8 * share + 0.2 * has",
}


def prompts(n: int, offset: int = 0) -> list[str]:
    return [
        json.dumps(
            {
                "messages": [{"role": "user", "content": f"say a word {i}"}],
                "letter": "a",
            }
        )
        for i in range(offset, offset + n)
    ]


def run_job(srv: ServerProcess, n_epochs: int, multiplier: float) -> dict[str, Any]:
    train_id = upload(srv, "rft.jsonl", prompts(16))
    valid_id = upload(srv, "rft-valid.jsonl", prompts(4, offset=100))
    job = create_job(
        srv,
        model="tiny-test",
        training_file=train_id,
        validation_file=valid_id,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": GRADER,
                "hyperparameters": {
                    "n_epochs": n_epochs,
                    "batch_size": 4,
                    "learning_rate_multiplier": 2,
                    "eval_interval": 4,
                    "eval_samples": 4,
                    "compute_multiplier": multiplier,
                },
            },
        },
        seed=5,
    )
    return wait_for(srv, job["id"], FINAL, timeout=300)


@pytest.fixture(scope="module")
def rft_job(tiny_server: ServerProcess) -> dict[str, Any]:
    """One epoch (4 steps of 4 prompts x 4 answers): what CI runs."""
    return run_job(tiny_server, 1, 1)


def test_metrics_use_the_agreed_keys(tiny_server: ServerProcess, rft_job: dict[str, Any]) -> None:
    assert rft_job["status"] == "succeeded", rft_job["error"]
    evs = events(tiny_server, rft_job["id"])
    metrics = [e["data"] for e in evs if e["type"] == "metrics"]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    for m in metrics:
        assert {"train_reward_mean", "train_score/share", "train_score/has", "train_kl"} <= set(m)
        assert 0 <= m["train_reward_mean"] <= 1
    assert [m["step"] for m in metrics if "valid_reward_mean" in m] == [4]
    messages = " | ".join(e["message"] for e in evs)
    assert "4 answers sampled per prompt" in messages
    assert "runs grade(sample, item) in a sandbox" in messages


@pytest.mark.long
def test_reward_rises(tiny_server: ServerProcess) -> None:
    """3 epochs, 8 answers per prompt (~100 s here): the train reward mean rises from
    about 0.2 to about 0.6 (measured: 0.203 at step 1, 0.586 at step 12)."""
    job = run_job(tiny_server, 3, 2)
    assert job["status"] == "succeeded", job["error"]
    evs = events(tiny_server, job["id"])
    metrics = [e["data"] for e in evs if e["type"] == "metrics"]
    rewards = [m["train_reward_mean"] for m in metrics]
    valid = [m["valid_reward_mean"] for m in metrics if "valid_reward_mean" in m]
    assert len(rewards) == 12 and len(valid) == 3
    early, late = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert late > early + 0.1, rewards
    assert valid[-1] >= valid[0], valid


def test_results_file_has_the_reward_columns(
    tiny_server: ServerProcess, rft_job: dict[str, Any]
) -> None:
    resp = httpx.get(f"{tiny_server.base_url}/files/{rft_job['result_files'][0]}/content")
    reader = csv.DictReader(io.StringIO(resp.text))
    rows = list(reader)
    assert reader.fieldnames is not None
    for column in ("train_reward_mean", "train_score/share", "valid_reward_mean"):
        assert column in reader.fieldnames
    assert len(rows) == 4
    assert rows[3]["valid_reward_mean"] != "" and rows[0]["valid_reward_mean"] == ""


def test_job_object_shows_the_method_as_openai_does(
    tiny_server: ServerProcess, rft_job: dict[str, Any]
) -> None:
    job = get_job(tiny_server, rft_job["id"])
    rft = job["method"]["reinforcement"]
    assert rft["grader"] == GRADER
    assert rft["hyperparameters"]["compute_multiplier"] == 1
    assert rft["hyperparameters"]["eval_interval"] == 4
    assert job["fine_tuned_model"]


def test_a_hostile_grader_harms_neither_the_server_nor_its_data(
    tiny_server: ServerProcess,
) -> None:
    """A python grader that forks, writes into the server's data directory and opens a
    socket: every answer gets the grader's error (reward 0), the job still finishes,
    the data directory is untouched and the server answers."""
    precious = tiny_server.data_dir / "files"
    before = {p.name: p.read_bytes() for p in precious.iterdir()}
    target = tiny_server.data_dir / "hostile.txt"
    source = (
        "import os\n"
        "def grade(sample, item):\n"
        f"    open({str(target)!r}, 'w').write('x')\n"
        "    return 1.0\n"
    )
    train_id = upload(tiny_server, "h.jsonl", prompts(4))
    job = create_job(
        tiny_server,
        model="tiny-test",
        training_file=train_id,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": {"type": "python", "name": "hostile", "source": source},
                "hyperparameters": {"n_epochs": 1, "batch_size": 4, "compute_multiplier": 0.5},
            },
        },
    )
    done = wait_for(tiny_server, job["id"], FINAL, timeout=300)
    assert done["status"] == "succeeded", done["error"]
    evs = events(tiny_server, job["id"])
    (metrics,) = [e["data"] for e in evs if e["type"] == "metrics"]
    assert metrics["train_grader_errors"] == 1.0 and metrics["train_reward_mean"] == 0.0
    warned = [e["message"] for e in evs if "the grader failed on 8 answers" in e["message"]]
    assert warned and "scratch directory" in warned[0]
    assert not target.exists()
    assert all((precious / name).read_bytes() == data for name, data in before.items())
    assert httpx.get(f"{tiny_server.base_url}/fine_tuning/jobs", timeout=10).status_code == 200
