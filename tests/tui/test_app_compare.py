"""Compare runs: marked jobs' curves overlaid, their settings side by side."""

from __future__ import annotations

from conftest import ServerProcess

from .conftest import make_app, wait_for
from .seed import JOB_CANCELLED, JOB_OK


async def test_marked_jobs_are_compared_in_plots_and_detail(
    shared_seeded_server: ServerProcess,
) -> None:
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.main
        table = main.jobs.table
        await wait_for(pilot, lambda: len(table.jobs) == 3, what="jobs")
        assert table.selected_job_id == JOB_OK
        await pilot.press("space", "G", "space")  # mark the newest and the oldest
        assert list(table.marked) == [JOB_OK, JOB_CANCELLED]
        loss = main.plots.panel.loss_plot
        # The succeeded job from its results file (24 steps, validation every 4);
        # the cancelled one from its metrics events, named as OpenAI names them.
        await wait_for(
            pilot,
            lambda: (
                set(loss.series)
                == {"reviews train", "reviews valid", "…000001 train", "…000001 valid"}
            ),
            what="both runs' curves",
        )
        assert loss.series["reviews train"][0] == [float(s) for s in range(1, 25)]
        assert loss.series["…000001 train"][0] == [float(s) for s in range(1, 10)]
        assert loss.series["…000001 valid"][0] == [3.0, 6.0, 9.0]
        # One colour per run; validation dotted.
        colors = loss.series_colors
        assert colors["reviews train"] == colors["reviews valid"] != colors["…000001 train"]
        assert loss.dotted == {"reviews valid", "…000001 valid"}
        assert "comparing 2 jobs" in str(main.plots.border_subtitle)
        # The detail pane: one column per run, what differs highlighted.
        compare = main.detail.compare_table
        await wait_for(pilot, lambda: compare.display and compare.headers, what="side by side")
        assert compare.headers == ["reviews", "…000001"]
        differing = set(compare.differing)
        assert {"id", "status", "fine-tuned model", "suffix"} <= differing
        assert not {"model", "n_epochs", "batch_size", "training file", "seed"} & differing
        # Unmarking one goes back to the selected job alone, its curves included.
        await pilot.press("space")
        assert list(table.marked) == [JOB_OK]
        await wait_for(pilot, lambda: main.detail.table.display, what="single detail")
        await wait_for(
            pilot,
            lambda: (
                loss.series.get("training_loss", ([], []))[0] == [float(s) for s in range(1, 10)]
            ),
            what="the cancelled job's own curve",
        )
        assert not main.plots.comparing
