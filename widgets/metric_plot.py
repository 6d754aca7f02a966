"""A terminal line chart (plotext) of one or more metric series against steps."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from itertools import zip_longest
from typing import Any

from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from fttui.core.safe_text import safe_text

#: ANSI 256 colours given to series in order (blue, red, green, magenta, cyan, yellow...).
PALETTE: tuple[int, ...] = (12, 9, 10, 13, 14, 11, 3, 6, 5, 2)

Series = Mapping[str, tuple[Sequence[float], Sequence[float]]]


def _clean(steps: Sequence[float], values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Pairs with finite numbers only (NaN marks a step without this metric)."""
    xs: list[float] = []
    ys: list[float] = []
    for x, y in zip(steps, values, strict=False):
        if x is None or y is None:
            continue
        fx, fy = float(x), float(y)
        if math.isfinite(fx) and math.isfinite(fy):
            xs.append(fx)
            ys.append(fy)
    return xs, ys


def thin(xs: list[float], ys: list[float], limit: int) -> tuple[list[float], list[float]]:
    """At most `limit` evenly spaced points, first and last kept.

    A terminal chart has about two dots per column, so plotting 10,000 steps costs
    plotext a second and shows nothing more than plotting a few hundred.
    """
    count = len(xs)
    if count <= limit or limit < 2:
        return xs, ys
    step = (count - 1) / (limit - 1)
    picks = [round(i * step) for i in range(limit)]
    return [xs[i] for i in picks], [ys[i] for i in picks]


def bucket(
    xs: list[float], ys: list[float], low: float, high: float, buckets: int
) -> tuple[list[float], list[float]]:
    """One point per x bucket of a fixed axis (the last point that falls in it).

    With the axis fixed, a point that arrives later only changes its own bucket:
    the part of the curve already drawn stays the same, so a live chart redraws a
    few lines per new point instead of every line (see `MetricPlot`).
    """
    if len(xs) <= buckets or high <= low or buckets < 2:
        return xs, ys
    width = (high - low) / buckets
    kept: dict[int, int] = {}
    for index, x in enumerate(xs):
        kept[int((x - low) / width)] = index
    picks = [kept[b] for b in sorted(kept)]
    if picks[0] != 0:
        picks.insert(0, 0)
    return [xs[i] for i in picks], [ys[i] for i in picks]


def nice_step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) about a fifth of `span`."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / 5
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def nice_ticks(low: float, high: float, most: int) -> tuple[list[float], list[str]]:
    """At most `most` ticks on the multiples of a round step (1, 2 or 5 x 10^n) between
    `low` and `high`, labelled with as many decimals as the step needs (and no
    float noise: 0.30000000000000004 reads 0.3)."""
    if high <= low or not (math.isfinite(low) and math.isfinite(high)):
        return [], []
    step = nice_step(high - low)
    while (high - low) / step + 1 > max(2, most):
        step = nice_step(step * 6)  # the next round step up
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    positions = [i * step for i in range(first, last + 1)]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    labels = [f"{p:.{decimals}f}" for p in positions]
    labels = ["0" if float(label) == 0 else label for label in labels]  # not "-0.0"
    return positions, labels


#: The share of the data's span left free above and below the curves.
Y_MARGIN = 0.05
#: Exponential moving average weight of the smoothed curves (TensorBoard's default
#: slider reads 0.6; a step-by-step training loss is noisier, so a little more).
SMOOTHING = 0.8


def nice_limits(low: float, high: float) -> tuple[float, float]:
    """The y range for data between `low` and `high`: a margin of `Y_MARGIN` of the
    span on each side, rounded outwards to a round step of about a tenth of the span
    (a loss moving between 0.3 and 2 gets 0.2-2.2, not 0-2 with its first point on
    the frame). Non-negative data is not given a negative bottom."""
    if high <= low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    span = high - low
    step = nice_step(span / 2)
    bottom = math.floor((low - Y_MARGIN * span) / step + 1e-9) * step
    top = math.ceil((high + Y_MARGIN * span) / step - 1e-9) * step
    if low >= 0 > bottom:
        bottom = 0.0
    return bottom, top


def log_limits(low: float, high: float) -> tuple[float, float]:
    """The y range on a log scale, in decades (log10 of the values), with a margin."""
    if high <= low:
        low, high = low - 0.5, high + 0.5
    margin = Y_MARGIN * (high - low)
    return low - margin, high + margin


