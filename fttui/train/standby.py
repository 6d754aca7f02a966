"""A trainer process started before its job: it loads the engine, then waits for a job.

A trainer spends its first seconds importing torch, transformers and peft (about 3.5 s
of one core on the 2-core CI machine, far more on a loaded or slow-disk laptop); the
tiny test model then trains in a tenth of a second. The local runner therefore starts
a trainer in standby as soon as a job is created, while the server still validates
the job's files or the job waits in the queue, and hands the job to it when the job
starts: the imports happen during that wait instead of after it.

Protocol (`python -m fttui.train.run --standby IDLE_S`): the process configures
itself (`configure_process`, before torch loads), imports the engine, then reads one
JSON line on stdin:

    {"server_url": U, "job_id": J, "token": T, "log": path of the job's train.log}

and becomes that job's trainer: its output goes to the log (appended), its working
directory is the log's directory (which names the job: the runner recognises its
trainer by it after a server restart, as it recognises a cold-started one by its
command line), the token goes into `FTTUI_TRAINER_TOKEN`, and it runs exactly what
`python -m fttui.train.run --server-url U --job-id J` runs. End of input (the server
stopped or died) or `IDLE_S` seconds without a job: it exits without training.
"""

from __future__ import annotations

import json
import os
import select
import sys
import traceback
from typing import Any

from fttui.train.client import TOKEN_ENV
from fttui.train.host import configure_process


def load_engine() -> None:
    """Import what every local run imports, so a job's run starts without waiting."""
    import peft  # noqa: F401 - LoRA, the default training method
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

    import fttui.train.engine  # noqa: F401


def wait_for_job(idle_s: float) -> dict[str, Any] | None:
    """The job handed over on stdin; None at end of input or after `idle_s` idle."""
    ready, _, _ = select.select([sys.stdin], [], [], idle_s)
    if not ready:
        return None
    line = sys.stdin.readline()
    if not line.strip():
        return None
    handover = json.loads(line)
    return handover if isinstance(handover, dict) else None


def become_trainer(handover: dict[str, Any]) -> list[str]:
    """Take on the job: output to its log, its directory, its token; returns the
    arguments `fttui.train.run.main` takes for it."""
    log = str(handover["log"])
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(os.path.dirname(log))
    os.environ[TOKEN_ENV] = str(handover["token"])
    return ["--server-url", str(handover["server_url"]), "--job-id", str(handover["job_id"])]


def standby(idle_s: float) -> list[str] | None:
    """Load the engine and wait; the run's arguments once a job arrives, else None.

    An engine that fails to import fails the job it is handed, with the traceback in
    the job's log, as a trainer started for the job would (the server reads "not
    installed" from that log)."""
    configure_process()
    try:
        load_engine()
        failed = None
    except Exception:
        failed = traceback.format_exc()
    handover = wait_for_job(idle_s)
    if handover is None:
        return None
    args = become_trainer(handover)
    if failed is not None:
        sys.stderr.write(failed)
        raise SystemExit(1)
    return args
