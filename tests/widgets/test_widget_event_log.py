"""EventLog: each event once, in arrival order, follow mode, bounded memory, speed."""

from __future__ import annotations

import time

from textual import events
from widget_host import Host, drawn_text

from widgets import EventLog, EventRow

T0 = 1_700_000_000


def event(n: int, level: str = "info", message: str | None = None, **kw: object) -> EventRow:
    return EventRow(
        id=f"ftevent-{n}",
        created_at=T0 + n,
        level=level,
        message=f"event number {n}" if message is None else message,
        **kw,
    )  # type: ignore[arg-type]


async def test_events_are_shown_once_in_arrival_order() -> None:
    app = Host(lambda: [EventLog()])
    async with app.run_test(size=(80, 10)) as pilot:
        log = app.query_one(EventLog)
        assert log.add_events([event(1), event(2), event(3)]) == 3
        # A reconnecting stream resends 2 and 3 and brings 4.
        assert log.add_events([event(2), event(3), event(4)]) == 1
        assert log.add_events([event(4)]) == 0
        await pilot.pause()
        assert [line.split(" ", 1)[1] for line in log.lines] == [
            f"event number {n}" for n in (1, 2, 3, 4)
        ]
        text = drawn_text(log)
        assert text.count("event number 2") == 1
        assert "event number 4" in text


async def test_levels_get_their_colours_and_metrics_are_compact() -> None:
    app = Host(lambda: [EventLog()])
    async with app.run_test(size=(100, 10)) as pilot:
        log = app.query_one(EventLog)
        log.add_events(
            [
                event(1, "warn", "disk almost full"),
                event(2, "error", "out of memory"),
                event(3, "info", "", type="metrics", data={"step": 10, "train_loss": 1.234567}),
            ]
        )
        await pilot.pause()
        assert log.lines[2].endswith("step=10 train_loss=1.235")
        warn_strip = log.render_line(0)
        error_strip = log.render_line(1)
        warn_color = log.get_component_rich_style("event-log--warn").color
        error_color = log.get_component_rich_style("event-log--error").color
        assert warn_color is not None and error_color is not None and warn_color != error_color
        assert any(seg.style and seg.style.color == warn_color for seg in warn_strip)
        assert any(seg.style and seg.style.color == error_color for seg in error_strip)


async def test_follow_sticks_to_the_end_and_f_toggles_it() -> None:
    app = Host(lambda: [EventLog()])
    async with app.run_test(size=(80, 10)) as pilot:
        log = app.query_one(EventLog)
        log.focus()
        log.add_events([event(n) for n in range(100)])
        await pilot.pause()
        assert log.follow
        assert "event number 99" in drawn_text(log)

        await pilot.press("f")
        assert not log.follow
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        log.add_events([event(n) for n in range(100, 120)])
        await pilot.pause()
        # Not following: the view stays where the user left it.
        assert "event number 0" in drawn_text(log)
        assert "event number 119" not in drawn_text(log)

        await pilot.press("f")
        await pilot.pause()
        assert log.follow
        assert "event number 119" in drawn_text(log)
        # Scrolling up by hand (keys or wheel) stops following.
        await pilot.press("k")
        assert not log.follow
        await pilot.press("G")
        assert log.follow
        # Pilot has no wheel helper; this is what a wheel turn delivers.
        await pilot._post_mouse_events([events.MouseScrollUp], widget=log)
        await pilot.pause()
        assert not log.follow


async def test_memory_is_bounded_and_clear_forgets_everything() -> None:
    app = Host(lambda: [EventLog(max_lines=100)])
    async with app.run_test(size=(80, 10)) as pilot:
        log = app.query_one(EventLog)
        log.add_events([event(n) for n in range(250)])
        await pilot.pause()
        assert len(log.lines) == 100 and log.dropped_lines == 150
        assert log.lines[0].endswith("event number 150")
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert "150 earlier lines not kept" in drawn_text(log)
        log.clear()
        await pilot.pause()
        assert log.lines == [] and log.event_count == 0
        assert log.add_events([event(1)]) == 1  # ids are forgotten too


async def test_50000_events_in_batches_of_500_stay_fast() -> None:
    app = Host(lambda: [EventLog()])
    async with app.run_test(size=(120, 30)) as pilot:
        log = app.query_one(EventLog)
        worst = 0.0
        for start in range(0, 50_000, 500):
            batch = [event(n, "info" if n % 7 else "warn") for n in range(start, start + 500)]
            began = time.perf_counter()
            assert log.add_events(batch) == 500
            worst = max(worst, time.perf_counter() - began)
            if start % 5000 == 0:
                await pilot.pause()  # let it draw now and then, as the app would
        await pilot.pause()
        print(
            f"\nEventLog.add_events 50,000 events / 500 per batch: worst batch {worst * 1000:.1f} ms"
        )
        assert log.event_count == 50_000
        assert len(log.lines) == 20_000
        assert "event number 49999" in drawn_text(log)
        assert worst < 0.25, f"worst batch {worst * 1000:.0f} ms"  # target 50 ms; CI is noisy


async def test_long_events_wrap_to_the_pane_instead_of_being_cut() -> None:
    """An error message longer than the pane is read whole, on the rows below, under
    its text; after a resize it wraps to the new width; following still shows the end."""
    message = (
        "Training failed: the validation file line 12 has a message whose role "
        "'assistent' is not one of system, user, assistant (see docs/data.md)"
    )
    app = Host(lambda: [EventLog()])
    async with app.run_test(size=(50, 12)) as pilot:
        log = app.query_one(EventLog)
        log.add_events([event(1), event(2, "error", message), event(3)])
        await pilot.pause()
        rows = drawn_text(log).splitlines()
        assert all(len(row) <= 50 for row in rows)
        error = [row for row in rows if row.strip() and "event number" not in row]
        assert len(error) >= 3
        indent = len(error[0]) - len(error[0].split(" ", 1)[1])
        assert all(row.startswith(" " * indent) for row in error[1:])  # under the text
        assert " ".join(row.strip() for row in error).endswith(message)
        assert "event number 3" in rows[-1] or "event number 3" in drawn_text(log)

        await pilot.resize_terminal(100, 12)
        await pilot.pause()
        rows = [r for r in drawn_text(log).splitlines() if r.strip()]
        assert len(rows) == 4  # one more row for the message, no longer three
        assert "event number 3" in rows[-1]
