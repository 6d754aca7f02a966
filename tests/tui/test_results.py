"""Results CSVs and metrics events, in both naming schemes, become the same frame."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from fttui.results import (
    ResultsError,
    classification_columns,
    frame_from_metrics,
    parse_results_csv,
    read_results_csv,
)

LEGACY = """step,elapsed_tokens,elapsed_examples,training_loss,training_sequence_accuracy,training_token_accuracy,validation_loss,validation_sequence_accuracy,validation_token_accuracy,classification/accuracy,classification/f1.0
1,120,4,2.5,0.0,0.25,,,,,
2,240,8,2.0,0.25,0.5,2.2,0.0,0.4,0.5,0.4
"""

CURRENT = """step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy
1,2.5,0.25,,
2,2.0,0.5,2.2,0.4
"""


def test_legacy_and_current_csv_give_the_same_curves() -> None:
    legacy = parse_results_csv(LEGACY)
    current = parse_results_csv(CURRENT)
    for column in (
        "step",
        "training_loss",
        "training_token_accuracy",
        "validation_loss",
        "validation_token_accuracy",
    ):
        assert list(legacy[column].fillna(-1)) == list(current[column].fillna(-1)), column
    assert classification_columns(legacy) == ["classification/accuracy", "classification/f1.0"]
    assert math.isnan(legacy["validation_loss"][0])
    assert legacy["validation_loss"][1] == 2.2


def test_full_valid_columns_are_kept_under_seed_style_names() -> None:
    frame = parse_results_csv(
        "step,train_loss,full_valid_loss,full_valid_mean_token_accuracy\n3,1,2,0.5\n"
    )
    assert frame["full_validation_loss"][0] == 2.0
    assert frame["full_validation_token_accuracy"][0] == 0.5


def test_openai_columns_beside_the_legacy_ones_read_once() -> None:
    """The local server's file for a job of today's API: OpenAI's columns first, the
    legacy guide's after; each metric is read once (the legacy guide's column)."""
    frame = parse_results_csv(
        "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy,elapsed_tokens,"
        "elapsed_examples,training_loss,training_sequence_accuracy,training_token_accuracy,"
        "validation_loss,validation_sequence_accuracy,validation_token_accuracy\n"
        "1,2.5,0.25,,,120,4,2.5,0.0,0.25,,,\n"
        "2,2.0,0.5,2.2,0.4,240,8,2.0,0.25,0.5,2.2,0.0,0.4\n"
    )
    assert list(frame.columns).count("training_loss") == 1
    assert list(frame["training_loss"]) == [2.5, 2.0]
    assert list(frame["validation_token_accuracy"].fillna(-1)) == [-1, 0.4]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("loss,acc\n1,2\n", "line 1: no 'step' column"),
        ("step,train_loss\n1,2\n2,abc\n", "line 3, column 'train_loss': 'abc' is not a number"),
        ("step,train_loss\n1,2\n2,3,4\n", "line 3: expected 2 fields, found 3"),
        ("step,train_loss,train_loss\n1,2,3\n", "appears twice"),
        ("step,train_accuracy,train_mean_token_accuracy\n1,2,3\n", "appears twice"),
    ],
)
def test_bad_csv_names_the_line(text: str, expected: str) -> None:
    with pytest.raises(ResultsError, match=expected):
        parse_results_csv(text, source="r.csv")


def test_unreadable_file_is_a_results_error(tmp_path: Path) -> None:
    bad = tmp_path / "bin.csv"
    bad.write_bytes(b"step\n\xff\xfe\n")
    with pytest.raises(ResultsError, match="not UTF-8"):
        read_results_csv(bad)
    with pytest.raises(ResultsError, match="missing.csv"):
        read_results_csv(tmp_path / "missing.csv")


def test_metrics_events_in_both_schemes_merge_by_step() -> None:
    events = [
        # The local server sends both names; OpenAI sends only its own.
        {"step": 1, "training_loss": 2.5, "train_loss": 2.5, "training_token_accuracy": 0.25},
        {"step": 2, "train_loss": 2.0, "train_mean_token_accuracy": 0.5, "total_steps": 4},
        {"step": 2, "valid_loss": 2.2, "valid_mean_token_accuracy": 0.4},
        {"message": "no step here"},
        None,
        {"step": 3, "classification/accuracy": 0.75, "note": "text is ignored"},
    ]
    frame = frame_from_metrics(events)
    assert list(frame["step"]) == [1.0, 2.0, 3.0]
    assert list(frame["training_loss"][:2]) == [2.5, 2.0]
    assert frame["validation_loss"][1] == 2.2
    assert frame["validation_token_accuracy"][1] == 0.4
    assert frame["classification/accuracy"][2] == 0.75
    assert "note" not in frame.columns


def test_no_metrics_gives_an_empty_frame_with_a_step_column() -> None:
    frame = frame_from_metrics([])
    assert list(frame.columns) == ["step"] and frame.empty


def test_live_metrics_fold_in_events_as_they_arrive() -> None:
    """The live plot's columns, built one event at a time, give the same frame as
    all events at once, and a snapshot does not change when more arrive."""
    from fttui.results import LiveMetrics, frame_from_columns

    events: list[dict[str, float] | None] = []
    for step in range(1, 301):
        events.append({"step": step, "train_loss": 3.0 / step, "train_accuracy": step / 300})
        if step % 50 == 0:  # validation arrives as its own event for the same step
            events.append({"step": step, "valid_loss": 3.5 / step})
    events.append({"step": 7, "train_loss": 9.0})  # a step reported again: last value wins
    live = LiveMetrics()
    snapshot = None
    for i, data in enumerate(events):
        live.add(data)
        if i == 100:
            snapshot = live.snapshot()
    assert len(live) == 300
    assert snapshot is not None and len(snapshot["step"]) == 100
    whole = frame_from_metrics(events)
    incremental = frame_from_columns(live.snapshot())
    assert list(incremental.columns) == list(whole.columns)
    assert incremental.equals(whole)
    assert incremental["training_loss"][6] == 9.0
    assert incremental["validation_loss"].notna().sum() == 6
    assert not live.add({"message": "no step"}) and len(live) == 300


def test_live_frames_keep_a_bounded_number_of_points_per_metric() -> None:
    """Thinning keeps each metric's first and last point and sparse metrics too."""
    from fttui.results import LiveMetrics, frame_from_columns

    live = LiveMetrics()
    for step in range(1, 25_001):
        live.add({"step": step, "train_loss": 1.0 / step})
        if step % 500 == 0:
            live.add({"step": step, "valid_loss": 2.0 / step})
    frame = frame_from_columns(live.snapshot(), max_points=1000)
    train = frame["training_loss"].dropna()
    valid = frame["validation_loss"].dropna()
    assert 990 <= len(train) <= 1000 + 50  # plus the rows kept for validation points
    assert len(valid) == 50  # all 50 validation points survive
    assert frame["step"].iloc[0] == 1 and frame["step"].iloc[-1] == 25_000
    assert train.iloc[-1] == 1.0 / 25_000  # the legend's latest value is exact
    assert frame["step"].is_monotonic_increasing
