"""A watched job that ends rings the bell and sends a desktop notification (OSC 9 /
OSC 777); the text inside comes from a backend and cannot break out of the sequence."""

from __future__ import annotations

import re
import time

from conftest import ServerProcess

from fttui.messages import DetailLoaded
from fttui.notify import notification_sequences
from fttui.store.db import Store

from .conftest import make_app, wait_for

HOSTILE = "ftjob-1\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9c\x9b31m;x"


def test_osc9_by_default_osc777_for_foot_and_wrapped_for_tmux() -> None:
    plain = notification_sequences("fttui: job ended", "ftjob-1 succeeded", {"TERM": "xterm"})
    assert plain == "\x07\x1b]9;fttui: job ended: ftjob-1 succeeded\x07"
    foot = notification_sequences("fttui: job ended", "ftjob-1 succeeded", {"TERM": "foot"})
    assert foot == "\x07\x1b]777;notify;fttui: job ended;ftjob-1 succeeded\x07"
    tmux = notification_sequences("t", "b", {"TERM": "screen", "TMUX": "/tmp/tmux-0/default,1,0"})
    assert tmux == "\x07\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\"


def test_a_backends_text_cannot_end_the_sequence_early() -> None:
    for env in ({"TERM": "xterm"}, {"TERM": "foot"}, {"TERM": "xterm", "TMUX": "x"}):
        out = notification_sequences("fttui: job ended", HOSTILE + " succeeded", env)
        body = out[1:]  # after the bell
        if env.get("TMUX"):
            body = (
                body.removeprefix("\x1bPtmux;").removesuffix("\x1b\\").replace("\x1b\x1b", "\x1b")
            )
        # One sequence: a single ESC opening it, a single BEL closing it, no C1 at all.
        assert body.count("\x1b") == 1 and body.startswith("\x1b]")
        assert body.count("\x07") == 1 and body.endswith("\x07")
        assert not re.search(r"[\x80-\x9f]", out)
        assert "\\x1b]52,c,ZXZpbA==" in body  # shown, not obeyed (and no `;`)
        if env["TERM"] == "foot":
            assert body.count(";") == 3  # 777 ; notify ; title ; body: none from the text


async def test_a_watched_job_that_ends_notifies_once_and_the_palette_turns_it_off(
    seeded_server: ServerProcess,
) -> None:
    store = Store(seeded_server.data_dir)
    first = store.create_job(
        model="davinci",
        base_model="SmolLM2-135M-Instruct",
        training_file="file-x",
        status="running",
    )["id"]
    second = store.create_job(
        model="davinci",
        base_model="SmolLM2-135M-Instruct",
        training_file="file-x",
        status="running",
    )["id"]
    app = make_app(seeded_server, frozen=False)
    written: list[str] = []
    app.terminal_write = written.append  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            jobs = app.main.jobs
            await wait_for(pilot, lambda: first in jobs.jobs and second in jobs.jobs, what="jobs")
            store.update_job(first, status="succeeded", finished_at=int(time.time()))
            # Seen first by the detail pane (its answer handed to the jobs pane from
            # the screen's handler): it still reaches the app. It used to stop at the
            # screen when the detail pane's load beat the jobs refresh.
            app.main.post_message(DetailLoaded(await app.client.jobs.retrieve(first)))
            await wait_for(
                pilot,
                lambda: bool(written),
                timeout=15,
                what=lambda: (
                    f"a notification; the app has {jobs.jobs[first].status!r}, "
                    f"server {store.get_job(first)['status']!r}"
                ),
            )
            assert len(written) == 1
            assert written[0].startswith("\x07\x1b]9;fttui: job ended: ")
            assert f"{first} succeeded" in written[0]
            await pilot.pause(2.5)  # the jobs list's next refresh sees it ended too: no repeat
            assert len(written) == 1
            # Turned off from the command palette: the next end is a toast only.
            await pilot.press("ctrl+p", *"notifications: turn off")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await wait_for(pilot, lambda: not app.notifications, what="turned off")
            store.update_job(second, status="failed", finished_at=int(time.time()))
            await wait_for(
                pilot, lambda: jobs.jobs[second].status == "failed", timeout=15, what="seen"
            )
            await pilot.pause(0.5)
            assert len(written) == 1
    finally:
        store.close()
