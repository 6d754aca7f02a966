"""The official `openai` SDK (3.x) against a real `fttui serve`: every response parses into
the SDK's own types, with required fields present and the values a user expects."""

from __future__ import annotations

import time

import openai
import pytest
from conftest import ServerProcess
from openai.types import FileDeleted, FileObject, Model
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint

from fttui.store.db import Store

from .helpers import CHAT, PREFERENCE, PROMPT_COMPLETION, validate_strictly


@pytest.fixture(scope="module")
def sdk(queued_server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=queued_server.base_url, api_key="unused-on-loopback", max_retries=0
    )


def wait_status(sdk: openai.OpenAI, job_id: str, status: str, timeout: float = 60) -> FineTuningJob:
    deadline = time.monotonic() + timeout
    while True:
        job = sdk.fine_tuning.jobs.retrieve(job_id)
        if job.status == status or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_files_upload_list_retrieve_download_delete(sdk: openai.OpenAI, tmp_path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(PROMPT_COMPLETION)
    created = sdk.files.create(file=path.open("rb"), purpose="fine-tune")
    raw = created.model_dump()
    obj = validate_strictly(FileObject, raw)
    assert isinstance(obj, FileObject)
    assert obj.id.startswith("file-") and obj.bytes == len(PROMPT_COMPLETION)
    assert (
        obj.filename == "train.jsonl" and obj.purpose == "fine-tune" and obj.status == "processed"
    )
    assert isinstance(obj.created_at, int) and obj.created_at > 1_600_000_000
    assert raw["fttui"] == {"examples": 40, "lines": 40, "format": "prompt_completion"}

    chat = sdk.files.create(file=("chat.jsonl", CHAT), purpose="fine-tune")
    assert chat.model_dump()["fttui"]["format"] == "chat"

    listed = sdk.files.list()
    ids = [f.id for f in listed.data]
    assert ids[:2] == [chat.id, obj.id]  # newest first, as OpenAI lists
    for f in listed.data:
        validate_strictly(FileObject, f.model_dump())
    only_one = sdk.files.list(limit=1)
    assert [f.id for f in only_one.data] == [chat.id] and only_one.has_more
    assert [f.id for f in sdk.files.list(limit=1, after=chat.id).data] == [obj.id]
    assert sdk.files.list(purpose="batch").data == []

    assert sdk.files.retrieve(obj.id).model_dump() == raw
    assert sdk.files.content(obj.id).read() == PROMPT_COMPLETION

    deleted = sdk.files.delete(chat.id)
    validate_strictly(FileDeleted, deleted.model_dump())
    assert deleted.deleted is True and deleted.id == chat.id
    with pytest.raises(openai.NotFoundError) as err:
        sdk.files.retrieve(chat.id)
    assert chat.id in err.value.message
    assert chat.id not in [f.id for f in sdk.files.list().data]


def test_job_create_list_retrieve_events_cancel(
    sdk: openai.OpenAI, queued_server: ServerProcess
) -> None:
    train = sdk.files.create(file=("train.jsonl", PROMPT_COMPLETION), purpose="fine-tune")
    # Validation examples must not repeat training ones (the data contract refuses overlap).
    held_out = b"".join(
        b'{"prompt": "Other item %d ->", "completion": " label%d END"}\n' % (i, i % 2)
        for i in range(4)
    )
    valid = sdk.files.create(file=("valid.jsonl", held_out), purpose="fine-tune")
    job = sdk.fine_tuning.jobs.create(
        model="ada",
        training_file=train.id,
        validation_file=valid.id,
        suffix="custom model name",
        seed=7,
        hyperparameters={"n_epochs": 2},
        metadata={"project": "seed"},
        extra_body={
            "compute_classification_metrics": True,
            "classification_n_classes": 2,
            "classification_positive_class": " label1",
        },
    )
    raw = job.model_dump()
    parsed = validate_strictly(FineTuningJob, raw)
    assert isinstance(parsed, FineTuningJob)
    assert parsed.object == "fine_tuning.job" and parsed.id.startswith("ftjob-")
    assert parsed.model == "ada" and parsed.organization_id == "org-local"
    assert parsed.training_file == train.id and parsed.validation_file == valid.id
    assert parsed.status in ("validating_files", "queued") and parsed.seed == 7
    # resolved at once from the file's 40 examples: batch 1 (0.2% rounds to 0 -> 1), lr 0.05
    assert parsed.hyperparameters.n_epochs == 2
    assert parsed.hyperparameters.batch_size == 1
    assert parsed.hyperparameters.learning_rate_multiplier == 0.05
    assert parsed.metadata == {"project": "seed"} and parsed.result_files == []
    assert raw["fttui"]["hyperparameters"] == {
        "compute_classification_metrics": True,
        "classification_n_classes": 2,
        "classification_positive_class": " label1",
    }

    queued = wait_status(sdk, job.id, "queued")
    assert queued.status == "queued"  # --concurrency 0: the scheduler validates but never starts

    second = sdk.fine_tuning.jobs.create(model="SmolLM2-135M-Instruct", training_file=train.id)
    page = sdk.fine_tuning.jobs.list(limit=1)
    assert [j.id for j in page.data] == [second.id] and page.has_more
    assert [j.id for j in sdk.fine_tuning.jobs.list(limit=1, after=second.id).data] == [job.id]
    for j in sdk.fine_tuning.jobs.list().data:
        validate_strictly(FineTuningJob, j.model_dump())

    events = sdk.fine_tuning.jobs.list_events(job.id, limit=50)
    messages = [e.message for e in events.data]
    for e in events.data:
        validate_strictly(FineTuningJobEvent, e.model_dump())
    assert messages[-1] == f"Created fine-tuning job: {job.id}"  # newest first
    assert "Files validated; job queued" in messages
    first_two = sdk.fine_tuning.jobs.list_events(job.id, limit=2)
    assert first_two.has_more and [e.id for e in first_two.data] == [e.id for e in events.data[:2]]

    checkpoints = sdk.fine_tuning.jobs.checkpoints.list(job.id)
    assert checkpoints.data == [] and checkpoints.has_more is False

    cancelled = sdk.fine_tuning.jobs.cancel(job.id)
    validate_strictly(FineTuningJob, cancelled.model_dump())
    assert cancelled.status == "cancelled" and isinstance(cancelled.finished_at, int)
    assert sdk.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with pytest.raises(openai.ConflictError) as err:
        sdk.fine_tuning.jobs.cancel(job.id)
    assert "already cancelled" in err.value.message
    assert (
        sdk.fine_tuning.jobs.list_events(job.id, limit=1)
        .data[0]
        .message.startswith("Fine-tuning job cancelled")
    )
    # a file in use by a live job cannot be deleted; once no live job uses it, it can
    with pytest.raises(openai.ConflictError):
        sdk.files.delete(train.id)
    sdk.fine_tuning.jobs.cancel(second.id)
    assert sdk.files.delete(train.id).deleted


def test_dpo_job_create_list_retrieve_cancel(sdk: openai.OpenAI) -> None:
    """A DPO job through the SDK: `method` with its hyperparameters, `beta: auto`
    resolved to 0.1, in the SDK's own types (Method, DpoMethod, DpoHyperparameters)."""
    pref = sdk.files.create(file=("pref.jsonl", PREFERENCE), purpose="fine-tune")
    assert pref.model_dump()["fttui"]["format"] == "preference"
    job = sdk.fine_tuning.jobs.create(
        model="ada",
        training_file=pref.id,
        method={
            "type": "dpo",
            "dpo": {"hyperparameters": {"beta": "auto", "n_epochs": 2, "batch_size": 4}},
        },
    )
    parsed = validate_strictly(FineTuningJob, job.model_dump())
    assert isinstance(parsed, FineTuningJob) and parsed.method is not None
    assert parsed.method.type == "dpo" and parsed.method.supervised is None
    assert parsed.method.dpo is not None and parsed.method.dpo.hyperparameters is not None
    dpo = parsed.method.dpo.hyperparameters
    # auto resolved at once: beta 0.1, learning rate multiplier 0.05 for batch 4
    assert (dpo.beta, dpo.n_epochs, dpo.batch_size) == (0.1, 2, 4)
    assert dpo.learning_rate_multiplier == 0.05
    assert (parsed.hyperparameters.n_epochs, parsed.hyperparameters.batch_size) == (2, 4)

    explicit = sdk.fine_tuning.jobs.create(
        model="ada",
        training_file=pref.id,
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.25}}},
    )
    listed = {j.id: j for j in sdk.fine_tuning.jobs.list(limit=5).data}
    for j in listed.values():
        validate_strictly(FineTuningJob, j.model_dump())
    assert listed[explicit.id].method is not None and listed[explicit.id].method.dpo is not None
    assert listed[explicit.id].method.dpo.hyperparameters.beta == 0.25  # type: ignore[union-attr]
    got = sdk.fine_tuning.jobs.retrieve(job.id)
    assert got.method is not None and got.method.type == "dpo"
    assert got.method.dpo is not None and got.method.dpo.hyperparameters is not None
    assert got.method.dpo.hyperparameters.beta == 0.1
    assert any(
        e.message.startswith("Method: dpo") and "beta=0.1" in e.message
        for e in sdk.fine_tuning.jobs.list_events(job.id).data
    )
    for j in (job, explicit):
        cancelled = sdk.fine_tuning.jobs.cancel(j.id)
        validate_strictly(FineTuningJob, cancelled.model_dump())
        assert cancelled.status == "cancelled" and cancelled.method is not None
        assert cancelled.method.type == "dpo"

    with pytest.raises(openai.BadRequestError) as err:
        sdk.fine_tuning.jobs.create(
            model="ada",
            training_file=pref.id,
            method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 5}}},
        )
    assert err.value.param == "method.dpo.hyperparameters.beta"  # type: ignore[attr-defined]
    assert "beta must be in (0, 2]" in err.value.message


