"""The local runner: a job's trainer as a child process of the server, on this machine.

`LocalProcessRunner` is the `Runner` (fttui/server/scheduler.py) the server uses unless
`--runner ray`: it starts `python -m fttui.train.run --server-url U --job-id J` (under
`accelerate launch` as N data-parallel ranks when several GPUs are visible), reniced
below the server, with its output in the job's train.log; after a server restart it
re-adopts a trainer that still runs by its pid. The trainer talks to the server only
over HTTP, like a trainer on another machine.

Trainers in standby: while a job's files are validated or it waits in the queue, a
trainer for it is already started (`--standby`, fttui/train/standby.py) and imports
torch and transformers; the job is handed to it on stdin when it starts, so it starts
training seconds sooner (measured in docs/architecture.md, "Suite time").
`FTTUI_TRAINER_STANDBY=0` turns this off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fttui.core.safe_text import safe_text
from fttui.server.trainer_service import TOKEN_ENV

if TYPE_CHECKING:
    from fttui.server.scheduler import RunHandle

log = logging.getLogger("fttui.server.local_runner")

DEFAULT_TRAINER_NICE = 10
LOG_TAIL_LINES = 15
# A trainer in standby nobody handed a job exits after this; the runner hands none to
# one within STANDBY_MARGIN_S of that, so a job never goes to a process ending idle.
STANDBY_IDLE_S = 120.0
STANDBY_MARGIN_S = 30.0
STANDBY_ENV = "FTTUI_TRAINER_STANDBY"


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
    if zombie:
        return False
    if job_id.encode() in cmdline:
        return True
    # A trainer that took its job in standby names it by its working directory.
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return b"fttui.train.run" in cmdline and os.path.basename(cwd) == job_id


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
        self._standby: list[tuple[subprocess.Popen[bytes], float]] = []  # (process, started)
        self._standby_lock = threading.Lock()
        self._standby_broken = False

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

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "FTTUI_CACHE_DIR": str(self.data_dir / "models")}
        env.pop(TOKEN_ENV, None)
        return env

    # -- trainers in standby ----------------------------------------------------------
    def _standby_wanted(self) -> bool:
        if self._standby_broken or os.environ.get(STANDBY_ENV, "").strip() == "0":
            return False
        return self._default() and self._workers() == 1

    def warm(self, jobs: int) -> None:
        """`jobs` jobs wait (validating or queued): have up to that many trainers in
        standby, importing the engine before their jobs start."""
        if not self._standby_wanted():
            return
        with self._standby_lock:
            self._reap_standby()
            while len(self._standby) < jobs:
                try:
                    proc = subprocess.Popen(
                        [*self.command, "--standby", f"{STANDBY_IDLE_S:g}"],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                        cwd=self.data_dir,
                        env=self._env(),
                    )
                except OSError as exc:
                    log.warning("no trainer in standby: %s", exc)
                    self._standby_broken = True
                    return
                lower_priority(proc.pid)
                self._standby.append((proc, time.monotonic()))

    def _reap_standby(self) -> None:
        """Forget standby trainers that ended; one that failed on its own (an engine
        that does not import) turns standby off: the cold start tells the story."""
        alive = []
        for proc, started in self._standby:
            code = proc.poll()
            if code is None:
                alive.append((proc, started))
            elif code != 0:
                log.warning("a trainer in standby exited with %s: starting trainers cold", code)
                self._standby_broken = True
        self._standby = alive

    def _hand_over(self, job_id: str, token: str, log_path: Path) -> subprocess.Popen[bytes] | None:
        """Give the job to a trainer in standby; None when none can take it."""
        if not self._standby_wanted():
            return None
        handover = {
            "server_url": self.server_url,
            "job_id": job_id,
            "token": token,
            "log": str(log_path),
        }
        with self._standby_lock:
            self._reap_standby()
            while self._standby:
                proc, started = self._standby.pop(0)
                if time.monotonic() - started > STANDBY_IDLE_S - STANDBY_MARGIN_S:
                    _end(proc)
                    continue
                try:
                    assert proc.stdin is not None
                    proc.stdin.write(json.dumps(handover).encode() + b"\n")
                    proc.stdin.close()
                except OSError:  # it ended meanwhile
                    _end(proc)
                    continue
                return proc
        return None

    def close(self) -> None:
        """The server stops: end the trainers still in standby."""
        with self._standby_lock:
            for proc, _ in self._standby:
                _end(proc)
            self._standby = []

    def start(self, job: dict[str, Any], token: str) -> RunHandle:
        log_path = self.log_path(job["id"])
        log_path.parent.mkdir(parents=True, exist_ok=True)
        taken = self._hand_over(job["id"], token, log_path)
        if taken is not None:
            return _ChildHandle(taken, log_path, 1)
        env = {**self._env(), TOKEN_ENV: token}
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


def _end(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()


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
