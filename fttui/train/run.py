"""`python -m fttui.train.run --data-dir D --job-id J`: train one job from the store.

The server's scheduler starts this process after marking the job `running`. Every
outcome goes through the store: events, metrics, checkpoints, the results file, the
model and the final status. Status changes always use `Store.transition` from
`running`, so a job the user cancelled can never be turned back into `succeeded`.
SIGTERM (cancel) sets a flag that the loop checks between steps; the process then
writes a `cancelled` event, keeps the rows and checkpoints written so far and exits 0.

Under `accelerate launch` (WORLD_SIZE > 1) every rank runs this module: all train
their share of each batch, and only rank 0 writes to the store (events, results,
checkpoints, the model, the status).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from fttui.core.hparams import resolve as resolve_hparams
from fttui.core.naming import fine_tuned_model_name
from fttui.data.tokenizing import token_limit
from fttui.store import Store, new_id, now
from fttui.train.data import DataError, Example, check_job_files
from fttui.train.models import UnknownModel, ensure_local, load_for_training, resolve, safe_dir_name
from fttui.train.results import ResultsCsv, metrics_event_data

if TYPE_CHECKING:
    from fttui.train.engine import Ranks

log = logging.getLogger("fttui.train")

# LoRA adapters start at zero and move few weights: they need a larger step than full
# fine-tuning to learn in the same number of steps (a common 10x rule of thumb).
LORA_LR_SCALE = 10.0


class Stopped(Exception):
    """Raised to leave training when cancel was requested."""


class JobRun:
    """One job's training run: reads the job, trains, reports through the store."""

    def __init__(self, store: Store, job_id: str, ranks: Ranks | None = None) -> None:
        self.ranks = ranks
        self.distributed = ranks is not None and ranks.world_size > 1
        self.main = ranks is None or ranks.main
        self.store = store
        self.job_id = job_id
        self.job_dir = store.jobs_dir / job_id
        self.job_dir.mkdir(parents=True, exist_ok=True)
        self.stop_flag = False
        self.started = time.monotonic()
        self.csv: ResultsCsv | None = None
        self.model_name = ""
        self._last_poll = 0.0
        self.results_file: str | None = None

    # -- cancellation ---------------------------------------------------------
    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_flag = True

    def should_stop(self) -> bool:
        if self.stop_flag:
            return True
        # Poll the store at most twice a second, in case the signal never came.
        t = time.monotonic()
        if t - self._last_poll >= 0.5:
            self._last_poll = t
            job = self.store.get_job(self.job_id)
            if job is None or job["cancel_requested"] or job["status"] != "running":
                self.stop_flag = True
        return self.stop_flag

    def check(self) -> None:
        if self.should_stop():
            raise Stopped

    def event(self, message: str, level: str = "info", **kwargs: Any) -> None:
        if not self.main:
            return
        self.store.add_event(self.job_id, message, level=level, **kwargs)
        print(f"[{level}] {message}", flush=True)

    def _cancel_requested(self) -> bool:
        job = self.store.get_job(self.job_id)
        return job is None or bool(job["cancel_requested"]) or job["status"] != "running"

    # -- the run ----------------------------------------------------------------
    def run(self) -> int:
        if not self.main:
            return self._run_follower()
        try:
            self._train()
        except Stopped:
            if self.distributed and not self._cancel_requested():
                # The launcher stops every rank when one of them fails.
                self._fail(
                    "training_error",
                    "Training failed: another data-parallel rank stopped (see train.log)",
                    None,
                )
                return 1
            self._finish_cancelled()
            return 0
        except DataError as exc:
            self._fail(exc.code, str(exc), exc.param)
            return 1
        except UnknownModel as exc:
            self._fail("model_not_found", str(exc), "model")
            return 1
        except MemoryError:
            self._fail(
                "out_of_memory", "Training ran out of memory; try a smaller batch_size", None
            )
            return 1
        except Exception as exc:  # every crash must end the job as failed, with why
            traceback.print_exc()
            message = f"Training failed: {type(exc).__name__}: {exc}"
            if "out of memory" in str(exc).lower():
                message += " (try a smaller batch_size or training_method 'lora')"
            self._fail("training_error", message, None)
            return 1
        return 0

    def _run_follower(self) -> int:
        """Ranks other than 0: train, write nothing; a crash exits non-zero, which
        makes the launcher stop rank 0, which then fails the job."""
        try:
            self._train()
        except Stopped:
            return 0
        except Exception:
            traceback.print_exc()
            return 1
        return 0

    def _fail(self, code: str, message: str, param: str | None) -> None:
        if self.csv is not None:
            self.csv.close()
        self.event(message, level="error")
        self.store.transition(
            self.job_id,
            ["running"],
            "failed",
            error={"code": code, "message": message, "param": param},
            finished_at=now(),
        )

    def _finish_cancelled(self) -> None:
        rows = self.csv.rows if self.csv else 0
        if self.csv is not None:
            self.csv.close()
            if self.results_file is None:
                self._attach_results()
        self.event(f"Job cancelled; {rows} result rows and the checkpoints so far are kept.")
        self.store.transition(self.job_id, ["running"], "cancelled", finished_at=now())

    def _options(self, job: dict[str, Any]) -> dict[str, Any]:
        """All requested options in one dict, however the server stored them."""
        opts: dict[str, Any] = {}
        method = job.get("method") or {}
        if isinstance(method, dict):
            sup = method.get(method.get("type", "supervised")) or {}
            if isinstance(sup, dict):
                opts.update(sup.get("hyperparameters") or {})
        opts.update(job.get("hyperparameters") or {})
        extra = job.get("extra") or {}
        if isinstance(extra, dict):
            opts.update(extra.get("hyperparameters") or {})
            opts.update({k: v for k, v in extra.items() if k != "hyperparameters"})
        return opts

    def _file_path(self, file_id: str, param: str) -> Path:
        row = self.store.get_file(file_id)
        if row is None:
            raise DataError(f"{param} {file_id} no longer exists", param)
        return self.store.file_path(row)

    def _read_files(
        self, job: dict[str, Any], tokenizer: Any, limit: int
    ) -> tuple[list[Example], list[Example]]:
        """The job's examples, read by the same code the server's validation ran."""
        method = str((job.get("method") or {}).get("type") or "supervised")
        valid_id = job.get("validation_file")
        train, valid = check_job_files(
            self._file_path(job["training_file"], "training_file"),
            self._file_path(valid_id, "validation_file") if valid_id else None,
            tokenizer,
            limit,
            method,
            keep=True,
        )
        if method != "supervised":
            # The files are valid for this method; the engine trains supervised jobs only.
            raise DataError(
                f"method {method!r} is not supported by this trainer yet; its data is valid",
                "method",
                "unsupported_method",
            )
        return train.examples, valid.examples if valid else []

    def _train(self) -> None:
        import torch

        from fttui.train.engine import TrainConfig, evaluate, train
        from fttui.train.setup import classification_setup

        job = self.store.get_job(self.job_id)
        if job is None:
            raise RuntimeError(f"job {self.job_id} not found in {self.store.data_dir}")
        opts = self._options(job)
        ref = resolve(self.store, job["model"])
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.distributed and device.type == "cuda":
            device = torch.device("cuda", torch.cuda.current_device())
        self.event(f"Loading model {job['model']}")
        if self.distributed:
            import torch.distributed as dist

            # Rank 0 converts/copies the base model into the store once; the others wait.
            if self.main:
                location = ensure_local(self.store, ref)
            dist.barrier()
            if not self.main:
                location = ensure_local(self.store, ref)
        else:
            location = ensure_local(self.store, ref)
        model, tokenizer = load_for_training(location, device)
        self.check()
        limit = token_limit(ref.context_length, model.config)
        train_ex, valid_ex = self._read_files(job, tokenizer, limit)
        self.event(
            f"Files validated: {len(train_ex)} training examples"
            + (f", {len(valid_ex)} validation examples" if valid_ex else "")
        )
        self.check()
        resolved = resolve_hparams(opts, len(train_ex))
        method = str(opts.get("training_method") or opts.get("method") or "full")
        if method not in ("full", "lora"):
            method = "full"
        lr = ref.base_learning_rate * resolved.learning_rate_multiplier
        if method == "lora":
            lr *= LORA_LR_SCALE
        classification = None
        if opts.get("compute_classification_metrics") and valid_ex:
            classification, warning = classification_setup(tokenizer, train_ex, valid_ex, opts)
            if warning:
                self.event(warning, level="warn")
        config = TrainConfig(
            n_epochs=resolved.n_epochs,
            batch_size=resolved.batch_size,
            learning_rate=lr,
            seed=int(job.get("seed") or 0),
            method=method,
            lora_r=int(opts.get("lora_rank") or opts.get("lora_r") or 16),
            lora_alpha=float(opts.get("lora_alpha") or 2 * int(opts.get("lora_rank") or 16)),
            lora_dropout=float(opts.get("lora_dropout") or 0.0),
            bf16=os.environ.get("FTTUI_CPU_BF16") == "1",
            classification=classification,
        )
        if not self.main:
            # Other ranks: the same run, nothing written.
            self.check()
            _, outcome = train(model, train_ex, valid_ex, config, self, device, self.ranks)
            if outcome.stopped:
                raise Stopped
            return
        self.store.update_job(
            self.job_id,
            resolved={**resolved.as_dict(), "training_method": method, "learning_rate": lr},
            hyperparameters=resolved.as_dict(),
        )
        self.model_name = self._claim_model_name(job)
        self.csv = ResultsCsv(
            self.job_dir / "results.csv",
            validation=bool(valid_ex),
            classification=classification,
        )
        if classification is not None:
            base_metrics = evaluate(
                model, valid_ex, device, config.bf16, classification, self.should_stop
            )
            shown = ", ".join(
                f"{k}={v:.4f}" for k, v in base_metrics.items() if k.startswith("classification/")
            )
            self.event(f"Before training (step 0): {shown}")
        self.event(
            f"Training started: {config.n_epochs} epochs, batch size {config.batch_size}, "
            f"learning rate {lr:.3g} (multiplier {resolved.learning_rate_multiplier}), "
            f"method {method}, device {device.type}"
            + (f", {self.ranks.world_size} data-parallel ranks" if self.ranks else "")
        )
        self.check()
        model, outcome = train(model, train_ex, valid_ex, config, self, device, self.ranks)
        if outcome.stopped:
            raise Stopped
        self.csv.close()
        self._save_final(model, tokenizer, job, ref.base_id, outcome.elapsed_tokens)

    # -- Reporter protocol (engine callbacks) ------------------------------------
    def on_step(self, row: dict[str, Any], total_steps: int) -> None:
        assert self.csv is not None
        self.csv.write(row)
        data = metrics_event_data(row, total_steps)
        msg = f"Step {row['step']}/{total_steps}: training loss={row['training_loss']:.4f}"
        if "validation_loss" in row:
            msg += f", validation loss={row['validation_loss']:.4f}"
        self.store.add_event(self.job_id, msg, type="metrics", data=data)
        elapsed = time.monotonic() - self.started
        remaining = elapsed / row["step"] * (total_steps - row["step"])
        if row["step"] == 1 or row["step"] % 5 == 0:
            self.store.update_job(self.job_id, estimated_finish=now() + int(remaining))

    def on_epoch_end(self, epoch: int, step: int, row: dict[str, Any], model: Any) -> None:
        msg = f"Epoch {epoch}: training loss={row['epoch_training_loss']:.4f}"
        if "validation_loss" in row:
            msg += f", validation loss={row['validation_loss']:.4f}"
        cls = {k: v for k, v in row.items() if k.startswith("classification/")}
        if cls:
            msg += ", " + ", ".join(f"{k}={v:.4f}" for k, v in cls.items())
        self.event(msg)
        path = self.job_dir / "checkpoints" / f"step-{step}"
        model.save_pretrained(path)
        metrics = {
            "step": step,
            "train_loss": row["training_loss"],
            "train_mean_token_accuracy": row["training_token_accuracy"],
        }
        if "validation_loss" in row:
            metrics["valid_loss"] = row["validation_loss"]
            metrics["valid_mean_token_accuracy"] = row["validation_token_accuracy"]
        ckpt = self.store.add_checkpoint(
            self.job_id,
            step_number=step,
            fine_tuned_model_checkpoint=f"{self.model_name}:ckpt-step-{step}",
            metrics=metrics,
            path=str(path.relative_to(self.store.data_dir)),
        )
        self.event(f"Checkpoint saved at step {step}: {ckpt['fine_tuned_model_checkpoint']}")

    # -- outputs ------------------------------------------------------------------
    def _attach_results(self) -> str | None:
        assert self.csv is not None
        if self.csv.rows == 0:
            return None
        file_id = new_id("file")
        data = self.csv.path.read_bytes()
        tmp = self.store.tmp_dir / f"{file_id}.part"
        tmp.write_bytes(data)
        os.replace(tmp, self.store.files_dir / file_id)
        self.store.add_file(
            filename="results.csv",
            purpose="fine-tune-results",
            bytes=len(data),
            path=f"files/{file_id}",
            file_id=file_id,
        )
        self.store.update_job(self.job_id, result_files=[file_id])
        self.results_file = file_id
        self.event(f"Results file: {file_id}")
        return file_id

    def _claim_model_name(self, job: dict[str, Any]) -> str:
        """A result model name no other job holds, claimed by creating its directory.

        Names have one-second resolution, so two jobs of one base model starting in
        the same second (`--concurrency 2`) got the same name and the second failed
        to save its model. `mkdir` is atomic across trainer processes; on a clash the
        timestamp moves on a second, keeping the legacy guide's name format.
        """
        when = datetime.now(UTC)
        for _ in range(3600):
            name = fine_tuned_model_name(
                job["model"], job.get("organization_id") or "org-local", job.get("suffix"), when
            )
            try:
                (self.store.models_dir / safe_dir_name(name)).mkdir()
                return name
            except FileExistsError:
                when += timedelta(seconds=1)
        raise RuntimeError("no free fine-tuned model name within an hour of now")

    def _save_final(
        self, model: Any, tokenizer: Any, job: dict[str, Any], base_id: str, tokens: int
    ) -> None:
        if hasattr(model, "merge_and_unload"):
            # LoRA: merge the adapters so the result loads like any other model.
            model = model.merge_and_unload()
        target = self.store.models_dir / safe_dir_name(self.model_name)
        tmp = self.store.tmp_dir / f"model-{self.job_id}"
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
        self._attach_results()
        if self.should_stop():
            raise Stopped
        self.store.add_model(
            self.model_name,
            base_model=job.get("base_model") or base_id,
            path=str(target.relative_to(self.store.data_dir)),
            job_id=self.job_id,
        )
        done = self.store.transition(
            self.job_id,
            ["running"],
            "succeeded",
            fine_tuned_model=self.model_name,
            trained_tokens=tokens,
            finished_at=now(),
            estimated_finish=None,
        )
        if done:
            self.event(f"Job succeeded: fine-tuned model {self.model_name}")
        else:
            self.store.delete_model(self.model_name)


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
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--job-id", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    store = Store(Path(args.data_dir))
    job_run = JobRun(store, args.job_id, _data_parallel_ranks())
    signal.signal(signal.SIGTERM, job_run.request_stop)
    signal.signal(signal.SIGINT, job_run.request_stop)
    return job_run.run()


if __name__ == "__main__":
    sys.exit(main())