def _number_label(value: float) -> str:
    """A tick's value with the decimals it needs (0.002, 0.5, 20, 1e-06)."""
    if value >= 1e-4:
        decimals = max(0, -math.floor(math.log10(value) + 1e-9))
        return f"{value:.{decimals}f}"
    return f"{value:.0e}"


def log_ticks(low: float, high: float, most: int) -> tuple[list[float], list[str]]:
    """Ticks for a log axis whose range is `low`..`high` decades: at 1, 2 and 5 x 10^n
    when three or more of them fit, else at the powers of ten; labelled with the values
    themselves. A range under a decade with fewer such ticks gets round linear steps
    of the values (0.6-2.3: 1.0, 1.5, 2.0)."""
    if high <= low or not (math.isfinite(low) and math.isfinite(high)):
        return [], []
    most = max(2, most)
    # 1, 2, 5 x 10^n when at least three of them show; the powers of ten when two do.
    for factors, fewest in (((1, 2, 5), 3), ((1,), 2)):
        values = [
            factor * 10.0**power
            for power in range(math.floor(low), math.ceil(high) + 1)
            for factor in factors
        ]
        picked = [v for v in values if low - 1e-9 <= math.log10(v) <= high + 1e-9]
        if fewest <= len(picked) <= most:
            return [math.log10(v) for v in picked], [_number_label(v) for v in picked]
    if high - low > 1:  # many decades: every few powers of ten
        every = math.ceil((high - low) / (most - 1))
        powers = [p for p in range(math.ceil(low), math.floor(high) + 1) if p % every == 0]
        return [float(p) for p in powers], [_number_label(10.0**p) for p in powers]
    positions, labels = nice_ticks(10**low, 10**high, most)
    kept = [(p, label) for p, label in zip(positions, labels, strict=True) if p > 0]
    return [math.log10(p) for p, _ in kept], [label for _, label in kept]


def smoothed(values: Sequence[float], weight: float = SMOOTHING) -> list[float]:
    """An exponential moving average, debiased as TensorBoard's is (the first points
    are not pulled towards zero)."""
    out: list[float] = []
    average = 0.0
    for count, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight**count))
    return out


#: Shorter words for the metrics' names, tried before any name is cut.
SHORT_WORDS: tuple[tuple[str, str], ...] = (
    ("full_validation_", "full valid "),
    ("validation_", "valid "),
    ("training_", "train "),
    ("token_accuracy", "tok acc"),
    ("sequence_accuracy", "seq acc"),
    ("reward_accuracy", "rw acc"),
    ("reward_margin", "rw margin"),
)


def short_words(name: str) -> str:
    """`name` with the metrics' long words shortened ("training_loss" -> "train loss")."""
    for long, short in SHORT_WORDS:
        name = name.replace(long, short)
    return name


#: Where a run's name may be cut when what runs share is left out.
SEPARATORS = frozenset("-_. :/")
#: A run's name is not cut shorter than this (shorter reads as noise).
MIN_RUN_WIDTH = 8


def _common_prefix(texts: Sequence[str]) -> str:
    first, last = min(texts), max(texts)
    size = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), None)
    return first[: len(first) if size is None else size]


def strip_common(names: Sequence[str]) -> list[str]:
    """A comparison's names ("<run> <curve>") with what every run's name shares at its
    start or end replaced by "…": experiment-lr-0.05-batch-8 and experiment-lr-0.10-
    batch-8 read …05-batch-8 and …10-batch-8."""
    parts = [name.rpartition(" ") for name in names]
    runs = sorted({run for run, _, _ in parts})
    if len(runs) < 2 or not all(runs):
        return list(names)
    shortest = min(len(run) for run in runs)
    first = runs[0]
    # Cut at a separator, and leave every run a character of its own at least:
    # "words" and "words-lr4" stay as they are (not "…" and "…-lr4").
    prefix = min(len(_common_prefix(runs)), shortest - 1)
    while prefix > 0 and first[prefix - 1] not in SEPARATORS:
        prefix -= 1
    suffix = min(len(_common_prefix([run[::-1] for run in runs])), shortest - prefix - 1)
    while suffix > 0 and first[len(first) - suffix] not in SEPARATORS:
        suffix -= 1
    prefix = prefix if prefix > 3 else 0
    suffix = suffix if suffix > 3 else 0
    if not prefix and not suffix:
        return list(names)

    def cut(run: str) -> str:
        middle = run[prefix : len(run) - suffix]
        return ("…" if prefix else "") + middle + ("…" if suffix else "")

    return [f"{cut(run)} {curve}" for run, _, curve in parts]


