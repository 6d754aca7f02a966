"""One job's training run (`JobRun`), as a client of the server.

`python -m fttui.train.run` (the entry point, `fttui/train/run.py`) and each Ray Train
worker (`fttui/train/ray_train.py`) call `train_job`; keeping the run here, apart
from the entry point, is what keeps the entry -> Ray -> run arrows one way.

Its only inputs are the server's URL, the job id and the per-job token (in
`FTTUI_TRAINER_TOKEN`, never on the command line). It reads the job spec, the
training/validation files and any fine-tuned model it continues from over HTTP, and
reports events, metrics, status, checkpoints, the results file and the model back
over the server's internal API (`fttui/train/client.py`, docs/cluster.md). It never
opens the server's data directory, so the same code trains on the server's machine
(the local runner, over loopback) and on a Ray node.

The server applies status reports with `Store.transition` from `running`, so a job
the user cancelled is never turned back into `succeeded`. Cancel arrives as SIGTERM
(local runner, `ray job stop`) or in the server's answers and polls (`control`);
either way the loop stops between steps (or before the next decoder layer), keeps
the rows and checkpoints so far and reports `cancelled`.

Under `accelerate launch` / torchrun (WORLD_SIZE > 1) or Ray Train (`--ray-workers N`,
N > 1) every rank runs `JobRun`: all train their share of each batch under torch
DDP, and only rank 0 reports.
"""

from __future__ import annotations

import logging
import math
import shutil
import signal
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import httpx

from fttui.core.engine import engine_message, missing_engine_module
from fttui.core.job_spec import JobSpec, JobSpecError, resolve_beta
from fttui.core.local_auto import resolve_local, resolve_local_rft
from fttui.core.models import BaseModelSpec, default_model_spec
from fttui.data.tokenizing import token_limit
from fttui.train.client import (
    Reports,
    ServerClient,
    ServerGone,
    TokenRefused,
    cache_dir,
)
from fttui.train.data import DataError, check_job_files
from fttui.train.models import ModelUnavailable, UnknownModel, base_location
from fttui.train.plan import PlanError, finish_plan, load_model, model_to_save, plan_loading
from fttui.train.precision import PrecisionError
from fttui.train.results import ResultsCsv, metrics_event_data
from fttui.train.stored_dtype import FLOAT32, published_dtype
from fttui.train.stored_dtype import choose as choose_stored_dtype

if TYPE_CHECKING:
    from fttui.train.dpo import DPOObjective
    from fttui.train.engine import Ranks, Resume
    from fttui.train.rft import RFTObjective

log = logging.getLogger("fttui.train")

# LoRA adapters start at zero and move few weights: they need a larger step than full
# fine-tuning to learn in the same number of steps (a common 10x rule of thumb).
LORA_LR_SCALE = 10.0
# After a cancel the local runner SIGKILLs 5 s after SIGTERM: the closing reports
# (rows so far, the cancelled event) must be out by then.
CLOSING_FLUSH_S = 4.0
# A checkpoint's files beside the weights: what resuming needs (docs/training.md).
STATE_FILE = "training_state.pt"  # step, counters, schedule, random state: kilobytes
OPTIMIZER_FILE = "optimizer.pt"  # AdamW's moments: twice the trained weights
RESULTS_FILE = "results.csv"  # the rows up to the checkpoint's step


