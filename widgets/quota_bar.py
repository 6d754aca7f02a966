"""Storage quota bar: bytes used against the limit, coloured as it fills up."""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from widgets._format import human_bytes

Level = Literal["ok", "warn", "critical", "unknown"]

WARN_AT = 0.80
CRITICAL_AT = 0.95


class QuotaBar(Widget):
    """One line: `Storage ███████░░░ 12.3 MB of 1.0 GB (1.2%)`.

    `limit=None` means the provider does not say (shown as "unknown"), which is
    different from a limit of zero. Colours come from component classes so themes
    apply; the `level` property tells tests and the app which threshold is crossed.

    `others`: bytes the same storage holds that the limit does not count (the local
    server's fine-tuned models and checkpoints). When there are any, the bar draws them
    after the counted bytes in their own shade (`▒`) and the text says both:
    `files 12.3 MB of 1.0 GB (1.2%) + models/checkpoints 1.1 GB`. The level and its
    colour follow the counted bytes only.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "quota-bar--ok",
        "quota-bar--warn",
        "quota-bar--critical",
        "quota-bar--empty",
        "quota-bar--label",
        "quota-bar--others",
    }

    DEFAULT_CSS = """
    QuotaBar {
        height: 1;
        width: 1fr;
    }
    QuotaBar > .quota-bar--ok { color: $success; }
    QuotaBar > .quota-bar--warn { color: $warning; }
    QuotaBar > .quota-bar--critical { color: $error; text-style: bold; }
    QuotaBar > .quota-bar--empty { color: $foreground 25%; }
    QuotaBar > .quota-bar--label { color: $foreground-muted; }
    QuotaBar > .quota-bar--others { color: $accent 70%; }
    """

    used: reactive[int] = reactive(0)
    limit: reactive[int | None] = reactive[int | None](None)
    others: reactive[int | None] = reactive[int | None](None)

    def __init__(
        self,
        used: int = 0,
        limit: int | None = None,
        *,
        others: int | None = None,
        label: str = "Storage",
        used_label: str = "files",
        others_label: str = "models/checkpoints",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.label = label
        self.used_label = used_label
        self.others_label = others_label
        self.set_reactive(QuotaBar.used, used)
        self.set_reactive(QuotaBar.limit, limit)
        self.set_reactive(QuotaBar.others, others)

    @property
    def fraction(self) -> float | None:
        """Used / limit (may exceed 1), or None when the limit is unknown."""
        if self.limit is None or self.limit <= 0:
            return None
        return self.used / self.limit

    @property
    def level(self) -> Level:
        """Which colour the bar shows: ok, warn (>80%), critical (>95%) or unknown."""
        frac = self.fraction
        if frac is None:
            return "unknown"
        if frac > CRITICAL_AT:
            return "critical"
        if frac > WARN_AT:
            return "warn"
        return "ok"

    @property
    def summary(self) -> str:
        """The text after the bar, e.g. '12.3 MB of 1.0 GB (1.2%)', or with `others`
        'files 12.3 MB of 1.0 GB (1.2%) + models/checkpoints 1.1 GB'."""
        if self.limit is None:
            counted = f"{human_bytes(self.used)} of unknown"
        else:
            frac = self.fraction or 0.0
            counted = f"{human_bytes(self.used)} of {human_bytes(self.limit)} ({frac * 100:.1f}%)"
        if not self.others:
            return counted
        return f"{self.used_label} {counted} + {self.others_label} {human_bytes(self.others)}"

    def render(self) -> Text:
        label_style = self.get_component_rich_style("quota-bar--label")
        summary = self.summary
        width = self.size.width
        bar_width = max(0, width - len(self.label) - len(summary) - 2)
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.label:
            text.append(self.label + " ", label_style)
        if bar_width >= 4:
            level = self.level
            frac = min(1.0, self.fraction or 0.0)
            filled = round(frac * bar_width)
            extra = 0
            if level != "unknown":
                fill_style = self.get_component_rich_style(f"quota-bar--{level}")
                text.append("█" * filled, fill_style)
                if self.others and self.limit:
                    extra = min(bar_width - filled, round(self.others / self.limit * bar_width))
                    extra = max(extra, 1 if filled < bar_width else 0)
                    text.append("▒" * extra, self.get_component_rich_style("quota-bar--others"))
            else:
                filled = 0
            text.append(
                "░" * (bar_width - filled - extra),
                self.get_component_rich_style("quota-bar--empty"),
            )
            text.append(" ")
        level = self.level
        summary_style = (
            self.get_component_rich_style(f"quota-bar--{level}")
            if level in ("warn", "critical")
            else ""
        )
        text.append(summary, summary_style)
        return text
