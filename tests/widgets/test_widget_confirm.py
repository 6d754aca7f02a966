"""ConfirmDialog returns True for y/enter and False for n/escape."""

from __future__ import annotations

import pytest
from textual.app import App

from widgets import ConfirmDialog


@pytest.mark.parametrize(
    ("key", "expected"), [("y", True), ("enter", True), ("n", False), ("escape", False)]
)
async def test_confirm_dialog_answers_by_key(key: str, expected: bool) -> None:
    answers: list[bool | None] = []
    app: App[None] = App()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ConfirmDialog("Cancel job ftjob-1?", "Training stops."), answers.append)
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press(key)
        await pilot.pause()
        assert answers == [expected]
        assert not isinstance(app.screen, ConfirmDialog)
