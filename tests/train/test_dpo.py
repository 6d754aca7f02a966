"""DPO through the real server with the tiny model: a supervised fine-tune first, then a
DPO job that continues from it (the usual recipe), as a user of the local backend sees
it: the method and its resolved hyperparameters, reward curves in the metrics events
and the results CSV, checkpoints, pause/resume state; a file of the wrong format fails
in validation. LoRA-DPO with cancel: `pytest -m long` (a third trainer process)."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from conftest import ServerProcess
from openai.types.fine_tuning import FineTuningJob

from fttui.core.results_columns import DPO_TRAIN_COLUMNS, DPO_VALIDATION_COLUMNS
from fttui.store import Store
from fttui.train.tiny import preference_task

from .conftest import create_job, events, get_job, toy_lines, upload, wait_for
from .test_train_server import _alive

FINAL = {"succeeded", "failed", "cancelled"}


def _lines(rows: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(r) for r in rows]


@pytest.fixture(scope="module")
def sft_model(tiny_server: ServerProcess) -> str:
    """A short supervised fine-tune of the tiny model, for the DPO job to continue from."""
    train_id = upload(tiny_server, "sft.jsonl", toy_lines(16, offset=300))
    job = create_job(
        tiny_server,
        model="tiny-test",
        training_file=train_id,
        hyperparameters={"n_epochs": 1, "batch_size": 8},
        suffix="sft",
        seed=1,
    )
    done = wait_for(tiny_server, job["id"], FINAL)
    assert done["status"] == "succeeded", done["error"]
    return str(done["fine_tuned_model"])


@pytest.fixture(scope="module")
def dpo_job(tiny_server: ServerProcess, sft_model: str) -> dict[str, Any]:
    """DPO on the generated colours task: 48 pairs, batch 8, 2 epochs, 16 held out."""
    train_id = upload(tiny_server, "pref.jsonl", _lines(preference_task(48, seed=1)))
    valid_id = upload(
        tiny_server, "pref-valid.jsonl", _lines(preference_task(16, offset=1000, seed=2))
    )
    job = create_job(
        tiny_server,
        model=sft_model,
        training_file=train_id,
        validation_file=valid_id,
        method={
            "type": "dpo",
            "dpo": {
                "hyperparameters": {
                    "beta": "auto",
                    "n_epochs": 2,
                    "batch_size": 8,
                    "learning_rate_multiplier": 0.05,
                }
            },
        },
        suffix="prefs",
        seed=3,
    )
    return wait_for(tiny_server, job["id"], FINAL, timeout=180)


def _csv(srv: ServerProcess, file_id: str) -> tuple[list[str], list[dict[str, str]]]:
    resp = httpx.get(f"{srv.base_url}/files/{file_id}/content", timeout=30)
    assert resp.status_code == 200
    reader = csv.DictReader(io.StringIO(resp.text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_dpo_job_succeeds_with_its_method_and_resolved_beta(
    dpo_job: dict[str, Any], sft_model: str
) -> None:
    job = FineTuningJob.model_validate(dpo_job)
    assert job.status == "succeeded", job.error
    assert job.model == sft_model  # continued from the supervised fine-tune
    assert job.fine_tuned_model and ":ft-local:prefs-" in job.fine_tuned_model
    assert job.method is not None and job.method.type == "dpo"
    assert job.method.dpo is not None and job.method.dpo.hyperparameters is not None
    hp = job.method.dpo.hyperparameters
    assert (hp.beta, hp.n_epochs, hp.batch_size, hp.learning_rate_multiplier) == (0.1, 2, 8, 0.05)
    assert job.trained_tokens and len(job.result_files) == 1


def test_held_out_reward_accuracy_rises_above_step_zero_and_0_8(
    tiny_server: ServerProcess, dpo_job: dict[str, Any]
) -> None:
    evs = events(tiny_server, dpo_job["id"])
    before = next(e for e in evs if e["message"].startswith("Before training (step 0)"))
    step0 = before["data"]
    assert step0["step"] == 0 and step0["validation_reward_accuracy"] == 0.0
    metrics = [e["data"] for e in evs if e["type"] == "metrics"]
    assert [m["step"] for m in metrics] == list(range(1, 13))
    validated = [m for m in metrics if "validation_reward_accuracy" in m]
    final = validated[-1]
    assert final["step"] == 12
    assert final["validation_reward_accuracy"] > max(0.8, step0["validation_reward_accuracy"])
    assert final["validation_reward_margin"] > 0
    assert final["validation_loss"] < step0["validation_loss"]
    # The model itself now prefers the preferred outputs more often than before.
    after = next(e["message"] for e in evs if e["message"].startswith("After training"))
    share_before = step0["validation_preferred_share"]
    share_after = float(after.split(" on ")[1].split("%")[0]) / 100
    assert share_after > share_before, after
    for key in ("train_loss", "valid_loss", "training_reward_accuracy", "training_reward_margin"):
        assert key in final, key
    messages = " | ".join(e["message"] for e in evs)
    assert "DPO with beta 0.1" in messages and "reference model's log-probabilities" in messages


def test_results_csv_has_the_dpo_columns(
    tiny_server: ServerProcess, dpo_job: dict[str, Any]
) -> None:
    header, rows = _csv(tiny_server, dpo_job["result_files"][0])
    # OpenAI's columns first (those a DPO job has), the legacy guide's after them.
    assert header == [
        "step",
        "train_loss",
        "valid_loss",
        *DPO_TRAIN_COLUMNS[1:],
        *DPO_VALIDATION_COLUMNS,
    ]
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    assert [int(r["elapsed_examples"]) for r in rows] == [8 * s for s in range(1, 13)]
    late = [float(r["training_reward_accuracy"]) for r in rows[-4:]]
    assert min(late) >= 0.75, late
    assert float(rows[-1]["training_loss"]) < float(rows[0]["training_loss"])


def test_checkpoints_per_epoch(tiny_server: ServerProcess, dpo_job: dict[str, Any]) -> None:
    page = httpx.get(
        f"{tiny_server.base_url}/fine_tuning/jobs/{dpo_job['id']}/checkpoints", timeout=30
    ).json()["data"]
    assert sorted(c["step_number"] for c in page) == [6, 12]
    assert all("valid_loss" in c["metrics"] for c in page)


def test_a_chat_file_for_a_dpo_job_fails_in_validation(tiny_server: ServerProcess) -> None:
    chat = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"hi {i}"},
                    {"role": "assistant", "content": "hello"},
                ]
            }
        )
        for i in range(4)
    ]
    train_id = upload(tiny_server, "chat.jsonl", chat)
    job = create_job(tiny_server, model="tiny-test", training_file=train_id, method={"type": "dpo"})
    done = wait_for(tiny_server, job["id"], FINAL)
    assert done["status"] == "failed"
    assert done["error"]["code"] == "method_mismatch"
    assert "create a supervised job" in done["error"]["message"]


@pytest.mark.long  # a third trainer process (~20 s on the shared box)
def test_cancel_stops_a_lora_dpo_job_and_keeps_its_rows(tiny_server: ServerProcess) -> None:
    """LoRA DPO (its reference is the model with the adapters switched off) trains and
    stops on cancel within seconds, keeping the rows it wrote."""
    train_id = upload(tiny_server, "long-pref.jsonl", _lines(preference_task(64, seed=9)))
    job = create_job(
        tiny_server,
        model="tiny-test",
        training_file=train_id,
        method={
            "type": "dpo",
            "dpo": {
                "hyperparameters": {"n_epochs": 50, "batch_size": 2, "training_method": "lora"}
            },
        },
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if sum(e["type"] == "metrics" for e in events(tiny_server, job["id"])) >= 2:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("training never started")
    pid = Store(tiny_server.data_dir).get_job(job["id"])["pid"]  # type: ignore[index]
    assert isinstance(pid, int) and _alive(pid), pid
    resp = httpx.post(f"{tiny_server.base_url}/fine_tuning/jobs/{job['id']}/cancel", timeout=30)
    assert resp.status_code == 200
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5 and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid), "the DPO trainer is still running 5 s after cancel"
    done = get_job(tiny_server, job["id"])
    assert done["status"] == "cancelled" and len(done["result_files"]) == 1, done
    header, rows = _csv(tiny_server, done["result_files"][0])
    assert header == ["step", "train_loss", *DPO_TRAIN_COLUMNS[1:]] and 2 <= len(rows) < 32 * 50
    messages = [e["message"] for e in events(tiny_server, job["id"])]
    assert any("result rows and the checkpoints so far are kept" in m for m in messages)
    assert any("method lora, DPO with beta 0.1" in m for m in messages), messages


def test_a_paused_dpo_run_resumes_exactly_with_its_saved_reference(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Pause/resume goes through the same loop and checkpoint state as supervised jobs;
    DPO adds its reference log-probabilities to that state. A full fine-tune resumed
    from the weights of step 2 must not take them as its reference: the resumed run
    ends with the uninterrupted run's rows and weights."""
    from fttui.train.data import read_file
    from fttui.train.dpo import DPOObjective, pairs_from
    from fttui.train.engine import Resume, TrainConfig, train
    from fttui.train.models import load_for_training

    from .test_resume_engine import Recorder

    cpu = torch.device("cpu")
    path = tmp_path / "pref.jsonl"
    path.write_text("\n".join(_lines(preference_task(10, seed=6))) + "\n")
    _, tokenizer = load_for_training(str(tiny_model_dir), cpu)
    examples = read_file(path, tokenizer, 256, method="dpo").examples
    config = TrainConfig(n_epochs=2, batch_size=3, learning_rate=0.01, seed=11)

    model, _ = load_for_training(str(tiny_model_dir), cpu)
    whole = Recorder()
    model, outcome = train(
        model, pairs_from(examples), [], config, whole, cpu, objective=DPOObjective(beta=0.1)
    )
    assert outcome.steps == 7
    reference = {k: v.detach().clone() for k, v in model.state_dict().items()}

    model, _ = load_for_training(str(tiny_model_dir), cpu)
    first = Recorder(stop_after=2)
    model, stopped = train(
        model, pairs_from(examples), [], config, first, cpu, objective=DPOObjective(beta=0.1)
    )
    assert stopped.stopped and stopped.state is not None and "dpo_reference" in stopped.state
    ckpt = tmp_path / "ckpt"
    model.save_pretrained(ckpt)
    state = dict(stopped.state)
    torch.save(state, ckpt / "training_state.pt")
    saved = torch.load(ckpt / "training_state.pt", weights_only=True)  # as run.py reads it
    resume = Resume(
        step=saved["step"],
        optimizer=saved["optimizer"],
        scheduler=saved["scheduler"],
        elapsed_tokens=saved["elapsed_tokens"],
        elapsed_examples=saved["elapsed_examples"],
        epoch_losses=saved["epoch_losses"],
        rng=saved["rng"],
    )
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype="float32")
    second = Recorder()
    objective = DPOObjective(beta=0.1, reference=saved["dpo_reference"])
    model, outcome = train(
        model, pairs_from(examples), [], config, second, cpu, resume=resume, objective=objective
    )
    rows = first.rows + second.rows
    assert [r["step"] for r in rows] == list(range(1, 8))
    for got, want in zip(rows, whole.rows, strict=True):
        for key in ("training_loss", "training_reward_margin", "training_reward_accuracy"):
            assert got[key] == pytest.approx(want[key], rel=1e-4, abs=1e-6), (key, got["step"])
    for name, tensor in reference.items():
        torch.testing.assert_close(model.state_dict()[name], tensor, rtol=1e-5, atol=1e-6)