class Stopped(Exception):
    """Raised to leave training when cancel or pause was requested."""


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
        self.reports: Reports | None = Reports(client).start() if self.main else None
        self.work = Path(tempfile.mkdtemp(prefix=f"fttui-{job_id}-"))
        self.runtime = dict(runtime or {})
        self.stop_flag = False
        self.stop_reason = "server"
        self.started = time.monotonic()
        self.csv: ResultsCsv | None = None
        self.model: Any = None
        self.model_name = ""
        # (dtype the final model is stored in, why): set once the base model is known.
        self.stored_dtype: tuple[str, str] = (FLOAT32, "no base model was read")
        self.results_sent = False
        self.resume_reference: dict[str, Any] | None = None
        self.closed = False  # the closing reports were flushed (cancel, pause)
        # Pause and resume (docs/training.md): the step this run started after (the
        # resumed checkpoint's), the last checkpoint it saved, where it stopped.
        self.first_step = 0
        self.total_steps = 0
        self.last_checkpoint_step = 0
        self.outcome: Any = None

    # -- cancellation ---------------------------------------------------------
    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_flag = True
        self.stop_reason = "signal"

    def should_stop(self) -> bool:
        """Stop at the next step boundary: cancel, pause or a signal."""
        if self.stop_flag:
            return True
        return self.reports is not None and self.reports.action != "continue"

    def should_abandon(self) -> bool:
        """Stop at once, even mid-validation: anything but a pause (which completes the
        step it applied, so that its checkpoint continues exactly)."""
        return self.should_stop() and not self.pausing

    @property
    def pausing(self) -> bool:
        return self.reports is not None and self.reports.action == "pause"

    def check(self) -> None:
        if self.should_stop():
            raise Stopped

    def event(self, message: str, level: str = "info") -> None:
        if self.reports is None:
            return
        self.reports.add("event", message=message, level=level, type="message")
        print(f"[{level}] {message}", flush=True)

    def _server_asked_stop(self) -> bool:
        """Whether the server asked for the stop (cancel or pause), else a signal or
        another rank did."""
        if self.reports is not None and self.reports.action in ("cancel", "pause"):
            return True
        answer = self.client.control()
        return answer is not None and answer.get("action") in ("cancel", "pause")

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

    def _run(self) -> int:
        try:
            self._train()
        except Stopped:
            if self.distributed and not self._server_asked_stop():
                if self.restartable:
                    self._interrupted("another data-parallel rank stopped")
                    return 1
                # The launcher stops every rank when one of them fails.
                self._fail(
                    "training_error",
                    "Training failed: another data-parallel rank stopped (see train.log)",
                    None,
                )
                return 1
            if self.pausing:
                self._finish_paused()
            else:
                self._finish_cancelled()
            return 0
        except TokenRefused as exc:
            print(f"[info] the server no longer accepts this trainer: {exc}", flush=True)
            return 0
        except ServerGone as exc:
            print(f"[error] {exc}", flush=True)
            return 1
        except DataError as exc:
            self._fail(exc.code, str(exc), exc.param)
            return 1
        except JobSpecError as exc:  # a stored job this trainer cannot read
            self._fail(exc.code, exc.message, exc.param)
            return 1
        except UnknownModel as exc:
            self._fail("model_not_found", str(exc), "model")
            return 1
        except ModelUnavailable as exc:
            self._fail("model_not_available", str(exc), "model")
            return 1
        except (PlanError, PrecisionError) as exc:
            self._fail("unsupported_configuration", str(exc), None)
            return 1
        except MemoryError:
            self._fail(
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
                self._fail(
                    "engine_not_installed", engine_message([missing], "train this job"), None
                )
                return 1
            message = f"Training failed: {type(exc).__name__}: {exc}"
            if "out of memory" in str(exc).lower():
                message += " (try a smaller batch_size or training_method 'lora')"
            self._fail("training_error", message, None)
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
        self.event(
            f"Training interrupted at step {self.outcome_step()} ({why[:300]}); the Ray "
            "driver restarts the workers from the latest checkpoint",
            level="warn",
        )

    def outcome_step(self) -> int:
        """The last step this run completed (its results rows so far)."""
        return self.csv.rows if self.csv is not None else self.first_step

    def _fail(self, code: str, message: str, param: str | None) -> None:
        if self.csv is not None:
            self.csv.close()
        self.event(message, level="error")
        if self.reports is not None:
            self.reports.add(
                "status",
                status="failed",
                error={"code": code, "message": message, "param": param},
            )

    def _finish_cancelled(self) -> None:
        rows = self.csv.rows if self.csv else 0
        if self.csv is not None:
            self.csv.close()
            self._send_results()
        self.event(f"Job cancelled; {rows} result rows and the checkpoints so far are kept.")
        if self.reports is not None:
            self.reports.add("status", status="cancelled", reason=self.stop_reason)
            self.reports.flush(CLOSING_FLUSH_S)
        self.closed = True

    def _finish_paused(self) -> None:
        """Checkpoint where training stopped (weights, optimizer, schedule, counters,
        random state, the rows so far), send it and the rows, report `paused`."""
        assert self.reports is not None
        outcome = self.outcome
        step = outcome.steps if outcome is not None else self.first_step
        if outcome is not None and outcome.state is not None and step > self.last_checkpoint_step:
            assert self.model is not None
            self._save_checkpoint(step, self.model, outcome.state, kind="pause")
        if self.csv is not None:
            self.csv.close()
            self._send_results()
        if step == 0:
            where = "before the first step; resume starts from the beginning"
        else:
            total = f" of {self.total_steps}" if self.total_steps else ""
            where = (
                f"at step {step}{total}; the checkpoint keeps the weights, optimizer state, "
                f"learning-rate schedule, counters and random state, and resume continues "
                f"from step {step + 1}"
            )
        self.event(f"Job paused {where}.")
        # run() then waits until the checkpoint and this report reached the server
        # (a restarting one too, up to the offline limit): resuming needs them.
        self.reports.add("status", status="paused", step=step)

    def _file_path(self, file_id: str, param: str) -> Path:
        """The job's file, downloaded over HTTP into the trainer's work directory."""
        try:
            return self.client.download(f"/files/{file_id}", self.work / "files" / file_id)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 404:
                raise DataError(f"{param} {file_id} no longer exists", param) from None
            raise

    def _read_files(self, job: JobSpec, tokenizer: Any, limit: int) -> tuple[list[Any], list[Any]]:
        """The job's examples (PreferenceExample for DPO), read by the same code the
        server's validation ran."""
        valid_id = job.validation_file
        train, valid = check_job_files(
            self._file_path(job.training_file, "training_file"),
            self._file_path(valid_id, "validation_file") if valid_id else None,
            tokenizer,
            limit,
            job.method,
            keep=True,
        )
        plw = job.options.prompt_loss_weight or 0.0
        if plw and train.format != "prompt_completion":
            # The server refuses this at creation (400); a file row without a recorded
            # format (older uploads) ends here, before any step, never silently ignored.
            raise DataError(
                f"prompt_loss_weight {plw:g} applies to prompt/completion files only; "
                f"training_file is in the {train.format} format (chat examples choose "
                "trained messages with each assistant message's `weight`)",
                "prompt_loss_weight",
                "invalid_hyperparameter",
            )
        return train.examples, valid.examples if valid else []

    def _base_spec(self, spec: dict[str, Any]) -> BaseModelSpec:
        """The base model as this node resolves it (the default from its own package)."""
        base = spec.get("base_model")
        if not isinstance(base, dict):
            raise UnknownModel(f"model {spec['job']['model']!r} does not exist on the server")
        if base.get("default"):
            return default_model_spec()
        fields = {k: v for k, v in base.items() if k in BaseModelSpec.__dataclass_fields__}
        fields["aliases"] = tuple(fields.get("aliases") or ())
        return BaseModelSpec(**fields)

    def _model_location(self, spec: dict[str, Any], base: BaseModelSpec) -> str:
        source = spec.get("continue_from")
        if source:
            return str(self.client.fetch_model(source, cache_dir()))
        # Download progress (hub models) goes to the job's events; only rank 0 reports.
        return base_location(base, cache_dir(), self.event)

    def _resume_files(self, point: dict[str, Any]) -> Path:
        """The checkpoint to resume from, downloaded (sha256 checked) into the work dir:
        used once, so it is not kept in the node's cache."""
        target = self.work / "resume"
        for f in point["files"]:
            self.client.download(
                f"/checkpoints/{int(point['step'])}/{f['name']}", target / f["name"], f["sha256"]
            )
        return target

    def _resume_state(self, directory: Path) -> Resume:
        import torch

        from fttui.train.engine import Resume

        saved = torch.load(directory / STATE_FILE, map_location="cpu", weights_only=True)
        optimizer = torch.load(directory / OPTIMIZER_FILE, map_location="cpu", weights_only=True)
        lora = (directory / "adapter_config.json").exists()
        # DPO: the reference model's log-probabilities, computed before step 1 from
        # weights that have trained since (fttui.train.dpo).
        self.resume_reference = saved.get("dpo_reference")
        self.resume_rft_steps = int(saved.get("rft_steps") or 0)
        return Resume(
            step=int(saved["step"]),
            optimizer=optimizer,
            scheduler=saved["scheduler"],
            elapsed_tokens=int(saved["elapsed_tokens"]),
            elapsed_examples=int(saved["elapsed_examples"]),
            epoch_losses=[float(x) for x in saved.get("epoch_losses") or []],
            rng=saved.get("rng") or {},
            adapter_dir=str(directory) if lora else None,
        )

    def _train(self) -> None:
        import torch

        from fttui.train.engine import TrainConfig, evaluate, train
        from fttui.train.setup import classification_setup

        spec = self.client.spec()
        job = spec["job"]
        # The job as asked for (fttui/core/job_spec.py): method, hyperparameters, options.
        asked = JobSpec.from_job(job)
        opts = asked.options
        self.model_name = str(job.get("model_name") or "")
        base = self._base_spec(spec)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.distributed and device.type == "cuda":
            device = torch.device("cuda", torch.cuda.current_device())
        method = asked.training_method
        self.event(f"Loading model {job['model']}")
        if self.distributed:
            import torch.distributed as dist

            # Rank 0 converts or downloads the model into the node's cache first; the
            # others wait (the cache's file locks make this safe anyway, this just
            # avoids every rank converting at once).
            if self.main:
                location = self._model_location(spec, base)
            dist.barrier()
            if not self.main:
                location = self._model_location(spec, base)
        else:
            location = self._model_location(spec, base)
        point = spec.get("resume_from")
        resume = None
        weights = None
        if point:
            directory = self._resume_files(point)
            resume = self._resume_state(directory)
            self.first_step = resume.step
            # Full fine-tuning: the checkpoint is the whole model; LoRA: the base model,
            # its adapters loaded by the engine after wrapping.
            weights = None if resume.adapter_dir else str(directory)
        plan = plan_loading(base, device.type, method, location)
        model, tokenizer = load_model(location, plan, device, weights=weights)
        # The final model's format (checkpoints stay float32 for an exact resume).
        from_gguf = base.kind == "gguf" and not spec.get("continue_from")
        published = published_dtype(
            base.source if from_gguf else location, base.gguf_file if from_gguf else None
        )
        self.stored_dtype = choose_stored_dtype(opts.stored_dtype, published)
        self.model = model
        self.check()
        limit = token_limit(base.context_length, model.config)
        train_ex, valid_ex = self._read_files(asked, tokenizer, limit)
        self.event(
            f"Files validated: {len(train_ex)} training examples"
            + (f", {len(valid_ex)} validation examples" if valid_ex else "")
        )
        self.check()
        requested = asked.requested()
        dpo = asked.method == "dpo"
        rft = asked.method == "reinforcement"
        # Tokens one example puts through the model (a DPO pair: both sequences).
        lengths = [
            2 * len(ex.prompt_ids) + len(ex.chosen_ids) + len(ex.rejected_ids)
            if dpo
            else ex.n_tokens
            for ex in train_ex
        ]
        if rft:
            resolved, rule = resolve_local_rft(requested, len(train_ex))
            self.event(rule)
        else:
            # `auto` on the local engine: fttui's own rule (fttui.core.local_auto), not
            # the legacy guide's, which is OpenAI's for OpenAI's servers.
            resolved, rule = resolve_local(requested, len(train_ex), sum(lengths), device.type)
            self.event(rule)
        finish_plan(model, plan, base, device, lengths, resolved.batch_size)
        lr = base.base_learning_rate * resolved.learning_rate_multiplier
        if method != "full":
            lr *= LORA_LR_SCALE
        classification = None
        if opts.compute_classification_metrics and valid_ex and not dpo:
            classification, warning = classification_setup(
                tokenizer, train_ex, valid_ex, opts.asked()
            )
            if warning:
                self.event(warning, level="warn")
        config = TrainConfig(
            n_epochs=resolved.n_epochs,
            batch_size=resolved.batch_size,
            learning_rate=lr,
            seed=int(job.get("seed") or 0),
            method="full" if method == "full" else "lora",
            lora_r=opts.lora_rank or 16,
            lora_alpha=opts.lora_alpha or 2 * (opts.lora_rank or 16),
            lora_dropout=opts.lora_dropout or 0.0,
            bf16=plan.precision.bf16,
            loss=plan.loss,
            classification=classification,
            prompt_loss_weight=opts.prompt_loss_weight or 0.0,
            # Every other option the engine takes under its own name (weight_decay, ...).
            **opts.engine_settings(),
        )
        objective: DPOObjective | RFTObjective | None = None
        rft_hp: dict[str, Any] = {}
        if rft:
            objective, rft_hp = self._rft_objective(
                job, requested, tokenizer, config, len(train_ex), len(valid_ex)
            )
            self.rft_objective = objective
            if resume is not None:
                objective.steps_done = getattr(self, "resume_rft_steps", 0)
            if weights is not None:
                # Resumed full fine-tuning: the model holds the checkpoint's weights; the
                # reference (and judge) is the model the job started from, loaded again.
                objective.reference_model, _ = load_model(location, plan, device)
            config.eval_every = rft_hp["eval_interval"]
            config.max_eval_examples = rft_hp["eval_samples"]
        beta = resolve_beta(requested.get("beta"))
        if dpo:
            from fttui.train.dpo import DPOObjective, pairs_from

            train_ex, valid_ex = pairs_from(train_ex), pairs_from(valid_ex)
            objective = DPOObjective(
                beta=beta,
                bf16=config.bf16,
                reference=self.resume_reference if resume is not None else None,
                on_ready=self._dpo_ready,
            )
        if not self.main:
            # Other ranks: the same run, nothing reported.
            self.check()
            _, outcome = train(
                model,
                train_ex,
                valid_ex,
                config,
                self,
                device,
                self.ranks,
                resume=resume,
                objective=objective,
            )
            if outcome.stopped:
                raise Stopped
            return
        assert self.reports is not None
        workers = self.ranks.world_size if self.ranks else 1
        runtime = {
            **self.runtime,
            "workers": workers,
            "device": device.type,
            "precision": plan.precision.name,  # "bf16" or "fp32": what was used
        }
        self.reports.add(
            "job",
            fields={
                "resolved": {
                    **resolved.as_dict(),
                    **({"beta": beta} if dpo else {}),
                    "training_method": method,
                    "learning_rate": lr,
                },
                "hyperparameters": {
                    **resolved.as_dict(),
                    **({"beta": beta} if dpo else {}),
                    **{k: v for k, v in rft_hp.items() if k != "group_size"},
                },
                "runtime": runtime,
            },
        )
        (self.work / "results").mkdir()
        results_path = self.work / "results" / "results.csv"
        if resume is not None:
            # The rows up to the checkpoint's step, as the checkpoint saved them: the
            # file goes on from there, none missing, none twice.
            shutil.copyfile(self.work / "resume" / RESULTS_FILE, results_path)
        self.csv = ResultsCsv(
            results_path,
            validation=bool(valid_ex),
            classification=classification,
            continue_after=resume.step if resume is not None else None,
            dpo=dpo,
            columns=(
                _rft_columns(objective, bool(valid_ex)) if rft and objective is not None else None
            ),
            # A job of today's API gets OpenAI's columns first; a legacy
            # `/v1/fine-tunes` job the legacy guide's file.
            openai=not job.get("legacy"),
        )
        if classification is not None and resume is None:
            base_metrics = evaluate(
                model,
                valid_ex,
                device,
                config.bf16,
                classification,
                self.should_abandon,
                loss=plan.loss,
            )
            shown = ", ".join(
                f"{k}={v:.4f}" for k, v in base_metrics.items() if k.startswith("classification/")
            )
            self.event(f"Before training (step 0): {shown}")
        how = (
            f"{config.n_epochs} epochs, batch size {config.batch_size}, "
            f"learning rate {lr:.3g} (multiplier {resolved.learning_rate_multiplier}), "
            f"method {method}, "
            + (
                f"DPO with beta {beta:g}"
                if dpo
                else (
                    f"reinforcement: {rft_hp.get('group_size')} answers sampled per prompt, "
                    f"KL weight {getattr(objective, 'beta', 0):g}, evaluation every "
                    f"{rft_hp.get('eval_interval')} steps on {rft_hp.get('eval_samples')} "
                    "validation prompts"
                )
                if rft
                else f"prompt loss weight {config.prompt_loss_weight:g}"
                + ("" if config.prompt_loss_weight else " (completion tokens only)")
            )
            + f"; {describe_runtime(runtime)}; {plan.describe()}"
        )
        if resume is not None and point is not None:
            self.last_checkpoint_step = resume.step
            self.event(
                f"Training resumed at step {resume.step + 1} from checkpoint "
                f"{point.get('checkpoint')} (weights, optimizer state, learning-rate "
                f"schedule, counters and random state restored): {how}"
            )
        else:
            self.event(f"Training started: {how}")
        if dpo and getattr(objective, "reference", None) is None:
            self.event(
                f"Computing the reference model's log-probabilities of the {len(train_ex)} "
                f"training and {len(valid_ex)} validation pairs (once, before the first step)"
            )
        self.check()
        self.started = time.monotonic()
        model, outcome = train(
            model,
            train_ex,
            valid_ex,
            config,
            self,
            device,
            self.ranks,
            resume=resume,
            objective=objective,
        )
        self.model = model
        self.outcome = outcome
        if outcome.stopped:
            raise Stopped
        seconds = time.monotonic() - self.started
        trained = outcome.elapsed_tokens - (resume.elapsed_tokens if resume is not None else 0)
        self.event(
            f"Training finished: {outcome.steps - self.first_step} steps in {seconds:.1f} s "
            f"({trained / max(seconds, 1e-9):.0f} tokens/s, first step to last, "
            "checkpoints included)"
        )
        if dpo and objective is not None and valid_ex:
            self.event(dpo_after(objective, len(valid_ex)))  # type: ignore[arg-type]
        self.csv.close()
        model = model_to_save(model, plan, location)
        self._save_final(model, tokenizer, outcome.elapsed_tokens)

    def _rft_objective(
        self,
        job: dict[str, Any],
        requested: dict[str, Any],
        tokenizer: Any,
        config: Any,
        n_train: int,
        n_valid: int,
    ) -> tuple[RFTObjective, dict[str, Any]]:
        """The reinforcement objective with the job's grader and hyperparameters.

        Resolved from the hyperparameters as the job asked them (the spec), never from
        the job row's `resolved`, which this trainer's own report overwrites: a resumed
        job must sample as many answers per prompt as before its pause."""
        from fttui.core.job_spec import resolve_reinforcement
        from fttui.train.grading import Grading
        from fttui.train.rft import RFTObjective

        grader = ((job.get("method") or {}).get("reinforcement") or {}).get("grader")
        steps = math.ceil(n_train / config.batch_size) * config.n_epochs
        hp = resolve_reinforcement(requested, steps, n_valid)
        grading = Grading(grader or {})
        objective = RFTObjective(
            grading, tokenizer, int(hp["group_size"]), bf16=config.bf16, seed=config.seed
        )
        grading.judge = objective.judge
        return objective, hp

    # -- Reporter protocol (engine callbacks) ------------------------------------
    def on_step(self, row: dict[str, Any], total_steps: int) -> None:
        assert self.csv is not None and self.reports is not None
        self.total_steps = total_steps
        self.csv.write(row)
        data = metrics_event_data(row, total_steps)
        msg = f"Step {row['step']}/{total_steps}: training loss={row['training_loss']:.4f}"
        if "validation_loss" in row:
            msg += f", validation loss={row['validation_loss']:.4f}"
        if "train_reward_mean" in row:
            msg += f", train reward mean={row['train_reward_mean']:.3f}"
        if "valid_reward_mean" in row:
            msg += f", valid reward mean={row['valid_reward_mean']:.3f}"
        if "validation_reward_accuracy" in row:
            msg += f", validation reward accuracy={row['validation_reward_accuracy']:.2f}"
        self.reports.add("event", message=msg, level="info", type="metrics", data=data)
        errors = list(getattr(getattr(self, "rft_objective", None), "last_errors", None) or [])
        if errors:
            # The grader's failures, per sample: how many and the first one's reason.
            self.reports.add(
                "event",
                message=f"Step {row['step']}: the grader failed on {len(errors)} answers "
                f"(reward 0 for each); first: {errors[0][:300]}",
                level="warn",
            )
        elapsed = time.monotonic() - self.started
        remaining = elapsed / max(1, row["step"] - self.first_step) * (total_steps - row["step"])
        if row["step"] == 1 or row["step"] % 5 == 0:
            self.reports.add("job", fields={"estimated_finish": int(time.time()) + int(remaining)})

    def on_epoch_end(
        self,
        epoch: int,
        step: int,
        row: dict[str, Any],
        model: Any,
        training_state: dict[str, Any] | None = None,
    ) -> None:
        assert self.reports is not None
        msg = f"Epoch {epoch}: training loss={row['epoch_training_loss']:.4f}"
        if "validation_loss" in row:
            msg += f", validation loss={row['validation_loss']:.4f}"
        cls = {k: v for k, v in row.items() if k.startswith("classification/")}
        if cls:
            msg += ", " + ", ".join(f"{k}={v:.4f}" for k, v in cls.items())
        self.event(msg)
        metrics = {"step": step, "train_loss": row["training_loss"]}
        if "training_token_accuracy" in row:
            metrics["train_mean_token_accuracy"] = row["training_token_accuracy"]
        if "validation_loss" in row:
            metrics["valid_loss"] = row["validation_loss"]
        if "validation_token_accuracy" in row:
            metrics["valid_mean_token_accuracy"] = row["validation_token_accuracy"]
        self._save_checkpoint(step, model, training_state, kind="epoch", metrics=metrics)

    def _save_checkpoint(
        self,
        step: int,
        model: Any,
        state: dict[str, Any] | None,
        *,
        kind: str,
        metrics: dict[str, Any] | None = None,
    ) -> None:
        """Write `step-N/` (weights; with `state`, the optimizer in `optimizer.pt` and
        the rest in `training_state.pt`; the results rows so far) and queue its upload.
        The server keeps the optimizer state only where a resume may need it
        (fttui/server/checkpoints.py)."""
        assert self.reports is not None
        path = self.work / "checkpoints" / f"step-{step}"
        model.save_pretrained(path)
        if state is not None:
            import torch

            small = {k: v for k, v in state.items() if k != "optimizer"}
            torch.save(state["optimizer"], path / OPTIMIZER_FILE)
            torch.save(small, path / STATE_FILE)
        if self.csv is not None:
            self.csv.flush()
            shutil.copyfile(self.csv.path, path / RESULTS_FILE)
        self.reports.add_upload(
            "checkpoint",
            path,
            step_number=step,
            metrics=metrics or {"step": step},
            checkpoint_kind=kind,
        )
        self.last_checkpoint_step = step

    def _dpo_ready(self, objective: DPOObjective) -> None:
        """The reference pass is done: step 0 in words (rank 0 only)."""
        if self.reports is None or not objective.has_validation:
            return
        message, data = dpo_before(objective)
        self.reports.add("event", message=message, level="info", type="message", data=data)
        print(f"[info] {message}", flush=True)

    # -- outputs ------------------------------------------------------------------
    def _send_results(self) -> None:
        if self.csv is None or self.csv.rows == 0 or self.results_sent or self.reports is None:
            return
        self.reports.add_upload("results", self.csv.path.parent, remove_after=False)
        self.results_sent = True

    def _save_final(self, model: Any, tokenizer: Any, tokens: int) -> None:
        assert self.reports is not None
        if hasattr(model, "merge_and_unload"):
            # LoRA: merge the adapters so the result loads like any other model.
            model = model.merge_and_unload()
        target = self.work / "model"
        dtype, why = self.stored_dtype
        import torch

        if any(p.dtype != getattr(torch, dtype) for p in model.parameters()):
            model = model.to(getattr(torch, dtype))
        model.save_pretrained(target)
        self.event(f"Model stored as {dtype}, because {why} (checkpoints stay float32)")
        tokenizer.save_pretrained(target)
        from fttui.data.chat_format import format_files

        for extra in format_files(tokenizer):  # mistral-common's tokenizer file
            shutil.copyfile(extra, target / extra.name)
        if self.should_stop():
            raise Stopped
        self.reports.add_upload("model", target)
        self._send_results()
        self.reports.add("status", status="succeeded", trained_tokens=tokens)


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


def _rft_columns(objective: Any, validation: bool) -> list[str]:
    from fttui.train.rft import rft_columns

    return rft_columns(objective.grading.keys, validation)


def dpo_before(objective: DPOObjective) -> tuple[str, dict[str, Any]]:
    """Step 0 of a DPO job with a validation file, as an event (message, data).

    Before the first step the model is its own reference: every implicit reward is 0,
    so the loss is log 2, the reward accuracy 0 and the margin 0, by definition. What
    the reference pass measured is how often the model already gives the preferred
    output the higher log-probability.
    """
    share = objective.reference_share
    data = {
        "step": 0,
        "validation_loss": math.log(2),
        "validation_reward_accuracy": 0.0,
        "validation_reward_margin": 0.0,
        "validation_preferred_share": share,
    }
    message = (
        f"Before training (step 0): validation loss={math.log(2):.4f}, reward accuracy=0.00, "
        f"reward margin=0.0000 (the model is its own reference); the model gives the "
        f"preferred output the higher log-probability on {share:.0%} of the validation pairs"
    )
    return message, data


def dpo_after(objective: DPOObjective, n_valid: int) -> str:
    """The held-out preference after training, next to the reference's."""
    return (
        f"After training: the model gives the preferred output the higher log-probability "
        f"on {objective.preferred_share:.0%} of the {n_valid} validation pairs "
        f"(before training: {objective.reference_share:.0%})"
    )


def describe_runtime(runtime: dict[str, Any]) -> str:
    """`fttui.runtime` in words, for the first training event."""
    workers = int(runtime.get("workers") or 1)
    where = "on Ray" if runtime.get("runner") == "ray" else "on the server's machine"
    if runtime.get("ray_job_id"):
        where += f" (Ray job {runtime['ray_job_id']})"
    ranks = f"{workers} data-parallel ranks" if workers > 1 else "1 process"
    return f"running {where}, {ranks}, device {runtime.get('device') or '?'}"


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
            signal.signal(signal.SIGTERM, job_run.request_stop)
            signal.signal(signal.SIGINT, job_run.request_stop)
        return job_run.run()
    finally:
        client.close()


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