def legend_names(names: Sequence[str]) -> list[list[str]]:
    """Ever shorter names for a legend, each list telling every series apart: the
    metrics' words shortened, what runs share cut out, then names cut in the middle
    (a run kept to `MIN_RUN_WIDTH` cells at least)."""
    shorter = [short_words(name) for name in names]
    if len(set(shorter)) < len(shorter):
        shorter = list(names)
    shorter = strip_common(shorter)
    if len(set(shorter)) < len(shorter):
        shorter = [short_words(name) for name in names]
    candidates = [shorter]
    kinds = max(len(name.rpartition(" ")[2]) for name in shorter)
    for cut in range(max(len(name) for name in shorter) - 1, MIN_RUN_WIDTH + kinds, -1):
        cut_names = [abbreviate(name, cut) for name in shorter]
        if len(set(cut_names)) == len(cut_names) and cut_names != candidates[-1]:
            candidates.append(cut_names)
    return candidates


def abbreviate(name: str, width: int) -> str:
    """`name` in at most `width` cells, its middle cut ("my-lo…-lr0.1 train"): run
    names differ at either end (a suffix's first word, an id's last characters). A
    comparison's last word (train, valid) is kept whole."""
    if len(name) <= width:
        return name
    run, _, kind = name.rpartition(" ")
    if run and len(kind) < width - 4:
        return f"{abbreviate(run, width - len(kind) - 1)} {kind}"
    if width <= 2:
        return name[:width]
    head = (width - 1) // 2
    tail = width - 1 - head
    return name[:head] + "…" + name[-tail:]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least `value`."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if value <= factor * power:
            return float(factor * power)
    return float(10 * power)


