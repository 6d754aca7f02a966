"""What a run tells the server: events, metrics rows, checkpoints, results, the model, its status.

Everything goes through the ordered outbox (`fttui.train.client.Reports`), so a
checkpoint's files arrive before the report that commits them and the final status
after the model. Only rank 0 reports: on the other ranks `reports` is None, events
are dropped and the engine never calls `on_step` or `on_epoch_end`.

`RunReports` is also the engine's `Reporter` (fttui.train.engine): the loop calls it
after each step and at each epoch end, and asks it whether to stop.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fttui.train.client import Reports
from fttui.train.job._checkpoint import write_checkpoint
from fttui.train.job._control import Control, Stopped
from fttui.train.results import ResultsCsv, metrics_event_data, openai_metrics

if TYPE_CHECKING:
    from fttui.train.dpo import DPOObjective
    from fttui.train.engine import Outcome

# After a cancel the local runner SIGKILLs 5 s after SIGTERM: the closing reports
# (rows so far, the cancelled event) must be out by then.
CLOSING_FLUSH_S = 4.0


class RunReports:
    """One run's reports and the progress they describe (steps, checkpoints, rows)."""

    def __init__(self, reports: Reports | None, control: Control, work: Path) -> None:
        self.reports = reports
        self.control = control
        self.work = work
        self.csv: ResultsCsv | None = None
        self.results_sent = False
        self.started = time.monotonic()
        # Pause and resume (docs/training.md): the step this run started after (the
        # resumed checkpoint's), the last checkpoint it saved, the steps in all.
        self.first_step = 0
        self.total_steps = 0
        self.last_checkpoint_step = 0
        # Where training stopped (the trained model, the engine's outcome): what a
        # pause checkpoints.
        self.model: Any = None
        self.outcome: Outcome | None = None
        self.rft_objective: Any = None  # its grader's failures go to the step's events

    # -- the engine's Reporter ------------------------------------------------------
    def should_stop(self) -> bool:
        return self.control.should_stop()

    def should_abandon(self) -> bool:
        return self.control.should_abandon()

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
        errors = list(getattr(self.rft_objective, "last_errors", None) or [])
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
        metrics = {"step": step, **openai_metrics(row)}
        self.save_checkpoint(step, model, training_state, kind="epoch", metrics=metrics)

    # -- events -------------------------------------------------------------------
    def event(self, message: str, level: str = "info") -> None:
        if self.reports is None:
            return
        self.reports.add("event", message=message, level=level, type="message")
        print(f"[{level}] {message}", flush=True)

    def dpo_ready(self, objective: DPOObjective) -> None:
        """The reference pass is done: step 0 in words (rank 0 only)."""
        if self.reports is None or not objective.has_validation:
            return
        from fttui.train.dpo import step0_event

        message, data = step0_event(objective)
        self.reports.add("event", message=message, level="info", type="message", data=data)
        print(f"[info] {message}", flush=True)

    def step_done(self) -> int:
        """The last step this run completed (its results rows so far)."""
        return self.csv.rows if self.csv is not None else self.first_step

    # -- artifacts ------------------------------------------------------------------
    def save_checkpoint(
        self,
        step: int,
        model: Any,
        state: dict[str, Any] | None,
        *,
        kind: str,
        metrics: dict[str, Any] | None = None,
    ) -> None:
        """Write `step-N/` (fttui/train/job/_checkpoint.py) and queue its upload. The
        server keeps the optimizer state only where a resume may need it
        (fttui/server/checkpoints.py)."""
        assert self.reports is not None
        path = self.work / "checkpoints" / f"step-{step}"
        write_checkpoint(path, model, state, self.csv)
        self.reports.add_upload(
            "checkpoint",
            path,
            step_number=step,
            metrics=metrics or {"step": step},
            checkpoint_kind=kind,
        )
        self.last_checkpoint_step = step

    def send_results(self) -> None:
        """Queue the results file's upload, once, when it has rows."""
        if self.csv is None or self.csv.rows == 0 or self.results_sent or self.reports is None:
            return
        self.reports.add_upload("results", self.csv.path.parent, remove_after=False)
        self.results_sent = True

    # -- how the run ended ------------------------------------------------------------
    def succeeded(
        self, model: Any, tokenizer: Any, tokens: int, stored_dtype: tuple[str, str]
    ) -> None:
        """Save the model (LoRA merged, in `stored_dtype`: (format, why)), then upload it
        and the results, report `succeeded`."""
        assert self.reports is not None
        if hasattr(model, "merge_and_unload"):
            # LoRA: merge the adapters so the result loads like any other model.
            model = model.merge_and_unload()
        target = self.work / "model"
        dtype, why = stored_dtype
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
        self.send_results()
        self.reports.add("status", status="succeeded", trained_tokens=tokens)

    def failed(self, code: str, message: str, param: str | None) -> None:
        """Report `failed` with OpenAI's error shape (code, message, param)."""
        if self.csv is not None:
            self.csv.close()
        self.event(message, level="error")
        if self.reports is not None:
            self.reports.add(
                "status",
                status="failed",
                error={"code": code, "message": message, "param": param},
            )

    def cancelled(self) -> None:
        """Send the rows so far, report `cancelled`, and flush within the runner's grace."""
        rows = self.csv.rows if self.csv else 0
        if self.csv is not None:
            self.csv.close()
            self.send_results()
        self.event(f"Job cancelled; {rows} result rows and the checkpoints so far are kept.")
        if self.reports is not None:
            self.reports.add("status", status="cancelled", reason=self.control.stop_reason)
            self.reports.flush(CLOSING_FLUSH_S)

    def paused(self) -> None:
        """Checkpoint where training stopped (weights, optimizer, schedule, counters,
        random state, the rows so far), send it and the rows, report `paused`."""
        assert self.reports is not None
        outcome = self.outcome
        step = outcome.steps if outcome is not None else self.first_step
        if outcome is not None and outcome.state is not None and step > self.last_checkpoint_step:
            assert self.model is not None
            self.save_checkpoint(step, self.model, outcome.state, kind="pause")
        if self.csv is not None:
            self.csv.close()
            self.send_results()
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
        # JobRun.run() then waits until the checkpoint and this report reached the
        # server (a restarting one too, up to the offline limit): resuming needs them.
        self.reports.add("status", status="paused", step=step)
