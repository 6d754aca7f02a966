"""Fine-tuning jobs: create, list, retrieve, cancel, pause/resume, events, checkpoints.

`follow()` is how the TUI streams a job's events. OpenAI's events endpoint pages
from newest to oldest and has no "newer than" cursor, so following means polling
the newest page and walking back until an event already yielded is reached; the
new ones are then yielded oldest first. A poll's events are yielded only after the
whole walk succeeded, so a connection dropped mid-walk loses nothing and repeats
nothing: the next poll simply walks again.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fttui.api._http import HTTP, segment
from fttui.api.errors import APIConnectionError, APIError, APIStatusError
from fttui.api.retry import RETRY_STATUSES
from fttui.api.types import Checkpoint, FineTuningJob, JobEvent, Page, parse

if TYPE_CHECKING:
    from fttui.core.job_spec import JobSpec

__all__ = ["SEED_ONLY_FIELDS", "Jobs", "UnsupportedParameterWarning"]

log = logging.getLogger(__name__)

# The legacy guide's classification options: only the local server implements them.
SEED_ONLY_FIELDS = frozenset(
    {
        "compute_classification_metrics",
        "classification_n_classes",
        "classification_positive_class",
        "classification_betas",
    }
)

_FOLLOW_PAGE = 100
_FOLLOW_MAX_BACKOFF = 10.0


def _job_answer(body: Any, job_id: str) -> FineTuningJob:
    """The job a 2xx answer describes, read as far as it can be (never an error).

    Fields the answer lacks keep their defaults; an answer that is not a job at all
    is a job with only its id and `unreadable` saying what came instead.
    """
    try:
        return parse(FineTuningJob, body, fill={"id": job_id})
    except APIError as exc:
        job = FineTuningJob.model_construct(id=job_id)
        job._unreadable = str(exc).removeprefix("unexpected response from the server: ")
        return job


class UnsupportedParameterWarning(UserWarning):
    """A job option was dropped because the backend does not implement it."""


class Jobs:
    """`client.jobs`: the /fine_tuning/jobs endpoints."""

    def __init__(
        self, http: HTTP, kind: str, identify: Callable[[], Awaitable[str]] | None = None
    ) -> None:
        self._http = http
        self._kind = kind
        # Which backend this is, asked of the backend itself (`Client.detect`), not read
        # from its URL: an OPENAI_BASE_URL may point at fttui's own server.
        self._identify = identify
        # Notices about options dropped by the last create() (also issued as warnings).
        self.last_notices: list[str] = []

    async def create(
        self,
        *,
        training_file: str,
        model: str,
        validation_file: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        suffix: str | None = None,
        seed: int | None = None,
        method: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
        integrations: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> FineTuningJob:
        """Start a job. Never retried once sent, except on 429 (see `fttui.api.retry`).

        `extra` is merged into the body; for a backend other than the local server
        (asked of the backend, see `identify`) the legacy-only classification fields
        in it are dropped, with an `UnsupportedParameterWarning` and a line in
        `last_notices` (the TUI's form says so before it sends).
        """
        body: dict[str, Any] = {"training_file": training_file, "model": model}
        optional = {
            "validation_file": validation_file,
            "hyperparameters": hyperparameters,
            "suffix": suffix,
            "seed": seed,
            "method": method,
            "metadata": metadata,
            "integrations": integrations,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return await self._post(body, extra or {})

    async def submit(self, spec: JobSpec) -> FineTuningJob:
        """Start the job `spec` describes, sent as the job contract writes it
        (`JobSpec.to_request()`: what the form and `fttui jobs create` build).

        The legacy guide's classification options are dropped for a backend other
        than the local server, as in `create`.
        """
        body = spec.to_request()
        extra = {k: body.pop(k) for k in SEED_ONLY_FIELDS if k in body}
        return await self._post(body, extra)

    async def _post(self, body: dict[str, Any], extra: dict[str, Any]) -> FineTuningJob:
        self.last_notices = []
        kind = self._kind
        if self._identify is not None and SEED_ONLY_FIELDS & set(extra):
            kind = await self._identify()
        for key, value in extra.items():
            if key in SEED_ONLY_FIELDS and kind != "local":
                notice = f"{key} is only supported by the local server; not sent to this backend"
                self.last_notices.append(notice)
                warnings.warn(notice, UnsupportedParameterWarning, stacklevel=3)
                continue
            body[key] = value
        answer = await self._http.request("POST", "/fine_tuning/jobs", json=body, idempotent=False)
        # A 2xx is a created job, whatever its body lacks: an error here would invite
        # a second submit and a second job. An answer without an id has id "".
        return _job_answer(answer, "")

    async def list(self, after: str | None = None, limit: int | None = 20) -> Page[FineTuningJob]:
        body = await self._http.request(
            "GET", "/fine_tuning/jobs", params={"after": after, "limit": limit}
        )
        return parse(Page[FineTuningJob], body)

    async def iter(self, page_size: int = 100) -> AsyncIterator[FineTuningJob]:
        """Every job, newest first, following the `after` cursor."""
        after: str | None = None
        while True:
            page = await self.list(after=after, limit=page_size)
            for job in page.data:
                yield job
            if not page.has_more or not page.data or page.last_id == after:
                return
            after = page.last_id

    async def retrieve(self, job_id: str) -> FineTuningJob:
        return parse(
            FineTuningJob, await self._http.request("GET", f"/fine_tuning/jobs/{segment(job_id)}")
        )

    async def _action(self, job_id: str, action: str) -> FineTuningJob:
        # Cancelling, pausing or resuming twice has the same effect as once: retryable.
        body = await self._http.request(
            "POST", f"/fine_tuning/jobs/{segment(job_id)}/{action}", idempotent=True
        )
        # A 2xx is done, whatever its body lacks (OpenAI's answers to these actions
        # carry only some of a job's fields).
        return _job_answer(body, job_id)

    async def cancel(self, job_id: str) -> FineTuningJob:
        return await self._action(job_id, "cancel")

    async def pause(self, job_id: str) -> FineTuningJob:
        """Pause a running job (OpenAI and backends that have it; others answer 404)."""
        return await self._action(job_id, "pause")

    async def resume(self, job_id: str) -> FineTuningJob:
        return await self._action(job_id, "resume")

    async def events(
        self, job_id: str, after: str | None = None, limit: int | None = 20
    ) -> Page[JobEvent]:
        """One page of events, newest first; `after` is the previous page's `last_id`."""
        body = await self._http.request(
            "GET",
            f"/fine_tuning/jobs/{segment(job_id)}/events",
            params={"after": after, "limit": limit},
        )
        return parse(Page[JobEvent], body)

    async def checkpoints(
        self, job_id: str, after: str | None = None, limit: int | None = 10
    ) -> Page[Checkpoint]:
        body = await self._http.request(
            "GET",
            f"/fine_tuning/jobs/{segment(job_id)}/checkpoints",
            params={"after": after, "limit": limit},
        )
        return parse(Page[Checkpoint], body)

    async def _new_events(
        self, job_id: str, seen: set[str], stop_at: str | None
    ) -> builtins.list[dict[str, Any]]:
        """Events newer than any in `seen` (or than `stop_at`), oldest first, as raw dicts.

        A first walk over a long job holds tens of thousands of events; raw JSON dicts
        of plain values are invisible to the garbage collector, where as many model
        objects made its full passes take tens of milliseconds more each. They are
        validated one by one as they are yielded.
        """
        fresh: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            body = await self._http.request(
                "GET",
                f"/fine_tuning/jobs/{segment(job_id)}/events",
                params={"after": after, "limit": _FOLLOW_PAGE},
            )
            page = parse(Page[Any], body)
            reached = False
            for raw in page.data:
                if not isinstance(raw, dict):
                    raise APIError(f"job {job_id} events: an event is not an object: {raw!r:.80}")
                event_id = raw.get("id")
                if event_id in seen or (stop_at is not None and event_id == stop_at):
                    reached = True
                    break
                fresh.append(raw)
            last_id = page.data[-1].get("id") if page.data else page.last_id
            if reached or not page.has_more or not page.data or last_id == after:
                break
            after = last_id if isinstance(last_id, str) else None
            if after is None:
                break
        fresh.reverse()
        # A backend that repeats an id within one walk must not make us yield it twice.
        unique: list[dict[str, Any]] = []
        for raw in fresh:
            event_id = raw.get("id")
            if isinstance(event_id, str) and event_id not in seen:
                seen.add(event_id)
                unique.append(raw)
            elif not isinstance(event_id, str):
                unique.append(raw)  # parse() names the missing id when it is yielded
        return unique

    async def follow(
        self, job_id: str, *, poll_interval: float = 1.0, since: str | None = None
    ) -> AsyncIterator[JobEvent]:
        """Yield each event of the job once, oldest first, until the job is final.

        `since`: an event id already shown; only newer events are yielded. Dropped
        connections and 5xx answers are waited out with backoff (forever: cancel
        the consuming task to stop following); 4xx errors such as an unknown job
        are raised.
        """
        seen: set[str] = set()
        stop_at = since
        failures = 0
        final_polls = 0
        while True:
            try:
                job = await self.retrieve(job_id)
                batch = await self._new_events(job_id, seen, stop_at)
            except (APIConnectionError, APIStatusError) as exc:
                if isinstance(exc, APIStatusError) and exc.status_code not in RETRY_STATUSES:
                    raise
                failures += 1
                delay = min(_FOLLOW_MAX_BACKOFF, poll_interval * 2 ** min(failures, 6))
                log.info("following %s: %s; polling again in %.1fs", job_id, exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            for raw in batch:
                yield parse(JobEvent, raw)
            if job.is_final:
                # The job was final before this walk began, so the walk saw every event
                # written up to then; one more look catches an event written just as
                # the status changed (e.g. "job succeeded" after the transition).
                final_polls += 1
                if final_polls > 1:
                    return
                await asyncio.sleep(min(poll_interval, 0.5))
                continue
            await asyncio.sleep(poll_interval)
