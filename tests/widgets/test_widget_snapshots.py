"""Snapshots of the main widgets at 80x24 (pytest-textual-snapshot).

Times are shown in local time, so TZ is pinned to UTC; the model-name preview
takes a fixed time. Update with `pytest tests/widgets --snapshot-update` after a
deliberate visual change, and look at the SVGs before committing them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Select
from widget_host import Host

from widgets import (
    EventLog,
    EventRow,
    FileRow,
    FileTable,
    HyperparamForm,
    JobRow,
    JobTable,
    MetricsPanel,
    QuotaBar,
)

SIZE = (80, 24)
NOW = 1_700_000_000


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def jobs() -> list[JobRow]:
    statuses = ["succeeded", "failed", "running", "queued", "cancelled", "validating_files"]
    return [
        JobRow(
            id=f"ftjob-{n:04d}abcdef",
            status=statuses[n % len(statuses)],
            model="babbage-002" if n % 2 else "smollm2-135m",
            fine_tuned_model=f"babbage-002:ft-local:run{n}" if n % 6 == 0 else None,
            created_at=NOW - 3600 * n,
            finished_at=NOW - 3600 * n + 1800 if n % 6 in (0, 1, 4) else None,
            estimated_finish=NOW + 300 if n % 6 == 2 else None,
            trained_tokens=12_345 * n if n % 6 == 0 else None,
        )
        for n in range(14)
    ]


def jobs_and_quota() -> Host:
    def make() -> list[Any]:
        box = Vertical()
        box.compose_add_child(QuotaBar(850_000_000, 1_000_000_000))
        box.compose_add_child(FileTable(id="files"))
        box.compose_add_child(JobTable(id="jobs"))
        return [box]

    app = Host(make, css="#files { height: 6; } #jobs { height: 1fr; }")

    def fill() -> None:
        app.query_one(JobTable).set_jobs(jobs(), now=NOW)
        app.query_one(FileTable).set_files(
            [
                FileRow(
                    f"file-{n}", f"train{n}.jsonl", 123_456 * n, "fine-tune", NOW - n, "processed"
                )
                for n in range(1, 4)
            ]
        )

    app.call_after_refresh(fill)
    return app


def events() -> Host:
    app = Host(lambda: [EventLog()])

    def fill() -> None:
        rows = [
            EventRow(f"e{n}", NOW + n, "info", f"Step {n}/40: training loss={2.0 / n:.3f}")
            for n in range(1, 41)
        ]
        rows.insert(
            5, EventRow("w", NOW + 5, "warn", "batch_size 300 is larger than the dataset; using 40")
        )
        rows.append(EventRow("x", NOW + 50, "error", "Job failed: out of memory"))
        app.query_one(EventLog).add_events(rows)

    app.call_after_refresh(fill)
    return app


def plots() -> Host:
    app = Host(lambda: [MetricsPanel()])

    def fill() -> None:
        steps = list(range(1, 41))
        app.query_one(MetricsPanel).set_frame(
            pd.DataFrame(
                {
                    "step": steps,
                    "training_loss": [2.0 / s**0.5 for s in steps],
                    "validation_loss": [2.1 / s**0.5 if s % 10 == 0 else None for s in steps],
                    "training_token_accuracy": [min(0.95, 0.3 + s / 50) for s in steps],
                }
            )
        )

    app.call_after_refresh(fill)
    return app


def form() -> Host:
    def make() -> list[Any]:
        scroll = VerticalScroll()
        scroll.compose_add_child(
            HyperparamForm(preview_time=datetime(2024, 2, 15, 4, 21, 4, tzinfo=UTC))
        )
        return [scroll]

    app = Host(make)

    def fill() -> None:
        f = app.query_one(HyperparamForm)
        f.set_models(["babbage-002", "smollm2-135m"])
        f.set_files([("train.jsonl (file-1)", "file-1")])
        f.query_one("#model", Select).value = "babbage-002"
        f.query_one("#n_epochs").value = "0"  # type: ignore[attr-defined]
        f.query_one("#suffix").value = "custom model name"  # type: ignore[attr-defined]
        f.validate()

    app.call_after_refresh(fill)
    return app


CASES: dict[str, Callable[[], Host]] = {
    "jobs_and_quota": jobs_and_quota,
    "events": events,
    "plots": plots,
    "form": form,
}


@pytest.mark.parametrize("case", list(CASES))
def test_widget_snapshot(case: str, snap_compare: Any) -> None:
    async def settle(pilot: Any) -> None:
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(CASES[case](), terminal_size=SIZE, run_before=settle)
