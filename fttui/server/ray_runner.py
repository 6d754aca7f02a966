"""`--runner ray`: each fttui job is a Ray job, submitted through Ray's Job Submission API.

The entrypoint is the same trainer the local runner starts (`python -m
fttui.train.run --server-url U --job-id J`), with `--ray-workers N` when N > 1 (it
then runs Ray Train's `TorchTrainer` with torch DDP; see `fttui/train/ray_train.py`).
The job's token and Ray job id travel in the Ray job's runtime environment, never on
the command line. The submission id (`fttui-<job id>-<random>`) is stored in the
job's `runtime.ray_job_id`: the scheduler follows its status, stops it on cancel
(Ray sends SIGTERM, then SIGKILL after `RAY_JOB_STOP_WAIT_TIME_S`), re-attaches to it
after a server restart, and fails the fttui job with Ray's own error text and log
tail when the Ray job ends before the trainer reported a final status (worker
killed, out of memory, node lost, `ray job stop`).

This module is imported only with `--runner ray`; it needs `pip install 'fttui[ray]'`.
"""

from __future__ import annotations

import logging
import secrets
import shlex
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fttui.core.safe_text import safe_text
from fttui.server.settings import Settings
from fttui.server.trainer_service import TOKEN_ENV

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

log = logging.getLogger("fttui.server.ray")

LOG_TAIL_LINES = 15


class RayUnavailable(OSError):
    """Ray is not installed, or the cluster's job submission address does not answer.

    An OSError so that the scheduler fails the job with this message (as when a local
    trainer cannot be started) and keeps serving.
    """


def _client(address: str) -> JobSubmissionClient:
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError as exc:
        raise RayUnavailable(
            "--runner ray needs Ray: pip install 'fttui[ray]' on this machine and the "
            f"cluster's nodes ({exc})"
        ) from None
    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # ConnectionError, RuntimeError: Ray's own wording
        raise RayUnavailable(f"cannot reach Ray's job submission API at {address}: {exc}") from None


@dataclass
class RayJobHandle:
    """One Ray job, as the scheduler watches and stops it."""

    client: JobSubmissionClient
    submission_id: str
    workers: int
    _stopped: set[int] = field(default_factory=set)
    _last: str | None = None

    @property
    def pid(self) -> int | None:
        return None

    @property
    def outlives_server(self) -> bool:
        return True

    @property
    def label(self) -> str:
        return f"Ray job {self.submission_id}"

    @property
    def runtime(self) -> dict[str, Any]:
        return {
            "runner": "ray",
            "workers": self.workers,
            "device": None,
            "precision": None,
            "ray_job_id": self.submission_id,
        }

    def status(self) -> str | None:
        """Ray's status name, or None while the cluster does not answer."""
        try:
            self._last = str(self.client.get_job_status(self.submission_id).value)
        except Exception as exc:  # the head restarting, a network blip: keep watching
            log.warning("Ray job %s: status unknown (%s)", self.submission_id, exc)
            return None
        return self._last

    def poll(self) -> int | None:
        status = self.status()
        if status in (None, "PENDING", "RUNNING"):
            return None
        return {"SUCCEEDED": 0, "STOPPED": -int(signal.SIGTERM)}.get(status, 1)

    def signal(self, sig: int) -> None:
        if sig in self._stopped:
            return
        self._stopped.add(sig)
        try:
            self.client.stop_job(self.submission_id)
        except Exception as exc:
            log.warning("Ray job %s: stop failed (%s)", self.submission_id, exc)

    def failure(self) -> str:
        """Ray's own account of the job: status, message and the tail of its logs."""
        try:
            info = self.client.get_job_info(self.submission_id)
            status, message = str(info.status.value), info.message or ""
        except Exception as exc:
            status, message = self._last or "unknown", f"(Ray did not say why: {exc})"
        try:
            logs = self.client.get_job_logs(self.submission_id)
            # Stored and shown to every client: escaped, never raw (as local log tails).
            tail = safe_text("\n".join(logs.strip().splitlines()[-LOG_TAIL_LINES:]), multiline=True)
        except Exception:
            tail = ""
        text = f"The Ray job {self.submission_id} ended {status} before the job finished"
        if message:
            text += f": {message.strip()}"
        if tail:
            text += f". Last log lines:\n{tail}"
        return text


class RayRunner:
    """Submits jobs to the Ray cluster at `settings.ray_address`."""

    def __init__(self, settings: Settings) -> None:
        assert settings.ray_address
        self.address = settings.ray_address
        self.server_url = settings.server_url_for_trainers
        self.workers = settings.ray_workers
        self.gpus = settings.ray_gpus_per_worker
        self.cpus = settings.ray_cpus_per_worker
        self._client: JobSubmissionClient | None = None

    def client(self) -> JobSubmissionClient:
        if self._client is None:
            self._client = _client(self.address)
        return self._client

    def entrypoint(self, job_id: str) -> str:
        command = [
            "python",
            "-m",
            "fttui.train.run",
            "--server-url",
            self.server_url,
            "--job-id",
            job_id,
        ]
        if self.workers > 1:
            command += [
                "--ray-workers",
                str(self.workers),
                "--ray-gpus-per-worker",
                f"{self.gpus:g}",
                "--ray-cpus-per-worker",
                f"{self.cpus:g}",
            ]
        return shlex.join(command)

    def start(self, job: dict[str, Any], token: str) -> RayJobHandle:
        client = self.client()
        submission_id = f"fttui-{job['id']}-{secrets.token_hex(3)}"
        resources: dict[str, Any] = {}
        if self.workers == 1:
            # One worker: the trainer is the entrypoint itself, placed by these.
            resources = {"entrypoint_num_cpus": self.cpus}
            if self.gpus > 0:
                resources["entrypoint_num_gpus"] = self.gpus
        try:
            client.submit_job(
                entrypoint=self.entrypoint(job["id"]),
                submission_id=submission_id,
                runtime_env={"env_vars": {TOKEN_ENV: token, "FTTUI_RAY_JOB_ID": submission_id}},
                metadata={"fttui_job_id": job["id"]},
                **resources,
            )
        except Exception as exc:
            raise RayUnavailable(f"Ray refused the job: {exc}") from None
        return RayJobHandle(client, submission_id, self.workers)

    def adopt(self, job: dict[str, Any]) -> RayJobHandle | None:
        submission_id = (job.get("runtime") or {}).get("ray_job_id")
        if not submission_id:
            return None
        try:
            client = self.client()
        except RayUnavailable as exc:
            log.warning("cannot re-attach to Ray job %s: %s", submission_id, exc)
            return None
        workers = int((job.get("runtime") or {}).get("workers") or self.workers)
        return RayJobHandle(client, str(submission_id), workers)
