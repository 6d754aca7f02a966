"""Pause and resume with the official `openai` SDK against a real server training the
tiny model: the paused job checkpoints and stops, survives a server restart, resumes
with the same step count and optimizer state, and ends with the same results rows and
the same weights as a job with the same seed that was never paused. Also: what the
server keeps of checkpoints (retention, optimizer state), the legacy API on a paused
job, and the 409s for jobs that cannot be paused or resumed."""

from __future__ import annotations

import csv
import io
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import torch
from conftest import ServerProcess, free_port, register_tiny_model
from safetensors.torch import load_file
from server.openai_spec import check  # tests/server/openai_spec.py

from fttui.store.db import Store

from .conftest import events, toy_lines, upload, wait_for
from .test_train_server import _alive

WRAPPERS = Path(__file__).with_name("trainer_wrappers.py")
FINAL = {"succeeded", "failed", "cancelled"}
STEPS = 24  # 16 examples, batch 2, 3 epochs: checkpoints at steps 8, 16 and 24


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("pause") / "data"
    root.mkdir()
    register_tiny_model(root, tiny_model_dir)
    env = {
        # Steps of the tiny model take milliseconds: slowed so the test can pause one
        # mid-run (the numbers trained are unchanged; see trainer_wrappers.py).
        "FTTUI_TRAINER_COMMAND": shlex.join([sys.executable, str(WRAPPERS), "slow"]),
        "FTTUI_TEST_STEP_S": "0.15",
    }
    server = ServerProcess(
        data_dir=root,
        port=free_port(),
        extra_args=("--concurrency", "2", "--keep-checkpoints", "2"),
        env=env,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _sdk(srv: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key="unused-on-loopback", max_retries=0)


def _rows(srv: ServerProcess, file_id: str) -> list[dict[str, str]]:
    text = httpx.get(f"{srv.base_url}/files/{file_id}/content", timeout=30).text
    return list(csv.DictReader(io.StringIO(text)))


def _wait_event(srv: ServerProcess, job_id: str, text: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in e["message"] for e in events(srv, job_id)):
            return
        time.sleep(0.1)
    raise AssertionError(f"job {job_id}: no event saying {text!r}")


def _checkpoint_dirs(srv: ServerProcess, job_id: str) -> dict[int, set[str]]:
    root = srv.data_dir / "jobs" / job_id / "checkpoints"
    return {
        int(d.name.removeprefix("step-")): {p.name for p in d.iterdir()}
        for d in sorted(root.iterdir())
        if d.is_dir()
    }


def _weights(srv: ServerProcess, model: str) -> dict[str, torch.Tensor]:
    row = Store(srv.data_dir).get_model(model)
    assert row is not None
    return load_file(str(srv.data_dir / row["path"] / "model.safetensors"))


@pytest.mark.long  # ~50 s; the CI variant is the next test
def test_pause_checkpoints_survives_a_restart_and_resume_equals_an_unpaused_run(
    srv: ServerProcess,
) -> None:
    sdk = _sdk(srv)
    train = upload(srv, "train.jsonl", toy_lines(16))
    valid = upload(srv, "valid.jsonl", toy_lines(4, offset=100))
    body: dict[str, Any] = {
        "model": "tiny-test",
        "training_file": train,
        "validation_file": valid,
        # A prompt loss weight: the weighted loss (prompt/completion data) resumes exactly too.
        "hyperparameters": {"n_epochs": 3, "batch_size": 2, "prompt_loss_weight": 0.5},
        "seed": 5,
    }
    whole = sdk.fine_tuning.jobs.create(**body, suffix="whole")
    paused = sdk.fine_tuning.jobs.create(**body, suffix="paused")

    # -- pause mid-run: `paused` at once; the trainer checkpoints and stops.
    deadline = time.monotonic() + 120
    while sum(e["type"] == "metrics" for e in events(srv, paused.id)) < 3:
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.05)
    job = sdk.fine_tuning.jobs.pause(paused.id)
    assert job.id == paused.id and job.status == "paused"
    check("FineTuningJobPaused", job.model_dump(exclude_unset=True))
    with pytest.raises(openai.ConflictError, match="already paused"):
        sdk.fine_tuning.jobs.pause(paused.id)
    _wait_event(srv, paused.id, "Job paused at step")
    store = Store(srv.data_dir)
    row = store.get_job(paused.id)
    assert row is not None and row["status"] == "paused" and not row["pause_requested"]
    said = next(
        e["message"] for e in events(srv, paused.id) if "Job paused at step" in e["message"]
    )
    step = int(said.split("at step ")[1].split()[0])
    assert 3 <= step < STEPS, said
    # The pause checkpoint holds what resuming needs; older ones no optimizer state.
    dirs = _checkpoint_dirs(srv, paused.id)
    assert max(dirs) == step
    assert {"model.safetensors", "training_state.pt", "optimizer.pt", "results.csv"} <= dirs[step]
    assert all("optimizer.pt" not in files for s, files in dirs.items() if s != step)
    # The rows so far are the job's results file while it is paused.
    partial = sdk.fine_tuning.jobs.retrieve(paused.id).result_files
    assert len(partial) == 1 and len(_rows(srv, partial[0])) == step
    metrics = [e["data"]["step"] for e in events(srv, paused.id) if e["type"] == "metrics"]
    assert metrics == list(range(1, step + 1))

    # -- the legacy API shows it paused, its event stream ends, it cannot be deleted.
    legacy = httpx.get(f"{srv.base_url}/fine-tunes/{paused.id}", timeout=30).json()
    assert legacy["status"] == "paused"
    assert legacy["hyperparams"]["prompt_loss_weight"] == 0.5
    stream = httpx.get(
        f"{srv.base_url}/fine-tunes/{paused.id}/events", params={"stream": "true"}, timeout=30
    )
    assert stream.text.rstrip().endswith("data: [DONE]") and "Job paused at step" in stream.text
    deleted = httpx.delete(f"{srv.base_url}/fine-tunes/{paused.id}", timeout=30)
    assert deleted.status_code == 409 and "cancel it first" in deleted.json()["error"]["message"]

    # -- the unpaused job finishes; jobs that are not running or paused say why not.
    done = wait_for(srv, whole.id, FINAL, timeout=180)
    assert done["status"] == "succeeded", done["error"]
    with pytest.raises(openai.ConflictError, match="cannot be paused: it is succeeded"):
        sdk.fine_tuning.jobs.pause(whole.id)
    with pytest.raises(openai.ConflictError, match="only a paused job can be resumed"):
        sdk.fine_tuning.jobs.resume(whole.id)
    with pytest.raises(openai.NotFoundError):
        sdk.fine_tuning.jobs.pause("ftjob-nosuchjob")

    # -- the server restarts (killed): the job is still paused and resumable.
    srv.restart(kill=True)
    assert sdk.fine_tuning.jobs.retrieve(paused.id).status == "paused"
    resumed = sdk.fine_tuning.jobs.resume(paused.id)
    assert resumed.status == "queued"
    check("FineTuningJob", resumed.model_dump(exclude_unset=True))
    done_paused = wait_for(srv, paused.id, FINAL, timeout=180)
    assert done_paused["status"] == "succeeded", done_paused["error"]

    # -- the same run: every step once, the same rows, the same weights.
    metrics = [e["data"]["step"] for e in events(srv, paused.id) if e["type"] == "metrics"]
    assert metrics == list(range(1, STEPS + 1))
    got, want = _rows(srv, done_paused["result_files"][0]), _rows(srv, done["result_files"][0])
    assert [int(r["step"]) for r in got] == list(range(1, STEPS + 1))
    for a, b in zip(got, want, strict=True):
        assert (a["elapsed_tokens"], a["elapsed_examples"]) == (
            b["elapsed_tokens"],
            b["elapsed_examples"],
        )
        for column in ("training_loss", "validation_loss"):
            if b[column]:
                assert float(a[column]) == pytest.approx(float(b[column]), rel=1e-4), (a, b)
    mine, reference = (
        _weights(srv, done_paused["fine_tuned_model"]),
        _weights(srv, done["fine_tuned_model"]),
    )
    assert mine.keys() == reference.keys()
    for name, tensor in reference.items():
        torch.testing.assert_close(mine[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    messages = [e["message"] for e in events(srv, paused.id)]
    for text in (
        "Pause requested",
        f"Job paused at step {step}",
        f"Job resumed: queued; training continues from step {step}",
        f"Training resumed at step {step + 1}",
        "prompt loss weight 0.5;",
        "Job succeeded",
    ):
        assert any(text in m for m in messages), (text, messages)
    assert done_paused["trained_tokens"] == done["trained_tokens"]

    # -- what is kept: the last 2 epochs (--keep-checkpoints 2), no optimizer state
    #    once final, one results file (the paused job's partial one is gone).
    for job_id in (whole.id, paused.id):
        dirs = _checkpoint_dirs(srv, job_id)
        assert sorted(dirs) == [16, 24], dirs
        assert all("optimizer.pt" not in files for files in dirs.values())
        listed = sdk.fine_tuning.jobs.checkpoints.list(job_id)
        assert sorted(c.step_number for c in listed.data) == [16, 24]
    assert len(done_paused["result_files"]) == 1
    gone = httpx.get(f"{srv.base_url}/files/{partial[0]}", timeout=30)
    assert gone.status_code == 404

    _assert_usage_is_what_is_on_disk(srv)


def _assert_usage_is_what_is_on_disk(srv: ServerProcess) -> None:
    """The storage line's numbers: files as listed, models and checkpoints as on disk."""
    usage = httpx.get(f"{srv.base_url}/fttui/usage", timeout=30).json()
    checkpoint_files = [
        p for p in (srv.data_dir / "jobs").glob("*/checkpoints/step-*/*") if p.is_file()
    ]
    checkpoints = sum(p.stat().st_size for p in checkpoint_files)
    # A model's weights are a link to its last checkpoint's: counted there, once.
    shared = {p.stat().st_ino for p in checkpoint_files}
    models = sum(
        p.stat().st_size
        for row in Store(srv.data_dir).list_models()
        for p in (srv.data_dir / row["path"]).iterdir()
        if p.stat().st_ino not in shared
    )
    assert usage["models_bytes"] == models > 0
    assert usage["checkpoints_bytes"] == checkpoints > 0
    assert usage["used_bytes"] == sum(
        f["bytes"] for f in httpx.get(f"{srv.base_url}/files", timeout=30).json()["data"]
    )


def test_sdk_pause_then_resume_trains_every_step_once_and_keeps_the_last_epochs(
    srv: ServerProcess,
) -> None:
    """The CI variant of the test above (8 examples, 12 steps): pause with the SDK
    mid-run, the checkpoint holds what resuming needs, the server is killed while the
    job is paused, resume after the restart: every step once, and the same rows and
    weights as a twin job with the same seed that was never paused; retention, the
    storage figures."""
    sdk = _sdk(srv)
    train = upload(srv, "short.jsonl", toy_lines(8))
    body: dict[str, Any] = {
        "model": "tiny-test",
        "training_file": train,
        # 12 steps, epoch checkpoints at 4, 8, 12; the weighted loss resumes too.
        "hyperparameters": {"n_epochs": 3, "batch_size": 2, "prompt_loss_weight": 0.5},
        "seed": 7,
    }
    twin = sdk.fine_tuning.jobs.create(**body, suffix="twin")
    job = sdk.fine_tuning.jobs.create(**body, suffix="short")
    deadline = time.monotonic() + 120
    while sum(e["type"] == "metrics" for e in events(srv, job.id)) < 2:
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.05)
    assert sdk.fine_tuning.jobs.pause(job.id).status == "paused"
    _wait_event(srv, job.id, "Job paused at step")
    said = next(e["message"] for e in events(srv, job.id) if "Job paused at step" in e["message"])
    step = int(said.split("at step ")[1].split()[0])
    assert 2 <= step < 12, said
    assert {"training_state.pt", "optimizer.pt"} <= _checkpoint_dirs(srv, job.id)[step]
    done_twin = wait_for(srv, twin.id, FINAL, timeout=180)
    assert done_twin["status"] == "succeeded", done_twin["error"]

    # -- the server is killed while the job is paused; after the restart it resumes.
    srv.restart(kill=True)
    assert sdk.fine_tuning.jobs.retrieve(job.id).status == "paused"
    assert sdk.fine_tuning.jobs.resume(job.id).status == "queued"
    done = wait_for(srv, job.id, FINAL, timeout=180)
    assert done["status"] == "succeeded", done["error"]
    metrics = [e["data"]["step"] for e in events(srv, job.id) if e["type"] == "metrics"]
    assert metrics == list(range(1, 13))
    got, want = _rows(srv, done["result_files"][0]), _rows(srv, done_twin["result_files"][0])
    assert [int(r["step"]) for r in got] == list(range(1, 13))
    for a, b in zip(got, want, strict=True):
        assert a["elapsed_tokens"] == b["elapsed_tokens"]
        assert float(a["training_loss"]) == pytest.approx(float(b["training_loss"]), rel=1e-4)
    mine, reference = (
        _weights(srv, done["fine_tuned_model"]),
        _weights(srv, done_twin["fine_tuned_model"]),
    )
    assert mine.keys() == reference.keys()
    for name, tensor in reference.items():
        torch.testing.assert_close(mine[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    messages = [e["message"] for e in events(srv, job.id)]
    for text in (f"Training resumed at step {step + 1}", "prompt loss weight 0.5;"):
        assert any(text in m for m in messages), (text, messages)
    # --keep-checkpoints 2: the last two epochs, without optimizer state once final.
    dirs = _checkpoint_dirs(srv, job.id)
    assert sorted(dirs) == [8, 12], dirs
    assert all("optimizer.pt" not in files for files in dirs.values())
    _assert_usage_is_what_is_on_disk(srv)


def test_a_dpo_job_paused_and_resumed_through_the_api_equals_an_unpaused_one(
    srv: ServerProcess,
) -> None:
    """A full-fine-tune DPO job resumed from its pause checkpoint must keep the reference
    log-probabilities of the model as it was before step 1 (saved in the pause state),
    not take the checkpoint's weights as its reference: then its rows and weights equal
    those of the same job never paused. Through the SDK's pause/resume, real trainers."""
    import json

    from fttui.train.tiny import preference_task

    sdk = _sdk(srv)
    pairs = [json.dumps(r) for r in preference_task(8, seed=1)]
    train = upload(srv, "pref.jsonl", pairs)
    method = {
        "type": "dpo",
        "dpo": {"hyperparameters": {"n_epochs": 2, "batch_size": 2, "beta": 0.1}},
    }
    body: dict[str, Any] = {"model": "tiny-test", "training_file": train, "method": method}
    whole = sdk.fine_tuning.jobs.create(**body, seed=9, suffix="dpo-whole")
    paused = sdk.fine_tuning.jobs.create(**body, seed=9, suffix="dpo-paused")
    steps = 8  # 8 pairs, batch 2, 2 epochs

    deadline = time.monotonic() + 120
    while sum(e["type"] == "metrics" for e in events(srv, paused.id)) < 2:
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.05)
    assert sdk.fine_tuning.jobs.pause(paused.id).status == "paused"
    _wait_event(srv, paused.id, "Job paused at step")
    said = next(
        e["message"] for e in events(srv, paused.id) if "Job paused at step" in e["message"]
    )
    step = int(said.split("at step ")[1].split()[0])
    assert 2 <= step < steps, said
    assert sdk.fine_tuning.jobs.resume(paused.id).status == "queued"
    done = wait_for(srv, whole.id, FINAL, timeout=180)
    done_paused = wait_for(srv, paused.id, FINAL, timeout=180)
    assert done["status"] == "succeeded", done["error"]
    assert done_paused["status"] == "succeeded", done_paused["error"]

    metrics = [e["data"]["step"] for e in events(srv, paused.id) if e["type"] == "metrics"]
    assert metrics == list(range(1, steps + 1))  # every step once
    got, want = _rows(srv, done_paused["result_files"][0]), _rows(srv, done["result_files"][0])
    assert [int(r["step"]) for r in got] == list(range(1, steps + 1))
    for a, b in zip(got, want, strict=True):
        for column in ("training_loss", "training_reward_margin"):
            assert float(a[column]) == pytest.approx(float(b[column]), rel=1e-4, abs=1e-6), (
                column,
                a,
                b,
            )
    mine = _weights(srv, done_paused["fine_tuned_model"])
    reference = _weights(srv, done["fine_tuned_model"])
    for name, tensor in reference.items():
        torch.testing.assert_close(mine[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    messages = [e["message"] for e in events(srv, paused.id)]
    assert any(f"Training resumed at step {step + 1}" in m for m in messages), messages


RFT_GRADER = {
    "type": "text_similarity",
    "name": "close",
    "input": "{{sample.output_text}}",
    "reference": "{{item.want}}",
    "evaluation_metric": "fuzzy_match",
}


def _rft_prompts(n: int) -> list[str]:
    import json

    return [
        json.dumps({"messages": [{"role": "user", "content": f"say {i}"}], "want": "aaaa"})
        for i in range(n)
    ]


# LoRA (its reference is the adapters switched off, nothing to reload): long, ~25 s.
@pytest.mark.parametrize("training_method", ["full", pytest.param("lora", marks=pytest.mark.long)])
def test_a_reinforcement_job_paused_and_resumed_equals_an_unpaused_one(
    srv: ServerProcess, training_method: str
) -> None:
    """A reinforcement job samples its answers from the weights it trains, so a resumed
    job only matches the unpaused one if the weights, optimizer, the sampling's random
    numbers and the reference model (full: the starting model, loaded again) all come
    back exactly: then the same answers are sampled, graded and trained on. Rows
    (rewards, loss, KL) and final weights equal; every step once."""
    sdk = _sdk(srv)
    train = upload(srv, f"rft-{training_method}.jsonl", _rft_prompts(8))
    method = {
        "type": "reinforcement",
        "reinforcement": {
            "grader": RFT_GRADER,
            "hyperparameters": {
                "n_epochs": 2,
                "batch_size": 2,
                "learning_rate_multiplier": 1,
                "compute_multiplier": 0.5,
                "training_method": training_method,
            },
        },
    }
    body: dict[str, Any] = {"model": "tiny-test", "training_file": train, "method": method}
    whole = sdk.fine_tuning.jobs.create(**body, seed=4, suffix="rft-whole")
    paused = sdk.fine_tuning.jobs.create(**body, seed=4, suffix="rft-paused")
    steps = 8  # 8 prompts, batch 2, 2 epochs

    deadline = time.monotonic() + 120
    while sum(e["type"] == "metrics" for e in events(srv, paused.id)) < 2:
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.05)
    assert sdk.fine_tuning.jobs.pause(paused.id).status == "paused"
    _wait_event(srv, paused.id, "Job paused at step")
    said = next(
        e["message"] for e in events(srv, paused.id) if "Job paused at step" in e["message"]
    )
    step = int(said.split("at step ")[1].split()[0])
    assert 2 <= step < steps, said
    assert sdk.fine_tuning.jobs.resume(paused.id).status == "queued"
    done = wait_for(srv, whole.id, FINAL, timeout=180)
    done_paused = wait_for(srv, paused.id, FINAL, timeout=180)
    assert done["status"] == "succeeded", done["error"]
    assert done_paused["status"] == "succeeded", done_paused["error"]

    metrics = [e["data"]["step"] for e in events(srv, paused.id) if e["type"] == "metrics"]
    assert metrics == list(range(1, steps + 1))  # every step once
    got, want = _rows(srv, done_paused["result_files"][0]), _rows(srv, done["result_files"][0])
    assert [int(r["step"]) for r in got] == list(range(1, steps + 1))
    for a, b in zip(got, want, strict=True):
        for column in ("train_reward_mean", "training_loss", "train_kl"):
            assert float(a[column]) == pytest.approx(float(b[column]), rel=1e-4, abs=1e-6), (
                column,
                a,
                b,
            )
    # The job learned something to compare: the rewards moved the weights.
    assert len({r["train_reward_mean"] for r in want}) > 1
    messages = [e["message"] for e in events(srv, paused.id)]
    assert any(f"Training resumed at step {step + 1}" in m for m in messages), messages
    if training_method == "full":
        mine = _weights(srv, done_paused["fine_tuned_model"])
        reference = _weights(srv, done["fine_tuned_model"])
        for name, tensor in reference.items():
            torch.testing.assert_close(mine[name], tensor, rtol=1e-5, atol=1e-6, msg=name)


def test_cancel_stops_a_reinforcement_job_within_seconds(srv: ServerProcess) -> None:
    """Cancel mid-run: the trainer (sampling, grading or training) stops within seconds,
    the job is cancelled with no model, and the reward rows written so far are kept."""
    sdk = _sdk(srv)
    train = upload(srv, "rft-cancel.jsonl", _rft_prompts(8))
    job = sdk.fine_tuning.jobs.create(
        model="tiny-test",
        training_file=train,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": RFT_GRADER,
                "hyperparameters": {"n_epochs": 50, "batch_size": 2},
            },
        },
    )
    deadline = time.monotonic() + 120
    while sum(e["type"] == "metrics" for e in events(srv, job.id)) < 2:
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.05)
    pid = Store(srv.data_dir).get_job(job.id)["pid"]  # type: ignore[index]
    assert isinstance(pid, int) and _alive(pid), pid
    assert sdk.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10 and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid), "the reinforcement trainer is still running 10 s after cancel"
    done = wait_for(srv, job.id, FINAL, timeout=30)
    assert done["status"] == "cancelled" and done["fine_tuned_model"] is None, done
    rows = _rows(srv, done["result_files"][0])
    assert 2 <= len(rows) < 200 and all(r["train_reward_mean"] != "" for r in rows)
