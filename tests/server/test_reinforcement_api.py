"""Reinforcement jobs on the local server: OpenAI's job body accepted, what the local
engine cannot honour refused naming the field, the data checked against the grader
before `queued`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from conftest import ServerProcess, wait_job_status

from .conftest import MODEL
from .helpers import assert_openai_error, client, upload

SPEC = json.loads((Path(__file__).parents[1] / "core" / "openai_grader_examples.json").read_text())


def rft_lines(n: int, start: int = 0, **extra: Any) -> bytes:
    rows = [
        {
            "messages": [
                {"role": "developer", "content": "Answer with the number only."},
                {"role": "user", "content": f"What is {i} + {i}?"},
            ],
            "label": str(2 * i),
            **extra,
        }
        for i in range(start, start + n)
    ]
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


@pytest.fixture(scope="module")
def api(tiny: ServerProcess) -> httpx.Client:
    return client(tiny)


@pytest.fixture(scope="module")
def files(api: httpx.Client) -> dict[str, str]:
    train = upload(api, rft_lines(8)).json()
    valid = upload(api, rft_lines(4, start=100), "valid.jsonl").json()
    no_label = upload(api, rft_lines(3, start=200).replace(b'"label"', b'"answer"'), "n.jsonl")
    return {"train": train["id"], "valid": valid["id"], "no_label": no_label.json()["id"]}


def body(files: dict[str, str], grader: Any = None, **hp: Any) -> dict[str, Any]:
    rft: dict[str, Any] = {
        "grader": grader if grader is not None else SPEC["schema_examples"]["GraderStringCheck"]
    }
    if hp:
        rft["hyperparameters"] = hp
    return {
        "model": MODEL,
        "training_file": files["train"],
        "validation_file": files["valid"],
        "method": {"type": "reinforcement", "reinforcement": rft},
    }


def _create_rft(
    sdk: openai.OpenAI, files: dict[str, str], hyperparameters: dict[str, Any] | None = None
) -> Any:
    """A reinforcement job on the test files, graded by OpenAI's string_check example."""
    rft: dict[str, Any] = {"grader": SPEC["schema_examples"]["GraderStringCheck"]}
    if hyperparameters is not None:
        rft["hyperparameters"] = hyperparameters
    return sdk.fine_tuning.jobs.create(
        model=MODEL,
        training_file=files["train"],
        validation_file=files["valid"],
        method={"type": "reinforcement", "reinforcement": rft},
    )


def test_openai_sdk_creates_a_reinforcement_job(
    sdk: openai.OpenAI, files: dict[str, str], api: httpx.Client
) -> None:
    job = _create_rft(sdk, files, {"eval_interval": 2, "compute_multiplier": 1.5})
    assert job.method is not None and job.method.type == "reinforcement"
    rft = job.method.reinforcement
    assert rft is not None and rft.grader.type == "string_check"
    assert rft.hyperparameters is not None
    assert rft.hyperparameters.eval_interval == 2
    assert rft.hyperparameters.compute_multiplier == 1.5
    assert rft.hyperparameters.reasoning_effort == "default"
    done = wait_job_status(api, job.id, {"queued", "failed"})
    assert done["status"] == "queued", done.get("error")
    events = [e.message for e in sdk.fine_tuning.jobs.list_events(job.id, limit=50).data]
    assert any("6 answers sampled per prompt" in m for m in events), events


def test_auto_hyperparameters_are_the_local_trainers_from_the_start(
    sdk: openai.OpenAI, files: dict[str, str]
) -> None:
    """A reinforcement job left `auto` says from its creation what the local trainer
    will use (fttui.core.local_auto's rule: 4 prompts a step), not the legacy guide's
    0.2% batch (1 on a small file), in its first event and in the job object."""
    job = _create_rft(sdk, files)
    # 8 prompts: batch 4, 4 epochs (about 64 steps, at most 4 epochs) = 8 steps;
    # evaluation about 10 times a run: every step.
    assert job.method is not None and job.method.reinforcement is not None
    hp = job.method.reinforcement.hyperparameters
    assert hp is not None
    assert (hp.batch_size, hp.n_epochs, hp.learning_rate_multiplier) == (4, 4, 0.05)
    assert hp.eval_interval == 1
    events = [e.message for e in sdk.fine_tuning.jobs.list_events(job.id, limit=50).data]
    method = next(m for m in events if m.startswith("Method: reinforcement"))
    assert "n_epochs=4, batch_size=4, learning_rate_multiplier=0.05" in method, method
    assert "eval_interval=1," in method, method


