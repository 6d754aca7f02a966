"""MetricPlot and MetricsPanel: what is drawn, redraw on resize, empty state."""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest
from widget_host import Host, drawn_text

from widgets import MetricPlot, MetricsPanel


async def test_plot_draws_title_series_names_and_axes_and_redraws_on_resize() -> None:
    app = Host(lambda: [MetricPlot("Loss")])
    async with app.run_test(size=(80, 20)) as pilot:
        plot = app.query_one(MetricPlot)
        await pilot.pause()
        assert "no data yet" in drawn_text(plot)

        steps = list(range(1, 21))
        plot.set_series(
            {
                "training_loss": (steps, [2.0 / s for s in steps]),
                "validation_loss": (steps, [math.nan if s % 5 else 2.2 / s for s in steps]),
            },
            title="Loss",
        )
        await pilot.pause()
        text = drawn_text(plot)
        assert text.splitlines()[0].startswith("Loss")
        assert "training_loss 0.1" in text and "validation_loss 0.11" in text
        assert "┤" in text and "└" in text  # y ticks and the x axis
        assert "2.0┤" in text  # the y axis rounded out to a round step around the data
        assert plot.series["validation_loss"][0] == [5.0, 10.0, 15.0, 20.0]  # NaNs dropped
        width_before = max(len(line) for line in text.splitlines())
        redraws = plot.redraws

        await pilot.resize_terminal(50, 16)
        await pilot.pause()
        resized = drawn_text(plot)
        assert plot.redraws > redraws
        assert max(len(line) for line in resized.splitlines()) < width_before
        assert "training_loss" in resized

        plot.clear()
        await pilot.pause()
        assert "no data yet" in drawn_text(plot)


async def test_same_data_does_not_rebuild_the_chart() -> None:
    app = Host(lambda: [MetricPlot("Loss")])
    async with app.run_test(size=(60, 15)) as pilot:
        plot = app.query_one(MetricPlot)
        plot.set_series({"a": ([1, 2], [1.0, 0.5])}, "Loss")
        await pilot.pause()
        redraws = plot.redraws
        plot.set_series({"a": ([1, 2], [1.0, 0.5])}, "Loss")
        plot.refresh()
        await pilot.pause()
        assert plot.redraws == redraws


async def test_panel_plots_present_columns_and_shows_classification_only_when_present() -> None:
    app = Host(lambda: [MetricsPanel()])
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(MetricsPanel)
        frame = pd.DataFrame(
            {
                "step": [1, 2, 3],
                "training_loss": [1.5, 1.0, 0.7],
                "training_token_accuracy": [0.5, 0.6, 0.7],
                "validation_sequence_accuracy": [None, None, 0.4],
            }
        )
        panel.set_frame(frame)
        await pilot.pause()
        assert set(panel.loss_plot.series) == {"training_loss"}
        assert set(panel.accuracy_plot.series) == {
            "training_token_accuracy",
            "validation_sequence_accuracy",
        }
        assert not panel.classification_plot.display
        assert "training_token_accuracy" in drawn_text(panel.accuracy_plot)

        frame["classification/accuracy"] = [0.5, 0.7, 0.9]
        frame["classification/f1.0"] = [0.4, 0.6, 0.8]
        panel.set_frame(frame)
        await pilot.pause()
        assert panel.classification_plot.display
        assert set(panel.classification_plot.series) == {"accuracy", "f1.0"}
        assert "f1.0" in drawn_text(panel.classification_plot)

        panel.clear()
        await pilot.pause()
        assert not panel.classification_plot.display
        assert "no data yet" in drawn_text(panel.loss_plot)


async def test_long_runs_are_thinned_so_a_redraw_stays_cheap() -> None:
    app = Host(lambda: [MetricPlot("Loss")])
    async with app.run_test(size=(80, 20)) as pilot:
        plot = app.query_one(MetricPlot)
        steps = list(range(1, 20_001))
        plot.set_series(
            {name: (steps, [1.0 / (s + i) for s in steps]) for i, name in enumerate("abcd")}, "Loss"
        )
        started = time.perf_counter()
        await pilot.pause()
        text = drawn_text(plot)
        elapsed = time.perf_counter() - started
        assert "a 5e-05" in text  # the legend shows the last value of every series
        assert "20000" in text.splitlines()[-1]  # plain step numbers on the x axis
        assert elapsed < 0.5, f"drawing 4 x 20,000 points took {elapsed * 1000:.0f} ms"


