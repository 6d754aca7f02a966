"""A run's life: plan, train, and every way it can end turned into the job's status.

`JobRun` puts the parts together (inputs -> plan -> loop, all told to the server by
`RunReports`) and owns the one decision the parts cannot make: how the run ended.
A stop the server asked for is `paused` or `cancelled`; each known error a `failed`
with OpenAI's error shape and a code the user can act on; any other crash a
`training_error` that says what happened, never a hang or a silent exit. Ranks other
than 0 report nothing: a crash exits non-zero, and the launcher stops rank 0, which
then fails the job. Under Ray Train with restarts left (`restartable`), a lost peer
is not the job's failure: the driver (fttui/train/ray_train.py) restarts the workers
from the latest checkpoint, so rank 0 only says it was interrupted.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fttui.core.engine import engine_message, missing_engine_module
from fttui.core.job_spec import JobSpecError
from fttui.train.client import Reports, ServerClient, ServerGone, TokenRefused
from fttui.train.data import DataError
from fttui.train.job._control import Control, Stopped
from fttui.train.job._inputs import JobInputs
from fttui.train.job._loop import train_planned
from fttui.train.job._plan import plan_job
from fttui.train.job._reports import RunReports
from fttui.train.models import ModelUnavailable, UnknownModel
from fttui.train.plan import PlanError
from fttui.train.precision import PrecisionError

if TYPE_CHECKING:
    from fttui.train.engine import Ranks


class JobRun:
    """One job's training run: reads the job over HTTP, trains, reports over HTTP."""

    def __init__(
        self,
        client: ServerClient,
        job_id: str,
        ranks: Ranks | None = None,
        runtime: dict[str, Any] | None = None,
        *,
        restartable: bool = False,
    ) -> None:
        self.ranks = ranks
        # Under Ray Train with restarts left (fttui/train/ray_train.py): a lost peer is
        # not the job's failure; the driver restarts the workers from a checkpoint.
        self.restartable = restartable
        self.distributed = ranks is not None and ranks.world_size > 1
        self.main = ranks is None or ranks.main
        self.client = client
        self.job_id = job_id
        # Only rank 0 reports; the others read the spec and files and train.
        reports: Reports | None = Reports(client).start() if self.main else None
        self.work = Path(tempfile.mkdtemp(prefix=f"fttui-{job_id}-"))
        self.runtime = dict(runtime or {})
        self.control = Control(client, reports)
        self.out = RunReports(reports, self.control, self.work)
        self.inputs = JobInputs(client, self.work, self.out.event)
        self.closed = False  # the closing reports were flushed (cancel, pause)

    @property
    def reports(self) -> Reports | None:
        """The ordered outbox to the server (None on ranks other than 0)."""
        return self.out.reports

    # -- the run ----------------------------------------------------------------
    def run(self) -> int:
        try:
            code = self._run() if self.main else self._run_follower()
            if self.reports is not None and not self.closed:
                # The final status and the model must reach the server: wait for it
                # (a restarting server) up to the offline limit. A cancelled run
                # already had its short closing flush.
                delivered = self.reports.flush(self.client.offline_s)
                if not delivered and self.reports.gone:
                    print(f"[error] {self.reports.gone}", flush=True)
                    code = code or 1
            return code
        finally:
            if self.reports is not None:
                self.reports.close()
            shutil.rmtree(self.work, ignore_errors=True)

    def _train(self) -> None:
        plan = plan_job(self.inputs, self.out, self.control, self.ranks)
        train_planned(plan, self.out, self.control, self.ranks, self.runtime)

    def _run(self) -> int:
        try:
            self._train()
        except Stopped:
            if self.distributed and not self.control.server_asked_stop():
                if self.restartable:
                    self._interrupted("another data-parallel rank stopped")
                    return 1
                # The launcher stops every rank when one of them fails.
                self.out.failed(
                    "training_error",
                    "Training failed: another data-parallel rank stopped (see train.log)",
                    None,
                )
                return 1
            if self.control.pausing:
                self.out.paused()
            else:
                self.out.cancelled()
                self.closed = True
            return 0
        except TokenRefused as exc:
            print(f"[info] the server no longer accepts this trainer: {exc}", flush=True)
            return 0
        except ServerGone as exc:
            print(f"[error] {exc}", flush=True)
            return 1
        except DataError as exc:
            self.out.failed(exc.code, str(exc), exc.param)
            return 1
        except JobSpecError as exc:  # a stored job this trainer cannot read
            self.out.failed(exc.code, exc.message, exc.param)
            return 1
        except UnknownModel as exc:
            self.out.failed("model_not_found", str(exc), "model")
            return 1
        except ModelUnavailable as exc:
            self.out.failed("model_not_available", str(exc), "model")
            return 1
        except (PlanError, PrecisionError) as exc:
            self.out.failed("unsupported_configuration", str(exc), None)
            return 1
        except MemoryError:
            self.out.failed(
                "out_of_memory", "Training ran out of memory; try a smaller batch_size", None
            )
            return 1
        except Exception as exc:  # every crash must end the job as failed, with why
            traceback.print_exc()
            if self.restartable and self.distributed and lost_peer(exc):
                self._interrupted(f"{type(exc).__name__}: {exc}")
                return 1
            missing = missing_engine_module(exc)
            if missing is not None:  # the plain story and the fix, not an import error
                self.out.failed(
                    "engine_not_installed", engine_message([missing], "train this job"), None
                )
                return 1
            message = f"Training failed: {type(exc).__name__}: {exc}"
            if "out of memory" in str(exc).lower():
                message += " (try a smaller batch_size or training_method 'lora')"
            self.out.failed("training_error", message, None)
            return 1
        return 0

    def _run_follower(self) -> int:
        """Ranks other than 0: train, report nothing; a crash exits non-zero, which
        makes the launcher stop rank 0, which then fails the job."""
        try:
            self._train()
        except Stopped:
            return 0
        except Exception:
            traceback.print_exc()
            return 1
        return 0

    def _interrupted(self, why: str) -> None:
        """A peer was lost while restarts are left: say so, report no failure."""
        self.out.event(
            f"Training interrupted at step {self.out.step_done()} ({why[:300]}); the Ray "
            "driver restarts the workers from the latest checkpoint",
            level="warn",
        )


def lost_peer(exc: BaseException) -> bool:
    """Whether `exc` is torch.distributed losing another rank (gloo/NCCL), which a
    restart of the workers mends, rather than this job's own error."""
    import torch.distributed as dist

    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    text = f"{type(exc).__name__} {exc}".lower()
    return any(
        word in text
        for word in ("gloo", "nccl", "connection closed", "connection reset", "broken pipe")
    )


def train_job(
    server_url: str,
    job_id: str,
    token: str,
    ranks: Ranks | None = None,
    runtime: dict[str, Any] | None = None,
    *,
    restartable: bool = False,
) -> int:
    """Train the job in this process (one rank of it when `ranks` is given)."""
    client = ServerClient(server_url, job_id, token)
    try:
        job_run = JobRun(client, job_id, ranks, runtime, restartable=restartable)
        if threading_main():
            signal.signal(signal.SIGTERM, job_run.control.request_stop)
            signal.signal(signal.SIGINT, job_run.control.request_stop)
        return job_run.run()
    finally:
        client.close()


def threading_main() -> bool:
    """Python sets signal handlers from the main thread only; elsewhere (a Ray Train
    worker runs the job in a thread of its own) cancel arrives in the server's answers."""
    import threading

    return threading.current_thread() is threading.main_thread()
