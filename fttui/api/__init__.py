"""The async httpx backend layer: the only code in fttui that speaks HTTP.

    async with Client(base_url="http://127.0.0.1:8765/v1") as client:
        f = await client.files.upload("train.jsonl", on_progress=print)
        job = await client.jobs.create(training_file=f.id, model="davinci")
        async for event in client.jobs.follow(job.id):
            print(event.message)

See docs/api.md for errors, retries and follow semantics.
"""

import sys as _sys

# `import httpx` also imports httpx's own command-line tool whenever click and
# pygments are installed (they are: uvicorn needs click): tens of milliseconds of
# every `fttui` start, for code fttui never runs. Marked absent, httpx falls back
# to its stub `httpx.main`; the `httpx` console script runs in its own process and
# is unaffected.
if "httpx" not in _sys.modules:
    _sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from fttui.api.client import Client, infer_kind  # noqa: E402
from fttui.api.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from fttui.api.jobs import SEED_ONLY_FIELDS, UnsupportedParameterWarning
from fttui.api.types import (
    FINAL_JOB_STATUSES,
    ChatCompletion,
    Checkpoint,
    Completion,
    EventMetrics,
    FileDeleted,
    FileObject,
    FineTuningJob,
    Hyperparameters,
    JobEvent,
    LocalFile,
    LocalJob,
    Model,
    ModelDeleted,
    Page,
    Usage,
    raw,
)

__all__ = [
    "FINAL_JOB_STATUSES",
    "SEED_ONLY_FIELDS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ChatCompletion",
    "Checkpoint",
    "Client",
    "Completion",
    "ConflictError",
    "EventMetrics",
    "FileDeleted",
    "FileObject",
    "FineTuningJob",
    "Hyperparameters",
    "InternalServerError",
    "JobEvent",
    "LocalFile",
    "LocalJob",
    "Model",
    "ModelDeleted",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "UnsupportedParameterWarning",
    "Usage",
    "infer_kind",
    "raw",
]
