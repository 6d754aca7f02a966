"""`fttui migrate`: one fttui server stands in for OpenAI, another is the new home.

The real `fttui` process moves a supervised job and a classification job (each with a
validation file) from the source to the target: the data uploaded once, the jobs
created with the source's resolved hyperparameters, suffix, seed and classification
options and the source job's id in their metadata; the target jobs train to the end;
a second run finds them and creates nothing. Against the test double made of OpenAI's
published examples, `--dry-run --json` plans every job of the account (all three
methods) with bodies that validate against OpenAI's create schema, and names every
file it cannot match.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import fttui
from tests.conftest import ServerProcess, free_port, register_tiny_model
from tests.train.conftest import toy_lines, upload, wait_for


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where migrate keeps its record of uploads (per test: a fresh machine)."""
    path = tmp_path / "config"
    monkeypatch.setenv("FTTUI_CONFIG_DIR", str(path))
    monkeypatch.setenv("FTTUI_DATA_DIR", str(tmp_path / "client-data"))  # fttui eval's results
    return path


def _server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path, name: str) -> ServerProcess:
    data = tmp_path_factory.mktemp(name)
    register_tiny_model(data, model_dir)
    srv = ServerProcess(data_dir=data, port=free_port())
    srv.start()
    return srv


@pytest.fixture(scope="module")
def source(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[ServerProcess]:
    srv = _server(tmp_path_factory, tiny_model_dir, "migrate-source")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def target(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[ServerProcess]:
    srv = _server(tmp_path_factory, tiny_model_dir, "migrate-target")
    try:
        yield srv
    finally:
        srv.stop()


def _jobs(srv: ServerProcess) -> list[dict[str, Any]]:
    return list(httpx.get(f"{srv.base_url}/fine_tuning/jobs?limit=100", timeout=30).json()["data"])


def _data_files(srv: ServerProcess) -> list[dict[str, Any]]:
    files = httpx.get(f"{srv.base_url}/files", timeout=30).json()["data"]
    return [f for f in files if f["purpose"] == "fine-tune"]


def _content(srv: ServerProcess, file_id: str) -> bytes:
    return httpx.get(f"{srv.base_url}/files/{file_id}/content", timeout=30).content


@pytest.mark.slow
@pytest.mark.timeout(900)  # four tiny jobs train, one after another, on a 2-core box
def test_migrate_moves_both_jobs_once_and_they_train(
    source: ServerProcess, target: ServerProcess, config_dir: Path, tmp_path: Path
) -> None:
    _move_both_jobs(source, target, tmp_path, "tiny-test")


@pytest.mark.long
@pytest.mark.timeout(3600)
def test_migrate_on_the_default_model(
    tmp_path_factory: pytest.TempPathFactory, config_dir: Path, tmp_path: Path
) -> None:
    """The same with SmolLM2-135M-Instruct on both servers (by hand: pytest -m long)."""
    from fttui.core.models import DEFAULT_MODEL

    servers = []
    try:
        for name in ("default-source", "default-target"):
            srv = ServerProcess(data_dir=tmp_path_factory.mktemp(name), port=free_port())
            srv.start()
            servers.append(srv)
        _move_both_jobs(servers[0], servers[1], tmp_path, DEFAULT_MODEL, wait=1500)
    finally:
        for srv in servers:
            srv.stop()


def _move_both_jobs(
    source: ServerProcess, target: ServerProcess, tmp_path: Path, model: str, wait: float = 90
) -> None:
    train = upload(source, "train.jsonl", toy_lines(16))
    valid = upload(source, "valid.jsonl", toy_lines(8, offset=100))
    made = []
    for body in (
        {"suffix": "sounds", "seed": 7, "hyperparameters": {"n_epochs": 1, "batch_size": 4}},
        {
            "suffix": "classes",
            "seed": 11,
            "hyperparameters": {
                "n_epochs": 1,
                "batch_size": 8,
                "compute_classification_metrics": True,
                "classification_n_classes": 3,
            },
        },
    ):
        resp = httpx.post(
            f"{source.base_url}/fine_tuning/jobs",
            json={"model": model, "training_file": train, "validation_file": valid, **body},
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        made.append(resp.json()["id"])
    src_jobs = {j: wait_for(source, j, {"succeeded", "failed"}, timeout=wait) for j in made}
    assert all(j["status"] == "succeeded" for j in src_jobs.values()), src_jobs

    run = fttui(
        "migrate", "--all", "--from", source.base_url, "--to", target.base_url,
        "--data", str(tmp_path), "--json",
    )  # fmt: skip
    assert run.code == 0, run.err
    plans = {p["source_id"]: p for p in run.json()["jobs"]}
    assert set(plans) == set(made) and {p["status"] for p in plans.values()} == {"created"}
    # the two jobs share their files: uploaded once
    target_files = _data_files(target)
    assert sorted(f["filename"] for f in target_files) == ["train.jsonl", "valid.jsonl"]
    for f in target_files:
        ours = _content(target, f["id"])
        theirs = _content(source, train if f["filename"] == "train.jsonl" else valid)
        assert hashlib.sha256(ours).digest() == hashlib.sha256(theirs).digest()

    for source_id, plan in plans.items():
        done = wait_for(target, plan["target_job"]["id"], {"succeeded", "failed"}, timeout=wait)
        assert done["status"] == "succeeded", done.get("error")
        src = src_jobs[source_id]
        assert done["metadata"]["fttui_migrated_from"] == source_id
        assert done["hyperparameters"] == src["hyperparameters"]  # resolved values, not auto
        assert (done["suffix"], done["seed"]) == (src["suffix"], src["seed"])
        assert done["fttui"]["hyperparameters"] == src["fttui"]["hyperparameters"]
        assert any("learning_rate_multiplier" in note for note in plan["notes"])

    # Side by side: the target's fine-tune against the source's, each on its own backend,
    # the source's answers recorded; then scored again without asking the source.
    valid_path = tmp_path / "valid.jsonl"
    valid_path.write_text("\n".join(toy_lines(8, offset=100)) + "\n")
    sup = next(p for p in plans.values() if p["body"]["suffix"] == "sounds")
    target_model = wait_for(target, sup["target_job"]["id"], {"succeeded"}, timeout=wait)[
        "fine_tuned_model"
    ]
    source_model = src_jobs[sup["source_id"]]["fine_tuned_model"]
    # The source as the user names it: a profile of their config file.
    config = Path(os.environ["FTTUI_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(
        f'[profiles.old-home]\nbase_url = "{source.base_url}"\n', encoding="utf-8"
    )
    side = fttui(
        "eval", target_model, "--file", str(valid_path), "--against", source_model,
        "--against-profile", "old-home", "--record", "--json", base_url=target.base_url,
        timeout=600,  # each server loads its model for inference first
    )  # fmt: skip
    assert side.code == 0, side.err
    runs = side.json()["runs"]
    assert [r["model"] for r in runs] == [source_model, target_model]
    assert [r["backend"] for r in runs] == [source.base_url, target.base_url]
    for r in runs:  # the file's own measure (animal sounds: a classification file)
        assert 0.0 <= r["metrics"]["accuracy"] <= 1.0 and r["latency"]["requests"] >= 1
    replay = fttui(
        "eval", target_model, "--file", str(valid_path), "--against", source_model,
        "--against-base-url", "http://127.0.0.1:9/v1", "--recorded", "--json",
        base_url=target.base_url, timeout=600,
    )  # fmt: skip
    assert replay.code == 0, replay.err
    first = replay.json()["runs"][0]
    assert first["recorded"] and first["answers"] == runs[0]["answers"]
    assert first["metrics"] == runs[0]["metrics"]

    again = fttui(
        "migrate", "--all", "--from", source.base_url, "--to", target.base_url,
        "--data", str(tmp_path), "--json",
    )  # fmt: skip
    assert again.code == 0, again.err
    assert {p["status"] for p in again.json()["jobs"]} == {"exists"}
    assert len(_jobs(target)) == 2
    assert len(_data_files(target)) == 2


def test_bad_input_is_one_line_and_exit_2(source: ServerProcess, config_dir: Path) -> None:
    for args, words in (
        ((), "name source job ids, or --all"),
        (("--all", "--since", "yesterday"), "--since 'yesterday'"),
        (("--all", "--data", "/no/such/folder"), "not a folder"),
        (("--all", "--model", "gpt-4o-mini"), "expected KEY=VALUE"),
    ):
        run = fttui("migrate", "--from", source.base_url, "--to", source.base_url, *args)
        assert run.code == 2, (args, run.err)
        assert words in run.err and "Traceback" not in run.err, run.err
    missing = fttui("migrate", "ftjob-nope", "--from", source.base_url, "--to", source.base_url)
    assert missing.code == 3 and "Traceback" not in missing.err


def test_dry_run_plans_every_job_of_an_openai_account(
    openai_fixture: Any, target: ServerProcess, config_dir: Path, tmp_path: Path
) -> None:
    """OpenAI's published examples as the source: every job planned (all three methods),
    each body one OpenAI's create schema accepts, each file that cannot be matched named."""
    import json

    import jsonschema_rs

    # The user's copies: one exact match by name and size, one name with two different
    # files of the right size, and a same-name file of another size (not a match).
    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    (data / "b").mkdir()
    (data / "a" / "file-abc.jsonl").write_bytes(b"x" * 120000)
    (data / "b" / "file-abc.jsonl").write_bytes(b"x" * 10)
    (data / "a" / "file-123.jsonl").write_bytes(b"y" * 120000)
    (data / "b" / "file-123.jsonl").write_bytes(b"z" * 120000)
    before = (len(_jobs(target)), len(_data_files(target)))
    run = fttui(
        "migrate", "--all", "--from", openai_fixture.base_url, "--to", target.base_url,
        "--data", str(data), "--dry-run", "--json",
    )  # fmt: skip
    assert run.code == 0, run.err
    plans = run.json()["jobs"]
    assert {p["source_id"] for p in plans} == {j["id"] for j in openai_fixture.account.jobs}
    assert {p["method"] for p in plans} == {"supervised", "dpo", "reinforcement"}
    spec = json.loads((Path(__file__).parents[1] / "openai_create_job_schema.json").read_text())
    validator = jsonschema_rs.validator_for(spec["schema"])
    for plan in plans:
        problems = " | ".join(plan["problems"])
        if plan["status"] == "planned":
            errors = [e.message for e in validator.iter_errors(plan["body"])]
            assert not errors, (plan["source_id"], errors)
        else:
            assert plan["status"] == "blocked" and problems
        for f in plan["files"]:
            if f["filename"] == "file-abc.jsonl":
                assert f["how"] == "matched by name and size"
                assert f["path"] == str(data / "a" / "file-abc.jsonl")
            elif f["filename"] == "file-123.jsonl":
                assert "2 different files named 'file-123.jsonl'" in f["problem"]
                assert f["problem"] in problems
            elif f["path"] is None:
                assert f["problem"] and f["problem"] in problems
    # OpenAI's own examples that its schema refuses are named, not sent on
    by_id = {p["source_id"]: p for p in plans}
    assert "calculate_output" in " ".join(by_id["ftjob-rft-multi"]["problems"])
    assert "label_model" in " ".join(by_id["ftjob-rft-label_model"]["problems"])
    # a dry run: nothing was created or uploaded on the target
    assert (len(_jobs(target)), len(_data_files(target))) == before
