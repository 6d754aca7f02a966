"""A hostile OpenAI-compatible backend: a test double for "any backend" fttui is pointed at.

It speaks the real wire format (the `openai` SDK's shapes, OpenAI's error body) but
every string it sends carries terminal attacks: CSI (clear screen), OSC 0 and OSC 2
(window title, BEL- and ST-terminated), OSC 52 (write the clipboard), an 8-bit C1
CSI (U+009B), a bidi override (U+202E) and Rich/Textual markup. Each string starts
with a short tag (`FN`, `EVMSG`, ...) so a test can tell where it was drawn.

Errors are hostile too: deleting a file, cancelling a job, creating a job and
uploading a file all answer an OpenAI-shaped error whose message is such a string.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# The attack, as sent. Markup first so its literal form stays visible in narrow
# cells; `[@click=app.quit]` would be a clickable quit link if read as markup.
EVIL = (
    "[reverse]R[/][@click=app.quit]Q[/]"
    "\x1b[2JZc"  # CSI: clear the screen
    "\x1b]0;PWNT\x07"  # OSC 0: set the window title (BEL-terminated)
    "\x1b]2;PWN2\x1b\\"  # OSC 2: set the title (ST-terminated)
    "\x1b]52;c;UFdO\x07"  # OSC 52: write "PWN" to the clipboard
    "\x9b1mZ8"  # 8-bit CSI (C1), bold
    "\u202eRL"  # right-to-left override
)
#: How the start of EVIL must look on screen: markup literal, controls as escapes.
SHOWN = rb"[reverse]R[/][@click=app.quit]Q[/]\x1b[2JZc\x1b]0;PWNT\x07"
#: Byte sequences that must never reach the terminal. Textual itself never writes
#: any of them (no OSC 0/2/52, no C1, no bidi controls, no "ESC[2J" before "Zc").
RAW: tuple[bytes, ...] = (
    b"\x1b[2JZc",
    b"\x1b]0;PWNT",
    b"\x1b]2;PWN2",
    b"\x1b]52;",
    b"\xc2\x9b",  # U+009B in UTF-8
    b"\xe2\x80\xae",  # U+202E in UTF-8
)


def tagged(tag: str) -> str:
    return tag + EVIL


JOB_OK = tagged("ftjob-A")
JOB_FAILED = tagged("ftjob-B")
JOB_RUNNING = tagged("ftjob-C")
JOB_ODD = tagged("ftjob-D")
FILE_TRAIN = tagged("file-T")
FILE_RESULTS = tagged("file-R")
FILE_BAD_RESULTS = tagged("file-X")
BASE_MODEL = tagged("base-M")
FT_MODEL = tagged("ft:M")
FT_MODEL_ENDED = tagged("ft:END")
ORG = tagged("org-")


def _results_csv(bad_cell: bool = False) -> bytes:
    """A results CSV with a hostile column name (a plot legend); with `bad_cell`, a
    hostile cell too (the app refuses the file, quoting the cell)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["step", "train_loss", "train_accuracy", tagged("classification/LEG")])
    for step in range(1, 11):
        loss = tagged("CSV") if bad_cell and step == 5 else 2.0 / step
        writer.writerow([step, loss, step / 10, step / 20])
    return out.getvalue().encode()


def _now() -> int:
    return int(time.time())


