"""A stand-in for OpenAI's API built from OpenAI's own published example responses.

The test double the standards allow for what is out of reach (OpenAI's servers): it
answers with the `x-oaiMeta` example responses of OpenAI's API reference, extracted
verbatim into `tests/openai_examples.json` by `scripts/openai_examples.py` (source
repository, commit and date are in that file's `source`). Nothing here is shaped to
what fttui expects: where OpenAI's examples break OpenAI's own schema (a DPO job
with `"hyperparameters": null`, `"error": {}`, events with `"data": null`, files
without `status`, cancel/pause/resume answers that lack most of a job's fields), the
server sends them that way, because that is what a client of OpenAI meets.

The account (`Account`) is assembled from those examples:

- jobs: every published job example (the list item, the retrieve example, the six
  create examples, the cancel/pause/resume answers and the `FineTuningJob` schema
  example), each under an id of its own (the examples all say `ftjob-abc123`); the
  two statuses of the spec's enum no example shows, `running` and `failed`, are
  published examples with only `status` (and, for `failed`, the spec's `error`
  object filled) changed; one reinforcement job per grader type, each the
  published reinforcement create example with the grader replaced by the spec's
  example of that grader type;
- events: the published events page (`data: null`), the schema's event example
  (`data: {}`) and `metrics` events whose `data` is the checkpoint schema example's
  `metrics`, scaled per step;
- checkpoints: the published checkpoints page and the checkpoint schema example;
- files: the published list, retrieve and upload examples (no `status`);
- models: the published list and retrieve examples plus the base and fine-tuned
  models the job examples name (so creating a job on them is accepted).
- inference: `/v1/completions` and `/v1/chat/completions` answer with the published
  example (chat: the `Logprobs` example when logprobs are asked for); an array of
  prompts gets the completions example's choice once per prompt (see `completions`).

Errors have OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`): an
unknown route is OpenAI's "Invalid URL" 404 (there are no `/v1/fttui/...` routes);
a job create with an unknown file or model is a 400 `invalid_request_error` naming
the `param`; with `refuse_training` set, create answers 403 `training_not_available`.

Run by hand:  python -m tests.openai_fixture_server --port 8799 [--refuse-training]
then:         fttui --base-url http://127.0.0.1:8799/v1 --api-key sk-fixture
"""

from __future__ import annotations

import argparse
import copy
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

EXAMPLES_PATH = Path(__file__).with_name("openai_examples.json")
JOBS = "/fine_tuning/jobs"
JOB = "/fine_tuning/jobs/{fine_tuning_job_id}"


def examples() -> dict[str, Any]:
    """The extracted examples (a fresh copy: callers may change it)."""
    data: dict[str, Any] = json.loads(EXAMPLES_PATH.read_text(encoding="utf-8"))
    return data


def route_example(ex: dict[str, Any], method: str, path: str, title: str = "Default") -> Any:
    for item in ex["routes"][f"{method} {path}"]:
        if item["title"] == title:
            return copy.deepcopy(item["response"])
    raise KeyError(f"no example {title!r} for {method} {path}")


# Models OpenAI serves on /v1/completions (the rest are chat models); a fine-tune
# is served where its base model is.
COMPLETIONS_MODELS = ("davinci-002", "babbage-002", "gpt-3.5-turbo-instruct")
GRADER_SCHEMAS = {
    "string_check": "GraderStringCheck",
    "text_similarity": "GraderTextSimilarity",
    "score_model": "GraderScoreModel",
    "label_model": "GraderLabelModel",
    "python": "GraderPython",
    "multi": "GraderMulti",
}


def base_of(model: str) -> str:
    """`ft:davinci-002:my-org:suffix:id` -> `davinci-002`; a base model is its own base."""
    return model.split(":")[1] if model.startswith("ft:") and ":" in model[3:] else model


def is_completions_model(model: str) -> bool:
    return base_of(model) in COMPLETIONS_MODELS


def _error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


