"""`validating_files`: a job's files are checked completely before the job is queued.

As OpenAI's API does, a job starts in `validating_files`; the scheduler hands it to
`validate_job`, in a thread of its own, which checks its files exactly as the trainer
will read them: the data contract, the model's tokenizer and chat template, the
token limit and the job's method (`fttui.train.data.check_job_files`). A file that
cannot train fails the job here, with line numbers, and never after a model load.

The check runs in a worker process (`python -m fttui.train.validate`, see there
why), started on first use and kept for the next jobs; a job cancelled while it is
being validated, or a server shutting down, kills the worker, and the next job
starts a fresh one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from fttui.core.models import load_registry, resolve_model
from fttui.core.naming import base_of
from fttui.store.db import Store, now

log = logging.getLogger("fttui.server.validation")

POLL_S = 0.25
WORKER_IDLE_S = 600.0


class Validator:
    """The validation worker process: one request at a time, restarted when it dies."""

    def __init__(self, data_dir: Path, idle_s: float = WORKER_IDLE_S) -> None:
        self.data_dir = data_dir
        self.idle_s = idle_s
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _worker(self) -> subprocess.Popen[str]:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            return proc
        log_path = self.data_dir / "validation.log"
        with open(log_path, "ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "fttui.train.validate", "--idle", str(self.idle_s)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=self.data_dir,
                start_new_session=True,
            )
        self._proc = proc
        return proc

    def run(self, request: dict[str, Any], abort: Callable[[], bool]) -> dict[str, Any] | None:
        """The worker's answer to `request`; None when `abort()` turned true meanwhile
        (the worker is then killed) or the validator was closed."""
        with self._lock:
            if self._closed:
                return None
            proc = self._worker()
            stdin, stdout = proc.stdin, proc.stdout
            assert stdin is not None and stdout is not None
            try:
                stdin.write(json.dumps(request) + "\n")
                stdin.flush()
            except OSError:  # it exited (idle timeout) just now: once more with a new one
                proc = self._worker()
                stdin, stdout = proc.stdin, proc.stdout
                assert stdin is not None and stdout is not None
                stdin.write(json.dumps(request) + "\n")
                stdin.flush()
            return self._answer(proc, stdout, request.get("job_id"), abort)

    def _answer(
        self,
        proc: subprocess.Popen[str],
        stdout: IO[str],
        job_id: Any,
        abort: Callable[[], bool],
    ) -> dict[str, Any] | None:
        while True:
            ready, _, _ = select.select([stdout], [], [], POLL_S)
            if ready:
                line = stdout.readline()
                if not line:  # the worker died (killed, out of memory, ...)
                    code = proc.wait()
                    return {
                        "ok": False,
                        "code": "validation_error",
                        "message": f"The file validation process ended with exit code {code}"
                        + _log_hint(self.data_dir),
                        "param": None,
                    }
                answer = json.loads(line)
                if answer.get("job_id") == job_id:
                    return dict(answer)
                continue  # an answer to an aborted request (never happens; be safe)
            if self._closed or abort():
                self._kill(proc)
                return None

    def _kill(self, proc: subprocess.Popen[str]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, 9)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if self._proc is proc:
            self._proc = None

    def close(self) -> None:
        """Server shutdown: stop the worker (a validation in flight returns None)."""
        self._closed = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._kill(proc)


def _log_hint(data_dir: Path) -> str:
    return f" (see {data_dir / 'validation.log'})"


def model_files(store: Store, name: str) -> dict[str, Any] | None:
    """Where the job's model keeps its tokenizer and config (ModelFiles as a dict):
    a fine-tuned model's directory, or the base model's source."""
    registry = load_registry(store.data_dir)
    row = store.get_model(name)
    if row is not None:
        spec = resolve_model(registry, row["base_model"]) or resolve_model(registry, base_of(name))
        return {
            "id": name,
            "source": str(store.data_dir / row["path"]),
            "gguf_file": None,
            "context_length": spec.context_length if spec else 2048,
        }
    spec = resolve_model(registry, name)
    if spec is None:
        return None
    # A GGUF base model's tokenizer is read from the GGUF (cached by the worker); the
    # trainer loads the copy the conversion saved next to the weights: the same files.
    return {
        "id": spec.id,
        "source": spec.source,
        "gguf_file": spec.gguf_file,
        "context_length": spec.context_length,
        "revision": spec.revision,
    }


def validate_job(store: Store, job: dict[str, Any], validator: Validator) -> None:
    """Check one `validating_files` job's files; queue it, or fail it saying why."""
    job_id = job["id"]
    paths: dict[str, str | None] = {"training_file": None, "validation_file": None}
    for param in paths:
        fid = job.get(param)
        if not fid:
            continue
        row = store.get_file(fid)
        if row is None or not store.file_path(row).exists():
            _fail(store, job_id, "invalid_file", f"{param} {fid} no longer exists", param)
            return
        paths[param] = str(store.file_path(row))
    model = model_files(store, job["model"])
    if model is None:
        _fail(store, job_id, "model_not_found", f"model {job['model']!r} does not exist", "model")
        return
    method = str((job.get("method") or {}).get("type") or "supervised")
    request = {
        "job_id": job_id,
        "training": paths["training_file"],
        "validation": paths["validation_file"],
        "model": model,
        "method": method,
        # A reinforcement job's grader: every example must have the fields it reads.
        "grader": ((job.get("method") or {}).get("reinforcement") or {}).get("grader"),
    }
    started = time.monotonic()
    last_poll = [started]

    def cancelled() -> bool:
        # The status is re-read at most twice a second.
        if time.monotonic() - last_poll[0] < 0.5:
            return False
        last_poll[0] = time.monotonic()
        current = store.get_job(job_id)
        return current is None or current["status"] != "validating_files"

    answer = validator.run(request, cancelled)
    if answer is None:
        return  # cancelled, or the server is stopping (the job stays validating_files)
    if not answer.get("ok"):
        _fail(
            store,
            job_id,
            str(answer.get("code") or "invalid_training_file"),
            str(answer.get("message")),
            answer.get("param"),
        )
        return
    weight = (job.get("extra") or {}).get("prompt_loss_weight")
    if weight and answer.get("format") != "prompt_completion":
        # Refused at creation when the upload recorded the format; a file row without
        # one is caught here, before `queued`, never ignored.
        _fail(
            store,
            job_id,
            "invalid_hyperparameter",
            f"prompt_loss_weight {weight:g} applies to prompt/completion files only; "
            f"training_file is in the {answer.get('format')} format",
            "hyperparameters.prompt_loss_weight",
        )
        return
    counts = f"{answer['n_training']} training examples ({answer['tokens']} tokens"
    counts += f", limit {answer['limit']} per example)"
    if answer.get("n_validation"):
        counts += f", {answer['n_validation']} validation examples"
    took = time.monotonic() - started
    with store.transaction():
        # Only a job still validating is queued and told so: one cancelled meanwhile
        # keeps "cancelled" as its last word.
        if not store.transition(job_id, ["validating_files"], "queued"):
            return
        for warning in answer.get("warnings") or []:
            store.add_event(job_id, f"Warning: {warning}", level="warn")
        store.add_event(job_id, f"Files validated: {counts} in {took:.1f} s")
        store.add_event(job_id, "Files validated; job queued")


def _fail(store: Store, job_id: str, code: str, message: str, param: Any) -> None:
    with store.transaction():
        if store.transition(
            job_id,
            ["validating_files"],
            "failed",
            finished_at=now(),
            error={"code": code, "message": message, "param": param},
        ):
            store.add_event(job_id, f"Job failed: {message}", level="error")
