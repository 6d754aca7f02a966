"""JobTable: incremental updates keep the cursor on its job; sort, filter, vim keys, speed."""

from __future__ import annotations

import dataclasses
import time

from widget_host import Host, drawn_text

from widgets import JobRow, JobTable

NOW = 1_700_000_000


def job(n: int, status: str = "succeeded", **changes: object) -> JobRow:
    row = JobRow(
        id=f"ftjob-{n:05d}",
        status=status,
        model="babbage-002" if n % 2 else "davinci-002",
        fine_tuned_model=f"babbage-002:ft-acme:run{n}-2024" if status == "succeeded" else None,
        created_at=NOW - 10_000 + n * 10,
        finished_at=NOW - 9_000 + n * 10
        if status in ("succeeded", "failed", "cancelled")
        else None,
        estimated_finish=NOW + 125 if status == "running" else None,
        trained_tokens=1000 * n if status == "succeeded" else None,
        suffix=f"run{n}",
    )
    return dataclasses.replace(row, **changes)  # type: ignore[arg-type]


def host() -> Host:
    return Host(lambda: [JobTable()])


async def test_cursor_stays_on_same_job_when_rows_are_added_and_reordered() -> None:
    app = host()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([job(n) for n in range(10)], now=NOW)
        await pilot.pause()
        # Newest first by default.
        assert table.row_ids()[:2] == ["ftjob-00009", "ftjob-00008"]
        table.focus()
        await pilot.press("j", "j", "j")
        assert table.selected_job_id == "ftjob-00006"

        # Three newer jobs arrive (they sort above) and one old job disappears.
        rows = [job(n) for n in range(1, 13)]
        table.set_jobs(rows, now=NOW)
        await pilot.pause()
        assert table.row_ids()[0] == "ftjob-00012"
        assert "ftjob-00000" not in table.row_ids()
        assert table.selected_job_id == "ftjob-00006"

        # Sorting by status moves rows around; the cursor follows its job.
        rows[5] = job(6, status="failed")
        table.sort_key = "status"
        table.set_jobs(rows, now=NOW)
        await pilot.pause()
        assert table.selected_job_id == "ftjob-00006"
        assert table.row_ids()[-1] == "ftjob-00006"  # 'failed' sorts first; reversed: last


async def test_only_changed_cells_are_updated_and_status_is_coloured() -> None:
    app = host()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([job(1, "running"), job(2)], now=NOW)
        await pilot.pause()
        row = table.get_row("ftjob-00001")
        assert str(row[0]) == "running" and "yellow" in str(row[0].style)
        assert str(row[6]).endswith("ETA 2m05s")

        table.set_jobs([job(1, "failed"), job(2)], now=NOW + 5)
        await pilot.pause()
        row = table.get_row("ftjob-00001")
        assert str(row[0]) == "failed" and "red" in str(row[0].style)
        assert "ETA" not in str(row[6])
        assert str(table.get_row("ftjob-00002")[7]) == "2,000"


async def test_filter_hides_non_matching_jobs_and_clearing_it_brings_them_back() -> None:
    app = host()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([job(1), job(2, "failed"), job(3, "running"), job(4)], now=NOW)
        await pilot.pause()
        table.filter_text = "FAILED"
        await pilot.pause()
        assert table.row_ids() == ["ftjob-00002"]
        table.filter_text = "run3"  # suffix
        await pilot.pause()
        assert table.row_ids() == ["ftjob-00003"]
        table.filter_text = "davinci"  # model: even ids
        await pilot.pause()
        assert sorted(table.row_ids()) == ["ftjob-00002", "ftjob-00004"]
        table.filter_text = ""
        await pilot.pause()
        assert len(table.row_ids()) == 4


async def test_sort_cycles_columns_and_reverses() -> None:
    app = host()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([job(1), job(3), job(2)], now=NOW)
        await pilot.pause()
        table.sort_key = "tokens"
        table.sort_reverse = False
        await pilot.pause()
        assert table.row_ids() == ["ftjob-00001", "ftjob-00002", "ftjob-00003"]
        table.focus()
        await pilot.press("S")
        assert table.row_ids() == ["ftjob-00003", "ftjob-00002", "ftjob-00001"]
        await pilot.press("s", "s")  # fine-tuned model is last, then it wraps to status
        assert table.sort_key == "status"
        assert "▼" in str(table.columns["status"].label)  # type: ignore[index]


async def test_job_selected_is_posted_when_the_cursor_job_changes() -> None:
    app = host()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([job(n) for n in range(5)], now=NOW)
        await pilot.pause()
        table.focus()
        await pilot.press("G")
        await pilot.pause()
        await pilot.press("g")
        await pilot.pause()
        ids = [m.job_id for m in app.messages]  # type: ignore[attr-defined]
        assert ids[0] == "ftjob-00004"
        assert ids[-2:] == ["ftjob-00000", "ftjob-00004"]
        # A refresh with the same data posts nothing new.
        count = len(app.messages)
        table.set_jobs([job(n) for n in range(5)], now=NOW)
        await pilot.pause()
        assert len(app.messages) == count