def test_openai_job_example_gets_a_400_for_reasoning_effort(
    api: httpx.Client, files: dict[str, str]
) -> None:
    # OpenAI's own reinforcement example asks o4-mini for reasoning_effort "medium".
    example = json.loads(json.dumps(SPEC["reinforcement_job_request"]))
    example.update(model=MODEL, training_file=files["train"], validation_file=files["valid"])
    assert_openai_error(
        api.post("/fine_tuning/jobs", json=example),
        400,
        param="method.reinforcement.hyperparameters.reasoning_effort",
        contains="the local models do not reason",
    )


@pytest.mark.parametrize(
    ("grader", "hp", "param", "text"),
    [
        (
            {**SPEC["schema_examples"]["GraderTextSimilarity"], "evaluation_metric": "cosine"},
            {},
            "method.reinforcement.grader.evaluation_metric",
            "embedding model",
        ),
        (
            SPEC["schema_examples"]["GraderLabelModel"],
            {},
            "method.reinforcement.grader.type",
            "not allowed here",
        ),
        (
            {
                "type": "multi",
                "name": "m",
                "graders": {"judge": SPEC["run_grader_requests"][0]["grader"]},
                "calculate_output": "judge",
            },
            {},
            "method.reinforcement.grader.graders.judge.model",
            "'gpt-5-mini' is not a base model of this server",
        ),
        (
            {**SPEC["run_grader_requests"][0]["grader"], "model": "ada"},
            {},
            "method.reinforcement.grader.model",
            "the local judge is the job's base model",
        ),
        (
            {**SPEC["run_grader_requests"][1]["grader"], "model": MODEL},
            {},
            "method.reinforcement.grader.input[0].content[1]",
            "input_image parts are not supported",
        ),
        (
            {**SPEC["schema_examples"]["GraderStringCheck"], "input": "{{sample.output_tools}}"},
            {},
            "method.reinforcement.grader.input",
            "samples plain text",
        ),
        (None, {"eval_samples": 0}, "method.reinforcement.hyperparameters.eval_samples", ">="),
        (
            None,
            {"compute_multiplier": 11},
            "method.reinforcement.hyperparameters.compute_multiplier",
            "compute_multiplier",
        ),
        (
            None,
            {"prompt_loss_weight": 0.1},
            "method.reinforcement.hyperparameters.prompt_loss_weight",
            "supervised jobs only",
        ),
    ],
)
def test_what_the_local_engine_cannot_honour_is_a_400(
    api: httpx.Client, files: dict[str, str], grader: Any, hp: dict[str, Any], param: str, text: str
) -> None:
    resp = api.post("/fine_tuning/jobs", json=body(files, grader, **hp))
    if ">=" in text:  # the range message
        text = "eval_samples must be in [1"
    assert_openai_error(resp, 400, param=param, contains=text)


def test_reinforcement_hyperparameters_only_where_openai_puts_them(
    api: httpx.Client, files: dict[str, str]
) -> None:
    sft = {"model": MODEL, "training_file": files["train"]}
    assert_openai_error(
        api.post("/fine_tuning/jobs", json={**sft, "hyperparameters": {"eval_interval": 3}}),
        400,
        param="hyperparameters.eval_interval",
        contains="reinforcement hyperparameter",
    )
    with_rf = body(files)
    with_rf["method"]["reinforcement"]["response_format"] = {"type": "json_schema"}
    assert_openai_error(
        api.post("/fine_tuning/jobs", json=with_rf),
        400,
        param="method.reinforcement.response_format",
    )


