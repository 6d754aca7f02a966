"""The files list: name, size, purpose, created, status (the id on `i`); stable
under refresh."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from widgets._format import human_bytes, local_time
from widgets._keyed_table import KeyedTable
from widgets.rows import FileRow

_FILE_STATUS_STYLES = {"processed": "green", "error": "bold red", "deleted": "dim"}


class FileTable(KeyedTable[FileRow]):
    """Files keyed by id; `set_files` updates only rows that changed.

    People know their files by name: the name leads and the id (`file-…`, needed
    only to paste into another tool) shows on `i`, in the last column. Newest first
    by default; `s`/`S` sort, `filter_text` filters by name, id, purpose or status.
    Posts `FileTable.FileSelected` when the cursor's file changes.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "toggle_ids", "Show file ids"),
    ]

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("filename", "Name"),
        ("bytes", "Size"),
        ("purpose", "Purpose"),
        ("created", "Created"),
        ("status", "Status"),
        ("expires", "Expires"),
        ("id", "ID"),
    )
    HIDDEN: ClassVar[frozenset[str]] = frozenset({"id"})
    # Narrow panes drop the least needed columns first; an id asked for stays whole.
    KEEP_ORDER: ClassVar[tuple[str, ...]] = (
        "filename", "id", "status", "bytes", "created", "purpose", "expires"
    )  # fmt: skip
    SHRINK: ClassVar[dict[str, int]] = {"filename": 16, "status": 10}  # noqa: RUF012
    _STATUS = 4  # the status column's position in COLUMNS

    def action_toggle_ids(self) -> None:
        """Show or hide the files' ids."""
        self.show_column("id", "id" in self.hidden)

    @property
    def ids_shown(self) -> bool:
        return "id" not in self.hidden

    class FileSelected(Message):
        """The cursor is now on `file_id` (None: the table is empty)."""

        def __init__(self, file_id: str | None) -> None:
            super().__init__()
            self.file_id = file_id

    def set_files(self, rows: Sequence[FileRow]) -> None:
        """Show exactly `rows` (the full list)."""
        self._set_rows(rows, None)

    @property
    def selected_file_id(self) -> str | None:
        """Id of the file under the cursor."""
        return self.selected_id

    @property
    def files(self) -> dict[str, FileRow]:
        """All files last given to `set_files`, by id."""
        return dict(self._all)

    RIGHT_ALIGNED: ClassVar[frozenset[str]] = frozenset({"bytes"})

    def _row_cells(self, row: FileRow, now: float | None) -> tuple[str, ...]:
        return (
            row.filename,
            human_bytes(row.bytes),
            row.purpose,
            local_time(row.created_at),
            f"{row.status or 'error'}: {row.status_details}"
            if row.status_details
            else row.status or "",
            local_time(row.expires_at) if row.expires_at else "",
            row.id,
        )

    def _cell_style(self, column: int, text: str) -> str:
        if column != self._STATUS:
            return ""
        return _FILE_STATUS_STYLES.get(text.split(":")[0], "")

    def _sort_value(self, row: FileRow, column: str) -> Any:
        if column == "created":
            return row.created_at
        if column == "expires":
            return row.expires_at or 0
        if column == "bytes":
            return row.bytes
        value = getattr(row, column, "")
        return "" if value is None else str(value)

    def _haystack(self, row: FileRow) -> str:
        return "\n".join(
            (row.id, row.filename, row.purpose, row.status or "", row.status_details or "")
        )

    def _selected_message(self, key: str | None) -> Message:
        return FileTable.FileSelected(key)
