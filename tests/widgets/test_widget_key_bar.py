"""KeyBar: shows the keys that work now, follows focus, and a click presses the key."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widget import Widget
from widget_host import drawn_text

from widgets import KeyBar


class Pane(Widget, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "flip", "Flip"),
        Binding("h", "hidden", "Hidden", show=False),
    ]

    def action_flip(self) -> None:
        self.app.flips += 1  # type: ignore[attr-defined]


class Other(Widget, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("o", "other", "Other thing")]


class Host(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def __init__(self) -> None:
        super().__init__()
        self.flips = 0

    def compose(self) -> ComposeResult:
        yield Pane(id="pane")
        yield Other(id="other")
        yield KeyBar()


async def test_keys_follow_focus_and_hidden_bindings_stay_hidden() -> None:
    app = Host()
    async with app.run_test(size=(80, 10)) as pilot:
        bar = app.query_one(KeyBar)
        app.query_one("#pane").focus()
        await pilot.pause()
        shown = dict(bar.keys)
        assert shown["f"] == "Flip" and shown["q"] == "Quit" and "h" not in shown
        assert "Flip" in drawn_text(bar)
        app.query_one("#other").focus()
        await pilot.pause()
        shown = dict(bar.keys)
        assert "f" not in shown and shown["o"] == "Other thing"
        assert "Other thing" in drawn_text(bar) and "Flip" not in drawn_text(bar)


async def test_clicking_a_key_presses_it() -> None:
    app = Host()
    async with app.run_test(size=(80, 10)) as pilot:
        app.query_one("#pane").focus()
        await pilot.pause()
        text = drawn_text(app.query_one(KeyBar))
        await pilot.click(KeyBar, offset=(text.index("Flip"), 0))
        await pilot.pause()
        assert app.flips == 1


class Crowded(App[None]):
    """More keys than 40 columns hold, help among the first of them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Keys"),
        *(Binding(k, f"act('{k}')", f"Action {k}") for k in "abcdefgh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.helped = 0

    def compose(self) -> ComposeResult:
        yield KeyBar()

    def action_help(self) -> None:
        self.helped += 1

    def action_act(self, key: str) -> None:
        pass


async def test_help_stays_on_a_narrow_bar_and_keys_that_do_not_fit_are_cut_whole() -> None:
    app = Crowded()
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        text = drawn_text(app.query_one(KeyBar))
        assert text.rstrip().endswith("? Keys  ^p Commands"), text
        assert "…" in text and "Action h" not in text
        # What is shown is whole: no key cut in the middle of its description.
        shown = [part for part in text.split("…")[0].split(" Action ") if part.strip()]
        assert all(len(part.strip()) == 1 for part in shown[1:]), text
        await pilot.click(KeyBar, offset=(text.index("Keys"), 0))
        await pilot.pause()
        assert app.helped == 1
