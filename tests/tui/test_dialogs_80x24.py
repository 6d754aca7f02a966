"""Every dialog at 80x24: Tab through all its fields, and each focused widget is
wholly on screen (inside the screen and inside every scrolling container around it).
Each dialog's focusable widgets are named (the job form's for each method): one that
Tab no longer reaches, or a new one, fails.

A dialog taller than the terminal must scroll to the field that takes focus; one
that is cut off by the screen edge (the form used to be, below its Method row) fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from conftest import ServerProcess
from rich.cells import cell_len
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select

from fttui.screens.download import DownloadScreen
from fttui.screens.evaluate import EvalScreen
from fttui.screens.export import ExportScreen
from fttui.screens.help import HelpScreen
from fttui.screens.job_form import JobFormScreen
from fttui.screens.preview import PreviewScreen
from fttui.screens.try_model import TryModelScreen
from fttui.screens.upload import UploadScreen
from widgets import ConfirmDialog, FileTable, JobTable

from .conftest import make_app, wait_for

REVIEWS = Path(__file__).parent / "data" / "reviews.jsonl"
SIZE = (80, 24)


def visible_problem(screen: Screen[Any], widget: Widget) -> str | None:
    """Why `widget` is not wholly visible on `screen`, or None when it is."""
    try:
        geometry = screen.find_widget(widget)
    except Exception:  # not in the screen's map: scrolled or clipped away entirely
        return f"{widget!r} is not on screen at all"
    region, clip = geometry.region, geometry.clip
    if not screen.region.contains_region(region):
        return f"{widget!r} at {region} runs off the {screen.region.size} screen"
    if not clip.contains_region(region):
        return f"{widget!r} at {region} is cut by its container (visible part {clip})"
    return None


async def tab_through(pilot: Pilot[Any], screen: Screen[Any], expect: int) -> list[Widget]:
    """Press Tab until focus comes back round; check each focused widget on the way."""
    seen: list[Widget] = []
    first = screen.focused
    assert first is not None, "the dialog opens with a focused widget"
    for _ in range(60):
        focused = screen.focused
        assert focused is not None
        problem = visible_problem(screen, focused)
        assert problem is None, problem
        seen.append(focused)
        if isinstance(focused, Checkbox) and not focused.value:
            await pilot.press("space")  # reveal what it hides (classification options)
            await pilot.pause()
        await pilot.press("tab")
        await pilot.pause()
        if screen.focused is first:
            break
    assert len(seen) >= expect, [type(w).__name__ for w in seen]
    return seen


async def open_dialog(
    pilot: Pilot[Any], key: str, kind: type[Screen[Any]], before: str = ""
) -> Screen[Any]:
    app = pilot.app
    main = app.main  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: len(main.query_one(JobTable).jobs) == 3, what="jobs")
    await wait_for(pilot, lambda: len(main.query_one(FileTable).files) == 3, what="files")
    if before:
        await pilot.press(*before)
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, kind), what=kind.__name__)
    await pilot.pause()
    return app.screen


#: The job form's focusable widgets on the local server, named: every field of every
#: method, the classification options (revealed by their checkbox) and the buttons.
FORM_COMMON = (
    "model",
    "training_file",
    "validation_file",
    "method_type",
    "n_epochs",
    "batch_size",
    "learning_rate_multiplier",
    "suffix",
    "seed",
    "method",
    "weight_decay",
    "compute_classification_metrics",
    "classification_n_classes",
    "classification_positive_class",
    "classification_betas",
    "form-cancel",
    "form-submit",
)
FORM_FIELDS = {
    "supervised": FORM_COMMON,
    "dpo": (*FORM_COMMON, "beta"),
    "reinforcement": (
        *FORM_COMMON,
        "grader",
        "reasoning_effort",
        "eval_interval",
        "eval_samples",
        "compute_multiplier",
    ),
}


def ids(seen: list[Widget]) -> set[str]:
    return {w.id or type(w).__name__ for w in seen}


async def check_form(pilot: Pilot[Any], method: str) -> None:
    screen = await open_dialog(pilot, "n", JobFormScreen)
    select = screen.query_one("#training_file", Select)
    await wait_for(pilot, lambda: len(select._options) > 2, what="choices")
    screen.query_one("#method_type", Select).value = method
    await pilot.pause()
    seen = await tab_through(pilot, screen, expect=len(FORM_FIELDS[method]))
    assert ids(seen) == {*FORM_FIELDS[method], *SCROLLERS["form"]}, method
    # Every field's label is read whole: on one line with a cell to spare before the
    # next field's label, or wrapped (the reinforcement row of four used to run
    # "reasoning efforteval interval" together and cut "compute multipli").
    for label in screen.query(".field-label").results(Label):
        field = label.parent
        assert isinstance(field, Widget)
        if not field.size.width:
            continue  # a field this method does not show
        text = str(label.render())
        assert label.size.height > 1 or cell_len(text) < field.size.width, (
            f"{method}: label {text!r} in a field {field.size.width} cells wide"
        )


#: Every other dialog's focusable widgets, named.
DIALOG_FIELDS = {
    "upload": {"upload-path", "upload-close", "upload-check", "upload-go"},
    "try": {
        "try-model",
        "try-separator",
        "try-stop",
        "try-max-tokens",
        "try-prompt",
        "try-close",
        "try-send",
    },
    "download": {"download-path", "download-close", "download-go"},
    "confirm": {"confirm-no", "confirm-yes"},
    "help": {"help-filter"},
    "evaluate": {
        "eval-model",
        "eval-against",
        "eval-file",
        "eval-close",
        "eval-toggle",
        "eval-run",
    },
    "export": {"export-format", "export-path", "export-close", "export-go"},
    "preview": set(),
}
#: Scrolling containers that take focus at 80x24 (their content is taller; the help
#: screen's text is its only focusable widget).
SCROLLERS: dict[str, set[str]] = {
    "form": {"job-form-scroll"},
    "upload": {"upload-body"},
    "try": {"try-body"},
    "download": set(),
    "confirm": set(),
    "help": {"VerticalScroll"},
    "evaluate": {"eval-body"},
    "export": set(),
    "preview": {"preview-scroll"},
}


async def check_upload(pilot: Pilot[Any]) -> None:
    screen = await open_dialog(pilot, "u", UploadScreen)
    screen.query_one("#upload-path", Input).value = str(REVIEWS)
    await pilot.press("enter")
    go = screen.query_one("#upload-go", Button)
    await wait_for(pilot, lambda: not go.disabled, timeout=60, what="check report")
    await wait_for(pilot, lambda: screen.focused is go, what="focus on Upload")
    seen = await tab_through(pilot, screen, expect=4)
    assert ids(seen) == DIALOG_FIELDS["upload"] | SCROLLERS["upload"]


async def check_try(pilot: Pilot[Any]) -> None:
    screen = await open_dialog(pilot, "t", TryModelScreen)
    seen = await tab_through(pilot, screen, expect=6)
    assert ids(seen) == DIALOG_FIELDS["try"] | SCROLLERS["try"]


async def check_download(pilot: Pilot[Any]) -> None:
    screen = await open_dialog(pilot, "d", DownloadScreen)
    seen = await tab_through(pilot, screen, expect=3)
    assert ids(seen) == DIALOG_FIELDS["download"] | SCROLLERS["download"]


async def check_confirm(pilot: Pilot[Any]) -> None:
    # x on the jobs pane: delete the selected job's fine-tuned model (asks first).
    screen = await open_dialog(pilot, "x", ConfirmDialog)
    seen = await tab_through(pilot, screen, expect=2)
    assert ids(seen) == DIALOG_FIELDS["confirm"] | SCROLLERS["confirm"]


async def check_help(pilot: Pilot[Any]) -> None:
    screen = await open_dialog(pilot, "question_mark", HelpScreen)
    seen = await tab_through(pilot, screen, expect=1)
    assert ids(seen) == DIALOG_FIELDS["help"] | SCROLLERS["help"]


async def check_evaluate(pilot: Pilot[Any]) -> None:
    screen = await open_dialog(pilot, "e", EvalScreen)
    seen = await tab_through(pilot, screen, expect=3)
    assert ids(seen) == DIALOG_FIELDS["evaluate"] | SCROLLERS["evaluate"]


async def check_export(pilot: Pilot[Any]) -> None:
    screen = await open_dialog(pilot, "E", ExportScreen)
    seen = await tab_through(pilot, screen, expect=3)
    assert ids(seen) == DIALOG_FIELDS["export"] | SCROLLERS["export"]


async def check_preview(pilot: Pilot[Any]) -> None:
    screen = await open_dialog(pilot, "p", PreviewScreen, before="1")
    seen = await tab_through(pilot, screen, expect=1)
    assert ids(seen) == DIALOG_FIELDS["preview"] | SCROLLERS["preview"]


CASES: dict[str, Callable[[Pilot[Any]], Awaitable[None]]] = {
    **{
        f"job form {method}": partial(check_form, method=method)
        for method in ("supervised", "dpo", "reinforcement")
    },
    "upload with report": check_upload,
    "try model": check_try,
    "download": check_download,
    "confirm": check_confirm,
    "help": check_help,
    "evaluate": check_evaluate,
    "export": check_export,
    "preview": check_preview,
}


@pytest.mark.parametrize("dialog", list(CASES))
async def test_every_focused_widget_is_visible_at_80x24(
    dialog: str, shared_seeded_server: ServerProcess
) -> None:
    app = make_app(shared_seeded_server)
    async with app.run_test(size=SIZE) as pilot:
        await CASES[dialog](pilot)
