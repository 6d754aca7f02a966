"""The real `fttui` on a pseudo-terminal against a hostile backend (tests/tui/hostile_server.py).

Every string that backend sends carries CSI, OSC 0/2 (title), OSC 52 (clipboard),
8-bit C1, a bidi override and markup. The test walks every pane and dialog that
shows server data (jobs, files, detail, events, plots, preview, cancel and delete
confirmations, try model with log-probabilities, download, the new-job and clone
forms, an upload of a local file whose check report quotes hostile labels) and
then checks every byte the app wrote to its terminal: none of the attack
sequences, and their visible forms (`\\x1b[2J`, markup left literal) where the
strings are drawn. The app keeps working throughout: each step waits for what it
shows.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port

from .hostile_server import (
    EVIL,
    FILE_RESULTS,
    FILE_TRAIN,
    JOB_RUNNING,
    RAW,
    SHOWN,
    HostileState,
    hostile_server,
)
from .terminal import PtyTerminal, app_env, fttui_exe

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

ESC, ENTER, CTRL_S = b"\x1b", b"\r", b"\x13"
END = b"\x1b[F"
# The start of the visible form, short enough for narrow cells.
MARK = b"[reverse]R[/][@click=app.quit]Q[/]\\x1b[2JZc"


def _wait_request(state: HostileState, request: tuple[str, str], after: int) -> None:
    """Wait until the backend has answered `request` (after its first `after` requests)."""
    deadline = time.monotonic() + 20
    while request not in state.requests[after:]:
        assert time.monotonic() < deadline, f"{request} never requested"
        time.sleep(0.05)


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[tuple[HostileState, Path]]:
    port = free_port()
    config = tmp_path / "config"
    config.mkdir()
    # The config file is trusted (and its organization, an HTTP header, must be
    # printable ASCII), but what it says is drawn in the header as text, not markup.
    (config / "config.toml").write_text(
        'default = "hostile"\n[profiles.hostile]\n'
        f'base_url = "http://127.0.0.1:{port}/v1"\nkind = "compatible"\n'
        'organization = "org-[reverse]R[/][@click=app.quit]Q[/]"\n'
    )
    with hostile_server(port) as state:
        yield state, config


def test_hostile_backend_is_shown_never_obeyed(
    hostile: tuple[HostileState, Path], tmp_path: Path
) -> None:
    state, config = hostile
    # A local data file is not trusted either: labels with escapes, checked before upload.
    dataset = tmp_path / "upload-me.jsonl"
    dataset.write_text(
        "".join(
            json.dumps({"prompt": f"Review {i} ->", "completion": f" LBL{EVIL}{i % 2}\n"}) + "\n"
            for i in range(12)
        )
    )
    env = app_env(tmp_path, config, OPENAI_API_KEY="sk-test")
    term = PtyTerminal([fttui_exe()], env, tmp_path, cols=400, rows=100)
    try:
        # Wide layout, wide enough that the files table shows names after the long ids.
        at = term.wait_for(b"ftjob-C" + MARK)  # the jobs table (running job selected)
        at = term.wait_for(b"train-FN" + MARK)  # the files table
        at = term.wait_for(b"EVMSG" + MARK)  # its events
        term.wait_for(b"org-[reverse]R[/][@click=app.quit]Q[/]")  # the header

        # Cancel the running job: the dialog quotes its id, the refusal is a toast.
        at = term.press_until(b"c", b"Cancel job ftjob-C" + MARK, term.mark())
        term.send(b"y")
        at = term.wait_for(b"CANCEL-ERR" + MARK, at)

        # Needles drawn by one key are looked for from the mark taken before it: a
        # frame can write them in any order, and wait_for's mark is the end of all
        # output so far, so the second needle may already lie before it.
        # The failed job: its error message in the detail pane.
        at = term.mark()
        term.send(b"j")
        term.wait_for(b"ERRMSG" + MARK, at)
        term.wait_for(b"'CSV" + MARK, at)  # its results file refused, the cell quoted
        # The finished job: hyperparameters, metadata, checkpoints, events, plots.
        at = term.mark()
        term.send(b"j")
        term.wait_for(b"HPV" + MARK, at)
        term.wait_for(b"MDV" + MARK, at)
        term.send(b"3", pause=0.8)  # the detail pane, scrolled to its end: the checkpoints
        term.send(END)
        term.wait_for(b"CKPT" + MARK, at)
        at = term.mark()
        term.send(b"2", pause=0.8)
        term.wait_for(b"EVLINE2" + MARK, at)
        term.wait_for(b"LEG" + MARK, at)  # a plot legend from the results CSV's header
        time.sleep(0.5)

        # Try the fine-tuned model (this backend always sends log-probabilities).
        at = term.press_until(b"t", b"Try a model", term.mark())
        term.wait_for(b"\\x9b1mZ8\\u202eRL", at)  # the model field shows its end, safe
        term.send(b"hello")
        at = term.mark()
        term.send(CTRL_S)
        term.wait_for(b"COMPLETION" + MARK, at)
        term.wait_for(b"TOP1" + MARK, at)
        term.send(ESC)

        # Download the results CSV: the dialog names the job and file; Enter saves.
        at = term.mark()
        term.press_until(b"d", b"Download the results of", at)
        at = term.wait_for(b"file-R" + MARK, at)
        term.send(ENTER)
        at = term.wait_for(b"saved", at)
        saved = list(tmp_path.glob("ftjob-A*-results.csv"))
        assert len(saved) == 1 and b"classification/LEG" in saved[0].read_bytes()

        # New job: the model list offers the backend's ids (drawn as text).
        at = term.mark()
        asked = len(state.requests)
        at = term.press_until(b"n", b"New job", at)
        _wait_request(state, ("GET", "/v1/files"), asked)  # the form's choices arrived
        term.send(ENTER, pause=0.8)  # open the model list
        term.send(ESC)  # close it
        term.send(ESC)  # close the form

        # Clone the finished job: its values pre-filled, shown safe.
        at = term.press_until(b"y", b"Clone job", term.mark())  # the id wraps onto the next line
        term.wait_for(b"SFX" + MARK, at)
        term.send(ESC)

        # Clone the failed job (model and file filled in, no suffix) and submit it:
        # the server's refusal is shown in the form.
        at = term.mark()
        term.send(b"k")
        at = term.wait_for(b"ERRMSG" + MARK, at)  # the failed job is selected
        at = term.press_until(b"y", b"Clone job", at)
        # The form loads its choices, then the clone's values: the training file
        # shows as "name (id)" (wrapped), which nothing else on screen does.
        term.wait_for(b"(file-T[reverse]R[/]", at)
        time.sleep(0.3)
        term.send(CTRL_S)
        at = term.wait_for(b"CREATE-ERR" + MARK, at)
        term.send(ESC)

        # Files: preview the training file's bytes, then try to delete it.
        # (The training file is the newest, so the files list's cursor is on it.)
        term.send(b"1", pause=0.8)  # the files pane: x deletes a file there
        at = term.mark()
        term.press_until(b"p", b"PREVIEW-LINE" + MARK, at)
        term.wait_for(b"PREVIEW-TAB" + MARK, at)
        term.wait_for(b"\\ttabbed", at)  # a tab shown as \t
        term.send(ESC)
        at = term.mark()
        term.press_until(b"x", b"Delete file", at)  # a narrow dialog: the id wraps
        at = term.wait_for(b"file-T[reverse]R[/][@click", at)
        term.send(b"y")
        at = term.wait_for(b"DELETE-ERR" + MARK, at)

        # Upload: the local file's check report quotes its labels; the server refuses.
        at = term.press_until(b"u", b"Upload a training", term.mark())
        term.send(str(dataset).encode())
        at = term.mark()
        term.send(ENTER)
        term.wait_for(b"Dataset check", at)
        term.wait_for(b"LBL" + MARK, at)
        term.send(CTRL_S)
        time.sleep(1.0)
        if b"Upload anyway?" in term.output[at:]:
            term.send(b"y")
        at = term.wait_for(b"UPLOAD-ERR" + MARK, at)
        term.send(ESC)

        # The oldest job has a status fttui does not know: in the table and the
        # detail pane's border, as text.
        at = term.mark()
        term.send(b"2", pause=0.8)
        term.send(b"G")
        at = term.wait_for(b"STATUS" + MARK, at)
        time.sleep(1.0)  # its detail (and the pane's border subtitle) drawn

        assert term.quit() == 0, bytes(term.output[-2000:])
    finally:
        term.close()

    output = bytes(term.output)
    for raw in RAW:
        assert raw not in output, f"{raw!r} reached the terminal"
    assert SHOWN in output
    seen = set(state.requests)
    for method, path in (
        ("POST", f"/v1/fine_tuning/jobs/{JOB_RUNNING}/cancel"),
        ("POST", "/v1/chat/completions"),  # a chat model is tried on chat completions
        ("POST", "/v1/fine_tuning/jobs"),
        ("POST", "/v1/files"),
        ("DELETE", f"/v1/files/{FILE_TRAIN}"),
        ("GET", f"/v1/files/{FILE_RESULTS}/content"),
    ):
        assert (method, path) in seen, f"{method} {path!r} never requested"


@pytest.mark.parametrize("size", [(400, 100), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare_and_job_end_notification_show_the_backend_never_obey_it(
    size: tuple[int, int], hostile: tuple[HostileState, Path], tmp_path: Path
) -> None:
    """At the widest and the smallest size: two hostile jobs compared (curves and
    settings side by side, legends named after their hostile suffix and ids), then the
    running job ends and its "job ended" toast and desktop notification (OSC 9, the one
    escape sequence fttui writes on purpose) quote its hostile id and model name. No
    attack sequence reaches the terminal; the app keeps answering and quits cleanly.

    (The whole walk above runs at 400x100 only: at 80 columns a hostile status fills
    the jobs list, and its needles, whole hostile strings, do not fit a narrow cell.)"""
    state, config = hostile
    cols, rows = size
    env = app_env(tmp_path, config, OPENAI_API_KEY="sk-test")
    term = PtyTerminal([fttui_exe()], env, tmp_path, cols=cols, rows=rows)
    try:
        # The jobs list, the running job (the newest) selected: known active, so its
        # end is told.
        term.wait_for(b"running")
        term.wait_for(b"STATUS[reverse]R[/]")  # the oldest job, the list drawn whole
        term.settle()  # its first loads done before the keys
        # Mark the failed and the finished job: compared in plots and detail.
        at = term.mark()
        term.send(b"j")
        term.send(b" ")
        term.send(b"j")
        term.send(b" ")
        if cols < 100:
            term.send(b"5", pause=0.8)  # one pane at a time: the plots, their legends
        else:
            # (At 80x24 toasts cover the panes' "comparing 2 jobs" subtitle.)
            term.wait_for(b"comparing 2 jobs", at)
        # The legends name each run (the hostile suffix): compared.
        term.wait_for(b"SFX[reverse]R[/]", at)
        if cols < 100:
            term.wait_for(b"L: full names", at)  # the names shortened to fit
        if cols < 100:
            term.send(b"3", pause=0.8)  # the settings side by side
            term.wait_for(b"learning_rate_multiplier", at)
        # The running job ends: a toast and a desktop notification quote its id and model.
        at = term.mark()
        state.running_ended = True
        term.wait_for(b"job ended", at, timeout=30)
        term.wait_for(b"ftjob-C[reverse]R[/][@click", at)
        term.wait_for(b"ft:END[reverse]R[/]", at)
        notification = b"\x1b]9;fttui: job ended: ftjob-C" + MARK
        term.wait_for(notification, at)
        assert term.quit() == 0, bytes(term.output[-2000:])
    finally:
        term.close()
    output = bytes(term.output)
    for raw in RAW:
        assert raw not in output, f"{raw!r} reached the terminal"
    # The notification is one OSC 9 string: the attack inside it shown, its BELs and
    # ESCs as text, so it ends where fttui ends it.
    start = output.index(notification)
    end = output.index(b"\x07", start)
    assert b"\x1b" not in output[start + 1 : end], output[start:end]
    assert b"\\u202eRL succeeded: ft:END[reverse]R[/]" in output[start:end]  # cut at 200
