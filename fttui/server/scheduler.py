"""The job scheduler: an asyncio task inside the server that moves jobs along.

validating_files -> queued (each job's files validated completely, in a thread of
its own, by `validation.validate_job`), queued -> running (FIFO, up to
`concurrency` at once, each started through a `Runner`: a local process, or a Ray job
with `--runner ray`), and it watches them: one that ends while its job is not final
fails the job with what the runner knows (exit code and log tail, or Ray's error).
Each start claims the job's model name and issues its trainer a fresh per-job token;
the trainer reports succeeded / failed / cancelled over the internal API, applied
with `Store.transition`, so nobody overwrites anybody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fttui.core.safe_text import safe_text
from fttui.server.checkpoints import drop_state_of_final_jobs, resume_point
from fttui.server.trainer_service import TOKEN_ENV, claim_model_name, issue_token, revoke_token
from fttui.server.validation import Validator, validate_job
from fttui.store.db import Store, now

log = logging.getLogger("fttui.server.scheduler")

KILL_AFTER_S = 5.0
DEFAULT_TRAINER_NICE = 10
LOG_TAIL_LINES = 15


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


@dataclass
class _ChildHandle:
    proc: subprocess.Popen[bytes]
    log_path: Path
    workers: int = 1

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def label(self) -> str:
        return f"process {self.proc.pid}"

    @property
    def runtime(self) -> dict[str, Any]:
        return local_runtime(self.workers)

    @property
    def outlives_server(self) -> bool:
        return False

    def poll(self) -> int | None:
        return self.proc.poll()

    def failure(self) -> str:
        code = self.proc.poll()
        how = f"exit code {code}" if code is not None and code >= 0 else f"signal {-(code or 0)}"
        return _with_tail(
            f"The training process ended with {how} before the job finished", self.log_path
        )

    def signal(self, sig: int) -> None:
        # The trainer runs in its own session: signal its whole group (accelerate
        # and data-loader children included).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)


@dataclass
class AdoptedHandle:
    """A trainer left running by a previous server process: watched by pid only."""

    pid: int
    job_id: str
    log_path: Path
    workers: int = 1

    @property
    def label(self) -> str:
        return f"process {self.pid}"

    @property
    def runtime(self) -> dict[str, Any]:
        return local_runtime(self.workers)

    @property
    def outlives_server(self) -> bool:
        return False

    def poll(self) -> int | None:
        return None if trainer_alive(self.pid, self.job_id) else -1

    def failure(self) -> str:
        message = "The training process ended with an unknown exit code before the job finished"
        return _with_tail(message, self.log_path)

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


def local_runtime(workers: int) -> dict[str, Any]:
    return {
        "runner": "local",
        "workers": workers,
        "device": None,
        "precision": None,
        "ray_job_id": None,
    }


def _with_tail(message: str, log_path: Path) -> str:
    tail = log_tail(log_path)
    return f"{message}. Last log lines:\n{tail}" if tail else message


def trainer_alive(pid: int | None, job_id: str) -> bool:
    """Whether `pid` is still a live trainer of `job_id` (not a recycled pid)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    zombie = stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]
    return not zombie and job_id.encode() in cmdline


