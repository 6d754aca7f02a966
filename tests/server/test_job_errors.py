"""Bad job requests get a 4xx in OpenAI's shape that names the offending field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import ServerProcess

from .helpers import PROMPT_COMPLETION, assert_openai_error, client, upload


@pytest.fixture(scope="module")
def api(queued_server: ServerProcess) -> httpx.Client:
    return client(queued_server)


@pytest.fixture(scope="module")
def ids(api: httpx.Client) -> dict[str, str]:
    train = upload(api, PROMPT_COMPLETION).json()["id"]
    valid = upload(api, PROMPT_COMPLETION[:300].rsplit(b"\n", 1)[0], "v.jsonl").json()["id"]
    batch = upload(api, b"anything at all", "b.jsonl", purpose="batch").json()["id"]
    chat = upload(
        api, b'{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n'
    ).json()["id"]
    return {"train": train, "valid": valid, "batch": batch, "chat": chat}


CASES: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("no training file", {"model": "ada"}, 400, "training_file", "required"),
    # As OpenAI answers (400 invalid_request_error naming the param), not 404.
    ("unknown training file", {"training_file": "file-nope"}, 400, "training_file", "file-nope"),
    (
        "unknown validation file",
        {"validation_file": "file-nope"},
        400,
        "validation_file",
        "file-nope",
    ),
    ("batch purpose", {"training_file": "{batch}"}, 400, "training_file", "purpose 'fine-tune'"),
    ("same file twice", {"validation_file": "{train}"}, 400, "validation_file", "same file"),
    ("mixed formats", {"validation_file": "{chat}"}, 400, "validation_file", "same format"),
    ("unknown model", {"model": "gpt-9"}, 400, "model", "gpt-9"),
    ("suffix too long", {"suffix": "x" * 41}, 400, "suffix", "41 characters"),
    ("suffix bad chars", {"suffix": "a/b"}, 400, "suffix", "'/'"),
    (
        "epochs zero",
        {"hyperparameters": {"n_epochs": 0}},
        400,
        "hyperparameters.n_epochs",
        "n_epochs",
    ),
    (
        "batch not int",
        {"hyperparameters": {"batch_size": "big"}},
        400,
        "hyperparameters.batch_size",
        "big",
    ),
    (
        "lr negative",
        {"hyperparameters": {"learning_rate_multiplier": -1}},
        400,
        "hyperparameters.learning_rate_multiplier",
        "-1",
    ),
    ("unknown hparam", {"hyperparameters": {"warmup": 3}}, 400, "hyperparameters.warmup", "warmup"),
    (
        "metrics w/o validation",
        {"compute_classification_metrics": True},
        400,
        "validation_file",
        "needs a validation_file",
    ),
    (
        "positive class multiclass",
        {
            "validation_file": "{valid}",
            "classification_n_classes": 3,
            "classification_positive_class": " yes",
        },
        400,
        "hyperparameters.classification_n_classes",
        "binary",
    ),
    (
        "bad betas",
        {"hyperparameters": {"classification_betas": [0]}},
        400,
        "hyperparameters.classification_betas",
        "positive",
    ),
    ("unknown method", {"method": {"type": "ppo"}}, 400, "method.type", "'reinforcement'"),
    (
        "reinforcement without a grader",
        {"method": {"type": "reinforcement"}},
        400,
        "method.reinforcement.grader",
        "required",
    ),
    ("method not an object", {"method": "dpo"}, 400, "method", "object"),
    (
        "dpo beta out of range",
        {"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0}}}},
        400,
        "method.dpo.hyperparameters.beta",
        "beta must be in (0, 2]",
    ),
    (
        "dpo epochs named where sent",
        {"method": {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": "x"}}}},
        400,
        "method.dpo.hyperparameters.n_epochs",
        "n_epochs",
    ),
    (
        "beta for a supervised job",
        {"method": {"type": "supervised", "supervised": {"hyperparameters": {"beta": 0.1}}}},
        400,
        "method.supervised.hyperparameters.beta",
        "DPO hyperparameter",
    ),
    (
        "dpo settings under another type",
        {"method": {"type": "supervised", "dpo": {}}},
        400,
        "method.dpo",
        "method.type",
    ),
    (
        "classification metrics for dpo",
        {
            "method": {"type": "dpo"},
            "validation_file": "{valid}",
            "hyperparameters": {"compute_classification_metrics": True},
        },
        400,
        "hyperparameters.compute_classification_metrics",
        "supervised jobs only",
    ),
    (
        "bad lora rank",
        {"hyperparameters": {"lora_rank": 0}},
        400,
        "hyperparameters.lora_rank",
        "lora_rank",
    ),
    (
        "prompt weight on chat data",
        {"training_file": "{chat}", "hyperparameters": {"prompt_loss_weight": 0.1}},
        400,
        "hyperparameters.prompt_loss_weight",
        "prompt/completion files only",
    ),
    (
        "prompt weight out of range",
        {"prompt_loss_weight": 1.5},
        400,
        "hyperparameters.prompt_loss_weight",
        "[0, 1]",
    ),
    ("bad seed", {"seed": "x"}, 400, "seed", "integer"),
    ("bad metadata", {"metadata": {"k": 1}}, 400, "metadata", "string"),
]


@pytest.mark.parametrize(
    ("body", "status", "param", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_job_request(
    api: httpx.Client, ids: dict[str, str], body: dict[str, Any], status: int, param: str, text: str
) -> None:
    full: dict[str, Any] = {"model": "ada", "training_file": "{train}", **body}
    if "training_file" not in body and body.get("model") == "ada" and len(body) == 1:
        full.pop("training_file")
    full = {k: (v.format(**ids) if isinstance(v, str) else v) for k, v in full.items()}
    before = len(api.get("/fine_tuning/jobs").json()["data"])
    assert_openai_error(
        api.post("/fine_tuning/jobs", json=full), status, param=param, contains=text
    )
    assert len(api.get("/fine_tuning/jobs").json()["data"]) == before  # nothing was stored


def test_body_that_is_not_json(api: httpx.Client) -> None:
    resp = api.post(
        "/fine_tuning/jobs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_openai_error(resp, 400, param="body", contains="not valid JSON")


def test_query_validation_is_openai_shaped(api: httpx.Client) -> None:
    assert_openai_error(api.get("/fine_tuning/jobs", params={"limit": "many"}), 400, param="limit")


def test_unknown_ids_and_routes(api: httpx.Client) -> None:
    assert_openai_error(api.get("/fine_tuning/jobs/ftjob-nope"), 404, contains="ftjob-nope")
    assert_openai_error(api.post("/fine_tuning/jobs/ftjob-nope/cancel"), 404)
    assert_openai_error(api.get("/fine_tuning/jobs/ftjob-nope/events"), 404)
    assert_openai_error(api.get("/files/file-nope/content"), 404)
    assert_openai_error(api.delete("/files/file-nope"), 404)
    assert_openai_error(api.get("/no/such/route"), 404, contains="/v1/no/such/route")
    assert_openai_error(api.put("/files"), 405)


def test_valid_lora_and_legacy_options_are_kept(api: httpx.Client, ids: dict[str, str]) -> None:
    resp = api.post(
        "/fine_tuning/jobs",
        json={
            "model": "curie",
            "training_file": ids["train"],
            "hyperparameters": {
                "training_method": "lora",
                "lora_rank": 8,
                "batch_size": 4,
                "learning_rate_multiplier": "auto",
            },
            "prompt_loss_weight": 0.1,
        },
    )
    assert resp.status_code == 200, resp.text
    job = resp.json()
    assert job["hyperparameters"] == {
        "n_epochs": 4,
        "batch_size": 4,
        "learning_rate_multiplier": 0.05,
    }
    assert job["fttui"]["hyperparameters"] == {
        "training_method": "lora",
        "lora_rank": 8,
        "prompt_loss_weight": 0.1,
    }
    assert job["fttui"]["base_model"] == "SmolLM2-135M-Instruct"
    api.post(f"/fine_tuning/jobs/{job['id']}/cancel")


def test_usage_and_health(api: httpx.Client, queued_server: ServerProcess) -> None:
    usage = api.get("/fttui/usage").json()
    files = api.get("/files").json()["data"]
    assert usage == {
        "object": "usage",
        "used_bytes": sum(f["bytes"] for f in files),
        "limit_bytes": 1_000_000_000,
        "max_file_bytes": 150_000_000,
        "files": len(files),
        # No job of this server has trained: nothing on disk beside the files.
        "models_bytes": 0,
        "checkpoints_bytes": 0,
        "jobs_on_disk": 0,
        "largest_jobs": [],
    }
    health = api.get("/fttui/health").json()
    assert health["status"] == "ok" and health["version"]
