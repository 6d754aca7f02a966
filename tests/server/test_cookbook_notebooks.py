"""OpenAI's own cookbook fine-tuning notebooks against the local server, `base_url` changed.

Each test makes one notebook's API calls in its order, with its arguments, reading the
fields it reads (written here from what the notebook does; its code is not copied), on
tiny data of the same shape:

- "How_to_finetune_chat_models" (openai-cookbook examples/, commit a9b6148): chat files,
  a job on `gpt-4o-mini-2024-07-18` with a suffix, status and events, then the fine-tune
  through chat completions (the client built with an organization and a project);
- "Fine-tuned_classification" (commit a9585a4): a prompt/completion classifier on
  `babbage-002`, its results file read with pandas by OpenAI's column names
  (`train_accuracy`), completions with `max_tokens=1` and `logprobs=2`;
- "Fine_tuning_direct_preference_optimization_guide" (commit d2bb606): preference pairs
  generated with `AsyncOpenAI().responses.create` on `gpt-4.1-mini-2025-04-14`, files
  uploaded from memory, a DPO job with OpenAI's `method` object, the tuned model asked
  through the Responses API again (its `/v1/evals` calls are not part of this).

OpenAI's model names resolve to the model the server's models.json maps them to (here the
tests' tiny model); with no mapping they are the default model (tested below too).
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pandas as pd
import pytest

from tests.conftest import ServerProcess, free_port

MODEL_ID = "tiny-notebook"
TALKATIVE_ID = "tiny-notebook-talkative"
SYSTEM = "You are a helpful recipe assistant. You are to extract the generic ingredients."


def _never_ends_a_reply_first(model_dir: Path, target: Path) -> Path:
    """A copy of the tiny model that (almost) never samples a special token.

    The DPO notebook samples its preference pairs from OpenAI's model, which always says
    something; a random tiny model ends a reply at its first token about once in a
    hundred samples, and an empty `non_preferred_output` is refused (rightly) by the
    data check. Here one hidden dimension is a constant no layer writes to (0.1 in every
    input embedding, no attention or MLP output on it), and the untied output layer reads
    only the special tokens' logits from it, with weight -10: they sit some 40 below the
    others, which keep the tiny model's own logits."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(model_dir, target)
    config = json.loads((target / "config.json").read_text())
    weights = load_file(str(target / "model.safetensors"))
    embed = weights["model.embed_tokens.weight"]
    head = embed.clone()
    dim = embed.shape[1] - 1
    embed[:, dim] = 0.1
    for name, tensor in weights.items():
        if name.endswith(("self_attn.o_proj.weight", "mlp.down_proj.weight")):
            tensor[dim, :] = 0
    head[:, dim] = 0
    head[:3] = 0  # <|endoftext|>, <|im_start|>, <|im_end|>
    head[:3, dim] = -10
    weights["lm_head.weight"] = head
    save_file(weights, str(target / "model.safetensors"), metadata={"format": "pt"})
    config["tie_word_embeddings"] = False
    (target / "config.json").write_text(json.dumps(config))
    return target


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server whose models.json maps OpenAI's notebook models to a tiny model
    (a 2,048-token context: the chat notebook asks for up to 500 new tokens)."""
    from fttui.train.tiny import build_model

    model_dir = build_model(
        tmp_path_factory.mktemp("nb-model") / "m", vocab_size=400, seed=0, arch="qwen2", size="tiny"
    )
    config = json.loads((model_dir / "config.json").read_text())
    config["max_position_embeddings"] = 2048  # rotary positions: any length computes
    (model_dir / "config.json").write_text(json.dumps(config))
    talkative = _never_ends_a_reply_first(model_dir, tmp_path_factory.mktemp("nb-talk") / "m")
    data = tmp_path_factory.mktemp("notebooks")
    (data / "models.json").write_text(
        json.dumps(
            {
                "models": [
                    {"id": MODEL_ID, "source": str(model_dir), "base_learning_rate": 0.05},
                    {"id": TALKATIVE_ID, "source": str(talkative), "base_learning_rate": 0.05},
                ],
                "aliases": {
                    "gpt-4o-mini": MODEL_ID,
                    "babbage-002": MODEL_ID,
                    "gpt-4.1-mini": TALKATIVE_ID,
                },
            }
        )
    )
    srv = ServerProcess(data_dir=data, port=free_port())
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _wait(client: openai.OpenAI, job_id: str, timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(1)
    raise AssertionError(f"{job_id} did not finish in {timeout} s")


def test_openai_model_names_are_mapped_and_listed(server: ServerProcess) -> None:
    listed = {m["id"]: m for m in httpx.get(f"{server.base_url}/models", timeout=30).json()["data"]}
    assert listed["gpt-4o-mini"]["alias_for"] == MODEL_ID  # the user's mapping
    assert listed["gpt-4.1-nano"]["alias_for"] == "SmolLM2-135M-Instruct"  # the shipped default
    from fttui.core.models import DEFAULT_MODEL, load_registry, resolve_model

    registry = load_registry(server.data_dir)
    for name in ("gpt-4o-mini-2024-07-18", "babbage-002"):
        assert resolve_model(registry, name).id == MODEL_ID  # type: ignore[union-attr]
    assert resolve_model(registry, "gpt-4.1-mini-2025-04-14").id == TALKATIVE_ID  # type: ignore[union-attr]
    assert resolve_model(registry, "gpt-4.1-nano-2025-04-14").id == DEFAULT_MODEL  # type: ignore[union-attr]
    assert resolve_model(registry, "gpt-4o-mini-turbo") is None  # not a snapshot: unknown


def test_how_to_finetune_chat_models(server: ServerProcess, tmp_path: Path) -> None:
    client = openai.OpenAI(
        base_url=server.base_url, api_key="x", organization="<org id>", project="<project id>"
    )

    def conversation(i: int) -> dict[str, Any]:
        title, ingredients = f"Dish {i}", [f"{i} c. flour", "1 tsp. salt", "2 eggs"]
        return {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {
                    "role": "user",
                    "content": f"Title: {title}\n\nIngredients: {json.dumps(ingredients)}\n\n"
                    "Generic ingredients: ",
                },
                {"role": "assistant", "content": json.dumps(["flour", "salt", "eggs"])},
            ]
        }

    names = {"train": tmp_path / "tmp_recipe_finetune_training.jsonl"}
    names["valid"] = tmp_path / "tmp_recipe_finetune_validation.jsonl"
    for key, rows in (("train", range(0, 12)), ("valid", range(100, 106))):
        names[key].write_text("".join(json.dumps(conversation(i)) + "\n" for i in rows))
    ids = {}
    for key, path in names.items():
        with open(path, "rb") as fd:
            ids[key] = client.files.create(file=fd, purpose="fine-tune").id
    response = client.fine_tuning.jobs.create(
        training_file=ids["train"],
        validation_file=ids["valid"],
        model="gpt-4o-mini-2024-07-18",
        suffix="recipe-ner",
    )
    job_id = response.id
    assert response.status in ("validating_files", "queued", "running")
    response = client.fine_tuning.jobs.retrieve(job_id)
    assert response.id == job_id and response.trained_tokens is None or response.trained_tokens
    _wait(client, job_id)
    events = client.fine_tuning.jobs.list_events(job_id).data
    events.reverse()
    assert all(isinstance(event.message, str) for event in events)
    # (not the notebook's call) the job says what OpenAI's model name became here
    every = client.fine_tuning.jobs.list_events(job_id, limit=100).data
    assert any("gpt-4o-mini-2024-07-18 is tiny-notebook" in e.message for e in every)
    response = client.fine_tuning.jobs.retrieve(job_id)
    assert response.status == "succeeded", response.error
    fine_tuned_model_id = response.fine_tuned_model
    assert fine_tuned_model_id is not None and "recipe-ner" in fine_tuned_model_id
    test_messages = [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": 'Title: Beef\n\nIngredients: ["4 lb. beef"]\n\nGeneric ingredients: ',
        },
    ]
    answer = client.chat.completions.create(
        model=fine_tuned_model_id,
        messages=test_messages,
        temperature=0,
        max_tokens=500,  # type: ignore[arg-type]
    )
    assert isinstance(answer.choices[0].message.content, str)


def test_fine_tuned_classification(server: ServerProcess, tmp_path: Path) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="x")
    sports = ("baseball", "hockey")
    rows = [
        {
            "prompt": f"Subject: game {i} of the {sports[i % 2]} season\n\n###\n\n",
            "completion": " " + sports[i % 2],
        }
        for i in range(40)
    ]
    train, valid = (
        tmp_path / "sport2_prepared_train.jsonl",
        tmp_path / "sport2_prepared_valid.jsonl",
    )
    train.write_text("".join(json.dumps(r) + "\n" for r in rows[:30]))
    valid.write_text("".join(json.dumps(r) + "\n" for r in rows[30:]))
    train_file = client.files.create(file=open(train, "rb"), purpose="fine-tune")  # noqa: SIM115
    valid_file = client.files.create(file=open(valid, "rb"), purpose="fine-tune")  # noqa: SIM115
    fine_tuning_job = client.fine_tuning.jobs.create(
        training_file=train_file.id, validation_file=valid_file.id, model="babbage-002"
    )
    _wait(client, fine_tuning_job.id)
    fine_tune_results = client.fine_tuning.jobs.retrieve(fine_tuning_job.id)
    assert fine_tune_results.finished_at is not None
    result_files = client.fine_tuning.jobs.retrieve(fine_tuning_job.id).result_files
    result_file = client.files.retrieve(result_files[0])
    content = client.files.content(result_file.id)
    (tmp_path / "result.csv").write_bytes(content.text.encode("utf-8"))
    results = pd.read_csv(tmp_path / "result.csv")
    last = results[results["train_accuracy"].notnull()].tail(1)  # OpenAI's column name
    assert len(last) == 1 and 0.0 <= float(last["train_accuracy"].iloc[0]) <= 1.0
    assert list(results.columns[:5]) == [
        "step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy",
    ]  # fmt: skip
    ft_model = fine_tune_results.fine_tuned_model
    assert ft_model is not None
    test = pd.read_json(valid, lines=True)
    res = client.completions.create(
        model=ft_model, prompt=test["prompt"][0], max_tokens=1, temperature=0
    )
    assert isinstance(res.choices[0].text, str)
    res = client.completions.create(
        model=ft_model, prompt=test["prompt"][0], max_tokens=1, temperature=0, logprobs=2
    )
    top = res.choices[0].logprobs.top_logprobs  # type: ignore[union-attr]
    assert top is not None and len(top) == 1 and len(top[0]) == 2


def test_dpo_guide(server: ServerProcess) -> None:
    system_prompt = "You are a customer-support assistant."
    seed_pool = [f"Where is my order number {i}?" for i in range(12)]

    async def generate() -> list[dict[str, Any]]:
        async_client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x")
        sem = asyncio.Semaphore(8)

        async def pair(prompt: str) -> dict[str, Any]:
            async with sem:
                friendly = async_client.responses.create(
                    model="gpt-4.1-mini-2025-04-14",
                    input=[
                        {"role": "system", "content": "You are an outrageously friendly agent."},
                        {"role": "user", "content": prompt},
                    ],
                    temperature=0.7,
                    max_output_tokens=80,
                )
                blunt = async_client.responses.create(
                    model="gpt-4.1-mini-2025-04-14",
                    input=[
                        {"role": "system", "content": "You are a terse, factual agent."},
                        {"role": "user", "content": prompt},
                    ],
                    temperature=0.3,
                    max_output_tokens=80,
                )
                a, b = await asyncio.gather(friendly, blunt)
                return {
                    "input": {
                        "messages": [
                            {"role": "system", "content": system_prompt},
                            {"role": "user", "content": prompt},
                        ]
                    },
                    "preferred_output": [{"role": "assistant", "content": a.output_text}],
                    "non_preferred_output": [{"role": "assistant", "content": b.output_text}],
                }

        try:
            return await asyncio.gather(*(pair(p) for p in seed_pool))
        finally:
            await async_client.close()

    pairs = asyncio.run(generate())
    train_pairs, val_pairs = pairs[:8], pairs[8:]
    sync_client = openai.OpenAI(base_url=server.base_url, api_key="x")
    train_buf = io.BytesIO("\n".join(json.dumps(p) for p in train_pairs).encode())
    train_buf.name = "train.jsonl"
    train_file_id = sync_client.files.create(file=train_buf, purpose="fine-tune").id
    val_buf = io.BytesIO("\n".join(json.dumps(p) for p in val_pairs).encode())
    val_buf.name = "val.jsonl"
    val_file_id = sync_client.files.create(file=val_buf, purpose="fine-tune").id
    ft = sync_client.fine_tuning.jobs.create(
        model="gpt-4.1-mini-2025-04-14",
        training_file=train_file_id,
        validation_file=val_file_id,
        method={
            "type": "dpo",
            "dpo": {"hyperparameters": {"n_epochs": 2, "beta": 0.1, "batch_size": 8}},
        },
    )
    job = _wait(sync_client, ft.id)
    assert job.status == "succeeded", job.error
    resp = sync_client.responses.create(
        model=job.fine_tuned_model,
        input=[
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": seed_pool[0]},
        ],
        temperature=0.0,
        max_output_tokens=80,
    )
    assert isinstance(resp.output_text, str)