@dataclass
class HostileState:
    """What the server serves, and every request it saw (method, decoded path)."""

    created: int = field(default_factory=_now)
    requests: list[tuple[str, str]] = field(default_factory=list)
    #: Set by a test: the running job has ended (succeeded, as a model this backend
    #: named), so the app's "job ended" notification quotes the backend's strings.
    running_ended: bool = False

    def files(self) -> list[dict[str, Any]]:
        c = self.created
        return [
            {
                "id": FILE_TRAIN,
                "object": "file",
                "bytes": 2048,
                "created_at": c - 50,  # the newest: first in the files list
                "filename": tagged("train-FN") + ".jsonl",
                "purpose": "fine-tune",
                "status": "processed",
            },
            {
                "id": FILE_RESULTS,
                "object": "file",
                "bytes": len(_results_csv()),
                "created_at": c - 100,
                "filename": tagged("results-FN") + ".csv",
                "purpose": "fine-tune-results",
                "status": tagged("ST"),
            },
            {
                "id": FILE_BAD_RESULTS,
                "object": "file",
                "bytes": len(_results_csv(bad_cell=True)),
                "created_at": c - 150,
                "filename": "results.csv",
                "purpose": "fine-tune-results",
                "status": "processed",
            },
        ]

    def jobs(self) -> list[dict[str, Any]]:
        c = self.created
        common = {
            "object": "fine_tuning.job",
            "organization_id": ORG,
            "training_file": FILE_TRAIN,
            "validation_file": None,
            "seed": 7,
            "integrations": [],
        }
        return [
            {
                **common,
                "id": JOB_RUNNING,
                "created_at": c - 60,
                "model": BASE_MODEL,
                "status": "succeeded" if self.running_ended else "running",
                "fine_tuned_model": FT_MODEL_ENDED if self.running_ended else None,
                "finished_at": c if self.running_ended else None,
                "estimated_finish": c + 600,
                "hyperparameters": {"n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 1},
                "result_files": [],
                "trained_tokens": None,
                "error": None,
            },
            {
                **common,
                "id": JOB_FAILED,
                "created_at": c - 200,
                "model": BASE_MODEL,
                "status": "failed",
                "fine_tuned_model": None,
                "finished_at": c - 150,
                "hyperparameters": {"n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 1},
                "result_files": [FILE_BAD_RESULTS],
                "trained_tokens": None,
                "error": {"code": tagged("CODE"), "message": tagged("ERRMSG"), "param": None},
            },
            {
                **common,
                "id": JOB_OK,
                "created_at": c - 300,
                "model": BASE_MODEL,
                "status": "succeeded",
                "fine_tuned_model": FT_MODEL,
                "finished_at": c - 100,
                "suffix": tagged("SFX"),
                "user_provided_suffix": tagged("SFX"),
                "hyperparameters": {
                    "n_epochs": 3,
                    "batch_size": 1,
                    "learning_rate_multiplier": 0.1,
                    tagged("HPK"): tagged("HPV"),
                },
                "method": {"type": tagged("MTH")},
                "metadata": {tagged("MDK"): tagged("MDV")},
                "result_files": [FILE_RESULTS],
                "trained_tokens": 1234,
                "error": None,
            },
            {
                **common,
                "id": JOB_ODD,
                "created_at": c - 400,
                "model": BASE_MODEL,
                "status": tagged("STATUS"),  # not one fttui knows: shown as it is
                "fine_tuned_model": None,
                "finished_at": None,
                "hyperparameters": {"n_epochs": 1, "batch_size": 1, "learning_rate_multiplier": 1},
                "result_files": [],
                "trained_tokens": None,
                "error": None,
            },
        ]

    def events(self, job_id: str) -> list[dict[str, Any]]:
        """Newest first, as OpenAI lists them."""
        c = self.created
        events = [
            {"message": tagged("EVMSG"), "level": "info", "type": "message"},
            {"message": "two lines\n\t" + tagged("EVLINE2"), "level": "warn", "type": "message"},
            {
                "message": "",
                "level": "info",
                "type": "metrics",
                "data": {"step": 1, "train_loss": 1.5, tagged("EVK"): 1},
            },
            {"message": tagged("EVERR"), "level": "error", "type": "message"},
        ]
        out = []
        for index, event in enumerate(events):
            out.append(
                {
                    "object": "fine_tuning.job.event",
                    "id": f"ftevent-{index}-{job_id}",
                    "created_at": c - 100 + index,
                    **event,
                }
            )
        out.reverse()
        return out

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        return [
            {
                "object": "fine_tuning.job.checkpoint",
                "id": tagged("ftckpt-"),
                "created_at": self.created - 120,
                "fine_tuned_model_checkpoint": tagged("CKPT"),
                "fine_tuning_job_id": job_id,
                "step_number": 10,
                "metrics": {"step": 10, "train_loss": 0.2},
            }
        ]

    def models(self) -> list[dict[str, Any]]:
        return [
            {"id": BASE_MODEL, "object": "model", "created": 0, "owned_by": ORG},
            {"id": FT_MODEL, "object": "model", "created": 0, "owned_by": ORG},
        ]


def _error(status: int, tag: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": tagged(tag),
                "type": "invalid_request_error",
                "param": tagged("PARAM"),
                "code": tagged("CODE"),
            }
        },
        status_code=status,
    )


