"""The API layer against the real local server: files, jobs, events, models, errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from conftest import OpenAIFixture, ServerProcess, free_port

from fttui.api import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    FileObject,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    UnsupportedParameterWarning,
)
from fttui.core.job_spec import JobSpec
from fttui.store.db import Store

from .conftest import write_jsonl


async def test_upload_list_download_delete_roundtrip(client: Client, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "train.jsonl", 200)
    progress: list[tuple[int, int | None]] = []
    before = await client.usage()
    uploaded = await client.files.upload(src, on_progress=lambda s, t: progress.append((s, t)))
    size = src.stat().st_size
    assert (uploaded.bytes, uploaded.filename, uploaded.purpose) == (
        size,
        "train.jsonl",
        "fine-tune",
    )
    assert progress[-1] == (size, size)
    assert [s for s, _ in progress] == sorted(s for s, _ in progress)

    usage = await client.usage()
    assert usage is not None and before is not None
    assert usage.used_bytes == before.used_bytes + size
    assert usage.limit_bytes == 1_000_000_000 and usage.max_file_bytes == 150_000_000

    assert (await client.files.retrieve(uploaded.id)).bytes == size
    assert await client.files.head(uploaded.id, max_bytes=40) == src.read_bytes()[:40]
    out = await client.files.download(uploaded.id, tmp_path / "dl" / "copy.jsonl")
    assert out.read_bytes() == src.read_bytes()
    assert [p.name for p in out.parent.iterdir()] == ["copy.jsonl"]  # no .part left behind

    deleted = await client.files.delete(uploaded.id)
    assert deleted.deleted and deleted.id == uploaded.id
    with pytest.raises(NotFoundError) as info:
        await client.files.retrieve(uploaded.id)
    assert uploaded.id in str(info.value) and "404" in str(info.value)


async def test_file_pagination_and_iteration(client: Client, tmp_path: Path) -> None:
    ids = [
        (await client.files.upload(write_jsonl(tmp_path / f"p{i}.jsonl", 3, tag=f"p{i}"))).id
        for i in range(3)
    ]
    first = await client.files.list(purpose="fine-tune", limit=2)
    assert len(first.data) == 2 and first.has_more
    rest = await client.files.list(purpose="fine-tune", limit=2, after=first.last_id)
    assert not {f.id for f in first.data} & {f.id for f in rest.data}
    seen = [f.id async for f in client.files.iter(purpose="fine-tune", page_size=2)]
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    assert [f.id async for f in client.files.iter(purpose="batch")] == []


async def test_bad_training_file_is_a_clear_400(client: Client, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": " b"}\n{not json\n', encoding="utf-8")
    with pytest.raises(BadRequestError) as info:
        await client.files.upload(bad)
    assert "line 2" in str(info.value)
    assert info.value.status_code == 400 and info.value.code


async def test_upload_of_missing_path_names_it(client: Client, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="nope.jsonl"):
        await client.files.upload(tmp_path / "nope.jsonl")


async def test_jobs_create_list_events_cancel_follow(client: Client, tmp_path: Path) -> None:
    training = await client.files.upload(write_jsonl(tmp_path / "t.jsonl", 20))
    jobs = [
        await client.jobs.create(
            training_file=training.id,
            model="davinci",
            suffix=f"s{i}",
            hyperparameters={"n_epochs": 2},
        )
        for i in range(3)
    ]
    assert all(j.training_file == training.id and j.hyperparameters.n_epochs == 2 for j in jobs)
    listed = [j.id async for j in client.jobs.iter(page_size=2)]
    assert listed[:3] == [j.id for j in reversed(jobs)]  # newest first, across pages

    job = jobs[0]
    page = await client.jobs.events(job.id, limit=2)
    assert len(page.data) == 2 and page.has_more
    older = await client.jobs.events(job.id, after=page.last_id, limit=100)
    assert page.data[0].created_at >= older.data[-1].created_at

    cancelled = await client.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.is_final
    with pytest.raises(ConflictError) as info:
        await client.jobs.cancel(job.id)
    assert "cancelled" in str(info.value)

    followed = [e async for e in client.jobs.follow(job.id, poll_interval=0.05)]
    newest_first = (await client.jobs.events(job.id, limit=100)).data
    assert [e.id for e in followed] == [e.id for e in reversed(newest_first)]
    assert "cancel" in followed[-1].message.lower()
    checkpoints = await client.jobs.checkpoints(job.id)
    assert checkpoints.data == [] and not checkpoints.has_more


async def test_follow_since_yields_only_newer_events(client: Client, tmp_path: Path) -> None:
    training = await client.files.upload(write_jsonl(tmp_path / "t.jsonl", 20))
    job = await client.jobs.create(training_file=training.id, model="davinci")
    latest = (await client.jobs.events(job.id, limit=1)).data[0]
    await client.jobs.cancel(job.id)
    followed = [e async for e in client.jobs.follow(job.id, poll_interval=0.05, since=latest.id)]
    assert len(followed) == 1 and "cancel" in followed[0].message.lower()


async def test_seed_only_options_reach_local_but_not_other_backends(
    queued_server: ServerProcess, client: Client, tmp_path: Path, openai_fixture: OpenAIFixture
) -> None:
    """Whether the legacy guide's classification options are sent is decided by what
    the backend is (it answers fttui's health route), never by its URL: a profile that
    calls fttui's server "compatible" (OPENAI_BASE_URL pointing at it) still sends
    them; OpenAI does not get them, and the client says so."""
    training = await client.files.upload(write_jsonl(tmp_path / "t.jsonl", 20))
    validation = await client.files.upload(write_jsonl(tmp_path / "v.jsonl", 5, tag="v"))
    extra = {"compute_classification_metrics": True, "classification_n_classes": 3}
    store = Store(queued_server.data_dir)
    async with Client(queued_server.base_url, kind="compatible") as compatible:
        try:
            for profile in (client, compatible):
                local = await profile.jobs.create(
                    training_file=training.id,
                    validation_file=validation.id,
                    model="davinci",
                    extra=extra,
                )
                assert profile.jobs.last_notices == []
                stored = store.get_job(local.id)
                assert stored is not None
                sent = str(stored["hyperparameters"]) + str(stored["extra"])
                assert "classification_n_classes" in sent, profile
        finally:
            store.close()

    async with Client(openai_fixture.base_url, api_key="sk-fixture", kind="openai") as other:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await other.jobs.create(
                training_file="file-abc", model="gpt-4o-mini-2024-07-18", extra=extra
            )
        assert any(issubclass(w.category, UnsupportedParameterWarning) for w in caught)
        assert len(other.jobs.last_notices) == 2
    sent = [body for kind, body in openai_fixture.account.bodies if kind == "create"][-1]
    assert "classification" not in str(sent)


async def test_models_and_model_errors(client: Client) -> None:
    models = await client.models.list()
    assert "davinci" in {m.id for m in models}
    assert (await client.models.retrieve("davinci")).id == "davinci"
    with pytest.raises(NotFoundError):
        await client.models.retrieve("no-such-model")
    with pytest.raises(PermissionDeniedError) as info:
        await client.models.delete("davinci")
    assert "base model" in str(info.value)


async def test_unknown_job_and_bad_hyperparameters_are_clear_errors(
    client: Client, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.jobs.retrieve("ftjob-nope")
    assert "ftjob-nope" in str(info.value)
    with pytest.raises(NotFoundError):
        _ = [e async for e in client.jobs.follow("ftjob-nope", poll_interval=0.05)]
    training = await client.files.upload(write_jsonl(tmp_path / "t.jsonl", 5))
    with pytest.raises(APIStatusError) as bad:
        await client.jobs.create(
            training_file=training.id, model="davinci", hyperparameters={"n_epochs": 0}
        )
    assert 400 <= bad.value.status_code < 500 and "n_epochs" in str(bad.value)


async def test_api_key_is_sent_and_never_shown(tmp_path: Path) -> None:
    data = tmp_path / "keyed"
    data.mkdir()
    secret = "sk-test-0123456789abcdef"
    srv = ServerProcess(data_dir=data, port=free_port(), env={"FTTUI_API_KEY": secret})
    srv.start()
    try:
        async with Client(srv.base_url, api_key="sk-wrong-key-000") as wrong:
            with pytest.raises(AuthenticationError) as info:
                await wrong.files.list()
            assert info.value.status_code == 401
            assert "sk-wrong" not in str(info.value) and "sk-wrong" not in repr(wrong)
        async with Client(srv.base_url, api_key=secret) as right:
            page = await right.files.list()
            assert page.data == [] and isinstance(page.data, list)
            assert secret not in repr(right)
    finally:
        srv.stop()


def test_types_tolerate_other_providers_fields() -> None:
    f = FileObject.model_validate({"id": "file-1", "bytes": 3, "provider_extra": {"x": 1}})
    assert f.id == "file-1" and f.model_extra == {"provider_extra": {"x": 1}}


async def test_oversize_file_and_full_quota_are_clear_413s(tmp_path: Path) -> None:
    data = tmp_path / "small"
    data.mkdir()
    limits = ("--max-file-bytes", "200000", "--quota-bytes", "300000")
    srv = ServerProcess(data_dir=data, port=free_port(), extra_args=limits)
    srv.start()
    try:
        async with Client(srv.base_url, max_retries=0) as client:
            big = write_jsonl(tmp_path / "big.jsonl", 8000)  # about 520 kB
            with pytest.raises(PayloadTooLargeError) as info:
                await client.files.upload(big)
            assert "200000" in str(info.value) and info.value.status_code == 413
            fits = write_jsonl(tmp_path / "fits.jsonl", 2000)  # about 130 kB each
            await client.files.upload(fits)
            await client.files.upload(fits)
            with pytest.raises(PayloadTooLargeError) as full:
                await client.files.upload(fits)
            assert "quota" in str(full.value).lower()
            usage = await client.usage()
            assert usage is not None and usage.used_bytes == 2 * fits.stat().st_size
    finally:
        srv.stop()


async def test_submit_sends_the_spec_and_the_server_stores_it(
    queued_server: ServerProcess, client: Client, tmp_path: Path
) -> None:
    """`jobs.submit(spec)`: what the form and `fttui jobs create` send. The local server
    keeps the spec as asked (the legacy guide's options included: it takes them)."""
    training = await client.files.upload(write_jsonl(tmp_path / "t.jsonl", 20))
    validation = await client.files.upload(write_jsonl(tmp_path / "v.jsonl", 5, tag="v"))
    spec = JobSpec.from_request(
        {
            "model": "davinci",
            "training_file": training.id,
            "validation_file": validation.id,
            "suffix": "spec",
            "hyperparameters": {"n_epochs": 2, "weight_decay": 0.1},
            "compute_classification_metrics": True,
            "classification_n_classes": 3,
        }
    )
    job = await client.jobs.submit(spec)
    assert client.jobs.last_notices == []
    assert job.given_suffix == "spec" and job.local.hyperparameters["weight_decay"] == 0.1
    store = Store(queued_server.data_dir)
    try:
        stored = store.get_job(job.id)
        assert stored is not None
        # As asked: no seed was given, so the spec keeps none (a clone asks for none)
        # while the job trains with the random seed the server drew.
        assert JobSpec.from_job(stored) == spec
        assert isinstance(stored["seed"], int) and job.local.seed_asked is False
    finally:
        store.close()