@dataclass
class Account:
    """An OpenAI account assembled from the published examples (see the module doc)."""

    jobs: list[dict[str, Any]] = field(default_factory=list)  # newest first
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # newest first
    checkpoints: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    refuse_training: bool = False
    requests: list[tuple[str, str]] = field(default_factory=list)
    bodies: list[tuple[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _serial: int = 0

    def job(self, job_id: str) -> dict[str, Any] | None:
        return next((j for j in self.jobs if j["id"] == job_id), None)

    def file(self, file_id: str) -> dict[str, Any] | None:
        return next((f for f in self.files if f["id"] == file_id), None)

    def model(self, model_id: str) -> dict[str, Any] | None:
        return next((m for m in self.models if m["id"] == model_id), None)

    def next_id(self, prefix: str) -> str:
        with self._lock:
            self._serial += 1
            return f"{prefix}{self._serial:04d}fixture"

    def fttui_requests(self) -> list[tuple[str, str]]:
        """Requests to routes only the local fttui server has (OpenAI answers 404)."""
        return [(m, p) for m, p in self.requests if p.startswith("/v1/fttui")]


def _metrics_events(job_id: str, metrics: dict[str, Any], created: int, n: int) -> list[Any]:
    """`metrics` events whose data is the checkpoint schema example's metrics, per step.

    The losses are scaled so the series falls over the steps (a plot has a shape);
    the keys and the value types are the example's.
    """
    out = []
    for step in range(1, n + 1):
        data = {
            k: (round(v * (1 + (n - step) / n), 4) if k != "step" else step)
            for k, v in metrics.items()
        }
        data["total_steps"] = n
        out.append(
            {
                "object": "fine_tuning.job.event",
                "id": f"ftevent-{job_id[6:]}-m{step}",
                "created_at": created + step,
                "level": "info",
                "message": f"Step {step}/{n}: training loss={data['train_loss']:.2f}",
                "data": data,
                "type": "metrics",
            }
        )
    return out


def build_account() -> Account:
    """The account: every published job, file, model, event and checkpoint example."""
    ex = examples()
    schemas = ex["schemas"]
    acct = Account()

    def add(label: str, body: dict[str, Any], **changes: Any) -> dict[str, Any]:
        body = {**body, **changes}
        # The examples all share a few ids; the account needs one per job.
        body["id"] = f"ftjob-{label}"
        acct.jobs.append(body)
        return body

    created = {
        t: route_example(ex, "POST", JOBS, t)
        for t in ("Default", "Epochs", "DPO", "Reinforcement", "Validation file", "W&B Integration")
    }
    listed = route_example(ex, "GET", JOBS)["data"][0]
    retrieved = route_example(ex, "GET", JOB)
    # Newest first, as OpenAI lists them.
    add("listitem", listed)
    add("default", created["Default"])
    add("epochs", created["Epochs"])
    add("dpo", created["DPO"])
    add("rft", created["Reinforcement"])
    add("valfile", created["Validation file"])
    add("wandb", created["W&B Integration"])
    for kind, schema in GRADER_SCHEMAS.items():
        rft = copy.deepcopy(created["Reinforcement"])
        rft["method"]["reinforcement"]["grader"] = copy.deepcopy(schemas[schema])
        add(f"rft-{kind}", rft, status="succeeded" if kind == "multi" else "running")
    add("running", created["Epochs"], status="running", estimated_finish=1721768400)
    # The spec's `error` object for a failed job: code, message, param (its doc names
    # `training_file` as the usual param).
    add(
        "failed",
        created["DPO"],
        status="failed",
        finished_at=1746130990,
        error={
            "code": "invalid_training_file",
            "param": "training_file",
            "message": "The job failed due to an invalid training file.",
        },
    )
    add("cancelled", route_example(ex, "POST", f"{JOB}/cancel"))
    add("paused", route_example(ex, "POST", f"{JOB}/pause"))
    add("resumed", route_example(ex, "POST", f"{JOB}/resume"))
    add("succeeded", retrieved)
    add("schema", schemas["FineTuningJob"])

    page = route_example(ex, "GET", f"{JOB}/events")["data"]
    ckpts = route_example(ex, "GET", f"{JOB}/checkpoints")["data"]
    metrics = schemas["FineTuningJobCheckpoint"]["metrics"]
    for job in acct.jobs:
        jid = job["id"]
        evs = [{**e, "id": f"{e['id']}-{jid[6:]}"} for e in page]
        first = {**schemas["FineTuningJobEvent"], "id": f"ftevent-{jid[6:]}-created"}
        if job["status"] in ("running", "succeeded", "paused", "failed", "cancelled"):
            evs += list(reversed(_metrics_events(jid, metrics, job["created_at"], 12)))
        acct.events[jid] = [*evs, first]
        if job["status"] in ("succeeded", "running"):
            acct.checkpoints[jid] = [
                {**c, "id": f"{c['id']}-{jid[6:]}", "fine_tuning_job_id": jid} for c in ckpts
            ] + [{**schemas["FineTuningJobCheckpoint"], "fine_tuning_job_id": jid}]

    acct.files = route_example(ex, "GET", "/files")["data"]
    one = route_example(ex, "GET", "/files/{file_id}")
    acct.files.append({**one, "id": "file-abc789"})  # same id as a listed one: its own
    acct.files.append({**schemas["OpenAIFile"], "id": "file-schema"})
    # The jobs' training and validation files, as the retrieve example shows a file.
    for fid in ("file-abc", "file-123"):
        acct.files.append({**one, "id": fid, "filename": f"{fid}.jsonl"})

    # The results file the finished jobs name: the spec publishes none, so it is the
    # metrics events' values as CSV, one row a step.
    rows = list(reversed(_metrics_events("ftjob-results", metrics, 0, 12)))[::-1]
    cols = list(rows[0]["data"])
    lines = [",".join(cols)] + [",".join(str(r["data"][c]) for c in cols) for r in rows]
    for job in acct.jobs:
        for fid in job.get("result_files") or []:
            acct.contents[fid] = ("\n".join(lines) + "\n").encode()

    acct.models = route_example(ex, "GET", "/models")["data"]
    acct.models.append(route_example(ex, "GET", "/models/{model}"))
    named = {j["model"] for j in acct.jobs} | {
        j["fine_tuned_model"] for j in acct.jobs if j.get("fine_tuned_model")
    }
    for mid in sorted(named):
        owner = "org-123" if mid.startswith("ft:") else "system"
        acct.models.append({**schemas["Model"], "id": mid, "owned_by": owner})
    return acct


def _page(items: list[dict[str, Any]], request: Request, *, cursors: bool = True) -> Any:
    after = request.query_params.get("after")
    limit = int(request.query_params.get("limit") or 20)
    start = 0
    if after:
        ids = [i.get("id") for i in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    chunk = items[start : start + limit]
    body: dict[str, Any] = {"object": "list", "data": chunk, "has_more": start + limit < len(items)}
    if cursors:  # the jobs and events lists' examples have no cursors
        body["first_id"] = chunk[0]["id"] if chunk else None
        body["last_id"] = chunk[-1]["id"] if chunk else None
    return body


def make_app(acct: Account) -> Starlette:
    ex = examples()

    def record(request: Request) -> None:
        acct.requests.append((request.method, request.url.path))

    def no_job(job_id: str) -> JSONResponse:
        return _error(
            404,
            f"Could not find fine tune job: {job_id}",
            param="fine_tune_id",
            code="fine_tune_not_found",
        )

    def no_file(file_id: str) -> JSONResponse:
        return _error(404, f"No such File object: {file_id}", param="id")

    async def list_files(request: Request) -> Response:
        record(request)
        return JSONResponse(_page(acct.files, request))

    async def upload(request: Request) -> Response:
        record(request)
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return _error(400, "Missing required parameter: 'file'.", param="file")
        data = await upload.read()
        body = route_example(ex, "POST", "/files")
        body.update(
            id=acct.next_id("file-"),
            bytes=len(data),
            filename=upload.filename or "upload.jsonl",
            purpose=str(form.get("purpose") or ""),
            created_at=int(time.time()),
        )
        acct.files.insert(0, body)
        acct.contents[body["id"]] = data
        return JSONResponse(body)

    async def one_file(request: Request) -> Response:
        record(request)
        fid = request.path_params["file_id"]
        f = acct.file(fid)
        if f is None:
            return no_file(fid)
        if request.method == "DELETE":
            acct.files.remove(f)
            return JSONResponse({**route_example(ex, "DELETE", "/files/{file_id}"), "id": fid})
        return JSONResponse(f)

    async def content(request: Request) -> Response:
        record(request)
        fid = request.path_params["file_id"]
        if fid in acct.contents:
            return Response(acct.contents[fid], media_type="application/octet-stream")
        return no_file(fid)

    async def list_jobs(request: Request) -> Response:
        record(request)
        return JSONResponse(_page(acct.jobs, request, cursors=False))

    async def create_job(request: Request) -> Response:
        record(request)
        try:
            req = await request.json()
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        acct.bodies.append(("create", req))
        if not isinstance(req, dict):
            return _error(400, "We could not parse the JSON body of your request.")
        for key in ("model", "training_file"):
            if not req.get(key):
                return _error(400, f"Missing required parameter: '{key}'.", param=key)
        for key in ("training_file", "validation_file"):
            if req.get(key) and acct.file(req[key]) is None:
                return _error(400, f"invalid {key}: {req[key]}", param=key)
        model = acct.model(req["model"])
        if model is None or req["model"].startswith("model-id-"):
            return _error(
                400,
                f"Model {req['model']} is not available for fine-tuning or does not exist.",
                param="model",
                code="model_not_available",
            )
        if acct.refuse_training:
            return _error(
                403,
                f"Fine-tuning is not available for model {req['model']} in this organization.",
                param="model",
                code="training_not_available",
            )
        method = req.get("method") or {"type": "supervised"}
        mtype = method.get("type")
        title = {"dpo": "DPO", "reinforcement": "Reinforcement"}.get(mtype, "Default")
        if req.get("integrations"):
            title = "W&B Integration"
        body = route_example(ex, "POST", JOBS, title)
        body.update(
            id=acct.next_id("ftjob-"),
            model=req["model"],
            training_file=req["training_file"],
            validation_file=req.get("validation_file"),
            created_at=int(time.time()),
            metadata=req.get("metadata"),
        )
        if "method" in req:
            body["method"] = req["method"]
        if "integrations" in req:
            body["integrations"] = req["integrations"]
        acct.jobs.insert(0, body)
        acct.events[body["id"]] = [
            {
                **examples()["schemas"]["FineTuningJobEvent"],
                "id": f"ftevent-{body['id'][6:]}-created",
            }
        ]
        return JSONResponse(body)

    async def one_job(request: Request) -> Response:
        record(request)
        jid = request.path_params["job_id"]
        job = acct.job(jid)
        return JSONResponse(job) if job is not None else no_job(jid)

    def action(name: str, status: str, allowed: tuple[str, ...]) -> Any:
        async def handle(request: Request) -> Response:
            record(request)
            jid = request.path_params["job_id"]
            job = acct.job(jid)
            if job is None:
                return no_job(jid)
            if job["status"] not in allowed:
                return _error(
                    400,
                    f"Cannot {name} a job whose status is {job['status']}.",
                    param="fine_tuning_job_id",
                )
            job["status"] = status
            # The answer has the published example's fields only, as OpenAI's does.
            shape = route_example(ex, "POST", f"{JOB}/{name}")
            return JSONResponse({k: job.get(k) for k in shape})

        return handle

    async def events(request: Request) -> Response:
        record(request)
        jid = request.path_params["job_id"]
        if acct.job(jid) is None:
            return no_job(jid)
        return JSONResponse(_page(acct.events.get(jid, []), request, cursors=False))

    async def checkpoints(request: Request) -> Response:
        record(request)
        jid = request.path_params["job_id"]
        if acct.job(jid) is None:
            return no_job(jid)
        return JSONResponse(_page(acct.checkpoints.get(jid, []), request))

    async def models(request: Request) -> Response:
        record(request)
        return JSONResponse({"object": "list", "data": acct.models})

    async def one_model(request: Request) -> Response:
        record(request)
        mid = request.path_params["model"]
        m = acct.model(mid)
        if m is None:
            return _error(
                404, f"The model '{mid}' does not exist", param="model", code="model_not_found"
            )
        if request.method == "DELETE":
            acct.models.remove(m)
            return JSONResponse({**route_example(ex, "DELETE", "/models/{model}"), "id": mid})
        return JSONResponse(m)

    async def completions(request: Request) -> Response:
        record(request)
        req = await request.json()
        acct.bodies.append(("completions", req))
        model = str(req.get("model", ""))
        if acct.model(model) is None:
            return _error(
                404, f"The model '{model}' does not exist", param="model", code="model_not_found"
            )
        if not is_completions_model(model):
            return _error(
                404,
                "This is a chat model and not supported in the v1/completions "
                "endpoint. Did you mean to use v1/chat/completions?",
                param="model",
            )
        body = route_example(ex, "POST", "/completions", "No streaming")
        body["model"] = model
        # The spec's `prompt` is "a string, array of strings, array of tokens, or array
        # of token arrays" and OpenAI answers each prompt (`n` choices each, index
        # prompt * n + choice); the published example answers one string prompt. An
        # array prompt gets the example's choice once per answer, indexed so, and the
        # example's usage once per prompt.
        prompts = req.get("prompt")
        count = len(prompts) if isinstance(prompts, list) and prompts else 1
        if isinstance(prompts, list) and prompts and isinstance(prompts[0], int):
            count = 1  # one prompt given as tokens
        n = req.get("n") if isinstance(req.get("n"), int) and req.get("n") > 0 else 1
        if count * n > 1:
            one = body["choices"][0]
            body["choices"] = [{**one, "index": k} for k in range(count * n)]
            usage = body["usage"]
            usage["prompt_tokens"] *= count
            usage["completion_tokens"] *= count * n
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return JSONResponse(body)

    async def chat(request: Request) -> Response:
        record(request)
        req = await request.json()
        acct.bodies.append(("chat", req))
        model = str(req.get("model", ""))
        if acct.model(model) is None:
            return _error(
                404, f"The model '{model}' does not exist", param="model", code="model_not_found"
            )
        if is_completions_model(model):
            return _error(
                404,
                "This is not a chat model and thus not supported in the "
                "v1/chat/completions endpoint. Did you mean to use v1/completions?",
                param="model",
            )
        title = "Logprobs" if req.get("logprobs") else "Default"
        body = route_example(ex, "POST", "/chat/completions", title)
        body["model"] = model
        return JSONResponse(body)

    async def invalid_url(request: Request) -> Response:
        record(request)
        return _error(404, f"Invalid URL ({request.method} {request.url.path})")

    active = ("validating_files", "queued", "running", "paused")
    return Starlette(
        routes=[
            Route("/v1/files", list_files, methods=["GET"]),
            Route("/v1/files", upload, methods=["POST"]),
            Route("/v1/files/{file_id}/content", content, methods=["GET"]),
            Route("/v1/files/{file_id}", one_file, methods=["GET", "DELETE"]),
            Route("/v1/fine_tuning/jobs", list_jobs, methods=["GET"]),
            Route("/v1/fine_tuning/jobs", create_job, methods=["POST"]),
            Route(
                "/v1/fine_tuning/jobs/{job_id}/cancel",
                action("cancel", "cancelled", active),
                methods=["POST"],
            ),
            Route(
                "/v1/fine_tuning/jobs/{job_id}/pause",
                action("pause", "paused", ("running",)),
                methods=["POST"],
            ),
            Route(
                "/v1/fine_tuning/jobs/{job_id}/resume",
                action("resume", "queued", ("paused",)),
                methods=["POST"],
            ),
            Route("/v1/fine_tuning/jobs/{job_id}/events", events, methods=["GET"]),
            Route("/v1/fine_tuning/jobs/{job_id}/checkpoints", checkpoints, methods=["GET"]),
            Route("/v1/fine_tuning/jobs/{job_id}", one_job, methods=["GET"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/models/{model:path}", one_model, methods=["GET", "DELETE"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/{rest:path}", invalid_url, methods=["GET", "POST", "DELETE", "PUT", "PATCH"]),
        ]
    )


@contextmanager
def openai_fixture_server(port: int, account: Account | None = None) -> Iterator[Account]:
    """Serve the account on 127.0.0.1:`port` in a thread while in the block; yields it
    (its `requests` and `bodies` record what the client sent; flip `refuse_training`)."""
    acct = account or build_account()
    config = uvicorn.Config(make_app(acct), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the OpenAI fixture server did not start")
        time.sleep(0.02)
    try:
        yield acct
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve OpenAI's published examples as an API.")
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--refuse-training",
        action="store_true",
        help="answer job creation with 403 training_not_available",
    )
    args = parser.parse_args(argv)
    acct = build_account()
    acct.refuse_training = args.refuse_training
    print(
        f"OpenAI fixture server: http://{args.host}:{args.port}/v1 "
        f"({len(acct.jobs)} jobs, {len(acct.files)} files)",
        flush=True,
    )
    uvicorn.run(make_app(acct), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
