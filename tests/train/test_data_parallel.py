"""Data-parallel training: `FTTUI_NUM_PROCESSES=2` makes the server start the trainer
under `accelerate launch` as two ranks (gloo on CPU), each training half of every
batch. The job must look exactly like a single-process one from outside, and learn
the same model.

Why weights and losses match only within a tolerance, not bit for bit: each rank packs
its half of a batch (examples r::2) into its own row, so the matrix products run over
different shapes and sum in a different order than the one packed row of the
single-process run, and the two ranks' gradients are then added by an all-reduce.
Mathematically the update is the same (every rank divides by the whole batch's
target count, so the summed gradient is the single-process gradient); numerically it
differs in the last float32 bits, which a dozen AdamW steps carry forward but do not
blow up.

Both servers train in float32 (`FTTUI_PRECISION=fp32`), whatever the machine: that
argument is about float32 rounding. On a CPU with native bf16 the automatic choice is
bf16 autocast, whose 8-bit mantissa alone puts the two runs' weights ~5e-3 apart
(measured on an AMD EPYC with AVX512-BF16), which says nothing about data parallelism.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from conftest import ServerProcess, free_port, register_tiny_model
from safetensors.torch import load_file

from fttui.train.models import safe_dir_name

from .conftest import create_job, events, toy_lines, upload, wait_for

N_TRAIN, BATCH, EPOCHS, SEED = 24, 4, 2, 11
STEPS = N_TRAIN * EPOCHS // BATCH


def _server(root: Path, model_dir: Path, env: dict[str, str]) -> ServerProcess:
    root.mkdir()
    register_tiny_model(root, model_dir)
    srv = ServerProcess(data_dir=root, port=free_port(), env=env)
    srv.start()
    return srv


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    base = tmp_path_factory.mktemp("dp")
    # An explicit "1" for the reference, whatever the environment says; float32 on
    # both sides (see the module's docstring).
    fp32 = {"FTTUI_PRECISION": "fp32"}
    single = _server(base / "single", tiny_model_dir, {"FTTUI_NUM_PROCESSES": "1", **fp32})
    try:
        dp = _server(base / "dp", tiny_model_dir, {"FTTUI_NUM_PROCESSES": "2", **fp32})
    except Exception:
        single.stop()
        raise
    try:
        yield single, dp
    finally:
        dp.stop()
        single.stop()


def _start_job(srv: ServerProcess) -> str:
    train_id = upload(srv, "train.jsonl", toy_lines(N_TRAIN))
    valid_id = upload(srv, "valid.jsonl", toy_lines(6, offset=100))
    job = create_job(
        srv,
        model="tiny-test",
        training_file=train_id,
        validation_file=valid_id,
        hyperparameters={"n_epochs": EPOCHS, "batch_size": BATCH},
        seed=SEED,
    )
    return str(job["id"])


def _rows(srv: ServerProcess, job: dict[str, object]) -> list[dict[str, str]]:
    file_id = job["result_files"][0]  # type: ignore[index]
    resp = httpx.get(f"{srv.base_url}/files/{file_id}/content", timeout=30)
    return list(csv.DictReader(io.StringIO(resp.text)))


def _weights(srv: ServerProcess, job: dict[str, object]) -> dict[str, torch.Tensor]:
    path = srv.data_dir / "models" / safe_dir_name(str(job["fine_tuned_model"]))
    return load_file(str(path / "model.safetensors"))


@pytest.fixture(scope="module")
def jobs(
    servers: tuple[ServerProcess, ServerProcess],
) -> tuple[dict[str, object], dict[str, object]]:
    single, dp = servers
    # Both at once: each job is mostly its processes starting (imports, model load).
    started = [(srv, _start_job(srv)) for srv in (single, dp)]
    one, two = (
        wait_for(srv, job_id, {"succeeded", "failed", "cancelled"}, timeout=180)
        for srv, job_id in started
    )
    return one, two


def test_two_ranks_train_like_one_process(
    servers: tuple[ServerProcess, ServerProcess],
    jobs: tuple[dict[str, object], dict[str, object]],
) -> None:
    single, dp = servers
    ref_job, dp_job = jobs
    log = (dp.data_dir / "jobs" / str(dp_job["id"]) / "train.log").read_text(errors="replace")
    assert ref_job["status"] == "succeeded", ref_job.get("error")
    assert dp_job["status"] == "succeeded", (dp_job.get("error"), log[-3000:])

    # Started as two ranks by accelerate; only rank 0 wrote events.
    messages = [e["message"] for e in events(dp, str(dp_job["id"])) if e["type"] == "message"]
    assert any("2 data-parallel ranks" in m for m in messages), messages
    assert sum(m.startswith("Job succeeded") for m in messages) == 1
    metrics = [e for e in events(dp, str(dp_job["id"])) if e["type"] == "metrics"]
    assert [e["data"]["step"] for e in metrics] == list(range(1, STEPS + 1))

    # The results file: one row per global step, batch_size examples per step.
    rows, ref_rows = _rows(dp, dp_job), _rows(single, ref_job)
    assert [int(r["step"]) for r in rows] == list(range(1, STEPS + 1))
    assert [int(r["elapsed_examples"]) for r in rows] == [BATCH * s for s in range(1, STEPS + 1)]
    assert [r["elapsed_tokens"] for r in rows] == [r["elapsed_tokens"] for r in ref_rows]
    assert dp_job["trained_tokens"] == ref_job["trained_tokens"]
    losses = [float(r["training_loss"]) for r in rows]
    assert sum(losses[-3:]) < 0.8 * sum(losses[:3]), losses

    # Same curve and same model as the single-process run, up to float rounding.
    ref_losses = [float(r["training_loss"]) for r in ref_rows]
    assert losses == pytest.approx(ref_losses, rel=1e-3, abs=1e-4)
    for key in ("validation_loss", "training_token_accuracy"):
        got = [float(r[key]) for r in rows if r[key]]
        want = [float(r[key]) for r in ref_rows if r[key]]
        assert got == pytest.approx(want, rel=1e-3, abs=1e-4), key
    mine, ref = _weights(dp, dp_job), _weights(single, ref_job)
    assert mine.keys() == ref.keys()
    worst = max(float((mine[k] - ref[k]).abs().max()) for k in ref)
    print(f"max |w_dp - w_single| = {worst:.2e}; losses {losses[0]:.4f} -> {losses[-1]:.4f}")
    assert worst < 1e-3, worst


def test_cancel_stops_every_rank(servers: tuple[ServerProcess, ServerProcess]) -> None:
    _, dp = servers
    train_id = upload(dp, "big.jsonl", toy_lines(400))
    job = create_job(
        dp, model="tiny-test", training_file=train_id, hyperparameters={"n_epochs": 5}, seed=1
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        evs = events(dp, job["id"])
        if any(e["type"] == "metrics" for e in evs):
            break
        time.sleep(0.2)
    ranks = _ranks_of(job["id"])
    assert len(ranks) >= 2, ranks  # the launcher and its two ranks
    resp = httpx.post(f"{dp.base_url}/fine_tuning/jobs/{job['id']}/cancel", timeout=30)
    assert resp.status_code == 200
    done = wait_for(dp, job["id"], {"cancelled", "failed", "succeeded"}, timeout=30)
    assert done["status"] == "cancelled"
    deadline = time.monotonic() + 15
    while _ranks_of(job["id"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _ranks_of(job["id"])
    for pid in left:  # do not leak processes into other tests
        os.kill(pid, signal.SIGKILL)
    assert not left


def _ranks_of(job_id: str) -> list[int]:
    """Live processes whose command line names this job (launcher and ranks)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if job_id.encode() in cmdline and state != "Z":
            out.append(int(proc.name))
    return out
