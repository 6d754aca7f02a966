"""The same commands against the test double built from OpenAI's published examples.

`--json` prints each object exactly as the backend sent it (compared with the
fixture's account) and parses with the `openai` SDK's own types, the way the SDK
parses a response (`BaseModel.construct`: typed nested objects; OpenAI's own
examples break OpenAI's schema in places, e.g. `"hyperparameters": null` on the DPO
example, so a strict `model_validate` would refuse what the SDK accepts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openai.types import FileDeleted, FileObject, Model, ModelDeleted
from openai.types.chat import ChatCompletion
from openai.types.completion import Completion
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint

from tests.cli.conftest import Run, fttui
from tests.conftest import OpenAIFixture

KEY = ("--api-key", "sk-fixture")


def run(fixture: OpenAIFixture, *args: str) -> Run:
    return fttui(*args, *KEY, base_url=fixture.base_url)


def by_id(items: list[dict[str, Any]], item_id: str) -> dict[str, Any]:
    return next(i for i in items if i["id"] == item_id)


def test_jobs_files_models_and_try_against_openai(
    openai_fixture: OpenAIFixture, tmp_path: Path
) -> None:
    acct = openai_fixture.account

    listed = run(openai_fixture, "jobs", "list", "--limit", "100", "--json")
    assert listed.code == 0, listed.err
    jobs = listed.json()["data"]
    assert jobs == acct.jobs  # exactly as sent, OpenAI's off-schema examples included
    parsed = [FineTuningJob.construct(**j) for j in jobs]
    dpo = next(p for p in parsed if p.id == "ftjob-dpo")
    assert dpo.method is not None and dpo.method.dpo is not None
    assert dpo.method.dpo.hyperparameters is not None
    assert dpo.method.dpo.hyperparameters.beta == 0.1

    got = run(openai_fixture, "jobs", "get", "ftjob-succeeded", "--json")
    job = FineTuningJob.construct(**got.json())
    assert got.json() == acct.job("ftjob-succeeded")
    assert job.fine_tuned_model == "ft:davinci-002:my-org:custom_suffix:7q8mpxmy"
    human = run(openai_fixture, "jobs", "get", "ftjob-dpo")
    assert human.code == 0 and "beta" in human.out and "dpo" in human.out

    events = run(openai_fixture, "jobs", "events", "ftjob-succeeded", "--json").json()["data"]
    assert [e["id"] for e in events] == [e["id"] for e in reversed(acct.events["ftjob-succeeded"])]
    for event in events:
        FineTuningJobEvent.construct(**event)
    followed = run(openai_fixture, "jobs", "follow", "ftjob-succeeded", "--json")
    assert followed.code == 0
    assert [json.loads(x)["id"] for x in followed.out.splitlines()] == [e["id"] for e in events]
    assert run(openai_fixture, "jobs", "follow", "ftjob-failed").code == 5
    failed = run(openai_fixture, "jobs", "follow", "ftjob-failed")
    assert "invalid training file" in failed.err

    ckpts = run(openai_fixture, "jobs", "checkpoints", "ftjob-succeeded", "--json").json()["data"]
    assert ckpts
    for ckpt in ckpts:
        FineTuningJobCheckpoint.model_validate(ckpt)  # these conform: strict

    out = tmp_path / "results.csv"
    assert run(openai_fixture, "jobs", "results", "ftjob-succeeded", "-o", str(out)).code == 0
    assert out.read_bytes() == acct.contents["file-abc123"]

    cancelled = run(openai_fixture, "jobs", "cancel", "ftjob-running", "--json")
    assert cancelled.code == 0 and cancelled.json()["status"] == "cancelled"
    assert FineTuningJob.construct(**cancelled.json()).status == "cancelled"
    paused = run(openai_fixture, "jobs", "pause", "ftjob-rft-python", "--json")
    assert paused.json()["status"] == "paused"
    assert (
        run(openai_fixture, "jobs", "resume", "ftjob-rft-python", "--json").json()["status"]
        == "queued"
    )
    again = run(openai_fixture, "jobs", "cancel", "ftjob-running")
    assert again.code == 2 and "Cannot cancel a job whose status is cancelled" in again.err

    # files
    data = tmp_path / "mine.jsonl"
    data.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
    )
    up = run(openai_fixture, "files", "upload", str(data), "--json")
    uploaded = FileObject.construct(**up.json())
    assert uploaded.filename == "mine.jsonl" and uploaded.bytes == data.stat().st_size
    files = run(openai_fixture, "files", "list", "--json").json()["data"]
    assert files == acct.files
    copy = tmp_path / "copy.jsonl"
    assert run(openai_fixture, "files", "download", uploaded.id, "-o", str(copy)).code == 0
    assert copy.read_bytes() == data.read_bytes()
    deleted = run(openai_fixture, "files", "delete", uploaded.id, "--json")
    assert FileDeleted.model_validate(deleted.json()).deleted is True
    assert run(openai_fixture, "files", "get", uploaded.id).code == 3

    # models and try: a davinci-002 fine-tune is asked on completions, gpt-4o-mini on chat
    models = run(openai_fixture, "models", "list", "--json").json()["data"]
    assert models == acct.models and all(Model.construct(**m).id for m in models)
    ft = "ft:davinci-002:my-org:custom_suffix:7q8mpxmy"
    answer = run(openai_fixture, "try", ft, "Say this is a test", "--json")
    assert Completion.construct(**answer.json()).object == "text_completion"
    streamed = run(openai_fixture, "try", "gpt-4o-mini", "Hello!")
    assert streamed.code == 0 and streamed.out.strip()
    kinds = [kind for kind, _ in acct.bodies]
    assert kinds[-2:] == ["completions", "chat"]
    assert acct.bodies[-1][1]["messages"] == [{"role": "user", "content": "Hello!"}]
    chat = run(openai_fixture, "try", "gpt-4o-mini", "Hello!", "--json").json()
    assert ChatCompletion.construct(**chat).choices[0].message.content
    removed = run(openai_fixture, "models", "delete", ft, "--json")
    assert ModelDeleted.model_validate(removed.json()).deleted is True
    assert run(openai_fixture, "models", "get", ft).code == 3


def test_create_sends_todays_options_and_refuses_legacy_only_ones(
    openai_fixture: OpenAIFixture, tmp_path: Path
) -> None:
    acct = openai_fixture.account
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps(
                {
                    "input": {"messages": [{"role": "user", "content": f"Question {i}?"}]},
                    "preferred_output": [{"role": "assistant", "content": f"Answer {i}."}],
                    "non_preferred_output": [{"role": "assistant", "content": "No."}],
                }
            )
            + "\n"
            for i in range(10)
        )
    )
    created = run(
        openai_fixture, "jobs", "create", "-t", str(pairs), "-m", "gpt-4o-mini",
        "--method", "dpo", "--beta", "0.2", "--n_epochs", "2", "--seed", "7",
        "--suffix", "pairs", "--metadata", "team=nlp", "--integration", "wandb:my-project",
        "--json",
    )  # fmt: skip
    assert created.code == 0, created.err
    job = FineTuningJob.construct(**created.json())
    assert job.id.startswith("ftjob-") and job.model == "gpt-4o-mini"
    kind, body = acct.bodies[-1]
    assert kind == "create"
    assert body["method"] == {
        "type": "dpo",
        "dpo": {"hyperparameters": {"n_epochs": 2, "beta": 0.2}},
    }
    assert body["seed"] == 7 and body["suffix"] == "pairs"
    assert body["metadata"] == {"team": "nlp"}
    assert body["integrations"] == [{"type": "wandb", "wandb": {"project": "my-project"}}]
    assert "hyperparameters" not in body
    assert body["training_file"] == acct.files[0]["id"]  # uploaded just before

    # The legacy guide's classification options exist only on fttui's own server:
    # refused in one line before anything is uploaded, never dropped silently.
    uploads = sum(1 for r in acct.requests if r == ("POST", "/v1/files"))
    refused = run(
        openai_fixture, "jobs", "create", "-t", str(pairs), "-v", str(pairs),
        "-m", "gpt-4o-mini", "--compute_classification_metrics",
        "--classification_n_classes", "2",
    )  # fmt: skip
    assert refused.code == 2
    assert "--compute_classification_metrics is not supported by this backend" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert sum(1 for r in acct.requests if r == ("POST", "/v1/files")) == uploads

    # OpenAI's own refusal (403) is one line with exit code 7.
    acct.refuse_training = True
    denied = run(openai_fixture, "jobs", "create", "-t", acct.files[0]["id"], "-m", "gpt-4o-mini")
    assert denied.code == 7 and "not available" in denied.err


def test_a_profile_of_kind_openai_takes_integrations_and_refuses_prompt_loss_weight(
    openai_fixture: OpenAIFixture, tmp_path: Path, monkeypatch: Any
) -> None:
    """With a profile that says the backend is OpenAI (as `--profile openai` does), today's
    options are sent and the legacy-only ones refused by name."""
    (tmp_path / "config.toml").write_text(
        f'[profiles.fixture]\nbase_url = "{openai_fixture.base_url}"\nkind = "openai"\n'
        'api_key = "sk-fixture"\n'
    )
    monkeypatch.setenv("FTTUI_CONFIG_DIR", str(tmp_path))
    acct = openai_fixture.account
    file_id = acct.files[0]["id"]
    base = ("jobs", "create", "-t", file_id, "-m", "gpt-4o-mini", "--profile", "fixture")
    sent = fttui(*base, "--integration", "wandb:proj", "--json")
    assert sent.code == 0, sent.err
    assert acct.bodies[-1][1]["integrations"] == [{"type": "wandb", "wandb": {"project": "proj"}}]
    refused = fttui(*base, "--prompt_loss_weight", "0.1")
    assert refused.code == 2 and "--prompt_loss_weight is not supported" in refused.err
    assert len([b for b in acct.bodies if b[0] == "create"]) == 1