class MetricPlot(Widget):
    """Title, a coloured legend line, then the plotext chart filling the rest.

    plotext draws into a string at a given size; the chart is rebuilt when the
    widget's size or data change (and only then: `redraws` counts builds), and
    each of its lines is compared with the one on screen: only the lines that
    differ are redrawn. The axes are chosen so that a live chart's lines rarely
    move: with the job's total steps known the x axis grows in round numbers (10,
    20, 50, 100, ...) up to it, the y axis (the data's range with a margin, rounded
    outwards) is kept while the data stays inside it, and long series keep one point
    per x bucket. A new training
    step then redraws the few lines its point touches and the legend, which is
    what keeps the app light on a slow SSH link. plotext keeps global figure
    state, which is safe here because Textual renders on one thread.

    Views (`set_view`): smoothed curves (an exponential moving average; the legend
    keeps the last raw value), a log y axis (values at or below zero left out), and
    the full names in the legend. Epoch boundaries (`set_epochs`) are dotted
    vertical lines. A legend too wide for one line is abbreviated (shorter words,
    then names cut in the middle), never cut off at the edge; `full_names` wraps it
    over as many lines as the names need.
    """

    DEFAULT_CSS = """
    MetricPlot {
        height: 1fr;
        min-height: 6;
        width: 1fr;
    }
    """

    def __init__(
        self,
        title: str = "",
        *,
        ylabel: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.title = safe_text(title)
        self.ylabel = safe_text(ylabel)
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self._colors: dict[str, int] = {}
        self._dotted: frozenset[str] = frozenset()
        self._x_max: float | None = None
        self._y_limits: tuple[float, float] | None = None
        self._lines: list[Strip] = []
        self._lines_key: tuple[int, int, int] | None = None
        self._version = 0
        self.redraws = 0
        self.smooth = False
        self.log_y = False
        self.full_names = False
        self.n_epochs: int | None = None
        #: Whether the legend drawn last shows shortened names.
        self.abbreviated = False

    @property
    def series(self) -> dict[str, tuple[list[float], list[float]]]:
        """The plotted series (non-finite points dropped), by name."""
        return dict(self._series)

    @property
    def series_colors(self) -> dict[str, int]:
        """Each series' palette index (`PALETTE`), by name."""
        return dict(self._colors)

    @property
    def dotted(self) -> frozenset[str]:
        """The series drawn with dots."""
        return self._dotted

    @property
    def has_data(self) -> bool:
        return any(xs for xs, _ in self._series.values())

    @property
    def y_limits(self) -> tuple[float, float] | None:
        """The y axis' range as last drawn, in the values' units (None before a chart)."""
        if self._y_limits is None:
            return None
        low, high = self._y_limits
        return (10**low, 10**high) if self._log_drawn else (low, high)

    def epoch_boundaries(self) -> list[float]:
        """The steps where one epoch ends and the next begins: the job's total steps
        (`x_max`, else the last step plotted) split into `n_epochs` equal parts."""
        if not self.n_epochs or self.n_epochs < 2 or not self.has_data:
            return []
        total = self._x_max or max(xs[-1] for xs, _ in self._series.values() if xs)
        return [total * k / self.n_epochs for k in range(1, self.n_epochs)]

    def set_view(
        self,
        *,
        smooth: bool | None = None,
        log_y: bool | None = None,
        full_names: bool | None = None,
    ) -> None:
        """Change how the curves are shown (None: leave as is); redraws when changed."""
        view = (
            self.smooth if smooth is None else smooth,
            self.log_y if log_y is None else log_y,
            self.full_names if full_names is None else full_names,
        )
        if view == (self.smooth, self.log_y, self.full_names):
            return
        if view[:2] != (self.smooth, self.log_y):
            self._y_limits = None
        self.smooth, self.log_y, self.full_names = view
        self._changed()

    def set_epochs(self, n_epochs: int | None) -> None:
        """Mark the boundaries between `n_epochs` epochs (None or 1: none)."""
        if n_epochs != self.n_epochs:
            self.n_epochs = n_epochs
            self._changed()

    def set_series(
        self,
        series: Series,
        title: str,
        ylabel: str = "",
        *,
        x_max: float | None = None,
        colors: Mapping[str, int] | None = None,
        dotted: Sequence[str] = (),
    ) -> None:
        """Replace all series (name -> (steps, values)); empty ones are skipped.

        `x_max` is the last step the series will reach (a running job's total
        steps): the x axis then grows in round steps up to it instead of with every
        point; `colors` gives a series a palette index (default: its position);
        `dotted` series are drawn with dots instead of lines (e.g. validation).
        Names become legend text and may come from a results CSV's header (a
        backend's file), so control characters in them are shown, not obeyed.
        """
        title, ylabel = safe_text(title), safe_text(ylabel)
        cleaned = {
            safe_text(str(name)): _clean(steps, values) for name, (steps, values) in series.items()
        }
        colors = {safe_text(str(k)): v for k, v in (colors or {}).items()}
        dotted = [safe_text(str(name)) for name in dotted]
        cleaned = {name: pair for name, pair in cleaned.items() if pair[0]}
        colours = {
            name: colors.get(name, index) % len(PALETTE) for index, name in enumerate(cleaned)
        }
        dots = frozenset(dotted) & set(cleaned)
        if (
            cleaned == self._series
            and title == self.title
            and ylabel == self.ylabel
            and x_max == self._x_max
            and colours == self._colors
            and dots == self._dotted
        ):
            return
        if set(cleaned) != set(self._series) or title != self.title:
            self._y_limits = None  # other curves: the kept y axis means nothing for them
        self._series = cleaned
        self._colors = colours
        self._dotted = dots
        self._x_max = x_max
        self.title = title
        self.ylabel = ylabel
        self._changed()

    def clear(self) -> None:
        """Remove all data (shows "no data yet")."""
        self._y_limits = None
        self.set_series({}, self.title, self.ylabel)

    # -- drawing --------------------------------------------------------------------
    def _changed(self) -> None:
        self._version += 1
        self._redraw_changed_lines()

    def _redraw_changed_lines(self) -> None:
        """Rebuild now and refresh only the lines that differ from those on screen."""
        width, height = self.size
        if not self.is_mounted or not width or not height:
            self.refresh()
            return
        old = self._lines
        self._ensure_lines(width, height)
        changed = [
            y
            for y, (before, after) in enumerate(zip_longest(old, self._lines))
            if before is None or after is None or list(before) != list(after)
        ]
        if not changed:
            return
        if 2 * len(changed) > len(self._lines):
            self.refresh()  # most of it: one region is cheaper to compose than many
            return
        # Runs of neighbouring lines as one region each.
        start = previous = changed[0]
        for y in [*changed[1:], None]:
            if y is not None and y == previous + 1:
                previous = y
                continue
            self.refresh(Region(0, start, width, previous - start + 1))
            if y is not None:
                start = previous = y

    def _ensure_lines(self, width: int, height: int) -> None:
        key = (width, height, self._version)
        if key == self._lines_key:
            return
        self._lines_key = key
        console = self.app.console
        options = console.options.update(width=width, height=None, no_wrap=True)
        base = self.rich_style
        lines: list[Strip] = []
        for renderable in self._build(width, height):
            for segments in console.render_lines(renderable, options, pad=False):
                strip = Strip(segments).apply_style(base).simplify()
                lines.append(strip.crop_extend(0, width, base))
        self._lines = lines[:height]

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        self._ensure_lines(width, height)
        if y < len(self._lines):
            return self._lines[y]
        return Strip([Segment(" " * width, self.rich_style)], width)

    def render(self) -> RenderableType:  # for tests and tools that render the widget whole
        return Text("\n").join(Text.from_ansi(s.text) for s in self._lines)

    def _header(self, width: int) -> Text:
        title = Text(self.title, style="bold")
        if self.ylabel:
            title.append(f"  ({self.ylabel})", style="dim")
        view = [word for on, word in ((self.smooth, "smoothed"), (self._log_drawn, "log")) if on]
        if view:
            title.append(f"  {', '.join(view)}", style="italic")
        if self.abbreviated and len(title) + 16 <= width:
            title.append("  L: full names", style="dim")
        return title

    def _entry(self, name: str, shown: str) -> Text:
        ys = self._series[name][1]
        mark = "·· " if name in self._dotted else "━━ "
        entry = Text(mark, Style(color=f"color({PALETTE[self._colors[name]]})"))
        entry.append(f"{shown} {ys[-1]:.4g}")
        return entry

    def _legend(self, width: int) -> list[Text]:
        """The legend's lines: one line of full names when they fit, else of shorter
        ones (`legend_names`); when even those do not fit, or `full_names` is on,
        the entries wrap onto more lines. Never an entry cut off at the edge."""
        names = list(self._series)
        self.abbreviated = False
        full = [self._entry(name, name) for name in names]
        if self.full_names or _line_width(full) <= width:
            return _wrap(full, width)
        candidates = legend_names(names)
        for shown in candidates:
            entries = [self._entry(name, label) for name, label in zip(names, shown, strict=True)]
            if _line_width(entries) <= width:
                self.abbreviated = shown != names
                return [_join(entries)]
        self.abbreviated = candidates[0] != names  # wrapped: only what was shortened says L
        return _wrap([self._entry(n, s) for n, s in zip(names, candidates[0], strict=True)], width)

    def _build(self, width: int, height: int) -> list[Text]:
        if not self.has_data:
            return [self._header(width), Text("no data yet", style="dim italic")]
        legend = self._legend(width)
        header = self._header(width)
        chart_height = height - 1 - len(legend)
        if width < 12 or chart_height < 4:
            return [header, *legend]
        self.redraws += 1
        try:
            chart = self._chart(width, chart_height)
        except Exception as exc:  # plotext refusing some data must not crash the app
            return [header, *legend, Text(f"cannot plot: {safe_text(str(exc))}", style="red")]
        header = self._header(width)  # the chart decided whether the log scale applies
        return [header, *legend, *chart.split("\n")]

    @property
    def _log_drawn(self) -> bool:
        """The log scale is on and some value can be drawn on it."""
        return self.log_y and any(y > 0 for _, ys in self._series.values() for y in ys)

    def _plotted(self) -> dict[str, tuple[list[float], list[float]]]:
        """The series as drawn: smoothed if asked, as log10 on a log axis (values at or
        below zero have no place there and are left out)."""
        out: dict[str, tuple[list[float], list[float]]] = {}
        log = self._log_drawn
        for name, (xs, ys) in self._series.items():
            values = smoothed(ys) if self.smooth else ys
            if log:
                pairs = [(x, math.log10(y)) for x, y in zip(xs, values, strict=True) if y > 0]
                if not pairs:
                    continue
                out[name] = ([x for x, _ in pairs], [y for _, y in pairs])
            else:
                out[name] = (xs, list(values))
        return out

    def _axes(
        self, plotted: Mapping[str, tuple[list[float], list[float]]]
    ) -> tuple[float, float, float, float]:
        """(x low, x high, y low, y high) that move as little as the data allows."""
        xs = [x for steps, _ in self._series.values() for x in (steps[0], steps[-1])]
        x_low, x_high = min(xs), max(xs)
        if self._x_max is not None and x_low >= 0:
            x_high = max(x_high, min(self._x_max, nice_ceiling(x_high)))
        if x_high <= x_low:  # one step so far: give the axis some width
            x_high = x_low + 1
        values = [y for _, ys in plotted.values() for y in ys]
        low, high = min(values), max(values)
        kept = self._y_limits
        if kept is not None and kept[0] <= low and high <= kept[1]:
            span = kept[1] - kept[0]
            if span <= 3 * max(high - low, 1e-12):  # still a useful zoom: keep it
                return x_low, x_high, kept[0], kept[1]
        self._y_limits = log_limits(low, high) if self._log_drawn else nice_limits(low, high)
        return x_low, x_high, self._y_limits[0], self._y_limits[1]

    def _x_ticks(self, fig: Any, low: float, high: float, width: int) -> None:
        """Round steps (1, 2, 5 x 10^n) on the x axis, as plain numbers (plotext would
        write 2.0e4 for 20000)."""
        if high <= low:
            return
        positions, labels = nice_ticks(low, high, max(2, min(7, width // 10)))
        fig.ruler("x").ticks(positions, labels)

    def _y_ticks(self, fig: Any, low: float, high: float, height: int) -> None:
        """Round steps on the y axis, each label with the decimals it needs (a loss
        axis at 0.5, 1.5, 2.5 read 0, 2, 2 when labels were rounded to the step); on
        a log axis 1, 2, 5 x 10^n labelled with the values."""
        ticks = log_ticks if self._log_drawn else nice_ticks
        positions, labels = ticks(low, high, max(2, height // 2))
        fig.ruler("y").ticks(positions, labels)

    def _chart(self, width: int, height: int) -> Text:
        import plotext  # lazily: 0.1 s of import that app start-up need not pay

        plotted = self._plotted()
        x_low, x_high, y_low, y_high = self._axes(plotted)
        fig = plotext.figure
        fig.clear()
        fig.plot_size(width, height)
        fig.theme("simple")
        for boundary in self.epoch_boundaries():
            if x_low < boundary < x_high:
                fig.line(boundary, orientation=1, relative=True, pixel=EPOCH_COLOUR, style="dotted")
        for name, (all_xs, all_ys) in plotted.items():
            xs, ys = bucket(all_xs, all_ys, x_low, x_high, 2 * width)
            colour = PALETTE[self._colors[name]]
            if name in self._dotted:
                signal = fig.signal(xs, ys, marker=plotext.marker("dot", pixel=colour))
            else:
                signal = fig.signal(xs, ys, marker=plotext.marker("hd", pixel=colour))
                signal.lines()
            fig.draw(signal)
        fig.ruler("x").lim(x_low, x_high)
        fig.ruler("y").lim(y_low, y_high)
        self._x_ticks(fig, x_low, x_high, width)
        self._y_ticks(fig, y_low, y_high, height)
        text = Text.from_ansi(str(fig.build()).rstrip("\n"), no_wrap=True)
        text.no_wrap = True
        return text


#: The epoch boundaries' colour (ANSI 256: grey, under the curves).
EPOCH_COLOUR = 244


def _join(entries: Sequence[Text]) -> Text:
    return Text("  ", no_wrap=True).join(entries)


def _line_width(entries: Sequence[Text]) -> int:
    return sum(len(e) for e in entries) + 2 * max(0, len(entries) - 1)


def _wrap(entries: Sequence[Text], width: int) -> list[Text]:
    """Entries on as many lines as they need, each entry whole on one line (an entry
    wider than the line folds onto the next)."""
    lines: list[list[Text]] = [[]]
    for entry in entries:
        if lines[-1] and _line_width([*lines[-1], entry]) > width:
            lines.append([])
        lines[-1].append(entry)
    out: list[Text] = []
    for line in lines:
        joined = _join(line)
        if len(joined) <= width:
            out.append(joined)
        else:  # one entry longer than the whole line: fold it, lose nothing
            out += joined.wrap(_null_console(), width)
    return out


def _null_console() -> Any:
    from rich.console import Console

    return Console(width=10_000, file=io.StringIO(), color_system=None)
