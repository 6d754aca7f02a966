"""What a user came for is on screen at 80x24: a job's results, its plots' keys."""

from __future__ import annotations

import re

from conftest import ServerProcess

from fttui.screens.main import MainScreen
from widgets import FileTable, JobTable, KeyValueTable

from .conftest import make_app, wait_for
from .seed import JOB_OK

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def screen_lines(app: object) -> list[str]:
    """The terminal's rows as plain text."""
    update = app.screen._compositor.render_full_update()  # type: ignore[attr-defined]
    return _ANSI.sub("", update.render_segments(app.console)).splitlines()  # type: ignore[attr-defined]


async def _loaded(pilot: object, app: object) -> MainScreen:
    main: MainScreen = app.main  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: len(main.query_one(JobTable).jobs) == 3, what="3 jobs")
    await wait_for(pilot, lambda: len(main.query_one(FileTable).files) == 3, what="3 files")
    return main


async def test_a_finished_jobs_results_are_on_screen_at_80x24(
    shared_seeded_server: ServerProcess,
) -> None:
    """Pressing 3 on a succeeded job shows its model, results file, tokens and last
    metrics without scrolling (they were below the fold, after every hyperparameter)."""
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(80, 24)) as pilot:
        main = await _loaded(pilot, app)
        await wait_for(pilot, lambda: main.selected_job_id == JOB_OK, what="selection")
        table = main.query_one(KeyValueTable)
        await wait_for(pilot, lambda: "result files" in dict(table.items), what="detail")
        await pilot.press("3")
        await pilot.pause()
        assert table.scroll_y == 0
        text = "\n".join(screen_lines(app))
        for key in ("fine-tuned model", "result files", "trained tokens", "finished"):
            assert key in text, (key, text)
        assert "reviews-2026-11-19" in text  # the model's name itself


def _trained_locally() -> tuple[dict[str, object], list[dict[str, object]]]:
    """A classification job as the local server returns it (its own options under
    `fttui`, where and how it ran) and its three epoch checkpoints."""
    job = {
        "id": "ftjob-abc123",
        "status": "succeeded",
        "model": "HuggingFaceTB/SmolLM2-135M",
        "fine_tuned_model": "ft:SmolLM2-135M:local:reviews:abc123",
        "user_provided_suffix": "reviews",
        "training_file": "file-train",
        "validation_file": "file-valid",
        "method": {
            "type": "supervised",
            "supervised": {
                "hyperparameters": {"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 2}
            },
        },
        "fttui": {
            "base_model": "HuggingFaceTB/SmolLM2-135M",
            "hyperparameters": {
                "compute_classification_metrics": True,
                "classification_n_classes": 2,
                "classification_positive_class": " positive",
                "prompt_loss_weight": 0.01,
                "training_method": "lora",
                "lora_r": 8,
                "lora_alpha": 16,
                "max_seq_length": 512,
            },
            "runtime": {"runner": "local", "workers": 1, "device": "cpu", "precision": "fp32"},
        },
        "metadata": {"team": "search"},
        "seed": 42,
        "trained_tokens": 123_456,
        "created_at": 1_763_000_000,
        "finished_at": 1_763_003_600,
        "result_files": ["file-results"],
    }
    checkpoints = [
        {
            "id": f"ftckpt-{step}",
            "step_number": step,
            "fine_tuned_model_checkpoint": f"ft:SmolLM2-135M:local:reviews:abc123:ckpt-step-{step}",
            "metrics": {"train_loss": loss, "valid_loss": loss + 0.1, "full_valid_loss": loss},
        }
        for step, loss in ((300, 0.41), (200, 0.55), (100, 0.9))
    ]
    return job, checkpoints


async def test_a_local_jobs_results_lead_its_detail_at_80x24() -> None:
    """The results of a job with many options and checkpoints are within the 19 rows
    the detail pane shows at 80x24 (on main they came after 30 rows of options)."""
    from textual.app import App, ComposeResult

    from fttui.api.types import Checkpoint, FineTuningJob, parse
    from fttui.panes.convert import job_detail

    class Pane(App[None]):
        def compose(self) -> ComposeResult:
            job, checkpoints = _trained_locally()
            yield KeyValueTable(
                job_detail(parse(FineTuningJob, job), [parse(Checkpoint, c) for c in checkpoints])
            )

    app = Pane()
    async with app.run_test(size=(78, 19)) as pilot:  # the pane inside its border
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        for key, value in [
            ("fine-tuned model", "ft:SmolLM2-135M:local:reviews:abc123"),
            ("result files", "file-results"),
            ("trained tokens", "123,456"),
            ("last metrics", "train_loss=0.41"),  # the highest step's, listed first or last
        ]:
            assert key in text and value in text, (key, text)


async def test_help_is_one_screen_at_80x24_grouped_by_pane_with_a_filter(
    shared_seeded_server: ServerProcess,
) -> None:
    from textual.containers import VerticalScroll

    from fttui.screens.help import HelpScreen

    app = make_app(shared_seeded_server)
    async with app.run_test(size=(80, 24)) as pilot:
        main = await _loaded(pilot, app)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        await wait_for(pilot, lambda: bool(help_screen.shown), what="keys laid out")
        await pilot.pause()
        body = help_screen.query_one(VerticalScroll)
        assert body.max_scroll_y == 0, "the keys need scrolling at 80x24"
        text = "\n".join(screen_lines(app))
        sections = dict(help_screen.sections)
        for title in ("Everywhere", "Lists", "Files", "Jobs", "Events", "Plots", "Dialogs"):
            assert title in sections and title in text, title
        # Each pane's keys under its name (the screen's keys placed where they act).
        assert ("n", "New job") in sections["Jobs"] and ("u", "Upload") in sections["Files"]
        assert ("l", "Log scale") in sections["Plots"]
        for key, description in [r for rows in sections.values() for r in rows]:
            assert description in text, (key, description)  # all of them, on the one screen

        await pilot.press("slash", *"log")
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "Log scale" in text and "New job" not in text and "Upload" not in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is main, what="help closed")
