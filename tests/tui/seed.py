"""A fixed, known store state for snapshot tests and screenshots.

Written straight into the data directory through `fttui.store.Store` (the contract
between server and trainer) before the server starts, with fixed ids and times, so
every screen renders the same on every run. Only final job states are used: the
scheduler never picks them up, so nothing changes underneath a snapshot.
"""

from __future__ import annotations

import json
from pathlib import Path

from fttui.store.db import Store

T0 = 1_795_000_000  # 2026-11-19 09:46:40 UTC, a fixed "now" for the seeded world
NOW = T0 + 3 * 3600

TRAIN_LINES = [
    {"prompt": f"Review: {text}\n\n###\n\n", "completion": f" {label}\n"}
    for text, label in [
        ("The battery lasts all day and the screen is sharp.", "positive"),
        ("Stopped working after a week; support never answered.", "negative"),
        ("Exactly as described, fast delivery.", "positive"),
        ("The strap broke on the first day.", "negative"),
        ("Comfortable and quiet, would buy again.", "positive"),
        ("Too loud and the app keeps crashing.", "negative"),
    ]
]
VALID_LINES = [
    {"prompt": "Review: Great value for the price.\n\n###\n\n", "completion": " positive\n"},
    {"prompt": "Review: Arrived broken and late.\n\n###\n\n", "completion": " negative\n"},
]

JOB_OK = "ftjob-000000000000000000000003"
JOB_FAILED = "ftjob-000000000000000000000002"
JOB_CANCELLED = "ftjob-000000000000000000000001"
FILE_TRAIN = "file-000000000000000000000001"
FILE_VALID = "file-000000000000000000000002"
FILE_RESULTS = "file-000000000000000000000003"


def _results_csv(steps: int = 24) -> str:
    lines = [
        "step,elapsed_tokens,elapsed_examples,training_loss,training_sequence_accuracy,"
        "training_token_accuracy,validation_loss,validation_sequence_accuracy,"
        "validation_token_accuracy"
    ]
    for step in range(1, steps + 1):
        loss = 3.0 / (1 + 0.25 * step)
        acc = min(1.0, 0.2 + 0.035 * step)
        valid = (
            f"{loss * 1.1:.4f},{max(0.0, acc - 0.2):.4f},{acc - 0.05:.4f}"
            if step % 4 == 0
            else ",,"
        )
        lines.append(
            f"{step},{step * 96},{step * 2},{loss:.4f},{max(0.0, acc - 0.15):.4f},{acc:.4f},{valid}"
        )
    return "\n".join(lines) + "\n"


def _add_file(store: Store, file_id: str, name: str, purpose: str, content: bytes, at: int) -> None:
    (store.files_dir / file_id).write_bytes(content)
    store.add_file(
        filename=name, purpose=purpose, bytes=len(content), path=f"files/{file_id}", file_id=file_id
    )
    with store._tx() as conn:
        conn.execute("UPDATE files SET created_at = ? WHERE id = ?", (at, file_id))


def seed_store(data_dir: Path) -> Store:
    """Three files and three finished jobs (succeeded with curves, failed, cancelled)."""
    store = Store(data_dir)
    jsonl = lambda rows: "".join(json.dumps(r) + "\n" for r in rows).encode()  # noqa: E731
    _add_file(store, FILE_TRAIN, "reviews-train.jsonl", "fine-tune", jsonl(TRAIN_LINES), T0)
    _add_file(store, FILE_VALID, "reviews-valid.jsonl", "fine-tune", jsonl(VALID_LINES), T0 + 60)
    _add_file(
        store,
        FILE_RESULTS,
        "step_metrics.csv",
        "fine-tune-results",
        _results_csv().encode(),
        T0 + 2 * 3600,
    )
    common = {
        "model": "davinci",
        "base_model": "SmolLM2-135M-Instruct",
        "training_file": FILE_TRAIN,
        "validation_file": FILE_VALID,
        "hyperparameters": {
            "n_epochs": "auto",
            "batch_size": "auto",
            "learning_rate_multiplier": "auto",
        },
        "resolved": {"n_epochs": 4, "batch_size": 2, "learning_rate_multiplier": 0.05},
        "seed": 42,
    }
    store.create_job(
        id=JOB_CANCELLED, created_at=T0 + 600, status="cancelled", finished_at=T0 + 900, **common
    )
    store.create_job(
        id=JOB_FAILED,
        created_at=T0 + 1200,
        status="failed",
        finished_at=T0 + 1300,
        error={
            "code": "invalid_training_file",
            "message": "line 3: completion does not start with a space",
            "param": "training_file",
        },
        **common,
    )
    store.create_job(
        id=JOB_OK,
        created_at=T0 + 1800,
        status="succeeded",
        started_at=T0 + 1810,
        finished_at=T0 + 2 * 3600,
        suffix="reviews",
        fine_tuned_model="davinci:ft-local:reviews-2026-11-19-11-46-40",
        trained_tokens=2304,
        result_files=[FILE_RESULTS],
        extra={"compute_classification_metrics": False},
        **common,
    )
    messages = [
        ("info", "Validating training file: reviews-train.jsonl"),
        ("info", "Fine-tuning job started"),
        ("info", "Training: 4 epochs, batch size 2, learning rate multiplier 0.05"),
        (
            "warn",
            "Only 6 training examples; OpenAI's legacy fine-tuning guide suggests a few hundred",
        ),
    ]
    for level, message in messages:
        store.add_event(JOB_OK, message, level=level)
    for step in (6, 12, 18, 24):
        loss = 3.0 / (1 + 0.25 * step)
        store.add_event(
            JOB_OK,
            f"Step {step}/24: training loss={loss:.4f}",
            type="metrics",
            data={"step": step, "total_steps": 24, "train_loss": loss, "training_loss": loss},
        )
    store.add_event(
        JOB_OK, "New fine-tuned model created: davinci:ft-local:reviews-2026-11-19-11-46-40"
    )
    store.add_event(JOB_OK, "The job has successfully completed")
    store.add_event(JOB_FAILED, "line 3: completion does not start with a space", level="error")
    store.add_event(JOB_CANCELLED, "Job cancelled by the user")
    # The cancelled job got 9 steps in, its metrics reported as OpenAI names them
    # (no results file): runs compared from their events, not a CSV.
    for step in range(1, 10):
        loss = 3.2 / (1 + 0.2 * step)
        data = {"step": step, "total_steps": 24, "train_loss": loss}
        if step % 3 == 0:
            data["valid_loss"] = loss * 1.2
        store.add_event(JOB_CANCELLED, f"Step {step}/24", type="metrics", data=data)
    with store._tx() as conn:
        conn.execute("UPDATE events SET created_at = ? + seq * 300", (T0 + 1800,))
    return store
