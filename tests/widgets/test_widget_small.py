"""PathInput completion, TransferProgress figures, KeyValueTable, FileTable."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Label, ProgressBar
from widget_host import Host, drawn_text

from widgets import FileRow, FileTable, KeyValueTable, PathInput, TransferProgress


async def test_path_input_completes_from_the_directory_with_tab(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text("{}\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "valid.jsonl").write_text("{}\n")
    (tmp_path / ".hidden").write_text("")
    app = Host(lambda: [PathInput(id="path"), Input(id="next")])
    async with app.run_test(size=(80, 10)) as pilot:
        path = app.query_one(PathInput)
        path.focus()
        path.value = f"{tmp_path}/tr"
        path.cursor_position = len(path.value)
        await pilot.pause(0.1)
        await pilot.press("tab")
        assert path.value == f"{tmp_path}/train.jsonl"

        path.value = f"{tmp_path}/da"
        path.cursor_position = len(path.value)
        await pilot.pause(0.1)
        await pilot.press("right")  # → accepts too; directories get a trailing slash
        assert path.value == f"{tmp_path}/data/"
        await pilot.press("v")
        await pilot.pause(0.1)
        await pilot.press("tab")
        assert path.value == f"{tmp_path}/data/valid.jsonl"

        # Nothing to complete: Tab moves on instead of trapping focus.
        path.value = f"{tmp_path}/zzz"
        await pilot.pause(0.1)
        await pilot.press("tab")
        assert app.focused is app.query_one("#next")


async def test_transfer_progress_shows_sizes_and_bar() -> None:
    app = Host(lambda: [TransferProgress("train.jsonl")])
    async with app.run_test(size=(100, 5)) as pilot:
        progress = app.query_one(TransferProgress)
        progress.update_progress(0, 10_000_000)
        await pilot.pause(0.1)
        progress.update_progress(2_500_000, 10_000_000)
        await pilot.pause()
        stats = str(progress.query_one("#transfer-stats", Label).content)
        assert stats.startswith("2.5 MB / 10.0 MB, ")
        assert stats.endswith("MB/s")
        assert progress.query_one(ProgressBar).percentage == 0.25
        assert "train.jsonl" in drawn_text(progress.query_one("#transfer-label"))


async def test_key_value_table_shows_pairs_verbatim() -> None:
    app = Host(lambda: [KeyValueTable([("status", "failed")])])
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(KeyValueTable)
        table.set_items([("status", "failed"), ("error", "[bold]not markup[/bold] " + "x" * 70)])
        await pilot.pause()
        text = drawn_text(table.query_one("#kv-body"))
        assert "error" in text and "[bold]not markup[/bold]" in text
        assert len(text.splitlines()) >= 3  # the long value wraps instead of being cut


async def test_file_table_updates_in_place_and_keeps_the_cursor() -> None:
    def row(n: int, status: str = "processed") -> FileRow:
        return FileRow(
            f"file-{n}", f"data{n}.jsonl", 1000 * n, "fine-tune", 1_700_000_000 + n, status
        )

    app = Host(lambda: [FileTable()])
    async with app.run_test(size=(100, 10)) as pilot:
        table = app.query_one(FileTable)
        table.set_files([row(1), row(2), row(3)])
        await pilot.pause()
        assert table.row_ids() == ["file-3", "file-2", "file-1"]
        table.focus()
        await pilot.press("j")
        assert table.selected_file_id == "file-2"
        table.set_files([row(1), row(2, "error"), row(3), row(4)])
        await pilot.pause()
        assert table.selected_file_id == "file-2"
        assert str(table.get_row("file-2")[4]) == "error"
        assert str(table.get_row("file-4")[1]) == "4.0 kB"
        table.set_files([row(1), row(3), row(4)])  # file-2 deleted
        await pilot.pause()
        assert table.selected_file_id in {"file-1", "file-3"}
        assert app.messages[-1].file_id == table.selected_file_id  # type: ignore[attr-defined]


async def test_files_are_shown_by_name_and_i_shows_their_ids() -> None:
    rows = [
        FileRow(
            "file-abc123", "reviews-train.jsonl", 2048, "fine-tune", 1_700_000_000, "processed"
        ),
        FileRow("file-def456", "reviews-valid.jsonl", 512, "fine-tune", 1_700_000_100, "processed"),
    ]
    app = Host(lambda: [FileTable()])
    async with app.run_test(size=(80, 8)) as pilot:
        table = app.query_one(FileTable)
        table.set_files(rows)
        table.focus()
        await pilot.pause()
        lines = drawn_text(table).splitlines()
        assert lines[0].split()[0] == "Name"
        assert lines[1].split()[0] == "reviews-valid.jsonl"  # newest first, by name
        assert "file-" not in drawn_text(table) and not table.ids_shown

        await pilot.press("i")
        await pilot.pause()
        text = drawn_text(table)
        assert table.ids_shown and "file-def456" in text and "file-abc123" in text
        assert text.splitlines()[1].split()[0].startswith("reviews-valid")  # still leads
        table.filter_text = "abc123"  # the id is still what a filter finds
        await pilot.pause()
        assert table.row_ids() == ["file-abc123"]
        await pilot.press("i")
        await pilot.pause()
        assert "file-" not in drawn_text(table)