def test_examples_without_the_graders_fields_fail_validation_naming_lines(
    api: httpx.Client, files: dict[str, str]
) -> None:
    request = body(files)
    request["training_file"] = files["no_label"]
    request.pop("validation_file")
    resp = api.post("/fine_tuning/jobs", json=request)
    assert resp.status_code == 200, resp.text
    job = wait_job_status(api, resp.json()["id"], {"queued", "failed"})
    assert job["status"] == "failed"
    assert job["error"]["code"] == "missing_reference"
    assert "line 1:" in job["error"]["message"]
    assert "{{item.label}}" in job["error"]["message"]
    assert "'answer'" in job["error"]["message"]


def test_a_supervised_job_refuses_a_reinforcement_file(
    api: httpx.Client, files: dict[str, str]
) -> None:
    resp = api.post("/fine_tuning/jobs", json={"model": MODEL, "training_file": files["train"]})
    job = wait_job_status(api, resp.json()["id"], {"queued", "failed"})
    assert job["status"] == "failed"
    assert job["error"]["code"] == "method_mismatch"
    assert "reinforcement" in job["error"]["message"]


def test_run_grader_scores_a_sample_as_openai_answers(sdk: openai.OpenAI) -> None:
    """OpenAI's `fine_tuning.alpha.graders.run` on the spec's grader examples: the same
    grading code as a job, the answer OpenAI's RunGraderResponse."""
    run = sdk.fine_tuning.alpha.graders.run
    examples = SPEC["schema_examples"]
    hit = run(grader=examples["GraderStringCheck"], model_sample="42", item={"label": "42"})
    miss = run(grader=examples["GraderStringCheck"], model_sample="41", item={"label": "42"})
    assert (hit.reward, miss.reward) == (1.0, 0.0)
    assert hit.metadata.type == "string_check" and not any(
        v for v in hit.metadata.errors.model_dump().values() if isinstance(v, bool)
    )
    close = run(
        grader=examples["GraderTextSimilarity"], model_sample="fuzzy", item={"label": "fuzzy wuzzy"}
    )
    assert 0.5 < close.reward < 1.0
    # The python grader runs in the sandbox.
    py = run(grader=examples["GraderPython"], model_sample="cat", item={"label": "cat"})
    assert py.reward == 1.0
    failing = {**examples["GraderPython"], "source": "def grade(sample, item):\n    return 1 / 0\n"}
    broken = run(grader=failing, model_sample="cat", item={"label": "cat"})
    assert broken.reward == 0.0 and broken.metadata.errors.python_grader_runtime_error
    assert "ZeroDivisionError" in (broken.metadata.errors.python_grader_runtime_error_details or "")
    multi = {
        "type": "multi",
        "name": "m",
        "graders": {"exact": examples["GraderStringCheck"]},
        "calculate_output": "0.5 * exact + 0.25",
    }
    both = run(grader=multi, model_sample="7", item={"label": "7"})
    assert both.reward == 0.75 and both.sub_rewards == {"exact": 1.0}


def test_run_grader_refuses_what_it_cannot_run_naming_the_field(api: httpx.Client) -> None:
    url = "/fine_tuning/alpha/graders/run"
    examples = SPEC["schema_examples"]
    # OpenAI's own run-grader example: a score_model judge (gpt-5-mini).
    resp = api.post(url, json=SPEC["run_grader_requests"][0])
    assert_openai_error(resp, 400, param="grader.model")
    judge = {**SPEC["run_grader_requests"][0]["grader"], "model": MODEL}
    resp = api.post(url, json={"grader": judge, "model_sample": "x"})
    assert_openai_error(resp, 400, param="grader.type")
    bad = {**examples["GraderStringCheck"], "operation": "contains"}
    resp = api.post(url, json={"grader": bad, "model_sample": "x"})
    assert_openai_error(resp, 400, param="grader.operation")
    resp = api.post(url, json={"grader": examples["GraderStringCheck"]})
    assert_openai_error(resp, 400, param="model_sample")
    resp = api.post(
        url, json={"grader": examples["GraderStringCheck"], "model_sample": "x", "n": 2}
    )
    assert_openai_error(resp, 400, param="n")