async def test_refresh_of_5000_jobs_with_10_changes_is_fast() -> None:
    """The jobs pane polls every few seconds: a refresh must not block the UI."""
    app = host()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(JobTable)
        rows = [job(n, "running" if n % 250 == 0 else "succeeded") for n in range(5000)]
        started = time.perf_counter()
        table.set_jobs(rows, now=NOW)
        first = time.perf_counter() - started
        # The first load goes in chunks: the newest jobs are there at once, the rest
        # follow frame by frame, in order.
        assert table.row_ids()[:3] == ["ftjob-04999", "ftjob-04998", "ftjob-04997"]
        assert table.rows_pending > 0
        while table.rows_pending:
            await pilot.pause()
        await pilot.pause()
        assert table.row_ids() == [f"ftjob-{n:05d}" for n in reversed(range(5000))]
        table.focus()
        await pilot.press("j", "j")
        selected = table.selected_job_id
        for n in range(3, 5000, 500):
            rows[n] = job(n, "failed")
        started = time.perf_counter()
        table.set_jobs(rows, now=NOW + 3)
        elapsed = time.perf_counter() - started
        await pilot.pause()
        print(
            f"\nJobTable.set_jobs 5000 rows: first call {first * 1000:.1f} ms;"
            f" refresh with 10 changed: {elapsed * 1000:.1f} ms"
        )
        assert first < 0.25, f"first load blocked for {first * 1000:.0f} ms"
        assert table.selected_job_id == selected
        assert str(table.get_row("ftjob-00003")[0]) == "failed"
        assert elapsed < 0.25, f"refresh took {elapsed * 1000:.0f} ms"  # target 50 ms; CI is noisy


async def test_cursor_keys_scroll_the_cursor_into_view_and_the_header_stays() -> None:
    app = host()
    async with app.run_test(size=(120, 12)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([job(n) for n in range(100)], now=NOW)
        table.focus()
        await pilot.pause()
        await pilot.press("G")
        await pilot.pause()
        assert table.selected_job_id == "ftjob-00000"
        screen = drawn_text(table)
        assert screen.splitlines()[0].split()[0] == "Status"  # the header does not scroll away
        assert "ftjob-00000" in screen and "ftjob-00099" not in screen
        await pilot.press("pageup")
        assert table.selected_job_id not in (None, "ftjob-00000")
        await pilot.press("g")
        await pilot.pause()
        assert table.selected_job_id == "ftjob-00099"
        assert "ftjob-00099" in drawn_text(table)


async def test_columns_fit_their_widest_cell_and_numbers_align_right() -> None:
    app = host()
    async with app.run_test(size=(160, 12)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([job(1), job(123)], now=NOW)
        await pilot.pause()
        lines = drawn_text(table).splitlines()
        header = lines[0]
        rows = {line.split()[1]: line for line in lines[1:] if line.strip()}
        small, big = rows["ftjob-00001"], rows["ftjob-00123"]
        # Right-aligned: "1,000" and "123,000" end in the same column.
        assert small.index("1,000") + len("1,000") == big.index("123,000") + len("123,000")
        # Every header label starts where its column's cells start.
        model_at = header.index("Model")
        assert big[model_at:].startswith("babbage-002")
        assert small[model_at:].startswith("babbage-002")


async def test_clicking_a_header_sorts_by_it_and_again_reverses() -> None:
    app = host()
    async with app.run_test(size=(160, 12)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([job(2), job(3), job(1)], now=NOW)
        await pilot.pause()
        x = drawn_text(table).splitlines()[0].index("Tokens")
        await pilot.click(JobTable, offset=(x, 0))
        await pilot.pause()
        assert table.sort_key == "tokens"
        first = table.row_ids()
        await pilot.click(JobTable, offset=(x, 0))
        await pilot.pause()
        assert table.row_ids() == list(reversed(first))
        await pilot.click(JobTable, offset=(2, 2))  # the second row
        assert table.selected_job_id == table.row_ids()[1]


def header(table: JobTable) -> list[str]:
    return drawn_text(table).splitlines()[0].split()


async def test_columns_fit_the_width_and_the_least_needed_are_dropped_first() -> None:
    """At 160 columns the jobs pane (3/5 of the screen, 94 cells inside) shows all of
    status, id, suffix, model, method, created, time, tokens and fine-tuned model; at
    80 (76 inside) it drops created and fine-tuned model, never the status or id."""
    long_model = "gpt-4o-mini-2024-07-18"
    rows = [
        job(1, fine_tuned_model=f"ft:{long_model}:acme:run1:9ABel2dg", model=long_model),
        job(2, "running", method="dpo"),
    ]
    for width, expected, dropped in [
        (
            94,
            ["Status", "ID", "Suffix", "Model", "Method", "Created", "Time", "Tokens"],
            [],
        ),
        (76, ["Status", "ID", "Suffix", "Model", "Time", "Tokens"], ["Created", "Fine-tuned"]),
    ]:
        app = host()
        async with app.run_test(size=(width, 12)) as pilot:
            table = app.query_one(JobTable)
            table.set_jobs(rows, now=NOW)
            await pilot.pause()
            shown = header(table)
            assert all(name in shown for name in expected), shown
            assert not any(name in shown for name in dropped), shown
            assert ("Fine-tuned" in shown) == (width == 94)
            text = drawn_text(table)
            # Nothing to scroll sideways: every line fits the table.
            assert table.virtual_size.width <= width
            assert "ob-00002" in text  # an id cut keeps its end, where ids differ
            assert "DPO" in text or width < 94
            assert "ETA 2m05s" in text  # the running job's time left


async def test_home_g_and_end_scroll_back_to_the_first_column() -> None:
    app = host()
    async with app.run_test(size=(16, 12)) as pilot:  # narrower than status and id
        table = app.query_one(JobTable)
        table.set_jobs([job(n) for n in range(20)], now=NOW)
        table.focus()
        await pilot.pause()
        for key in ("home", "g", "end", "G"):
            table.scroll_to(x=table.max_scroll_x, animate=False, immediate=True)
            await pilot.pause()
            assert table.scroll_x > 0
            await pilot.press(key)
            assert table.scroll_x == 0, key
        assert table.selected_job_id == "ftjob-00000"  # G: the last (oldest) row
