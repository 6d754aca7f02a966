"""`python -m fttui.train.run --server-url U --job-id J`: train one job, as a client of the server.

The entry point only: it reads the arguments and the token, joins the process group
under `accelerate launch` / torchrun, hands several Ray workers to
`fttui/train/ray_train.py`, and otherwise runs the job in this process
(`fttui.train.job.train_job`, which holds the run itself and its docs).
`--standby IDLE_S` starts it before its job: it loads the engine and takes the job
on stdin (`fttui/train/standby.py`; the local runner's head start).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from fttui.train.client import token_from_env
from fttui.train.host import configure_process
from fttui.train.job import train_job

if TYPE_CHECKING:
    from fttui.train.engine import Ranks


def _data_parallel_ranks() -> Ranks | None:
    """Join the process group when started by `accelerate launch` with several ranks."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    _die_with_parent()
    import torch
    from accelerate import PartialState

    from fttui.train.engine import Ranks

    # No GPU: accelerate's CPU mode, which sets up the gloo backend.
    state = PartialState(cpu=not torch.cuda.is_available())
    return Ranks(rank=state.process_index, world_size=state.num_processes)


def _die_with_parent() -> None:
    """SIGKILL this rank when its launcher dies.

    torchrun starts each rank in a session of its own, so the scheduler's SIGKILL of
    the launcher's process group (5 s after a cancel) would not reach the ranks.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the launcher died before prctl
        os._exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fttui.train.run")
    parser.add_argument("--server-url", help="the fttui server, e.g. http://HOST:8765")
    parser.add_argument("--job-id")
    parser.add_argument(
        "--standby",
        type=float,
        metavar="IDLE_S",
        help="load the engine, then take the job handed over on stdin (fttui/train/standby.py)",
    )
    parser.add_argument("--ray-workers", type=int, default=0, help="train under Ray Train")
    parser.add_argument("--ray-gpus-per-worker", type=float, default=0.0)
    parser.add_argument("--ray-cpus-per-worker", type=float, default=1.0)
    parser.add_argument(
        "--ray-max-failures", type=int, default=0, help="restarts after a lost worker"
    )
    args = parser.parse_args(argv)
    if args.standby is not None:
        if args.server_url or args.job_id:
            parser.error("--standby takes its job on stdin, not --server-url/--job-id")
        from fttui.train.standby import standby

        job_args = standby(args.standby)
        return 0 if job_args is None else main(job_args)
    if not args.server_url or not args.job_id:
        parser.error("--server-url and --job-id are required")
    configure_process()  # before torch loads: see fttui/train/host.py
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per report
    token = token_from_env()
    runtime: dict[str, Any] = {"runner": "local"}
    ray_job_id = os.environ.get("FTTUI_RAY_JOB_ID") or None
    if ray_job_id or args.ray_workers:
        runtime = {"runner": "ray", "ray_job_id": ray_job_id}
    if args.ray_workers > 1:
        from fttui.train.ray_train import run_with_ray_train

        return run_with_ray_train(
            args.server_url,
            args.job_id,
            token,
            workers=args.ray_workers,
            gpus_per_worker=args.ray_gpus_per_worker,
            cpus_per_worker=args.ray_cpus_per_worker,
            runtime=runtime,
            max_failures=args.ray_max_failures,
        )
    return train_job(args.server_url, args.job_id, token, _data_parallel_ranks(), runtime)


def _exit(code: int) -> NoReturn:
    """End the process once the job is over and reported.

    A lone trainer skips the interpreter's teardown (`os._exit`): everything it owes
    the server was flushed before `main` returned and its work directory is removed,
    while tearing down torch and transformers took about a second, during which the
    server keeps the job's slot and a queued job waits. Data-parallel ranks and Ray
    drivers exit normally: their libraries' exit handlers close the process group and
    the driver's connection."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or "ray" in sys.modules:
        sys.exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
