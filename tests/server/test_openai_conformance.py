"""Every kind of response the local server sends, real ones, against OpenAI's spec.

The facts come from OpenAI's published OpenAPI document (see `openai_spec.py` for
the source, the date and the two places where the live API departs from it).
"""

from __future__ import annotations

from typing import Any

import httpx
from conftest import ServerProcess

from fttui.store import Store

from .conftest import CHAT, MODEL, PROMPT
from .helpers import PROMPT_COMPLETION, upload
from .openai_spec import check, sse_events


def _ok(resp: httpx.Response) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_files_jobs_events_checkpoints_models_and_errors_conform(tiny: ServerProcess) -> None:
    with httpx.Client(base_url=tiny.base_url, timeout=60) as api:
        check("ListFilesResponse", _ok(api.get("/files", params={"purpose": "batch"})))  # empty
        file = check("OpenAIFile", _ok(upload(api, PROMPT_COMPLETION)))
        other = check("OpenAIFile", _ok(upload(api, b"x,y\n1,2\n", "r.csv", "batch")))
        check("ListFilesResponse", _ok(api.get("/files")))
        check("OpenAIFile", _ok(api.get(f"/files/{file['id']}")))
        check("DeleteFileResponse", _ok(api.delete(f"/files/{other['id']}")))

        body = {
            "model": MODEL,
            "training_file": file["id"],
            "suffix": "conformance",
            "metadata": {"k": "v"},
            "hyperparameters": {"n_epochs": 2},
        }
        job = check("FineTuningJob", _ok(api.post("/fine_tuning/jobs", json=body)))
        check("ListPaginatedFineTuningJobsResponse", _ok(api.get("/fine_tuning/jobs")))
        check("FineTuningJob", _ok(api.get(f"/fine_tuning/jobs/{job['id']}")))
        events = _ok(api.get(f"/fine_tuning/jobs/{job['id']}/events"))
        check("ListFineTuningJobEventsResponse", events)
        assert events["data"], "a new job has events"
        empty = _ok(api.get(f"/fine_tuning/jobs/{job['id']}/checkpoints"))
        check("ListFineTuningJobCheckpointsResponse", empty)

        # what a trainer records: a metrics event, a checkpoint, a fine-tuned model
        store = Store(tiny.data_dir)
        try:
            data = {"step": 1, "total_steps": 2, "train_loss": 1.5, "training_loss": 1.5}
            store.add_event(job["id"], "Step 1/2", type="metrics", data=data)
            store.add_checkpoint(
                job["id"],
                step_number=1,
                fine_tuned_model_checkpoint=f"{MODEL}:ft-local:conformance:ckpt-step-1",
                metrics={"step": 1, "train_loss": 1.5, "train_mean_token_accuracy": 0.5},
                path="jobs/x/checkpoints/step-1",
            )
            name = f"{MODEL}:ft-local:conformance-2026-01-02-03-04-05"
            store.add_model(name, base_model=MODEL, path="models/conformance", job_id=job["id"])
        finally:
            store.close()
        events = _ok(api.get(f"/fine_tuning/jobs/{job['id']}/events"))
        check("ListFineTuningJobEventsResponse", events)
        assert events["data"][0]["type"] == "metrics" and events["data"][0]["data"] == data
        ckpts = _ok(api.get(f"/fine_tuning/jobs/{job['id']}/checkpoints"))
        check("ListFineTuningJobCheckpointsResponse", ckpts)
        assert len(ckpts["data"]) == 1
        cancelled = check("FineTuningJob", _ok(api.post(f"/fine_tuning/jobs/{job['id']}/cancel")))
        assert cancelled["status"] == "cancelled"

        models = check("ListModelsResponse", _ok(api.get("/models")))
        assert {MODEL, name} <= {m["id"] for m in models["data"]}
        check("Model", _ok(api.get(f"/models/{MODEL}")))
        check("Model", _ok(api.get(f"/models/{name}")))
        check("DeleteModelResponse", _ok(api.delete(f"/models/{name}")))

        for resp in (
            api.get("/files/file-nope"),  # 404
            api.post("/fine_tuning/jobs", json={"model": MODEL}),  # 400
            api.post(f"/fine_tuning/jobs/{job['id']}/cancel"),  # 409
            api.put("/files"),  # 405
            api.delete(f"/models/{MODEL}"),  # 403
            api.post("/completions", json={"model": MODEL, "prompt": "x", "suffix": "y"}),
            api.post("/chat/completions", json={"model": "nope", "messages": CHAT}),  # 404
        ):
            assert resp.status_code >= 400
            check("ErrorResponse", resp.json())


def test_completions_and_their_chunks_conform(tiny: ServerProcess) -> None:
    with httpx.Client(base_url=tiny.base_url, timeout=120) as api:
        base = {"model": MODEL, "prompt": PROMPT, "max_tokens": 5}
        for extra in ({}, {"logprobs": 2, "n": 2}, {"stop": "\n", "temperature": 0}):
            check("CreateCompletionResponse", _ok(api.post("/completions", json={**base, **extra})))
        echoed = _ok(api.post("/completions", json={**base, "echo": True, "logprobs": 1}))
        check("CompletionEcho", echoed)
        streams = (
            {"stream": True},
            {"stream": True, "n": 2, "logprobs": 1, "echo": True},
            {"stream": True, "stream_options": {"include_usage": True}},
        )
        for extra in streams:
            resp = api.post("/completions", json={**base, **extra})
            assert resp.status_code == 200 and resp.headers["content-type"].startswith(
                "text/event-stream"
            )
            chunks = sse_events(resp.text)
            for chunk in chunks:
                check("CompletionChunk", chunk)
            assert {c["id"] for c in chunks} == {chunks[0]["id"]}
            if "stream_options" in extra:
                assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"]


def test_chat_completions_and_their_chunks_conform(tiny: ServerProcess) -> None:
    with httpx.Client(base_url=tiny.base_url, timeout=120) as api:
        base = {"model": MODEL, "messages": CHAT, "max_tokens": 5}
        for extra in ({}, {"logprobs": True, "top_logprobs": 2, "n": 2}):
            done = _ok(api.post("/chat/completions", json={**base, **extra}))
            check("CreateChatCompletionResponse", done)
            assert all(c["message"]["refusal"] is None for c in done["choices"])
        for extra in (
            {"stream": True},
            {"stream": True, "logprobs": True, "top_logprobs": 1, "n": 2},
            {"stream": True, "stream_options": {"include_usage": True}},
        ):
            resp = _ok_stream(api.post("/chat/completions", json={**base, **extra}))
            chunks = sse_events(resp.text)
            for chunk in chunks:
                check("CreateChatCompletionStreamResponse", chunk)
            assert chunks[0]["choices"][0]["delta"] == {
                "role": "assistant",
                "content": "",
                "refusal": None,
            }


def _ok_stream(resp: httpx.Response) -> httpx.Response:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    return resp
