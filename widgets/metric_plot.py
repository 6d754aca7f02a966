"""A terminal line chart (plotext) of one or more metric series against steps."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
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


class MetricPlot(Widget):
    """Title, a coloured legend line, then the plotext chart filling the rest.

    plotext draws into a string at a given size, so the chart is rebuilt whenever
    the widget's size or data change (and only then: `redraws` counts builds) and
    parsed as ANSI into Rich text. plotext keeps global figure state, which is safe
    here because Textual renders on one thread.
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
        self._cache_key: tuple[int, int, int] | None = None
        self._cache: RenderableType | None = None
        self._version = 0
        self.redraws = 0

    @property
    def series(self) -> dict[str, tuple[list[float], list[float]]]:
        """The plotted series (non-finite points dropped), by name."""
        return dict(self._series)

    @property
    def has_data(self) -> bool:
        return any(xs for xs, _ in self._series.values())

    def set_series(self, series: Series, title: str, ylabel: str = "") -> None:
        """Replace all series (name -> (steps, values)); empty ones are skipped.

        Names become legend text and may come from a results CSV's header (a
        backend's file), so control characters in them are shown, not obeyed.
        """
        title, ylabel = safe_text(title), safe_text(ylabel)
        cleaned = {
            safe_text(str(name)): _clean(steps, values) for name, (steps, values) in series.items()
        }
        cleaned = {name: pair for name, pair in cleaned.items() if pair[0]}
        if cleaned == self._series and title == self.title and ylabel == self.ylabel:
            return
        self._series = cleaned
        self.title = title
        self.ylabel = ylabel
        self._version += 1
        self.refresh()

    def clear(self) -> None:
        """Remove all data (shows "no data yet")."""
        self.set_series({}, self.title, self.ylabel)

    def render(self) -> RenderableType:
        width, height = self.size.width, self.size.height
        key = (width, height, self._version)
        if key != self._cache_key or self._cache is None:
            self._cache = self._build(width, height)
            self._cache_key = key
        return self._cache

    def _header(self) -> Text:
        title = Text(self.title, style="bold")
        if self.ylabel:
            title.append(f"  ({self.ylabel})", style="dim")
        return title

    def _legend(self) -> Text:
        legend = Text(no_wrap=True, overflow="ellipsis")
        for index, (name, (_, ys)) in enumerate(self._series.items()):
            colour = PALETTE[index % len(PALETTE)]
            if index:
                legend.append("  ")
            legend.append("━━ ", Style(color=f"color({colour})"))
            legend.append(f"{name} {ys[-1]:.4g}")
        return legend

    def _build(self, width: int, height: int) -> RenderableType:
        header = self._header()
        if not self.has_data:
            return Group(header, Text("no data yet", style="dim italic"))
        legend = self._legend()
        chart_height = height - 2
        if width < 12 or chart_height < 4:
            return Group(header, legend)
        self.redraws += 1
        try:
            chart = self._chart(width, chart_height)
        except Exception as exc:  # plotext refusing some data must not crash the app
            return Group(header, legend, Text(f"cannot plot: {safe_text(str(exc))}", style="red"))
        return Group(header, legend, chart)

    def _x_ticks(self, fig: Any, width: int) -> None:
        """Plain step numbers on the x axis (plotext would write 2.0e4 for 20000)."""
        xs = [x for steps, _ in self._series.values() for x in (steps[0], steps[-1])]
        low, high = min(xs), max(xs)
        if high <= low:
            return
        count = max(2, min(7, width // 12))
        positions = [low + (high - low) * i / (count - 1) for i in range(count)]
        integral = all(float(x).is_integer() for x in xs)
        if integral:
            positions = sorted({float(round(p)) for p in positions})
        labels = [f"{int(p)}" if integral else f"{p:.3g}" for p in positions]
        fig.ruler("x").ticks(positions, labels)

    def _chart(self, width: int, height: int) -> Text:
        import plotext  # lazily: 0.1 s of import that app start-up need not pay

        fig = plotext.figure
        fig.clear()
        fig.plot_size(width, height)
        fig.theme("simple")
        for index, (all_xs, all_ys) in enumerate(self._series.values()):
            xs, ys = thin(all_xs, all_ys, 2 * width)
            colour = PALETTE[index % len(PALETTE)]
            signal = fig.signal(xs, ys, marker=plotext.marker("hd", pixel=colour))
            signal.lines()
            fig.draw(signal)
        self._x_ticks(fig, width)
        text = Text.from_ansi(str(fig.build()).rstrip("\n"), no_wrap=True)
        text.no_wrap = True
        return text
