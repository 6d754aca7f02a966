"""Several workers of one job under Ray Train (`--ray-workers N`, N > 1).

The Ray job's entrypoint (a Ray driver) runs `TorchTrainer` with
`ScalingConfig(num_workers=N, use_gpu=G > 0)`: Ray places the N workers on the
cluster and sets up torch.distributed between them (gloo on CPU, NCCL on GPU); each
worker then runs the same trainer as a local rank (`fttui.train.job.train_job`) under
torch DDP. Rank 0 reports to the server; every worker reads the spec and files over
HTTP with the job's token, which reaches the workers through the Ray job's runtime
environment (never through the train loop's config, which Ray records).

Nothing here is imported unless a job runs with more than one Ray worker.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

FAILED = 1


def _worker_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: this rank of the job."""
    import ray.train

    from fttui.train.client import token_from_env
    from fttui.train.engine import Ranks
    from fttui.train.job import train_job

    context = ray.train.get_context()
    ranks = Ranks(rank=context.get_world_rank(), world_size=context.get_world_size())
    code = train_job(
        config["server_url"], config["job_id"], token_from_env(), ranks, config["runtime"]
    )
    if code != 0:
        raise RuntimeError(
            f"rank {ranks.rank} of job {config['job_id']} ended with exit code {code}"
        )


def run_with_ray_train(
    server_url: str,
    job_id: str,
    token: str,
    *,
    workers: int,
    gpus_per_worker: float,
    cpus_per_worker: float,
    runtime: dict[str, Any],
) -> int:
    """Train the job on `workers` Ray Train workers; the exit code of the entrypoint."""
    import ray
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    # Cancel reaches the workers through the server's answers (rank 0 polls, the
    # ranks agree between steps); a SIGTERM to this driver (`ray job stop`) must not
    # kill it at once, so rank 0 can deliver its closing reports before Ray's SIGKILL.
    signal.signal(signal.SIGTERM, lambda *_: print("[info] SIGTERM received", flush=True))
    del token  # the workers read it from their environment
    ray.init(log_to_driver=True)
    resources: dict[str, float] = {"CPU": cpus_per_worker}
    if gpus_per_worker > 0:
        resources["GPU"] = gpus_per_worker
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={
            "server_url": server_url,
            "job_id": job_id,
            "runtime": {**runtime, "workers": workers},
        },
        torch_config=TorchConfig(backend="nccl" if gpus_per_worker > 0 else "gloo"),
        scaling_config=ScalingConfig(
            num_workers=workers, use_gpu=gpus_per_worker > 0, resources_per_worker=resources
        ),
        # A worker that dies fails the job (with Ray's error); fttui does not restart
        # the run from scratch behind the user's back.
        run_config=RunConfig(name=f"fttui-{job_id}", failure_config=FailureConfig(max_failures=0)),
    )
    try:
        trainer.fit()
    except Exception as exc:  # Ray's TrainingFailedError carries the worker's error
        print(f"[error] Ray Train failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return FAILED
    return 0
