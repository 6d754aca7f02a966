"""The job scheduler: an asyncio task inside the server that moves jobs along.

validating_files -> queued (each job's files validated completely, in a thread of
its own, by `validation.validate_job`), queued -> running (FIFO, up to
`concurrency` at once, each started through a `Runner`: a local process, or a Ray job
with `--runner ray`), and it watches them: one that ends while its job is not final
fails the job with what the runner knows (exit code and log tail, or Ray's error).
The local runner (a child process on this machine) is in `local_runner.py`, the Ray
runner in `ray_runner.py`. Each start claims the job's model name and issues its
trainer a fresh per-job token; the trainer reports succeeded / failed / cancelled over
the internal API, applied with `Store.transition`, so nobody overwrites anybody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from fttui.server.checkpoints import drop_state_of_final_jobs, resume_point
from fttui.server.trainer_service import claim_model_name, issue_token, revoke_token
from fttui.server.validation import Validator, validate_job
from fttui.store.db import Store, now

log = logging.getLogger("fttui.server.scheduler")

KILL_AFTER_S = 5.0


class RunHandle(Protocol):
    """A started trainer, as the scheduler needs to watch and stop it."""

    @property
    def pid(self) -> int | None:
        """The local process id (None when the trainer runs elsewhere)."""
        ...

    @property
    def label(self) -> str:
        """How the start event names it: `process 123`, `Ray job raysubmit_...`."""
        ...

    @property
    def runtime(self) -> dict[str, Any]:
        """What the runner knows of `fttui.runtime` (runner, workers, ray_job_id)."""
        ...

    def poll(self) -> int | None:
        """The exit code once it has exited (-1 when unknown), else None."""
        ...

    def signal(self, sig: int) -> None:
        """SIGTERM: stop (cancel); SIGKILL: stop now."""
        ...

    def failure(self) -> str:
        """Why it ended, in words, when its job was not final (log tail, Ray's error)."""
        ...

    @property
    def outlives_server(self) -> bool:
        """True when a server shutdown leaves it running (a Ray job, re-attached later)."""
        ...


class Runner(Protocol):
    """The seam between the scheduler and whatever trains a job."""

    def start(self, job: dict[str, Any], token: str) -> RunHandle:
        """Start the trainer of `job`, handing it `token` (never on a command line)."""
        ...

    def adopt(self, job: dict[str, Any]) -> RunHandle | None:
        """After a server restart: the job's trainer if it still runs, else None."""
        ...

    def warm(self, jobs: int) -> None:
        """`jobs` jobs wait to start (validating or queued): a runner may get their
        trainers ready beforehand (the local runner's standby trainers)."""
        ...

    def close(self) -> None:
        """The server stops: release what `warm` started."""
        ...


_NO_MODULE = re.compile(r"No module named '([A-Za-z0-9_]+)")


def missing_engine_in(tail: str) -> str | None:
    """The user-facing message when a trainer died because the engine is not installed."""
    from fttui.server.engine_check import ENGINE_MODULES, engine_message

    found = [m for m in _NO_MODULE.findall(tail) if m in ENGINE_MODULES]
    return engine_message(sorted(set(found)), "train this job") if found else None


@dataclass
class _Running:
    handle: RunHandle
    term_sent_at: float | None = None


@dataclass
class Scheduler:
    store: Store
    runner: Runner
    concurrency: int = 1
    poll_interval: float = 0.5
    validator: Validator | None = None
    _running: dict[str, _Running] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _loop_ref: asyncio.AbstractEventLoop | None = None
    # Jobs being validated: one at a time, in a thread, so a long check (a 150 MB file)
    # never delays reaping, cancels or starts.
    _validating: set[str] = field(default_factory=set)
    _validating_lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="fttui-validate")
    )

    # -- lifecycle ----------------------------------------------------------------
    def recover(self) -> None:
        """On server start: adopt trainers still alive, fail running jobs whose trainer
        is gone. A paused job stays paused (resumable) whatever became of its trainer."""
        for job in self.store.list_jobs(statuses=["running", "paused"]):
            paused = job["status"] == "paused"
            if paused and not job.get("pause_requested"):
                continue  # paused and checkpointed: nothing runs, nothing to adopt
            handle = self.runner.adopt(job)
            if handle is not None and handle.poll() is None:
                self._running[job["id"]] = _Running(handle)
                self.store.add_event(
                    job["id"],
                    f"Server restarted; the job's trainer is still running ({handle.label})",
                )
                continue
            if paused:
                self._pause_ended(job["id"])
            elif handle is not None:
                # Ended while the server was down, without a final report.
                self._fail(
                    job["id"], "training_crashed", handle.failure(), from_statuses=("running",)
                )
            else:
                self._fail(
                    job["id"],
                    "server_restarted",
                    "The server restarted while the job was running and its trainer is gone",
                    from_statuses=("running",),
                )

    def start(self) -> None:
        self._loop_ref = asyncio.get_running_loop()
        self.recover()
        if self.validator is None:
            self.validator = Validator(self.store.data_dir)
        self._task = asyncio.create_task(self._run(), name="fttui-scheduler")

    async def stop(self) -> None:
        """Server shutdown: stop the loop, then stop our trainers and fail their jobs."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.validator is not None:
            await asyncio.to_thread(self.validator.close)
        await asyncio.to_thread(self.runner.close)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for job_id, running in list(self._running.items()):
            if running.handle.outlives_server:
                continue  # a Ray job trains on; the next server start re-attaches to it
            running.handle.signal(signal.SIGTERM)
            deadline = time.monotonic() + KILL_AFTER_S
            while running.handle.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if running.handle.poll() is None:
                running.handle.signal(signal.SIGKILL)
            # A paused job stays paused: the next start keeps it resumable.
            self._fail(
                job_id,
                "server_stopped",
                "The server stopped while the job was running",
                from_statuses=("running",),
            )
        self._running.clear()

    def wake(self) -> None:
        """Act now instead of at the next poll (a job was created or cancelled).

        Safe from any thread: routes run in the threadpool, the validation thread
        queues jobs, and `asyncio.Event.set` from a thread other than the loop's would
        not wake the waiting loop.
        """
        loop = self._loop_ref
        if loop is None or loop.is_closed():
            self._wake.set()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake.set)

    # -- the loop -------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("scheduler tick failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    def tick(self) -> None:
        """One pass: validate, reap, enforce cancels, start, get trainers ready for the
        jobs still waiting, drop the optimizer state of jobs that can no longer resume.
        Safe to call repeatedly."""
        self._validate_pending()
        self._watch_running()
        self._start_queued()
        waiting = self.store.job_count(["validating_files", "queued"])
        self.runner.warm(min(waiting, self.concurrency))
        drop_state_of_final_jobs(self.store)

    def _validate_pending(self) -> None:
        """Hand each new `validating_files` job to the validation thread (oldest first)."""
        for job in reversed(self.store.list_jobs(statuses=["validating_files"])):
            with self._validating_lock:
                if job["id"] in self._validating:
                    continue
                self._validating.add(job["id"])
            try:
                self._pool.submit(self._validate, job)
            except RuntimeError:  # shutting down
                with self._validating_lock:
                    self._validating.discard(job["id"])
                return

    def _validate(self, job: dict[str, Any]) -> None:
        try:
            assert self.validator is not None
            validate_job(self.store, job, self.validator)
        except Exception:
            log.exception("validating job %s failed", job["id"])
            self._fail(
                job["id"],
                "validation_error",
                "The server could not validate the files (see its log)",
                from_statuses=("validating_files",),
            )
        finally:
            with self._validating_lock:
                self._validating.discard(job["id"])
            self.wake()

    def _watch_running(self) -> None:
        for job_id, running in list(self._running.items()):
            code = running.handle.poll()
            job = self.store.get_job(job_id)
            if code is not None:
                del self._running[job_id]
                if job is not None and job["status"] == "paused":
                    if job.get("pause_requested"):
                        self._pause_ended(job_id)
                elif job is not None and job["status"] == "running":
                    message = running.handle.failure()
                    code_name = "training_crashed"
                    missing = missing_engine_in(message)
                    if missing:  # the plain story, not an import traceback
                        code_name, message = "engine_not_installed", missing
                    self._fail(job_id, code_name, message, from_statuses=("running",))
                revoke_token(self.store, job_id)  # its trainer is gone
                continue
            if job is None or job["status"] == "cancelled" or job.get("cancel_requested"):
                if running.term_sent_at is None:
                    running.handle.signal(signal.SIGTERM)
                    running.term_sent_at = time.monotonic()
                elif time.monotonic() - running.term_sent_at > KILL_AFTER_S:
                    running.handle.signal(signal.SIGKILL)

    def _start_queued(self) -> None:
        while len(self._running) < self.concurrency:
            job = self.store.next_queued_job()
            if job is None:
                return
            if job["id"] in self._running:
                return  # resumed while its last trainer is still exiting: next tick
            # A resumed job keeps the time it first started.
            started = job.get("started_at") or now()
            if not self.store.transition(
                job["id"], ["queued"], "running", started_at=started, pause_requested=0
            ):
                continue  # cancelled in between
            try:
                claim_model_name(self.store, job)
                token = issue_token(self.store, job["id"])
                handle = self.runner.start(job, token)
            except (OSError, RuntimeError) as exc:
                self._fail(
                    job["id"],
                    "training_not_started",
                    f"Could not start the trainer: {exc}",
                    from_statuses=("running",),
                )
                continue
            self._running[job["id"]] = _Running(handle)
            self.store.update_job(job["id"], pid=handle.pid, runtime=handle.runtime)
            self.store.add_event(job["id"], f"Fine-tuning job started ({handle.label})")

    # -- helpers --------------------------------------------------------------------
    def _pause_ended(self, job_id: str) -> None:
        """A paused job's trainer is gone without having reported `paused` (it crashed
        or was killed while saving): the job stays paused and resumes from its latest
        complete checkpoint with optimizer state, or from the start."""
        if not self.store.transition(job_id, ["paused"], "paused", pause_requested=0):
            return
        point = resume_point(self.store, job_id)
        where = (
            f"step {point['step_number']} (checkpoint {point['fine_tuned_model_checkpoint']})"
            if point is not None
            else "the beginning (no checkpoint with the optimizer state was saved)"
        )
        self.store.add_event(
            job_id,
            f"The trainer stopped before it saved its pause checkpoint; resume continues "
            f"from {where}",
            level="warn",
        )
        revoke_token(self.store, job_id)

    def _fail(
        self, job_id: str, code: str, message: str, *, from_statuses: tuple[str, ...]
    ) -> None:
        if self.store.transition(
            job_id,
            list(from_statuses),
            "failed",
            finished_at=now(),
            error={"code": code, "message": message, "param": None},
        ):
            self.store.add_event(job_id, message, level="error")
        revoke_token(self.store, job_id)
