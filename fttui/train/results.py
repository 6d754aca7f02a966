"""The legacy guide's results CSV, written row by row as training goes, and metrics events.

Each row is flushed as soon as it is written, so a cancelled or crashed job keeps
every step it finished.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from fttui.core.results_columns import (
    DPO_TRAIN_COLUMNS,
    DPO_VALIDATION_COLUMNS,
    OPENAI_COLUMNS,
    TRAIN_COLUMNS,
    VALIDATION_COLUMNS,
)

if TYPE_CHECKING:  # the trainer's process settings must apply before torch loads
    from fttui.train.engine import ClassificationSetup


def classification_columns(setup: ClassificationSetup) -> list[str]:
    if setup.positive_index is None:
        return ["classification/accuracy", "classification/weighted_f1_score"]
    return [
        "classification/accuracy",
        "classification/precision",
        "classification/recall",
        *(f"classification/f{float(b)}" for b in setup.betas),
        "classification/auroc",
        "classification/auprc",
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


class ResultsCsv:
    """results.csv with the columns for this job's options.

    `openai=True` (a job of today's API): OpenAI's columns first, in OpenAI's order, each
    a copy of the legacy guide's column it names (only those this job has), then the
    legacy guide's columns; `openai=False` (a legacy `/v1/fine-tunes` job): exactly the
    legacy guide's columns.

    `continue_after=k`: `path` already holds the rows of steps 1..k (a resumed job's,
    from its checkpoint); rows are appended after them.
    """

    def __init__(
        self,
        path: Path,
        *,
        validation: bool,
        classification: ClassificationSetup | None,
        continue_after: int | None = None,
        dpo: bool = False,
        openai: bool = False,
        columns: list[str] | None = None,
    ) -> None:
        """`columns`: a method's own columns (reinforcement: `fttui.train.rft.rft_columns`)."""
        self.path = path
        legacy = list(DPO_TRAIN_COLUMNS if dpo else TRAIN_COLUMNS)
        if validation:
            legacy += DPO_VALIDATION_COLUMNS if dpo else VALIDATION_COLUMNS
        if columns is not None:
            legacy = list(columns)
        if classification is not None:
            legacy += classification_columns(classification)
        # (column written, row key it takes its value from)
        self._sources: list[tuple[str, str]] = [(c, c) for c in legacy]
        if openai:
            first = [("step", "step")]
            first += [(name, key) for name, key in OPENAI_COLUMNS if key in legacy]
            self._sources = first + [(c, c) for c in legacy if c != "step"]
        self.columns = [name for name, _ in self._sources]
        self.rows = 0
        if continue_after is not None:
            self.rows = self._check_existing(continue_after)
            self._fh: IO[str] | None = open(path, "a", newline="", encoding="utf-8")  # noqa: SIM115
            self._writer = csv.writer(self._fh)
            return
        self._fh = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.writer(self._fh)
        self._writer.writerow(self.columns)
        self._fh.flush()

    def _check_existing(self, last_step: int) -> int:
        with open(self.path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            steps = [int(row[0]) for row in reader if row]
        if header != self.columns or steps != list(range(1, last_step + 1)):
            raise ValueError(
                f"the checkpoint's results.csv does not hold steps 1..{last_step} in this "
                f"job's columns (header {header}, {len(steps)} rows)"
            )
        return len(steps)

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def write(self, row: dict[str, Any]) -> None:
        if self._fh is None:
            return
        self._writer.writerow([_cell(row.get(key)) for _, key in self._sources])
        self._fh.flush()
        self.rows += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def openai_metrics(row: dict[str, Any]) -> dict[str, Any]:
    """A results row's losses and accuracies under OpenAI's names (a checkpoint's
    `metrics`, and the first keys of a metrics event's `data`); a DPO row has no token
    accuracy."""
    metrics: dict[str, Any] = {"train_loss": row["training_loss"]}
    if "training_token_accuracy" in row:
        metrics["train_mean_token_accuracy"] = row["training_token_accuracy"]
    if "validation_loss" in row:
        metrics["valid_loss"] = row["validation_loss"]
    if "validation_token_accuracy" in row:
        metrics["valid_mean_token_accuracy"] = row["validation_token_accuracy"]
    return metrics


def metrics_event_data(row: dict[str, Any], total_steps: int) -> dict[str, Any]:
    """A metrics event's `data`: OpenAI's key names and the legacy guide's, side by side
    (a DPO row has no token accuracy; its reward columns keep the CSV's names)."""
    data: dict[str, Any] = {"step": row["step"], "total_steps": total_steps, **openai_metrics(row)}
    for key, value in row.items():
        if key == "epoch_training_loss":
            continue
        if isinstance(value, float) and math.isnan(value):
            value = None
        data[key] = value
    return data
