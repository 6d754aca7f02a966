"""Clone (`y`) keeps every option of the job contract (fttui/core/job_spec.py).

Each job below is created on the real local server (trainers never start:
`--concurrency 0`), read back through `fttui.api` as the app reads it, loaded into the
job form the way the clone screen loads it, and sent back out of the form: the body
must be the same job. Together the jobs set every field of `JobSpec`, of
`LocalOptions` and every method's hyperparameters, so a field added to the contract
that a clone loses fails here. What only OpenAI has (W&B, a reasoning effort) is
cloned from OpenAI's own published job objects (tests/openai_examples.json).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ServerProcess, free_port
from textual.app import App, ComposeResult

from fttui.api import Client
from fttui.api.types import FineTuningJob, parse
from fttui.core.job_spec import METHOD_HPARAMS, JobSpec, LocalOptions
from fttui.screens.job_form import request_body, values_from_job
from fttui.store import Store
from widgets import HyperparamForm

EXAMPLES = Path(__file__).resolve().parents[1] / "openai_examples.json"
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


class _Form(App[None]):
    def compose(self) -> ComposeResult:
        yield HyperparamForm()


@pytest.fixture(scope="module")
def queued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        data_dir=tmp_path_factory.mktemp("clone"),
        port=free_port(),
        extra_args=("--concurrency", "0"),
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _upload(srv: ServerProcess, name: str, rows: list[dict[str, Any]]) -> str:
    content = "".join(json.dumps(r) + "\n" for r in rows).encode()
    resp = httpx.post(
        f"{srv.base_url}/files",
        files={"file": (name, content, "application/jsonl")},
        data={"purpose": "fine-tune"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def _specs(srv: ServerProcess) -> list[JobSpec]:
    pc = [
        {"prompt": f"review {i} ->", "completion": " good" if i % 2 else " bad"} for i in range(8)
    ]
    train = _upload(srv, "pc-train.jsonl", pc)
    valid = _upload(srv, "pc-valid.jsonl", pc[:4])
    pref = [
        {
            "input": {"messages": [{"role": "user", "content": f"q{i}"}]},
            "preferred_output": [{"role": "assistant", "content": "yes"}],
            "non_preferred_output": [{"role": "assistant", "content": "no"}],
        }
        for i in range(4)
    ]
    dpo = _upload(srv, "dpo.jsonl", pref)
    rft = _upload(
        srv,
        "rft.jsonl",
        [{"messages": [{"role": "user", "content": f"q{i}"}], "answer": "a"} for i in range(4)],
    )
    common = {"model": "davinci", "seed": 1234, "metadata": {"team": "support", "run": "7"}}
    return [
        JobSpec.model_validate(
            {
                **common,
                "training_file": train,
                "validation_file": valid,
                "suffix": "every option",
                "hyperparameters": {
                    "n_epochs": 3,
                    "batch_size": 2,
                    "learning_rate_multiplier": 0.3,
                },
                "options": {
                    "training_method": "qlora",
                    "lora_rank": 16,
                    "lora_alpha": 32.0,
                    "lora_dropout": 0.1,
                    "prompt_loss_weight": 0.25,
                    "weight_decay": 0.01,
                    "compute_classification_metrics": True,
                    "classification_n_classes": 2,
                    "classification_positive_class": " good",
                    "classification_betas": [0.5, 2.0],
                    "stored_dtype": "bfloat16",
                },
            }
        ),
        JobSpec.model_validate(
            {
                **common,
                "training_file": dpo,
                "method": "dpo",
                "hyperparameters": {"n_epochs": 2, "beta": 0.3},
                "options": {"training_method": "lora", "lora_rank": 4},
            }
        ),
        JobSpec.model_validate(
            {
                **common,
                "training_file": rft,
                "method": "reinforcement",
                "grader": GRADER,
                "hyperparameters": {
                    "n_epochs": 1,
                    "eval_interval": 2,
                    "eval_samples": 3,
                    "compute_multiplier": 1.5,
                },
            }
        ),
    ]


def _set_fields(spec: JobSpec) -> set[str]:
    """The contract's fields this spec sets (to something else than the default)."""
    top = {k for k, v in spec if k not in ("hyperparameters", "options") and v is not None}
    top.discard("method") if spec.method == "supervised" else None
    hp = {k for k, v in spec.hyperparameters if v not in ("auto", "default")}
    return top | hp | set(spec.options.asked())


async def _through_the_form(job: Any, files: list[str], *, local: bool) -> dict[str, Any]:
    """What the clone screen sends for `job`: values_from_job -> form -> request_body."""
    app = _Form()
    async with app.run_test(size=(120, 60)) as pilot:
        form = app.query_one(HyperparamForm)
        form.local = local
        form.set_models([job.model])
        form.set_files([(f, f) for f in files])
        await pilot.pause()
        form.load(values_from_job(job))
        await pilot.pause()
        assert form.validate() == {}, form.validate()
        return request_body(form.values())


