"""Models beyond the default: a second architecture (Qwen2) from a local directory,
trained in full and with LoRA through the real server and served; per-model choices
from models.json; hub models that cannot be downloaded; QLoRA where it can run."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from conftest import ServerProcess, free_port
from openai.types import Completion

from fttui.core.models import load_registry
from fttui.train.precision import choose as choose_precision
from fttui.train.tiny import build_tiny_model

from .conftest import SEPARATOR, create_job, events, toy_lines, upload, wait_for


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("qwen2") / "tiny-qwen2", arch="qwen2")


@pytest.fixture(scope="module")
def qwen_server(
    tmp_path_factory: pytest.TempPathFactory, qwen_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("real-models")
    models = [
        # No context_length: the model's own (512, from its config.json).
        {"id": "tiny-qwen2", "source": str(qwen_dir), "base_learning_rate": 0.05},
        {
            "id": "tiny-qwen2-pinned",
            "source": str(qwen_dir),
            "base_learning_rate": 0.05,
            "attn_implementation": "eager",
            "gradient_checkpointing": "on",
            "loss": "logits",
        },
        # A hub id that cannot be downloaded here.
        {"id": "hub-model", "source": "fttui-tests/no-such-model"},
    ]
    (data_dir / "models.json").write_text(json.dumps({"models": models}))
    # Offline, as this machine is (and deterministic where the hub is reachable).
    env = {"HF_HUB_OFFLINE": "1"}
    srv = ServerProcess(data_dir=data_dir, port=free_port(), env=env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _train(srv: ServerProcess, model: str, **hp: Any) -> dict[str, Any]:
    train_id = upload(srv, "train.jsonl", toy_lines(48))
    job = create_job(
        srv,
        model=model,
        training_file=train_id,
        hyperparameters={"n_epochs": 3, "batch_size": 4, **hp},
        seed=7,
    )
    return wait_for(srv, job["id"], {"succeeded", "failed", "cancelled"}, timeout=240)


def _losses(srv: ServerProcess, job: dict[str, Any]) -> list[float]:
    resp = httpx.get(f"{srv.base_url}/files/{job['result_files'][0]}/content", timeout=30)
    return [float(r["training_loss"]) for r in csv.DictReader(io.StringIO(resp.text))]


def _complete(srv: ServerProcess, model: str, prompt: str) -> str:
    body = {"model": model, "prompt": prompt, "max_tokens": 6, "temperature": 0, "stop": [" END"]}
    resp = httpx.post(f"{srv.base_url}/completions", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    return Completion.model_validate(resp.json()).choices[0].text


def _started(srv: ServerProcess, job: dict[str, Any]) -> str:
    return next(e["message"] for e in events(srv, job["id"]) if "Training started" in e["message"])


def test_qwen2_full_fine_tune_learns_and_is_served(qwen_server: ServerProcess) -> None:
    job = _train(qwen_server, "tiny-qwen2")
    assert job["status"] == "succeeded", job["error"]
    losses = _losses(qwen_server, job)
    assert sum(losses[-3:]) < 0.6 * sum(losses[:3])
    started = _started(qwen_server, job)
    assert "loss chunked" in started and "attention sdpa" in started
    assert "gradient checkpointing off" in started
    # Precision chosen for this machine without any setting: bf16 on a CPU with AMX-BF16
    # or AVX512-BF16, fp32 elsewhere; the job object and the event say which.
    auto = choose_precision("cpu")
    assert job["fttui"]["runtime"]["precision"] == auto.name
    assert job["fttui"]["runtime"]["device"] == "cpu"
    assert auto.describe() in started
    assert _complete(qwen_server, job["fine_tuned_model"], f"dog number 500 says{SEPARATOR}") == (
        " woof"
    )


# ~13 s on 2 busy cores: CI runs the full fine-tune above; `pytest -m long` runs this.
@pytest.mark.long
def test_qwen2_lora_with_pinned_choices_is_served(qwen_server: ServerProcess) -> None:
    job = _train(
        qwen_server,
        "tiny-qwen2-pinned",
        training_method="lora",
        lora_rank=8,
        learning_rate_multiplier=0.5,
    )
    assert job["status"] == "succeeded", job["error"]
    started = _started(qwen_server, job)
    # models.json's choices, not the automatic ones.
    assert "attention eager" in started and "loss logits" in started
    assert "gradient checkpointing on (models.json)" in started
    losses = _losses(qwen_server, job)
    # Rank-8 adapters on a random 2-layer model plateau early (frozen random head).
    assert sum(losses[-3:]) < 0.97 * sum(losses[:3])
    # The merged model loads like any other and answers.
    text = _complete(qwen_server, job["fine_tuned_model"], f"cat number 501 says{SEPARATOR}")
    assert isinstance(text, str)


def test_hub_model_that_cannot_be_downloaded_fails_naming_it(qwen_server: ServerProcess) -> None:
    job = _train(qwen_server, "hub-model")
    assert job["status"] == "failed"
    error = job["error"]
    assert error["code"] == "model_not_available" and error["param"] == "model"
    assert "'hub-model'" in error["message"] and "fttui-tests/no-such-model" in error["message"]
    assert "cannot be reached" in error["message"]


HAVE_QLORA = torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None


# A whole job (~9 s) to see the plan's refusal reach the job's error; CI checks the
# refusal itself in tests/train/test_plan.py.
@pytest.mark.long
def test_qlora_without_its_hardware_fails_saying_what_it_needs(qwen_server: ServerProcess) -> None:
    if HAVE_QLORA:
        pytest.skip("this machine can run QLoRA (see test_qlora_trains_and_is_served)")
    job = _train(qwen_server, "tiny-qwen2", training_method="qlora")
    assert job["status"] == "failed"
    assert job["error"]["code"] == "unsupported_configuration"
    assert "needs a CUDA GPU and bitsandbytes" in job["error"]["message"]


@pytest.mark.skipif(
    not HAVE_QLORA,
    reason="QLoRA needs a CUDA GPU and bitsandbytes (pip install 'fttui[qlora]'); "
    f"here: CUDA {'yes' if torch.cuda.is_available() else 'no'}, bitsandbytes "
    f"{'yes' if importlib.util.find_spec('bitsandbytes') else 'no'}",
)
def test_qlora_trains_and_is_served(qwen_server: ServerProcess) -> None:
    job = _train(qwen_server, "tiny-qwen2", training_method="qlora", lora_rank=8)
    assert job["status"] == "succeeded", job["error"]
    assert "4-bit NF4 base weights (QLoRA)" in _started(qwen_server, job)
    losses = _losses(qwen_server, job)
    assert sum(losses[-3:]) < 0.8 * sum(losses[:3])
    assert isinstance(
        _complete(qwen_server, job["fine_tuned_model"], f"bird number 9 says{SEPARATOR}"), str
    )


# -- models.json, without a server ------------------------------------------------------


def test_models_json_local_dir_takes_the_models_context_length(
    tmp_path: Path, qwen_dir: Path
) -> None:
    entry = {"id": "q", "source": str(qwen_dir)}
    (tmp_path / "models.json").write_text(json.dumps({"models": [entry]}))
    spec = load_registry(tmp_path)["q"]
    assert spec.kind == "local" and spec.context_length == 512
    hub = {"id": "h", "source": "Qwen/Qwen2.5-0.5B-Instruct", "revision": "main"}
    (tmp_path / "models.json").write_text(json.dumps({"models": [hub]}))
    spec = load_registry(tmp_path)["h"]
    assert spec.kind == "hub" and spec.context_length is None  # known once downloaded


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "x"}, "models[0]: 'source' must be a non-empty string"),
        ({"id": "x", "source": "a/b", "lora": 1}, "models[0] ('x'): unknown key(s) 'lora'"),
        (
            {"id": "x", "source": "a/b", "gradient_checkpointing": "sometimes"},
            "'gradient_checkpointing' must be one of auto, on, off, not 'sometimes'",
        ),
        ({"id": "x", "source": "a/b", "context_length": "long"}, "'context_length' must be"),
        ({"id": "x", "source": "a/b", "base_learning_rate": 5}, "'base_learning_rate' must be"),
    ],
)
def test_models_json_mistakes_are_named(
    tmp_path: Path, entry: dict[str, Any], message: str
) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": [entry]}))
    with pytest.raises(ValueError) as err:
        load_registry(tmp_path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_download_progress_is_reported_as_events() -> None:
    from fttui.train.models import _progress_bar

    said: list[str] = []
    files = _progress_bar("m", said.append, every=3600)(total=4, unit="it")
    for _ in range(4):
        files.update(1)
    received = _progress_bar("m", said.append, every=0)(total=0, unit="B")
    received.update(5_000_000)
    assert said == [
        "Downloading m from the Hugging Face hub: 4 of 4 files",
        "Downloading m from the Hugging Face hub: 5 MB",
    ]
