"""A terminal line chart (plotext) of one or more metric series against steps."""

from __future__ import annotations

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


def nice_limits(low: float, high: float) -> tuple[float, float]:
    """`low` and `high` rounded outwards to a round step of their span."""
    if high <= low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low)
    return math.floor(low / step) * step, math.ceil(high / step) * step


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
    20, 50, 100, ...) up to it, the y axis is rounded outwards and kept while the
    data stays inside it, and long series keep one point per x bucket. A new training
    step then redraws the few lines its point touches and the legend, which is
    what keeps the app light on a slow SSH link. plotext keeps global figure
    state, which is safe here because Textual renders on one thread.
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
        self._version += 1
        self._redraw_changed_lines()

    def clear(self) -> None:
        """Remove all data (shows "no data yet")."""
        self._y_limits = None
        self.set_series({}, self.title, self.ylabel)

    # -- drawing --------------------------------------------------------------------
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

    def _header(self) -> Text:
        title = Text(self.title, style="bold")
        if self.ylabel:
            title.append(f"  ({self.ylabel})", style="dim")
        return title

    def _legend(self) -> Text:
        legend = Text(no_wrap=True, overflow="ellipsis")
        for index, (name, (_, ys)) in enumerate(self._series.items()):
            if index:
                legend.append("  ")
            mark = "·· " if name in self._dotted else "━━ "
            legend.append(mark, Style(color=f"color({PALETTE[self._colors[name]]})"))
            legend.append(f"{name} {ys[-1]:.4g}")
        return legend

    def _build(self, width: int, height: int) -> list[Text]:
        header = self._header()
        if not self.has_data:
            return [header, Text("no data yet", style="dim italic")]
        legend = self._legend()
        chart_height = height - 2
        if width < 12 or chart_height < 4:
            return [header, legend]
        self.redraws += 1
        try:
            chart = self._chart(width, chart_height)
        except Exception as exc:  # plotext refusing some data must not crash the app
            return [header, legend, Text(f"cannot plot: {safe_text(str(exc))}", style="red")]
        return [header, legend, *chart.split("\n")]

    def _axes(self) -> tuple[float, float, float, float]:
        """(x low, x high, y low, y high) that move as little as the data allows."""
        xs = [x for steps, _ in self._series.values() for x in (steps[0], steps[-1])]
        x_low, x_high = min(xs), max(xs)
        if self._x_max is not None and x_low >= 0:
            x_high = max(x_high, min(self._x_max, nice_ceiling(x_high)))
        if x_high <= x_low:  # one step so far: give the axis some width
            x_high = x_low + 1
        values = [y for _, ys in self._series.values() for y in ys]
        low, high = min(values), max(values)
        kept = self._y_limits
        if kept is not None and kept[0] <= low and high <= kept[1]:
            span = kept[1] - kept[0]
            if span <= 3 * max(high - low, 1e-12):  # still a useful zoom: keep it
                return x_low, x_high, kept[0], kept[1]
        self._y_limits = nice_limits(low, high)
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
        axis at 0.5, 1.5, 2.5 read 0, 2, 2 when labels were rounded to the step)."""
        positions, labels = nice_ticks(low, high, max(2, height // 2))
        fig.ruler("y").ticks(positions, labels)

    def _chart(self, width: int, height: int) -> Text:
        import plotext  # lazily: 0.1 s of import that app start-up need not pay

        x_low, x_high, y_low, y_high = self._axes()
        fig = plotext.figure
        fig.clear()
        fig.plot_size(width, height)
        fig.theme("simple")
        for name, (all_xs, all_ys) in self._series.items():
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
