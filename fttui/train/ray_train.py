"""Several workers of one job under Ray Train (`--ray-workers N`, N > 1).

The Ray job's entrypoint (a Ray driver) runs `TorchTrainer` with
`ScalingConfig(num_workers=N, use_gpu=G > 0)`: Ray places the N workers on the
cluster and sets up torch.distributed between them (gloo on CPU, NCCL on GPU); each
worker then runs the same trainer as a local rank (`fttui.train.job.train_job`) under
torch DDP. Rank 0 reports to the server; every worker reads the spec and files over
HTTP with the job's token, which reaches the workers through the Ray job's runtime
environment (never through the train loop's config, which Ray records).

A worker or node lost (docs/cluster.md, "When the head or a worker is lost"): the
worker group fails, and this driver starts it again, up to `--ray-max-failures`
times, while the server still says the job should continue. Each new group reads
the spec again, whose `resume_from` is the job's latest checkpoint with optimizer
state, so it continues exactly as a paused job resumes (weights, optimizer,
schedule, counters, random state, the results rows up to that step: none twice).
The restart is this loop rather than Ray Train's `FailureConfig(max_failures=...)`
(which restarts the group the same way) so that the job's events say which worker
failed and why, and so that a job the user cancelled or paused meanwhile is never
started again. Rank 0 does not report a failure that a restart can mend (a lost
peer: a torch.distributed error) while restarts are left; the last attempt does.

Nothing here is imported unless a job runs with more than one Ray worker.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

FAILED = 1
# How much of Ray's error the restart event quotes.
ERROR_CHARS = 600


def _worker_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: this rank of the job."""
    import ray.train

    from fttui.train.client import token_from_env
    from fttui.train.engine import Ranks
    from fttui.train.job import train_job

    context = ray.train.get_context()
    ranks = Ranks(rank=context.get_world_rank(), world_size=context.get_world_size())
    code = train_job(
        config["server_url"],
        config["job_id"],
        token_from_env(),
        ranks,
        config["runtime"],
        restartable=bool(config.get("restartable")),
    )
    if code != 0:
        raise RuntimeError(
            f"rank {ranks.rank} of job {config['job_id']} ended with exit code {code}"
        )


def _short(exc: BaseException) -> str:
    """Ray's error in one paragraph: its last lines, which name the worker and cause."""
    text = " ".join(str(exc).split())
    if len(text) > ERROR_CHARS:
        text = "..." + text[-ERROR_CHARS:]
    return f"{type(exc).__name__}: {text}"


def _scaling(scaling_config: Any, workers: int, gpus: float, resources: dict[str, float]) -> Any:
    """`ScalingConfig` for `workers` ranks, and no CPU for the coordinating actor.

    Ray Train V1 (before 2.4x made V2 the default) runs the workers under a trainer
    actor that asks for a CPU of its own unless told otherwise: on a 2-CPU cluster a
    2-worker job then waits forever for a third CPU (seen with Ray 2.30). V2 has no
    such actor (its controller takes none) and refuses the field.
    """
    common = {"num_workers": workers, "use_gpu": gpus > 0, "resources_per_worker": resources}
    try:
        return scaling_config(**common, trainer_resources={"CPU": 0})
    except DeprecationWarning:  # Ray Train V2: "trainer_resources" is V1 only
        return scaling_config(**common)


def run_with_ray_train(
    server_url: str,
    job_id: str,
    token: str,
    *,
    workers: int,
    gpus_per_worker: float,
    cpus_per_worker: float,
    runtime: dict[str, Any],
    max_failures: int = 0,
) -> int:
    """Train the job on `workers` Ray Train workers; the exit code of the entrypoint."""
    import ray
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from fttui.train.client import Reports, ServerClient

    # Cancel reaches the workers through the server's answers (rank 0 polls, the
    # ranks agree between steps); a SIGTERM to this driver (`ray job stop`) must not
    # kill it at once, so rank 0 can deliver its closing reports before Ray's SIGKILL.
    signal.signal(signal.SIGTERM, lambda *_: print("[info] SIGTERM received", flush=True))
    ray.init(log_to_driver=True)
    resources: dict[str, float] = {"CPU": cpus_per_worker}
    if gpus_per_worker > 0:
        resources["GPU"] = gpus_per_worker
    client = ServerClient(server_url, job_id, token)
    try:
        for attempt in range(max_failures + 1):
            last = attempt == max_failures
            trainer = TorchTrainer(
                _worker_loop,
                train_loop_config={
                    "server_url": server_url,
                    "job_id": job_id,
                    "runtime": {**runtime, "workers": workers},
                    "restartable": not last,
                },
                torch_config=TorchConfig(backend="nccl" if gpus_per_worker > 0 else "gloo"),
                scaling_config=_scaling(ScalingConfig, workers, gpus_per_worker, resources),
                # Restarts are this loop's (see the module docstring).
                run_config=RunConfig(
                    name=f"fttui-{job_id}-{attempt}", failure_config=FailureConfig(max_failures=0)
                ),
            )
            try:
                trainer.fit()
                return 0
            except Exception as exc:  # Ray's TrainingFailedError carries the worker's error
                cause = _short(exc)
                print(f"[error] Ray Train failed: {cause}", file=sys.stderr, flush=True)
            if last:
                return FAILED
            answer = client.control()
            if answer is None or answer.get("action") != "continue":
                # Final (rank 0 reported why), cancelled or paused: nothing to restart.
                return FAILED
            message = (
                f"A Ray Train worker failed ({cause}); restarting the {workers} workers from "
                f"the job's latest checkpoint with optimizer state (restart {attempt + 1} of "
                f"at most {max_failures}, --ray-max-failures)"
            )
            print(f"[warn] {message}", flush=True)
            reports = Reports(client).start()
            reports.add("event", message=message, level="warn", type="message")
            reports.flush(30.0)
            reports.close()
        return FAILED
    finally:
        client.close()
