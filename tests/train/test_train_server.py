"""Real training of the tiny model through the real server: results, checkpoints, model,
inference, cancel and failures, as a user of the local backend sees them."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ServerProcess, register_tiny_model, running_server
from openai.types import Completion
from openai.types.chat import ChatCompletion
from openai.types.fine_tuning import FineTuningJob
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint

from fttui.store import Store

from .conftest import SEPARATOR, create_job, events, get_job, toy_lines, upload, wait_for

SEED_COLUMNS = [
    "step",
    "elapsed_tokens",
    "elapsed_examples",
    "training_loss",
    "training_sequence_accuracy",
    "training_token_accuracy",
]
VALIDATION_COLUMNS = [
    "validation_loss",
    "validation_sequence_accuracy",
    "validation_token_accuracy",
]
# A job of today's API: OpenAI's columns first, in OpenAI's order (code written against
# OpenAI's results file reads `train_accuracy` etc.), the legacy guide's after them.
OPENAI_FIRST = ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"]
OPENAI_FIRST_NO_VALIDATION = ["step", "train_loss", "train_accuracy"]


BF16_TEST = "test_a_model_published_in_bfloat16_is_stored_in_bfloat16_as_one_copy"
LORA_TEST = "test_a_lora_checkpoint_holds_the_adapters_only"


@pytest.fixture(scope="module")
def tiny_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[ServerProcess]:
    """This module's server trains two jobs at once: `started` queues its independent
    jobs together (most of a tiny job is its trainer starting)."""
    data_dir = tmp_path_factory.mktemp("train-data")
    with running_server(
        data_dir, tiny_model_dir=tiny_model_dir, extra_args=("--concurrency", "2")
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def started(
    tiny_server: ServerProcess,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> dict[str, str]:
    """The module's independent jobs that the selected tests read, queued at once (name
    -> job id): "trained" (48 examples, batch 4, 3 epochs, with a validation file),
    "bf16" (a base model published in bfloat16) and "lora"."""
    wanted = {
        name
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.module is request.module
        for name in (
            *(["trained"] if "trained" in item.fixturenames else []),
            *(["bf16"] if item.originalname == BF16_TEST else []),
            *(["lora"] if item.originalname == LORA_TEST else []),
        )
    }
    ids = {}
    if "trained" in wanted:
        train_id = upload(tiny_server, "train.jsonl", toy_lines(48))
        valid_id = upload(tiny_server, "valid.jsonl", toy_lines(9, offset=100))
        ids["trained"] = create_job(
            tiny_server,
            model="tiny-test",
            training_file=train_id,
            validation_file=valid_id,
            hyperparameters={"n_epochs": 3, "batch_size": 4},
            suffix="Toy Animals",
            seed=7,
        )["id"]
    if "bf16" in wanted:
        from fttui.train.tiny import build_model

        source = build_model(tmp_path_factory.mktemp("bf16") / "tiny-bf16", dtype="bfloat16")
        register_tiny_model(tiny_server.data_dir, source, "tiny-bf16")
        ids["bf16"] = create_job(
            tiny_server,
            model="tiny-bf16",
            training_file=upload(tiny_server, "bf16.jsonl", toy_lines(8)),
            hyperparameters={"n_epochs": 2, "batch_size": 4},
            seed=3,
        )["id"]
    if "lora" in wanted:
        ids["lora"] = create_job(
            tiny_server,
            model="tiny-test",
            training_file=upload(tiny_server, "lora.jsonl", toy_lines(8)),
            hyperparameters={"n_epochs": 1, "batch_size": 4, "training_method": "lora"},
        )["id"]
    return ids


@pytest.fixture(scope="module")
def trained(tiny_server: ServerProcess, started: dict[str, str]) -> dict[str, object]:
    """One finished job: 48 examples, batch 4, 3 epochs, with a validation file."""
    return wait_for(tiny_server, started["trained"], {"succeeded", "failed", "cancelled"})


def _csv(srv: ServerProcess, file_id: str) -> tuple[list[str], list[dict[str, str]]]:
    resp = httpx.get(f"{srv.base_url}/files/{file_id}/content", timeout=30)
    assert resp.status_code == 200
    reader = csv.DictReader(io.StringIO(resp.text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_job_succeeds_with_a_named_model_and_resolved_hyperparameters(
    trained: dict[str, object],
) -> None:
    job = FineTuningJob.model_validate(trained)
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model is not None
    assert job.fine_tuned_model.startswith("tiny-test:ft-local:toy-animals-")
    assert job.hyperparameters.n_epochs == 3
    assert job.hyperparameters.batch_size == 4
    assert job.hyperparameters.learning_rate_multiplier == 0.05  # seed default for batch < 8
    assert job.trained_tokens and job.trained_tokens > 48 * 3 * 5
    assert len(job.result_files) == 1


def test_results_csv_has_seed_columns_one_row_per_step_and_loss_falls(
    tiny_server: ServerProcess, trained: dict[str, object]
) -> None:
    header, rows = _csv(tiny_server, trained["result_files"][0])  # type: ignore[index]
    assert header == OPENAI_FIRST + SEED_COLUMNS[1:] + VALIDATION_COLUMNS
    for row in rows:  # OpenAI's columns hold the same values as their legacy twins
        assert row["train_loss"] == row["training_loss"]
        assert row["train_accuracy"] == row["training_token_accuracy"]
        assert row["valid_mean_token_accuracy"] == row["validation_token_accuracy"]
    assert [int(r["step"]) for r in rows] == list(range(1, 48 * 3 // 4 + 1))
    assert [int(r["elapsed_examples"]) for r in rows] == [4 * s for s in range(1, 37)]
    tokens = [int(r["elapsed_tokens"]) for r in rows]
    assert all(b > a for a, b in zip(tokens, tokens[1:], strict=False))
    losses = [float(r["training_loss"]) for r in rows]
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.6 * first, (first, last)
    validated = [r for r in rows if r["validation_loss"]]
    assert 3 <= len(validated) < len(rows)  # periodically, not every step
    assert float(validated[-1]["validation_loss"]) < float(validated[0]["validation_loss"])
    assert float(rows[-1]["training_token_accuracy"]) > float(rows[0]["training_token_accuracy"])


def test_events_carry_metrics_in_both_namings_and_the_milestones(
    tiny_server: ServerProcess, trained: dict[str, object]
) -> None:
    evs = events(tiny_server, str(trained["id"]))
    metrics = [e for e in evs if e["type"] == "metrics"]
    assert len(metrics) == 36
    data = metrics[-1]["data"]
    assert data["step"] == 36 and data["total_steps"] == 36
    assert data["train_loss"] == pytest.approx(data["training_loss"])
    assert "train_mean_token_accuracy" in data and "training_sequence_accuracy" in data
    messages = " | ".join(e["message"] for e in evs if e["type"] == "message")
    assert "Files validated: 48 training examples, 9 validation examples" in messages
    assert "Training started: 3 epochs, batch size 4" in messages
    assert "Epoch 3: training loss=" in messages and "validation loss=" in messages
    assert f"Results file: {trained['result_files'][0]}" in messages  # type: ignore[index]
    assert "Job succeeded" in messages


def test_checkpoints_per_epoch_and_model_listed(
    tiny_server: ServerProcess, trained: dict[str, object]
) -> None:
    resp = httpx.get(
        f"{tiny_server.base_url}/fine_tuning/jobs/{trained['id']}/checkpoints", timeout=30
    )
    page = resp.json()["data"]
    ckpts = [FineTuningJobCheckpoint.model_validate(c) for c in page]
    assert sorted(c.step_number for c in ckpts) == [12, 24, 36]
    assert all(
        c.fine_tuned_model_checkpoint == f"{trained['fine_tuned_model']}:ckpt-step-{c.step_number}"
        for c in ckpts
    )
    models = httpx.get(f"{tiny_server.base_url}/models", timeout=30).json()["data"]
    assert trained["fine_tuned_model"] in {m["id"] for m in models}


def _unique_bytes(paths: list[Path]) -> int:
    """Bytes as the disk holds them (`du`): a file linked twice counted once."""
    seen: dict[int, int] = {}
    for p in paths:
        if p.is_file():
            st = p.stat()
            seen[st.st_ino] = st.st_size
    return sum(seen.values())


def test_the_model_and_its_last_checkpoint_are_one_copy_of_the_weights(
    tiny_server: ServerProcess, trained: dict[str, object], started: dict[str, str]
) -> None:
    """A job's weights are stored once: the final model's files are the last epoch
    checkpoint's (hard links), the job says what it holds on disk, and the storage
    line counts each byte once."""
    for job_id in started.values():  # none writing while the bytes are counted
        wait_for(tiny_server, job_id, {"succeeded", "failed", "cancelled"})
    data = tiny_server.data_dir
    job_id = str(trained["id"])
    model = Store(data).get_model(str(trained["fine_tuned_model"]))
    assert model is not None
    model_dir = data / model["path"]
    last = data / "jobs" / job_id / "checkpoints" / "step-36"
    assert os.path.samefile(model_dir / "model.safetensors", last / "model.safetensors")
    weights = (last / "model.safetensors").stat().st_size
    files = [*model_dir.iterdir(), *(data / "jobs" / job_id / "checkpoints").glob("*/*")]
    on_disk = _unique_bytes(files)
    assert on_disk <= sum(p.stat().st_size for p in files if p.is_file()) - weights
    assert get_job(tiny_server, job_id)["fttui"]["disk_bytes"] == on_disk
    usage = httpx.get(f"{tiny_server.base_url}/fttui/usage", timeout=30).json()
    every = [
        *data.glob("jobs/*/checkpoints/*/*"),
        *(p for row in Store(data).list_models() for p in (data / row["path"]).iterdir()),
    ]
    assert usage["models_bytes"] + usage["checkpoints_bytes"] == _unique_bytes(every)
    assert {j["id"]: j["bytes"] for j in usage["largest_jobs"]}[job_id] == on_disk
    # The checkpoint still serves a resume or a new job on its own: its manifest's
    # files are all there with their bytes.
    manifest = json.loads((last / "fttui-manifest.json").read_text())["files"]
    assert all((last / f["name"]).stat().st_size == f["bytes"] for f in manifest)


def _weights_dtype(model_dir: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(model_dir / "model.safetensors"), "pt") as f:
        return {str(f.get_slice(k).get_dtype()) for k in f.keys()}.pop()  # noqa: SIM118


def test_a_model_published_in_float32_is_stored_in_float32(
    tiny_server: ServerProcess, trained: dict[str, object]
) -> None:
    """`stored_dtype` not asked, base published in float32: the model stays float32
    (and stays one copy with its last checkpoint, above)."""
    model = Store(tiny_server.data_dir).get_model(str(trained["fine_tuned_model"]))
    assert model is not None
    assert _weights_dtype(tiny_server.data_dir / model["path"]) == "F32"
    said = [e["message"] for e in events(tiny_server, str(trained["id"]))]
    assert any(
        "Model stored as float32, because the base model was published as float32" in m
        for m in said
    ), said


def test_a_model_published_in_bfloat16_is_stored_in_bfloat16_as_one_copy(
    tiny_server: ServerProcess, started: dict[str, str]
) -> None:
    """`stored_dtype` not asked, base published in bfloat16: the final model is stored
    in bfloat16 (half the bytes), its last checkpoint's weights become that same file
    (one copy), an earlier checkpoint keeps its float32 weights, and the served model
    answers."""
    job = {"id": started["bf16"]}
    done = wait_for(tiny_server, job["id"], {"succeeded", "failed", "cancelled"})
    assert done["status"] == "succeeded", done["error"]
    data = tiny_server.data_dir
    model = Store(data).get_model(str(done["fine_tuned_model"]))
    assert model is not None
    model_dir = data / model["path"]
    assert _weights_dtype(model_dir) == "BF16"
    assert json.loads((model_dir / "config.json").read_text())["dtype"] == "bfloat16"
    steps = data / "jobs" / job["id"] / "checkpoints"
    first, last = steps / "step-2", steps / "step-4"
    assert os.path.samefile(model_dir / "model.safetensors", last / "model.safetensors")
    assert _weights_dtype(first) == "F32"  # an earlier epoch keeps float32
    assert (model_dir / "model.safetensors").stat().st_size < (
        first / "model.safetensors"
    ).stat().st_size * 0.6
    manifest = json.loads((last / "fttui-manifest.json").read_text())["files"]
    assert all((last / f["name"]).stat().st_size == f["bytes"] for f in manifest)
    said = [e["message"] for e in events(tiny_server, job["id"])]
    assert any(
        "Model stored as bfloat16, because the base model was published as bfloat16" in m
        for m in said
    ), said
    body = {
        "model": done["fine_tuned_model"],
        "prompt": "cat number 3 says",
        "max_tokens": 4,
        "temperature": 0,
    }
    resp = httpx.post(f"{tiny_server.base_url}/completions", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    assert Completion.model_validate(resp.json()).usage.completion_tokens > 0  # type: ignore[union-attr]


def test_an_unsupported_stored_dtype_is_refused_by_name(tiny_server: ServerProcess) -> None:
    train_id = upload(tiny_server, "dtype.jsonl", toy_lines(4))
    resp = httpx.post(
        f"{tiny_server.base_url}/fine_tuning/jobs",
        json={
            "model": "tiny-test",
            "training_file": train_id,
            "hyperparameters": {"stored_dtype": "float8"},
        },
        timeout=30,
    )
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["param"] == "hyperparameters.stored_dtype"
    assert "'float8'" in error["message"] and "bfloat16" in error["message"]


def test_a_lora_checkpoint_holds_the_adapters_only(
    tiny_server: ServerProcess, started: dict[str, str]
) -> None:
    job = {"id": started["lora"]}
    done = wait_for(tiny_server, job["id"], {"succeeded", "failed", "cancelled"})
    assert done["status"] == "succeeded", done["error"]
    (step,) = (tiny_server.data_dir / "jobs" / job["id"] / "checkpoints").iterdir()
    names = {p.name for p in step.iterdir()}
    assert "adapter_model.safetensors" in names, names
    assert "model.safetensors" not in names, names
    model = Store(tiny_server.data_dir).get_model(str(done["fine_tuned_model"]))
    assert model is not None
    merged = (tiny_server.data_dir / model["path"] / "model.safetensors").stat().st_size
    assert (step / "adapter_model.safetensors").stat().st_size < merged / 2


def test_completions_answer_with_the_fine_tuned_model(
    tiny_server: ServerProcess, trained: dict[str, object]
) -> None:
    body = {
        "model": trained["fine_tuned_model"],
        "prompt": f"cat number 500 says{SEPARATOR}",
        "max_tokens": 6,
        "temperature": 0,
        "stop": [" END"],
        "logprobs": 3,
    }
    resp = httpx.post(f"{tiny_server.base_url}/completions", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    completion = Completion.model_validate(resp.json())
    choice = completion.choices[0]
    assert choice.text == " meow"  # learnt, and cut at the stop sequence
    assert choice.finish_reason == "stop"
    assert choice.logprobs is not None and choice.logprobs.tokens
    assert "".join(choice.logprobs.tokens) == " meow"
    assert all(len(top) == 3 for top in choice.logprobs.top_logprobs or [])
    assert (choice.logprobs.text_offset or [0])[0] == len(body["prompt"])  # type: ignore[arg-type]

    both = httpx.post(
        f"{tiny_server.base_url}/completions",
        json={
            **body,
            "prompt": [f"dog number 501 says{SEPARATOR}", f"bird number 502 says{SEPARATOR}"],
        },
        timeout=60,
    )
    assert [(c.index, c.text) for c in Completion.model_validate(both.json()).choices] == [
        (0, " woof"),
        (1, " tweet"),
    ]

    chat = httpx.post(
        f"{tiny_server.base_url}/chat/completions",
        json={
            "model": trained["fine_tuned_model"],
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 5,
        },
        timeout=60,
    )
    assert chat.status_code == 200, chat.text
    assert ChatCompletion.model_validate(chat.json()).choices[0].message.role == "assistant"


def test_unknown_model_is_a_404_in_openai_shape(tiny_server: ServerProcess) -> None:
    resp = httpx.post(
        f"{tiny_server.base_url}/completions",
        json={"model": "no-such-model", "prompt": "x"},
        timeout=30,
    )
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["param"] == "model" and "no-such-model" in error["message"]


@pytest.mark.alone  # the trainer (niced) gone within 5 s of cancel: no other test beside it
def test_cancel_stops_training_within_seconds_and_keeps_rows(tiny_server: ServerProcess) -> None:
    train_id = upload(tiny_server, "long.jsonl", toy_lines(30))
    job = create_job(
        tiny_server,
        model="tiny-test",
        training_file=train_id,
        hyperparameters={"n_epochs": 50, "batch_size": 1},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(e["type"] == "metrics" for e in events(tiny_server, job["id"])) >= 3:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("training never started")
    pid = Store(tiny_server.data_dir).get_job(job["id"])["pid"]  # type: ignore[index]
    # the recorded pid is the live trainer of this job (else the check below proves nothing)
    assert isinstance(pid, int) and pid > 0, pid
    assert _alive(pid), f"pid {pid} is not running while the job trains"
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    # started for the job (its id in the command line) or in standby before it (then
    # it works in the job's directory)
    assert b"fttui.train.run" in cmdline
    assert (
        job["id"].encode() in cmdline
        or Path(f"/proc/{pid}/cwd").resolve()
        == (tiny_server.data_dir / "jobs" / job["id"]).resolve()
    )
    # it trains at a lower CPU priority than the server, so the API stays responsive
    assert tiny_server.proc is not None
    server_nice = os.getpriority(os.PRIO_PROCESS, tiny_server.proc.pid)
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, server_nice + 10)
    resp = httpx.post(f"{tiny_server.base_url}/fine_tuning/jobs/{job['id']}/cancel", timeout=30)
    assert resp.status_code == 200
    t0 = time.monotonic()
    done = wait_for(tiny_server, job["id"], {"cancelled", "failed", "succeeded"}, timeout=5)
    assert done["status"] == "cancelled"
    while time.monotonic() - t0 < 5 and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid), "the training process is still running 5 s after cancel"
    # The trainer's closing reports: the rows so far as the results file, and an event.
    done = get_job(tiny_server, job["id"])
    assert done["status"] == "cancelled" and len(done["result_files"]) == 1, done
    header, rows = _csv(tiny_server, done["result_files"][0])
    assert header == OPENAI_FIRST_NO_VALIDATION + SEED_COLUMNS[1:] and len(rows) >= 3
    assert len(rows) < 30 * 50  # stopped long before the end
    messages = [e["message"] for e in events(tiny_server, job["id"])]
    assert any("result rows and the checkpoints so far are kept" in m for m in messages)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def test_overlong_example_fails_the_job_naming_the_line(tiny_server: ServerProcess) -> None:
    lines = toy_lines(6)
    long_prompt = " ".join(f"zqx{i}" for i in range(300)) + SEPARATOR
    lines[2] = json.dumps({"prompt": long_prompt, "completion": " meow END"})
    train_id = upload(tiny_server, "long-line.jsonl", lines)
    job = create_job(tiny_server, model="tiny-test", training_file=train_id)
    done = wait_for(tiny_server, job["id"], {"failed", "succeeded", "cancelled"})
    assert done["status"] == "failed"
    message = done["error"]["message"]
    assert "lines 3 (" in message and "256 tokens" in message and "truncated" in message
    assert done["error"]["param"] == "training_file"


def test_prompt_loss_weight_on_chat_data_fails_in_validation_naming_it(
    tiny_server: ServerProcess,
) -> None:
    """A chat file whose row has no recorded format (uploaded by an older version), so
    creation cannot refuse the weight: validation does, before `queued`."""
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    train_id = upload(tiny_server, "chat-old.jsonl", [json.dumps(chat)] * 4)
    with sqlite3.connect(tiny_server.data_dir / "fttui.db") as conn:
        conn.execute("UPDATE files SET meta = '{}' WHERE id = ?", (train_id,))
    job = create_job(
        tiny_server,
        model="tiny-test",
        training_file=train_id,
        hyperparameters={"prompt_loss_weight": 0.2},
    )
    done = wait_for(tiny_server, job["id"], {"failed", "succeeded", "cancelled"})
    assert done["status"] == "failed"
    assert done["error"]["param"] == "hyperparameters.prompt_loss_weight"
    assert "prompt/completion files only" in done["error"]["message"]
    assert "chat format" in done["error"]["message"]
    messages = [e["message"] for e in events(tiny_server, job["id"])]
    assert not any("job queued" in m for m in messages), messages


def test_killed_trainer_fails_the_job_with_a_clear_error(tiny_server: ServerProcess) -> None:
    train_id = upload(tiny_server, "kill.jsonl", toy_lines(30))
    job = create_job(
        tiny_server,
        model="tiny-test",
        training_file=train_id,
        hyperparameters={"n_epochs": 50, "batch_size": 1},
    )
    store = Store(tiny_server.data_dir)
    deadline = time.monotonic() + 60
    pid = None
    while time.monotonic() < deadline:
        row = store.get_job(job["id"])
        if row and row["status"] == "running" and row["pid"]:
            pid = row["pid"]
            break
        time.sleep(0.1)
    assert pid, "job never started running"
    os.kill(pid, signal.SIGKILL)
    done = wait_for(tiny_server, job["id"], {"failed", "succeeded", "cancelled"}, timeout=20)
    assert done["status"] == "failed"
    assert done["error"]["message"]
    assert "signal 9" in done["error"]["message"]


def test_a_legacy_job_continues_from_the_fine_tuned_model_with_the_legacy_results_file(
    tiny_server: ServerProcess, trained: dict[str, object]
) -> None:
    """`POST /v1/fine-tunes` (openai 0.28's `fine_tunes.create`) from the first job's
    fine-tuned model: the second job starts from its weights (its first loss is already
    low), and its results file is the legacy guide's, exactly its columns, none of
    OpenAI's current ones. One job for both: a job's trainer costs seconds to start.
    (Continuing through `/v1/fine_tuning/jobs` is tests/train/test_trainer_protocol.py's
    sandbox test: the fine-tuned weights come over HTTP into the node cache.)"""
    train_id = upload(tiny_server, "more.jsonl", toy_lines(8, offset=200))
    resp = httpx.post(
        f"{tiny_server.base_url}/fine-tunes",
        json={
            "training_file": train_id,
            "model": trained["fine_tuned_model"],
            "n_epochs": 1,
            "batch_size": 4,
        },
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    job_id = resp.json()["id"]
    done = wait_for(tiny_server, job_id, {"succeeded", "failed", "cancelled"})
    assert done["status"] == "succeeded", done.get("error")
    assert done["fine_tuned_model"].startswith("tiny-test:ft-local:")
    header, rows = _csv(tiny_server, done["result_files"][0])
    assert header == SEED_COLUMNS and len(rows) == 2
    _, first_rows = _csv(tiny_server, trained["result_files"][0])  # type: ignore[index]
    assert float(rows[0]["training_loss"]) < 0.6 * float(first_rows[0]["training_loss"])