def _page(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def make_app(state: HostileState) -> Starlette:
    def record(request: Request) -> None:
        state.requests.append((request.method, request.scope["path"]))  # percent-decoded

    async def list_files(request: Request) -> Response:
        record(request)
        return JSONResponse(_page(state.files()))

    async def upload(request: Request) -> Response:
        record(request)
        await request.body()
        return _error(400, "UPLOAD-ERR")

    async def one_file(request: Request) -> Response:
        record(request)
        file_id = request.path_params["file_id"]
        if request.method == "DELETE":
            return _error(400, "DELETE-ERR")
        for f in state.files():
            if f["id"] == file_id:
                return JSONResponse(f)
        return _error(404, "NOFILE")

    async def content(request: Request) -> Response:
        record(request)
        file_id = request.path_params["file_id"]
        if file_id in (FILE_RESULTS, FILE_BAD_RESULTS):
            csv_bytes = _results_csv(bad_cell=file_id == FILE_BAD_RESULTS)
            return Response(csv_bytes, media_type="application/octet-stream")
        # Raw bytes, as a hostile backend may serve them (no JSON escaping).
        lines = [tagged("PREVIEW-LINE"), "\ttabbed " + tagged("PREVIEW-TAB")]
        lines += [
            json.dumps(
                {"prompt": f"{tagged('P')} {i} ->", "completion": " yes\n"}, ensure_ascii=False
            )
            for i in range(3)
        ]
        return Response("\n".join(lines).encode() + b"\n", media_type="application/octet-stream")

    async def list_jobs(request: Request) -> Response:
        record(request)
        return JSONResponse(_page(state.jobs()))

    async def create_job(request: Request) -> Response:
        record(request)
        await request.body()
        return _error(400, "CREATE-ERR")

    async def one_job(request: Request) -> Response:
        record(request)
        job_id = request.path_params["job_id"]
        for job in state.jobs():
            if job["id"] == job_id:
                return JSONResponse(job)
        return _error(404, "NOJOB")

    async def cancel(request: Request) -> Response:
        record(request)
        return _error(409, "CANCEL-ERR")

    async def events(request: Request) -> Response:
        record(request)
        return JSONResponse(_page(state.events(request.path_params["job_id"])))

    async def checkpoints(request: Request) -> Response:
        record(request)
        return JSONResponse(_page(state.checkpoints(request.path_params["job_id"])))

    async def models(request: Request) -> Response:
        record(request)
        return JSONResponse({"object": "list", "data": state.models()})

    async def completions(request: Request) -> Response:
        record(request)
        body = await request.json()
        return JSONResponse(
            {
                "id": tagged("cmpl-"),
                "object": "text_completion",
                "created": state.created,
                "model": body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "text": tagged("COMPLETION"),
                        "finish_reason": tagged("FIN"),
                        "logprobs": {
                            "tokens": [tagged("TOK")],
                            "token_logprobs": [-0.1],
                            "top_logprobs": [{tagged("TOP1"): -0.1, tagged("TOP2"): -2.5}],
                            "text_offset": [0],
                        },
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            }
        )

    async def chat(request: Request) -> Response:
        # Try model asks a chat model (every model here but OpenAI's completions models)
        # on /v1/chat/completions: the same hostile answer in the chat shape.
        record(request)
        body = await request.json()
        return JSONResponse(
            {
                "id": tagged("chatcmpl-"),
                "object": "chat.completion",
                "created": state.created,
                "model": body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": tagged("COMPLETION")},
                        "finish_reason": tagged("FIN"),
                        "logprobs": {
                            "content": [
                                {
                                    "token": tagged("TOK"),
                                    "logprob": -0.1,
                                    "top_logprobs": [
                                        {"token": tagged("TOP1"), "logprob": -0.1},
                                        {"token": tagged("TOP2"), "logprob": -2.5},
                                    ],
                                }
                            ]
                        },
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            }
        )

    async def not_found(request: Request) -> Response:
        record(request)
        return _error(404, "NOTFOUND")

    return Starlette(
        routes=[
            Route("/v1/files", list_files, methods=["GET"]),
            Route("/v1/files", upload, methods=["POST"]),
            # `:path`: the ids hold "/" (in "[/]"), which arrives percent-decoded.
            Route("/v1/files/{file_id:path}/content", content, methods=["GET"]),
            Route("/v1/files/{file_id:path}", one_file, methods=["GET", "DELETE"]),
            Route("/v1/fine_tuning/jobs", list_jobs, methods=["GET"]),
            Route("/v1/fine_tuning/jobs", create_job, methods=["POST"]),
            Route("/v1/fine_tuning/jobs/{job_id:path}/cancel", cancel, methods=["POST"]),
            Route("/v1/fine_tuning/jobs/{job_id:path}/events", events, methods=["GET"]),
            Route("/v1/fine_tuning/jobs/{job_id:path}/checkpoints", checkpoints, methods=["GET"]),
            Route("/v1/fine_tuning/jobs/{job_id:path}", one_job, methods=["GET"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/{rest:path}", not_found, methods=["GET", "POST", "DELETE"]),
        ]
    )


@contextmanager
def hostile_server(port: int) -> Iterator[HostileState]:
    """Serve the hostile backend on 127.0.0.1:`port` in a thread while in the block."""
    state = HostileState()
    config = uvicorn.Config(make_app(state), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the hostile test server did not start")
        time.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