async def test_two_dpo_runs_compared_overlay_reward_accuracy_and_margin() -> None:
    """Marking two DPO jobs: the accuracy plot becomes reward accuracy, the reward
    margin plot is shown, each run in its own colour, validation dotted."""
    app = Host(lambda: [MetricsPanel()])
    async with app.run_test(size=(120, 48)) as pilot:
        panel = app.query_one(MetricsPanel)

        def dpo(shift: float) -> pd.DataFrame:
            return pd.DataFrame(
                {
                    "step": [1, 2, 3, 4],
                    "training_loss": [0.69, 0.6 - shift, 0.5 - shift, 0.4 - shift],
                    "training_reward_accuracy": [0.0, 0.5, 0.75, 1.0],
                    "training_reward_margin": [0.0, 0.1 + shift, 0.3 + shift, 0.6 + shift],
                    "validation_reward_accuracy": [None, 0.5, None, 1.0],
                    "validation_reward_margin": [None, 0.05, None, 0.5 + shift],
                }
            )

        panel.compare([("beta-0.1", dpo(0.0)), ("beta-0.5", dpo(0.1))])
        await pilot.pause()
        accuracy, margin = panel.accuracy_plot, panel.reward_margin_plot
        assert accuracy.title == "Reward accuracy"
        assert margin.display
        assert set(margin.series) == {
            "beta-0.1 train",
            "beta-0.1 valid",
            "beta-0.5 train",
            "beta-0.5 valid",
        }
        assert margin.series["beta-0.5 train"][1] == pytest.approx([0.0, 0.2, 0.4, 0.7])
        assert set(accuracy.series) == set(margin.series)
        colors = margin.series_colors
        assert colors["beta-0.1 train"] == colors["beta-0.1 valid"] != colors["beta-0.5 train"]
        assert margin.dotted == {"beta-0.1 valid", "beta-0.5 valid"}
        assert "beta-0.5 train" in drawn_text(margin)

        # A supervised run among them: token accuracy again, no reward-margin plot data
        # for it (the DPO run keeps its margin curves).
        sft = pd.DataFrame(
            {"step": [1, 2], "training_loss": [2.0, 1.5], "training_token_accuracy": [0.4, 0.5]}
        )
        panel.compare([("beta-0.1", dpo(0.0)), ("sft", sft)])
        await pilot.pause()
        assert accuracy.title == "Token accuracy"
        assert set(margin.series) == {"beta-0.1 train", "beta-0.1 valid"}


async def test_reinforcement_rewards_and_scores_get_a_plot_of_their_own() -> None:
    """OpenAI publishes no example of a reinforcement job's metrics events, so every
    series naming a reward or a score is plotted; DPO's implicit rewards stay apart."""
    app = Host(lambda: [MetricsPanel()])
    async with app.run_test(size=(100, 60)) as pilot:
        panel = app.query_one(MetricsPanel)
        frame = pd.DataFrame(
            {
                "step": [1, 2, 3],
                "training_loss": [1.5, 1.0, 0.7],
                "train_reward_mean": [0.1, 0.4, 0.6],
                "valid_reward_mean": [None, 0.3, None],
                "string_check_score": [0.0, 1.0, 1.0],
                "full_validation_loss": [None, None, 0.5],
            }
        )
        panel.set_frame(frame)
        await pilot.pause()
        assert panel.grader_plot.display
        assert set(panel.grader_plot.series) == {
            "train_reward_mean", "valid_reward_mean", "string_check_score"
        }  # fmt: skip
        assert set(panel.loss_plot.series) == {"training_loss", "full_validation_loss"}
        assert "train_reward_mean" in drawn_text(panel.grader_plot)
        # The rewards are what such a job trains for: their plot comes first and is
        # the tallest; no empty accuracy plot (it has no token accuracy).
        shown = [p for p in panel.query(MetricPlot) if p.display]
        assert shown == [panel.grader_plot, panel.loss_plot]
        assert panel.grader_plot.region.y < panel.loss_plot.region.y
        assert panel.grader_plot.region.height > panel.loss_plot.region.height
        dpo = pd.DataFrame(
            {"step": [1, 2], "training_loss": [0.7, 0.6], "training_reward_margin": [0.1, 0.2]}
        )
        panel.set_frame(dpo)
        await pilot.pause()
        assert not panel.grader_plot.display and panel.reward_margin_plot.display
        assert panel.accuracy_plot.display


