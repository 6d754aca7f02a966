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
        dpo = pd.DataFrame(
            {"step": [1, 2], "training_loss": [0.7, 0.6], "training_reward_margin": [0.1, 0.2]}
        )
        panel.set_frame(dpo)
        await pilot.pause()
        assert not panel.grader_plot.display and panel.reward_margin_plot.display


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
