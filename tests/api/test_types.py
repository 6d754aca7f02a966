"""Typed results read both metric namings, so curves draw for OpenAI and the local server."""

from __future__ import annotations

from fttui.api import FineTuningJob, JobEvent, Page


def test_openai_metrics_event_is_normalised() -> None:
    event = JobEvent.model_validate(
        {
            "id": "ftevent-1", "object": "fine_tuning.job.event", "created_at": 1,
            "level": "info", "message": "Step 10/100: training loss=0.50", "type": "metrics",
            "data": {"step": 10, "total_steps": 100, "train_loss": 0.5,
                     "train_mean_token_accuracy": 0.8, "valid_loss": 0.6,
                     "valid_mean_token_accuracy": 0.7, "full_valid_loss": 0.65,
                     "full_valid_mean_token_accuracy": 0.71},
        }
    )  # fmt: skip
    m = event.metrics
    assert m is not None
    assert (m.step, m.total_steps, m.train_loss, m.train_token_accuracy) == (10, 100, 0.5, 0.8)
    assert (m.valid_loss, m.valid_token_accuracy, m.full_valid_loss) == (0.6, 0.7, 0.65)
    assert m.extra == {}


def test_seed_metrics_event_is_normalised_and_keeps_classification_values() -> None:
    event = JobEvent.model_validate(
        {
            "id": "ftevent-2", "created_at": 1, "level": "info", "message": "metrics",
            "type": "metrics",
            "data": {"step": 3, "training_loss": 1.2, "training_token_accuracy": 0.83,
                     "training_sequence_accuracy": 0.67, "validation_loss": 1.4,
                     "validation_sequence_accuracy": 0.5, "elapsed_tokens": 300,
                     "elapsed_examples": 12, "classification/accuracy": 0.9},
        }
    )  # fmt: skip
    m = event.metrics
    assert m is not None
    assert (m.train_loss, m.train_token_accuracy, m.train_sequence_accuracy) == (1.2, 0.83, 0.67)
    assert (m.valid_loss, m.valid_sequence_accuracy, m.valid_token_accuracy) == (1.4, 0.5, None)
    assert (m.elapsed_tokens, m.elapsed_examples) == (300, 12)
    assert m.extra == {"classification/accuracy": 0.9}


def test_message_events_have_no_metrics() -> None:
    event = JobEvent.model_validate({"id": "e", "message": "Job started", "type": "message"})
    assert event.metrics is None


def test_job_from_openai_with_empty_error_and_auto_hyperparameters() -> None:
    page = Page[FineTuningJob].model_validate(
        {
            "object": "list", "has_more": True,
            "data": [{"id": "ftjob-a", "status": "running", "error": {}, "model": "gpt-4o-mini",
                      "hyperparameters": {"n_epochs": "auto", "batch_size": 4,
                                          "learning_rate_multiplier": 0.1}}],
        }
    )  # fmt: skip
    job = page.data[0]
    assert job.error is None and not job.is_final
    assert (job.hyperparameters.n_epochs, job.hyperparameters.batch_size) == ("auto", 4)
    assert page.last_id == "ftjob-a" and page.has_more