async def test_a_clone_sends_every_option_of_the_job_again(queued: ServerProcess) -> None:
    specs = _specs(queued)
    covered: set[str] = set()
    async with Client(queued.base_url, max_retries=1) as client:
        await client.detect()
        for spec in specs:
            created = httpx.post(
                f"{queued.base_url}/fine_tuning/jobs", json=spec.to_request(), timeout=30
            )
            assert created.status_code == 200, created.text
            job = await client.jobs.retrieve(created.json()["id"])
            files = [f for f in (spec.training_file, spec.validation_file) if f]
            body = await _through_the_form(job, files, local=True)
            # As the clone screen sends it: form.spec() (the body read by the contract),
            # then jobs.submit.
            clone = await client.jobs.submit(JobSpec.from_request(body))
            assert client.jobs.last_notices == []
            stored = Store(queued.data_dir).get_job(clone.id)
            assert stored is not None
            assert JobSpec.model_validate(stored["spec"]) == spec, (spec, body)
            covered |= _set_fields(spec)
    every = {
        *JobSpec.model_fields,
        *LocalOptions.model_fields,
        *(name for names in METHOD_HPARAMS.values() for name in names),
    } - {"hyperparameters", "options"}
    # OpenAI's alone (the local server refuses a reasoning effort and a response format
    # and has no W&B): cloned from OpenAI's published jobs below, and the response format
    # through the form in tests/contract/test_job_spec.py.
    assert every - covered == {"integrations", "reasoning_effort", "response_format"}


async def test_a_clone_asks_for_a_seed_only_where_the_job_did(queued: ServerProcess) -> None:
    """The server chooses a seed when none is asked; the job says so (`fttui.seed_asked`)
    and a clone sends no seed, so the new job gets its own. A seed that was asked is
    sent again."""
    train = _upload(
        queued,
        "seedless.jsonl",
        [{"messages": [{"role": "user", "content": f"s{i}"}, {"role": "assistant", "content": "ok"}]}
         for i in range(4)],
    )  # fmt: skip
    async with Client(queued.base_url, max_retries=1) as client:
        await client.detect()
        for asked in (None, 99):
            body: dict[str, Any] = {"model": "davinci", "training_file": train}
            if asked is not None:
                body["seed"] = asked
            created = httpx.post(f"{queued.base_url}/fine_tuning/jobs", json=body, timeout=30)
            assert created.status_code == 200, created.text
            job = await client.jobs.retrieve(created.json()["id"])
            assert isinstance(job.seed, int)  # OpenAI's object always shows one
            sent = await _through_the_form(job, [train], local=True)
            assert sent.get("seed") == asked, sent
            assert job.local.seed_asked is (asked is not None)
            clone = await client.jobs.submit(JobSpec.from_request(sent))
            # The clone's own seed: chosen by the server again, or the one asked.
            assert clone.local.seed_asked is (asked is not None)
            if asked is not None:
                assert clone.seed == asked


def _openai_job(title: str) -> FineTuningJob:
    examples = json.loads(EXAMPLES.read_text())["routes"]["POST /fine_tuning/jobs"]
    body = next(e["response"] for e in examples if e["title"] == title)
    return parse(FineTuningJob, body)


@pytest.mark.parametrize("title", ["W&B Integration", "Reinforcement"])
async def test_a_clone_of_an_openai_job_keeps_its_openai_options(title: str) -> None:
    job = _openai_job(title)
    if job.validation_file == job.training_file:
        # OpenAI's W&B example names one file for both, which the form refuses.
        job = job.model_copy(update={"validation_file": None})
    files = [f for f in (job.training_file, job.validation_file) if f]
    body = await _through_the_form(job, files, local=False)
    if job.integrations:
        wandb = job.integrations[0]["wandb"]
        sent = body["integrations"][0]["wandb"]
        # OpenAI gives the new job its own run id; the rest is kept.
        assert {k: v for k, v in wandb.items() if k != "run_id" and v is not None} == sent
    else:
        method = job.method or {}
        inner = body["method"]["reinforcement"]
        assert inner["grader"] == method["reinforcement"]["grader"]
        assert inner["hyperparameters"]["reasoning_effort"] == "medium"


async def test_what_the_backend_does_not_take_is_said_in_the_form_and_not_sent() -> None:
    """A job loaded (clone, draft) with the local server's options, on another backend:
    the form names each of them before anything is sent and sends none of them; on the
    local server it sends them all and names nothing."""
    values = {
        "model": "davinci",
        "training_file": "file-t",
        "validation_file": "file-v",
        "hyperparameters": {"lora_rank": 8, "weight_decay": 0.1},
        "method": "lora",
        "extra": {"compute_classification_metrics": True, "classification_n_classes": 2,
                  "classification_positive_class": " good"},
    }  # fmt: skip
    app = _Form()
    async with app.run_test(size=(120, 60)) as pilot:
        form = app.query_one(HyperparamForm)
        form.set_models(["davinci"])
        form.set_files([("t", "file-t"), ("v", "file-v")])
        for local in (False, True):
            form.local = local
            await pilot.pause()
            form.load(values)
            await pilot.pause()
            said = str(form.query_one("#dropped").render())
            body = json.dumps(request_body(form.values()))
            if local:
                assert form.dropped() == [] and not form.query_one("#dropped").display
                for name in ("classification_n_classes", "lora_rank", "weight_decay", "lora"):
                    assert name in body, name
                continue
            assert form.query_one("#dropped").has_class("-shown")
            for name in ("classification metrics", "training_method lora", "weight_decay",
                         "lora_rank"):  # fmt: skip
                assert name in said, (name, said)
            for name in ("classification", "lora", "weight_decay"):
                assert name not in body, (name, body)
