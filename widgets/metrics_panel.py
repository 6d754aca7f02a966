"""Loss, accuracy, classification and (DPO) reward plots from one metrics frame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widget import Widget

from widgets.metric_plot import MetricPlot

if TYPE_CHECKING:  # pandas is imported when a frame arrives, not at app start-up
    import pandas as pd

# OpenAI's `full_valid_*`: the whole validation file, scored at the end of each epoch
# (the per-step validation figures are a batch of it).
LOSS_COLUMNS = ("training_loss", "validation_loss", "full_validation_loss")
ACCURACY_COLUMNS = (
    "training_token_accuracy",
    "training_sequence_accuracy",
    "validation_token_accuracy",
    "validation_sequence_accuracy",
    "full_validation_token_accuracy",
)
CLASSIFICATION_PREFIX = "classification/"
# DPO jobs (docs/training.md): the share of pairs whose preferred output gets the larger
# implicit reward, and the mean preferred minus non-preferred reward.
REWARD_ACCURACY_COLUMNS = ("training_reward_accuracy", "validation_reward_accuracy")
REWARD_MARGIN_COLUMNS = ("training_reward_margin", "validation_reward_margin")
_DPO_REWARD = frozenset(REWARD_ACCURACY_COLUMNS + REWARD_MARGIN_COLUMNS)


def grader_columns(columns: Sequence[Any]) -> list[str]:
    """A reinforcement job's reward and score series: every column naming a reward or
    a score (OpenAI publishes no example of these metrics events, so no fixed list of
    names is assumed), DPO's implicit rewards and classification metrics aside."""
    return [
        str(c)
        for c in columns
        if ("reward" in str(c).lower() or "score" in str(c).lower())
        and c not in _DPO_REWARD
        and not str(c).startswith(CLASSIFICATION_PREFIX)
    ]


def _series(
    df: pd.DataFrame, steps: list[Any], columns: list[str], strip: str = ""
) -> dict[str, tuple[list[Any], list[Any]]]:
    import pandas as pd

    return {
        column.removeprefix(strip): (steps, pd.to_numeric(df[column], errors="coerce").tolist())
        for column in columns
    }


def _total_steps(df: pd.DataFrame) -> float | None:
    """A running job's total steps (the local server's and OpenAI's metrics events
    carry `total_steps`): the plots' x axis then grows in round steps up to it."""
    import pandas as pd

    if "total_steps" not in df.columns:
        return None
    total = pd.to_numeric(df["total_steps"], errors="coerce").max()
    return None if pd.isna(total) or total <= 0 else float(total)


#: In a comparison: (column, what the legend calls it, dotted?) per plot.
COMPARE_LOSS = (("training_loss", "train", False), ("validation_loss", "valid", True))
COMPARE_ACCURACY = (
    ("training_token_accuracy", "train", False),
    ("validation_token_accuracy", "valid", True),
)
COMPARE_CLASSIFICATION = (("classification/accuracy", "accuracy", False),)
COMPARE_REWARD_ACCURACY = (
    ("training_reward_accuracy", "train", False),
    ("validation_reward_accuracy", "valid", True),
)
COMPARE_REWARD_MARGIN = (
    ("training_reward_margin", "train", False),
    ("validation_reward_margin", "valid", True),
)
#: Reinforcement jobs: the mean reward their grader gave (rft.py's metric names).
COMPARE_GRADER_REWARD = (
    ("train_reward_mean", "train", False),
    ("valid_reward_mean", "valid", True),
)


