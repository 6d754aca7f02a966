"""Run a user's python grader (`grade(sample, item)`) where it cannot do harm.

Grader code is untrusted input. Each call grades a batch of samples in ONE fresh
process (`python -I -S -m fttui.train._sandbox_worker`, never the trainer itself):

- **Namespaces** (Linux, when unprivileged user namespaces are available, checked
  once): `unshare --user --map-root-user --mount --net --pid --fork --kill-child`: an
  empty network namespace (no interface but a down loopback: no network at all), its
  own PID namespace (everything it starts dies with it) and a mount namespace in
  which the worker remounts every filesystem read-only except its scratch directory.
- **Resource limits** (`resource.setrlimit`, always): no new processes or threads
  (RLIMIT_NPROC 0: a fork bomb gets EAGAIN), address space (RLIMIT_AS), CPU seconds
  (RLIMIT_CPU), the size of any file it writes (RLIMIT_FSIZE), open files.
- **Audit hooks** (`sys.addaudithook`, always, a second layer where namespaces are
  missing): sockets, subprocesses, exec/fork/spawn, ctypes/dlopen, and opening for
  writing, removing or renaming anything outside the scratch directory raise.
- **Time**: each sample has `per_sample_s` (a timer in the worker); the whole batch
  has a wall-clock limit after which the process group is killed and the samples not
  graded get a timeout error.
- **Output**: what the grader prints is capped and thrown away; results come back on
  a separate pipe, read up to `MAX_RESULT_BYTES`; more is a failure of the batch.
- The working directory is a fresh scratch directory, deleted afterwards.

A failure is reported per sample (OpenAI's `python_grader_runtime_error` with the
error's last line), never as a trainer crash.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Limits", "PythonResult", "namespaces_available", "run_python_grader"]

MAX_RESULT_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    per_sample_s: float = 5.0
    memory_bytes: int = 1 << 30
    file_bytes: int = 16 << 20
    # The whole batch: per_sample_s * n + batch_overhead_s.
    batch_overhead_s: float = 10.0


@dataclass(frozen=True)
class PythonResult:
    score: float | None
    error: str | None = None


@functools.cache
def namespaces_available() -> bool:
    """Whether `unshare` can give the worker its own user, mount, net and PID namespaces."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run([*_UNSHARE, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


_UNSHARE = [
    "unshare",
    "--user",
    "--map-root-user",
    "--mount",
    "--net",
    "--pid",
    "--fork",
    "--kill-child",
]


def run_python_grader(
    source: str,
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
    limits: Limits | None = None,
) -> list[PythonResult]:
    """grade(sample, item) for each (sample, item) pair; one result per pair, in order."""
    limits = limits or Limits()
    if not pairs:
        return []
    scratch = tempfile.mkdtemp(prefix="fttui-grader-")
    try:
        return _run(source, pairs, limits, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(
    source: str,
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
    limits: Limits,
    scratch: str,
) -> list[PythonResult]:
    request = json.dumps(
        {
            "source": source,
            "pairs": pairs,
            "scratch": scratch,
            "per_sample_s": limits.per_sample_s,
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            "isolated": namespaces_available(),
        }
    ).encode()
    wall = limits.per_sample_s * len(pairs) + limits.batch_overhead_s
    worker = os.path.join(os.path.dirname(__file__), "_sandbox_worker.py")
    # -I: isolated (no user site, no PYTHON* variables, no cwd on sys.path); -S: no site.
    command = [sys.executable, "-I", "-S", worker]
    if namespaces_available():
        command = [*_UNSHARE, *command]
    results_r, results_w = os.pipe()
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "RESULTS_FD": str(results_w)}
    with tempfile.TemporaryFile() as request_file:
        request_file.write(request)
        request_file.seek(0)
        proc = subprocess.Popen(
            command,
            stdin=request_file,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=scratch,
            env=env,
            pass_fds=(results_w,),
            start_new_session=True,
        )
    os.close(results_w)
    out = bytearray()
    too_much = False
    deadline = time.monotonic() + wall
    timed_out = False
    os.set_blocking(results_r, False)
    try:
        while True:
            try:
                chunk = os.read(results_r, 65536)
            except BlockingIOError:
                chunk = None
            if chunk == b"":
                break
            if chunk:
                out += chunk
                if len(out) > MAX_RESULT_BYTES:
                    too_much = True
                    break
                continue
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.01)
    finally:
        os.close(results_r)
        _kill_group(proc)
    results: list[PythonResult] = []
    for line in bytes(out).splitlines():
        try:
            item = json.loads(line)
            results.append(PythonResult(item.get("score"), item.get("error")))
        except (ValueError, AttributeError):
            break
        if len(results) == len(pairs):
            break
    if too_much:
        why = f"the grader's results went over {MAX_RESULT_BYTES} bytes"
    elif timed_out:
        why = f"the grader did not finish within {wall:g} s for {len(pairs)} samples"
    else:
        why = "the grader process ended early (exit status " + str(proc.returncode) + ")"
    while len(results) < len(pairs):
        results.append(PythonResult(None, why))
    return results


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
