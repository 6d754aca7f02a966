"""Keys typed ahead land where the user meant them (the installed app in tmux).

Over SSH a fast typist's keys arrive in bursts: `n` and the form's keys come in one
read. Each key must be handled by the screen it was typed for, in order: the form
opened by `n`, not the main screen underneath (fttui._keys). And a confirm for a
destructive action must never take a key typed before it was shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ServerProcess, free_port

from .seed import seed_store
from .terminal import BURST, SLOW, Terminal, needs_tmux

pytestmark = needs_tmux

#: The issue's burst: open the form, Tab past model, files and method to n_epochs.
FORM_KEYS = ["n", "Tab", "Tab", "Tab", "Tab", "3", "Tab", "16", "Tab", "0.1", "Tab", "myrun"]

FORM_LABELS = ["Model (base", "Training file", "Method", "n_epochs", "Suffix", "Seed"]


@pytest.fixture
def idle_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """The seeded server, starting no trainer (`--concurrency 0`): queued jobs stay queued."""
    data = tmp_path / "data"
    seed_store(data).close()
    srv = ServerProcess(data_dir=data, port=free_port(), extra_args=("--concurrency", "0"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def field_row(screen: str, label: str) -> list[str]:
    """The values of the input row under the label line holding `label`."""
    lines = screen.splitlines()
    at = next(i for i, line in enumerate(lines) if label in line)
    row = lines[at + 2]
    return [cell.strip() for cell in re.findall(r"▊([^▊▎]*)▎", row)]


def test_a_burst_fills_the_form_as_slow_typing_does(
    idle_server: ServerProcess, terminals: Callable[[str], Terminal]
) -> None:
    burst, slow = terminals("burst"), terminals("slow")
    for term in (burst, slow):
        term.start(idle_server.base_url)
    for term in (burst, slow):
        term.wait("00000003")  # the newest job (its id cut short to fit, maybe)
    burst.send(FORM_KEYS, BURST)
    slow.send(FORM_KEYS, SLOW)
    screens = {}
    for term in (burst, slow):
        screen = term.wait(lambda s: "myrun" in s)
        screen = term.settle()
        assert field_row(screen, "n_epochs") == ["3", "16", "0.1"], screen
        assert field_row(screen, "Suffix") == ["myrun"], screen
        screens[term.name] = screen
    # Every field shown in both alike (the form's scroll position may differ by a
    # line or two: a focused field is scrolled into view after a redraw, and keys
    # typed slowly see more redraws), but for the clock in the name preview.
    shown = [label for label in FORM_LABELS if all(label in screen for screen in screens.values())]
    assert {"n_epochs", "Suffix"} <= set(shown)
    for label in shown:
        rows = [
            [re.sub(r"\d{4}(-\d\d){5}", "<time>", cell) for cell in field_row(screen, label)]
            for screen in screens.values()
        ]
        assert rows[0] == rows[1], label
    for term in (burst, slow):
        term.send(["Escape"])  # a changed form asks before it closes
        term.wait("Close the form?")
        term.send(["y"])
        screen = term.wait(lambda s: "Suffix (up to" not in s and "Close the form" not in s)
        # The `3` went into the form, not to the main screen (pane 3, the detail).
        assert "─ 2 Jobs" in screen and "─ 3 Job detail" not in screen, screen


def test_no_key_typed_ahead_of_a_confirm_answers_it(
    idle_server: ServerProcess, terminals: Callable[[str], Terminal]
) -> None:
    from fttui.store.db import Store

    store = Store(idle_server.data_dir)
    try:
        job_id = store.create_job(
            model="davinci",
            base_model="SmolLM2-135M-Instruct",
            training_file="file-000000000000000000000001",
            status="queued",
        )["id"]
    finally:
        store.close()
    term = terminals("confirm")
    term.start(idle_server.base_url)
    term.wait(job_id[-8:])  # the newest job, selected

    def status() -> str:
        answer = httpx.get(f"{idle_server.base_url}/fine_tuning/jobs/{job_id}")
        return str(answer.json()["status"])

    for answer in ("y", "Enter"):
        term.send(["c", answer], BURST)  # a `c y` typed ahead of the question
        term.wait(f"Cancel job {job_id}?")
        screen = term.settle()
        assert f"Cancel job {job_id}?" in screen, f"{answer} answered the dialog:\n{screen}"
        assert status() == "queued"
        term.send(["n"], SLOW)
        term.wait(lambda s: "Cancel job ftjob" not in s)
    # Asked, seen, answered: the same key now cancels.
    term.send(["c"], SLOW)
    term.wait(f"Cancel job {job_id}?")
    term.send(["y"], SLOW)
    term.wait(lambda s: "Cancel job ftjob" not in s)
    assert status() == "cancelled"


def test_a_path_typed_right_after_u_lands_whole_in_the_upload_dialog(
    idle_server: ServerProcess, terminals: Callable[[str], Terminal]
) -> None:
    """`u` with the jobs list focused asks for the upload dialog through the files pane
    (a message that bubbles to the screen off the key's path): the path typed behind it
    in the same burst must wait for the dialog, not lose its first character to the
    main screen."""
    term = terminals("upload")
    term.start(idle_server.base_url)
    term.wait("00000003")
    term.send(["u", "abc.jsonl"], BURST)
    term.wait("Upload a training")
    screen = term.settle()
    assert re.search(r"▊\s+abc\.jsonl\s", screen), screen