class MetricsPanel(Widget):
    """Three plots fed by `set_frame(df)` with normalised column names.

    It plots whichever of the known columns are present; the classification plot
    (every `classification/*` column) is shown only when such columns exist. A DPO
    job's frame (reward columns, no token accuracy) shows reward accuracy in the
    accuracy plot and the reward margin in a plot of its own. A reinforcement job's
    frame (rewards and grader scores) shows them in a plot of their own, first and
    taller, and no accuracy plot (it has no token accuracy to draw). The
    frame comes from live metrics events while a job runs and from the results CSV
    once it is done; normalising legacy names is the caller's job (fttui.results).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "toggle_smooth", "Smooth curves"),
        Binding("l", "toggle_log", "Log scale"),
        Binding("L", "toggle_full_names", "Full names in legends"),
    ]

    #: Focusable, so that its keys (smoothing, log scale, names) reach it.
    can_focus = True

    DEFAULT_CSS = """
    MetricsPanel {
        height: 1fr;
        layout: vertical;
    }
    MetricsPanel > MetricPlot { height: 1fr; min-height: 7; }
    MetricsPanel > #plot-classification { display: none; }
    MetricsPanel.-classification > #plot-classification { display: block; }
    MetricsPanel > #plot-reward-margin { display: none; }
    MetricsPanel.-reward > #plot-reward-margin { display: block; }
    MetricsPanel > #plot-grader { display: none; }
    MetricsPanel.-grader > #plot-grader { display: block; height: 2fr; }
    MetricsPanel.-rft > #plot-accuracy { display: none; }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        #: How every plot shows its curves (`m`, `l`, `L`), kept across jobs.
        self.smooth = False
        self.log_y = False
        self.full_names = False

    def compose(self) -> ComposeResult:
        # A reinforcement job's rewards first (shown for such jobs only): they are
        # what it trains for, and at 80x24 the first plot is the one on screen.
        yield MetricPlot("Reward / score", id="plot-grader")
        yield MetricPlot("Loss", id="plot-loss")
        yield MetricPlot("Accuracy", id="plot-accuracy")
        yield MetricPlot("Classification", id="plot-classification")
        yield MetricPlot("Reward margin", id="plot-reward-margin")

    @property
    def loss_plot(self) -> MetricPlot:
        return self.query_one("#plot-loss", MetricPlot)

    @property
    def accuracy_plot(self) -> MetricPlot:
        return self.query_one("#plot-accuracy", MetricPlot)

    @property
    def classification_plot(self) -> MetricPlot:
        return self.query_one("#plot-classification", MetricPlot)

    @property
    def reward_margin_plot(self) -> MetricPlot:
        return self.query_one("#plot-reward-margin", MetricPlot)

    @property
    def grader_plot(self) -> MetricPlot:
        """A reinforcement job's reward and score series (see `grader_columns`)."""
        return self.query_one("#plot-grader", MetricPlot)

    # -- views ----------------------------------------------------------------------
    def set_view(
        self,
        *,
        smooth: bool | None = None,
        log_y: bool | None = None,
        full_names: bool | None = None,
    ) -> None:
        """Smoothing, log scale and full legend names for every plot (None: as is)."""
        self.smooth = self.smooth if smooth is None else smooth
        self.log_y = self.log_y if log_y is None else log_y
        self.full_names = self.full_names if full_names is None else full_names
        for plot in self.query(MetricPlot):
            plot.set_view(smooth=self.smooth, log_y=self.log_y, full_names=self.full_names)

    def action_toggle_smooth(self) -> None:
        """Smoothed curves (a moving average) on or off."""
        self.set_view(smooth=not self.smooth)
        self.notify(f"smoothing {'on' if self.smooth else 'off'}", timeout=2)

    def action_toggle_log(self) -> None:
        """A log y axis on or off (a loss falling over decades reads better on it)."""
        self.set_view(log_y=not self.log_y)
        self.notify(f"log scale {'on' if self.log_y else 'off'}", timeout=2)

    def action_toggle_full_names(self) -> None:
        """Legends with every name whole (over more lines) or abbreviated to one."""
        self.set_view(full_names=not self.full_names)

    def set_epochs(self, n_epochs: int | None) -> None:
        """Mark where each of `n_epochs` epochs ends on every plot (None: no marks)."""
        for plot in self.query(MetricPlot):
            plot.set_epochs(n_epochs)

    def on_mount(self) -> None:
        self.set_view()

    def _taken_down(self) -> bool:
        """Whether the plots are gone: the app is closing (or the pane is being removed)
        while a worker still brings curves. Those curves are dropped: a query for a plot
        would raise NoMatches in the worker, and a failed worker ends the app."""
        return not self.is_attached or not self.query("#plot-loss")

    def set_frame(self, df: pd.DataFrame) -> None:
        """Plot the metrics in `df` (one row per step; missing values may be NaN)."""
        import pandas as pd

        if self._taken_down():
            return

        if "step" in df.columns:
            steps = pd.to_numeric(df["step"], errors="coerce").tolist()
        else:
            steps = list(range(1, len(df) + 1))
        present = set(df.columns)
        loss = [c for c in LOSS_COLUMNS if c in present]
        accuracy = [c for c in ACCURACY_COLUMNS if c in present]
        reward_accuracy = [c for c in REWARD_ACCURACY_COLUMNS if c in present]
        margin = [c for c in REWARD_MARGIN_COLUMNS if c in present]
        classification = sorted(c for c in df.columns if str(c).startswith(CLASSIFICATION_PREFIX))
        x_max = _total_steps(df)
        self.loss_plot.set_series(_series(df, steps, loss), "Loss", x_max=x_max)
        if reward_accuracy and not accuracy:  # a DPO job
            self.accuracy_plot.set_series(
                _series(df, steps, reward_accuracy), "Reward accuracy", x_max=x_max
            )
        else:
            self.accuracy_plot.set_series(_series(df, steps, accuracy), "Accuracy", x_max=x_max)
        self.reward_margin_plot.set_series(_series(df, steps, margin), "Reward margin", x_max=x_max)
        self.set_class(bool(margin), "-reward")
        self.classification_plot.set_series(
            _series(df, steps, classification, CLASSIFICATION_PREFIX),
            "Classification",
            x_max=x_max,
        )
        self.set_class(bool(classification), "-classification")
        graded = grader_columns(list(df.columns))
        self.grader_plot.set_series(_series(df, steps, graded), "Reward / score", x_max=x_max)
        self.set_class(bool(graded), "-grader")
        # A reinforcement job has no token accuracy: no empty "no data yet" plot
        # taking the rewards' room.
        self.set_class(bool(graded) and not accuracy and not reward_accuracy, "-rft")

    def compare(self, runs: Sequence[tuple[str, pd.DataFrame]]) -> None:
        """Overlay several runs (label, frame): one colour per run, its training curve
        a line and its validation curve dotted; the legend names each by its label."""
        import pandas as pd

        if self._taken_down():
            return
        self.set_epochs(None)  # runs of other lengths: one job's epochs mean nothing here
        dpo_only = all(
            "training_reward_accuracy" in df.columns and "training_token_accuracy" not in df.columns
            for _, df in runs
        )
        plots = (
            (self.loss_plot, "Loss", COMPARE_LOSS),
            (
                (self.accuracy_plot, "Reward accuracy", COMPARE_REWARD_ACCURACY)
                if dpo_only and runs
                else (self.accuracy_plot, "Token accuracy", COMPARE_ACCURACY)
            ),
            (self.classification_plot, "Classification accuracy", COMPARE_CLASSIFICATION),
            (self.reward_margin_plot, "Reward margin", COMPARE_REWARD_MARGIN),
            (self.grader_plot, "Reward", COMPARE_GRADER_REWARD),
        )
        for plot, title, columns in plots:
            series: dict[str, tuple[list[Any], list[Any]]] = {}
            colors: dict[str, int] = {}
            dotted: list[str] = []
            for index, (label, df) in enumerate(runs):
                if "step" in df.columns:
                    steps = pd.to_numeric(df["step"], errors="coerce").tolist()
                else:
                    steps = list(range(1, len(df) + 1))
                for column, kind, dots in columns:
                    if column not in df.columns:
                        continue
                    name = f"{label} {kind}"
                    series[name] = (steps, pd.to_numeric(df[column], errors="coerce").tolist())
                    colors[name] = index
                    if dots:
                        dotted.append(name)
            plot.set_series(series, title, colors=colors, dotted=dotted)
        self.set_class(self.classification_plot.has_data, "-classification")
        self.set_class(self.reward_margin_plot.has_data, "-reward")
        # Reinforcement jobs compared: their rewards overlaid, first; no accuracy plot
        # when none of the runs has one.
        rewards = self.grader_plot.has_data
        self.set_class(rewards, "-grader")
        self.set_class(rewards and not self.accuracy_plot.has_data, "-rft")

    def clear(self) -> None:
        """Empty every plot (another job was selected)."""
        for plot in self.query(MetricPlot):
            plot.clear()
        self.remove_class("-classification", "-reward", "-grader", "-rft")