def test_checkpoints_parse(sdk: openai.OpenAI, queued_server: ServerProcess) -> None:
    train = sdk.files.create(file=("t.jsonl", PROMPT_COMPLETION), purpose="fine-tune")
    job = sdk.fine_tuning.jobs.create(model="ada", training_file=train.id)
    store = Store(queued_server.data_dir)  # what the trainer writes, through the same store
    try:
        store.add_checkpoint(
            job.id,
            step_number=10,
            fine_tuned_model_checkpoint="SmolLM2-135M-Instruct:ft-local::ckpt-step-10",
            metrics={"step": 10, "train_loss": 1.5, "train_mean_token_accuracy": 0.4},
            path="jobs/x/ckpt-10",
        )
    finally:
        store.close()
    page = sdk.fine_tuning.jobs.checkpoints.list(job.id)
    assert len(page.data) == 1
    ckpt = validate_strictly(FineTuningJobCheckpoint, page.data[0].model_dump())
    assert isinstance(ckpt, FineTuningJobCheckpoint)
    assert ckpt.step_number == 10 and ckpt.fine_tuning_job_id == job.id
    assert ckpt.metrics.train_loss == 1.5
    sdk.fine_tuning.jobs.cancel(job.id)


def test_models_list_retrieve_delete(sdk: openai.OpenAI, queued_server: ServerProcess) -> None:
    models = {m.id: m for m in sdk.models.list().data}
    for m in models.values():
        validate_strictly(Model, m.model_dump())
    assert "SmolLM2-135M-Instruct" in models
    for alias in ("ada", "babbage", "curie", "davinci"):
        assert models[alias].model_dump()["alias_for"] == "SmolLM2-135M-Instruct"
    assert sdk.models.retrieve("ada").id == "ada"

    name = "SmolLM2-135M-Instruct:ft-local:custom-model-name-2026-01-02-03-04-05"
    weights = queued_server.data_dir / "models" / "ft-test"
    weights.mkdir(parents=True)
    (weights / "model.safetensors").write_bytes(b"\0" * 16)
    store = Store(queued_server.data_dir)
    try:
        store.add_model(name, base_model="SmolLM2-135M-Instruct", path="models/ft-test")
    finally:
        store.close()
    listed = {m.id: m for m in sdk.models.list().data}
    assert listed[name].owned_by == "org-local"
    validate_strictly(Model, sdk.models.retrieve(name).model_dump())

    # continue from the fine-tuned model: it trains from the same base
    train = sdk.files.create(file=("more.jsonl", PROMPT_COMPLETION), purpose="fine-tune")
    more = sdk.fine_tuning.jobs.create(model=name, training_file=train.id)
    assert more.model == name
    assert more.model_dump()["fttui"]["base_model"] == "SmolLM2-135M-Instruct"
    sdk.fine_tuning.jobs.cancel(more.id)

    with pytest.raises(openai.PermissionDeniedError) as err:
        sdk.models.delete("ada")
    assert "base model" in err.value.message
    deleted = sdk.models.delete(name)
    assert deleted.deleted is True and deleted.id == name
    assert not weights.exists()
    assert name not in {m.id for m in sdk.models.list().data}
    with pytest.raises(openai.NotFoundError):
        sdk.models.delete(name)