async def test_two_reinforcement_runs_compared_overlay_their_rewards() -> None:
    """Marking two RFT jobs: their train and valid reward means in the reward plot
    (first, each run in its own colour, validation dotted), no empty accuracy plot;
    a comparison without rewards hides the reward plot again."""
    app = Host(lambda: [MetricsPanel()])
    async with app.run_test(size=(120, 48)) as pilot:
        panel = app.query_one(MetricsPanel)

        def rft(shift: float) -> pd.DataFrame:
            return pd.DataFrame(
                {
                    "step": [1, 2, 3],
                    "training_loss": [0.0, 0.01, 0.02],
                    "train_reward_mean": [0.1, 0.2 + shift, 0.3 + shift],
                    "train_score/close": [0.1, 0.2 + shift, 0.3 + shift],
                    "valid_reward_mean": [None, 0.25, 0.35 + shift],
                }
            )

        panel.compare([("a", rft(0.0)), ("b", rft(0.1))])
        await pilot.pause()
        rewards = panel.grader_plot
        assert set(rewards.series) == {"a train", "a valid", "b train", "b valid"}
        assert rewards.series["b train"][1] == pytest.approx([0.1, 0.3, 0.4])
        assert rewards.dotted == {"a valid", "b valid"}
        assert rewards.series_colors["a train"] != rewards.series_colors["b train"]
        shown = [p for p in panel.query(MetricPlot) if p.display]
        assert shown == [rewards, panel.loss_plot]
        sft = pd.DataFrame(
            {"step": [1, 2], "training_loss": [2.0, 1.5], "training_token_accuracy": [0.4, 0.5]}
        )
        panel.compare([("s1", sft), ("s2", sft)])
        await pilot.pause()
        assert not rewards.display and panel.accuracy_plot.display


def test_ticks_are_round_steps_with_the_decimals_they_need() -> None:
    from widgets.metric_plot import nice_ticks

    # A loss between 0.5 and 2.5: the labels read 0.5 1.0 ... (they read 0 2 2 when
    # rounded to whole numbers).
    positions, labels = nice_ticks(0.5, 2.5, 11)
    assert labels == ["0.5", "1.0", "1.5", "2.0", "2.5"]
    assert len(set(labels)) == len(labels)
    # Steps of 1, 2 or 5 times a power of ten, on their multiples.
    _, labels = nice_ticks(1, 24, 7)
    assert labels == ["5", "10", "15", "20"]
    _, labels = nice_ticks(0.001, 0.004, 6)
    assert labels == ["0.001", "0.002", "0.003", "0.004"]
    _, labels = nice_ticks(-0.2, 0.4, 8)
    assert labels == ["-0.2", "0", "0.2", "0.4"]


def test_y_range_is_the_datas_with_a_margin() -> None:
    """A loss moving between 0.3 and 2: the axis spans 0.2-2.2, its first point is not
    on the frame and the curve is not squashed into the bottom of a 0-20 axis."""
    from widgets.metric_plot import nice_limits

    assert nice_limits(0.3, 2.0) == pytest.approx((0.2, 2.2))
    low, high = nice_limits(0.62, 0.71)  # a nearly flat loss still fills the chart
    assert 0.6 <= low < 0.62 and 0.71 < high <= 0.73
    assert nice_limits(0.0, 1.0)[0] == 0  # an accuracy gets no negative bottom


async def test_m_smooths_the_curves_and_l_puts_the_y_axis_on_a_log_scale() -> None:
    steps = list(range(1, 101))
    # A loss falling over two decades with step-to-step noise of a factor of two.
    loss = [3.0 * 0.955**s * (0.7 if s % 2 else 1.4) for s in steps]
    frame = pd.DataFrame({"step": steps, "training_loss": loss})
    app = Host(lambda: [MetricsPanel()])
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(MetricsPanel)
        panel.set_frame(frame)
        panel.focus()
        await pilot.pause()
        plot = panel.loss_plot
        raw_limits = plot.y_limits
        assert raw_limits is not None and raw_limits[1] >= max(loss)

        await pilot.press("m")
        await pilot.pause()
        assert plot.smooth and panel.accuracy_plot.smooth
        assert "Loss  smoothed" in drawn_text(plot)
        smooth_limits = plot.y_limits
        assert smooth_limits is not None and smooth_limits[1] < raw_limits[1]  # noise averaged
        assert f"training_loss {loss[-1]:.4g}" in drawn_text(plot)  # the legend: last raw value

        await pilot.press("l")
        await pilot.pause()
        text = drawn_text(plot)
        assert "smoothed, log" in text
        labels = [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line]
        assert {"0.1", "1"} <= set(labels), labels  # decades, labelled with the values
        low, high = plot.y_limits or (0, 0)
        assert low < 0.05 and high > 2  # the whole smoothed curve: 0.03 to 3

        await pilot.press("m", "l")
        await pilot.pause()
        assert plot.y_limits == pytest.approx(raw_limits)
        assert "smoothed" not in drawn_text(plot)