def visible_gpu_count() -> int:
    """CUDA GPUs this server's trainers would see, without importing torch.

    `CUDA_VISIBLE_DEVICES` decides when set (empty or "-1" hides every GPU);
    otherwise `nvidia-smi -L` lists them (no driver, no GPU: 0).
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [d.strip() for d in visible.split(",") if d.strip()]
        if "-1" in ids:
            ids = ids[: ids.index("-1")]
        return len(ids)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def data_parallel_processes(n_gpus: int) -> int:
    """How many training processes a job gets: `FTTUI_NUM_PROCESSES`, else one per GPU."""
    env = os.environ.get("FTTUI_NUM_PROCESSES", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            log.warning("ignoring FTTUI_NUM_PROCESSES=%r (not a number)", env)
    return max(1, n_gpus)


def accelerate_command(num_processes: int, module: str = "fttui.train.run") -> list[str]:
    """`accelerate launch` of the trainer module with `num_processes` ranks on this machine.

    `--multi_gpu` selects accelerate's torchrun launcher, which is the one that starts
    several local processes; `--cpu` would select its single-process launcher in this
    accelerate version (1.x), so on a machine without GPUs the trainer itself picks the
    gloo backend (`PartialState(cpu=True)`). Each launch gets its own rendezvous port so
    that two jobs (`--concurrency 2`) never share one.
    """
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        str(num_processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        "-m",
        module,
    ]


class LocalProcessRunner:
    """Starts `<trainer command> --server-url U --job-id J`, output to the job's train.log.

    The trainer talks to this server over loopback HTTP like any remote trainer (one
    code path); its token comes in `FTTUI_TRAINER_TOKEN`, and `FTTUI_CACHE_DIR` points
    its node cache at `<data_dir>/models`, so the converted default model is shared
    with the server's inference.

    With the default trainer command and more than one GPU visible (or
    `FTTUI_NUM_PROCESSES=N`, N > 1, which also works on CPU), the trainer is started
    under `accelerate launch` as N data-parallel ranks. A custom
    `FTTUI_TRAINER_COMMAND` is used as given.
    """

    def __init__(self, data_dir: Path, command: tuple[str, ...], server_url: str) -> None:
        self.data_dir = data_dir
        self.command = command
        self.server_url = server_url
        self._gpus: int | None = None

    def log_path(self, job_id: str) -> Path:
        return self.data_dir / "jobs" / job_id / "train.log"

    def _workers(self) -> int:
        if not self._default():
            return 1
        if self._gpus is None:
            self._gpus = visible_gpu_count()
        return data_parallel_processes(self._gpus)

    def _default(self) -> bool:
        return self.command[-2:] == ("-m", "fttui.train.run") and len(self.command) == 3

    def trainer_command(self) -> list[str]:
        n = self._workers()
        if not self._default() or n <= 1:
            return list(self.command)
        return accelerate_command(n)

    def start(self, job: dict[str, Any], token: str) -> RunHandle:
        log_path = self.log_path(job["id"])
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            TOKEN_ENV: token,
            "FTTUI_CACHE_DIR": str(self.data_dir / "models"),
        }
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                [*self.trainer_command(), "--server-url", self.server_url, "--job-id", job["id"]],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=log_path.parent,
                env=env,
            )
        lower_priority(proc.pid)
        return _ChildHandle(proc, log_path, self._workers())

    def adopt(self, job: dict[str, Any]) -> RunHandle | None:
        pid = job.get("pid")
        if not trainer_alive(pid, job["id"]):
            return None
        assert pid is not None
        workers = int((job.get("runtime") or {}).get("workers") or 1)
        return AdoptedHandle(pid, job["id"], self.log_path(job["id"]), workers)


def trainer_niceness() -> int:
    """How much lower than the server's the trainer's CPU priority is (`FTTUI_TRAINER_NICE`).

    A trainer keeps every core busy; at the same priority the API's answers wait
    behind it on a small box. 10 by default (the kernel then gives the server about
    ten times the trainer's share whenever both want a core); 0 keeps them equal.
    """
    raw = os.environ.get("FTTUI_TRAINER_NICE", "").strip()
    try:
        return max(0, min(19, int(raw))) if raw else DEFAULT_TRAINER_NICE
    except ValueError:
        log.warning("ignoring FTTUI_TRAINER_NICE=%r (not a number)", raw)
        return DEFAULT_TRAINER_NICE


def lower_priority(pid: int) -> None:
    """Renice a just-started trainer (its own process group) below the server.

    Done right after the start, before the trainer has imported anything, so every
    process it starts later (data-parallel ranks, loader workers) inherits it.
    """
    niceness = trainer_niceness()
    if not niceness:
        return
    try:
        current = os.getpriority(os.PRIO_PROCESS, pid)
        os.setpriority(os.PRIO_PGRP, pid, min(19, current + niceness))
    except OSError as exc:  # gone already, or not allowed: it still trains
        log.warning("could not lower the trainer's priority (pid %s): %s", pid, exc)


_NO_MODULE = re.compile(r"No module named '([A-Za-z0-9_]+)")


def missing_engine_in(tail: str) -> str | None:
    """The user-facing message when a trainer died because the engine is not installed."""
    from fttui.server.engine_check import ENGINE_MODULES, engine_message

    found = [m for m in _NO_MODULE.findall(tail) if m in ENGINE_MODULES]
    return engine_message(sorted(set(found)), "train this job") if found else None


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The trainer log's last lines, for a failed job's error (stored, shown to every
    client): colour codes, progress bars' carriage returns and whatever a traceback
    quoted from the data are shown as escapes (`safe_text`), never raw."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 8192))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return safe_text("\n".join(text.strip().splitlines()[-lines:]), multiline=True)


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
        """One pass: validate, reap, enforce cancels, start, drop the optimizer state of
        jobs that can no longer resume. Safe to call repeatedly."""
        self._validate_pending()
        self._watch_running()
        self._start_queued()
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