async def test_log_scale_leaves_out_what_it_cannot_draw() -> None:
    app = Host(lambda: [MetricPlot("Accuracy")])
    async with app.run_test(size=(60, 16)) as pilot:
        plot = app.query_one(MetricPlot)
        plot.set_series({"acc": ([1, 2, 3, 4], [0.0, 0.25, 0.5, 1.0])}, "Accuracy")
        plot.set_view(log_y=True)
        await pilot.pause()
        low, high = plot.y_limits or (0, 0)
        assert 0 < low < 0.25 and high > 1  # the zero is left out, the rest drawn
        plot.set_series({"margin": ([1, 2], [-1.0, 0.0])}, "Reward margin")
        await pilot.pause()
        text = drawn_text(plot)
        assert "log" not in text.splitlines()[0]  # nothing positive: the linear axis, said so
        assert "┤" in text


async def test_epoch_boundaries_are_marked() -> None:
    """Three epochs of 30 steps: dotted vertical lines at steps 10 and 20, none with one
    epoch."""
    app = Host(lambda: [MetricPlot("Loss")])
    async with app.run_test(size=(80, 20)) as pilot:
        plot = app.query_one(MetricPlot)
        steps = list(range(1, 31))
        plot.set_series({"training_loss": (steps, [2.0 / s for s in steps])}, "Loss")
        await pilot.pause()
        plain = drawn_text(plot)
        plot.set_epochs(3)
        await pilot.pause()
        marked = drawn_text(plot)
        assert plot.epoch_boundaries() == [10, 20]

        def columns(text: str) -> set[int]:
            """Columns where a vertical line runs through most chart rows."""
            rows = [line for line in text.splitlines()[2:] if "│" in line or "┤" in line]
            counts: dict[int, int] = {}
            for line in rows:
                for column, char in enumerate(line):
                    if char in "┊╎┆│:¦":
                        counts[column] = counts.get(column, 0) + 1
            return {c for c, n in counts.items() if n >= len(rows) // 2}

        added = columns(marked) - columns(plain)
        assert len(added) == 2, marked
        plot.set_epochs(1)
        await pilot.pause()
        assert drawn_text(plot) == plain


async def test_a_comparisons_legend_is_abbreviated_never_cut_and_L_shows_full_names() -> None:
    runs = [
        ("experiment-lr-0.05-batch-8", 0.0),
        ("experiment-lr-0.10-batch-8", 0.1),
        ("experiment-lr-0.20-batch-16", 0.2),
    ]

    def frame(shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "step": [1, 2, 3],
                "training_loss": [2.0 - shift, 1.5 - shift, 1.0 - shift],
                "validation_loss": [2.1 - shift, None, 1.1 - shift],
            }
        )

    app = Host(lambda: [MetricsPanel()])
    async with app.run_test(size=(80, 30)) as pilot:
        panel = app.query_one(MetricsPanel)
        panel.compare([(label, frame(shift)) for label, shift in runs])
        panel.focus()
        await pilot.pause()
        plot = panel.loss_plot

        def legend() -> list[str]:
            """The lines between the title and the chart (each starts with an entry)."""
            lines = drawn_text(plot).splitlines()[1:]
            end = next(i for i, line in enumerate(lines) if not line.startswith(("━━", "··")))
            return lines[:end]

        assert plot.abbreviated and "L: full names" in drawn_text(plot).splitlines()[0]
        shown = legend()
        assert not any(line.rstrip().endswith("…") for line in shown), shown
        # Every run and curve there, told apart by what their names do not share.
        text = " ".join(shown)
        for label, _ in runs:
            distinct = label.removeprefix("experiment-lr-0.")
            assert f"…{distinct} train" in text and f"…{distinct} valid" in text, shown
        assert text.count("━━") + text.count("··") == 6
        assert len(shown) <= 2

        await pilot.press("L")
        await pilot.pause()
        text = " ".join(legend())
        for label, _ in runs:
            assert f"{label} train" in text and f"{label} valid" in text
        assert not plot.abbreviated


def test_legend_names_shorten_words_then_what_runs_share_then_cut() -> None:
    from widgets.metric_plot import legend_names

    names = ["training_loss", "validation_loss", "full_validation_loss"]
    assert legend_names(names)[0] == ["train loss", "valid loss", "full valid loss"]
    runs = ["sweep-a-lr0.1 train", "sweep-a-lr0.1 valid", "sweep-b-lr0.1 train"]
    assert legend_names(runs)[0] == ["…a… train", "…a… valid", "…b… train"]
    # A run whose whole name the others start with keeps it (not "…" and "…-lr4").
    assert legend_names(["words train", "words-lr4 train"])[0] == ["words train", "words-lr4 train"]
    for shorter in legend_names(["a-very-long-run-name-one x", "a-very-long-run-name-two x"]):
        assert len(set(shorter)) == 2  # always told apart
