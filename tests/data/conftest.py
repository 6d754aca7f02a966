"""Helpers for the dataset checker tests: small JSONL files written on the fly."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fttui.data.encodings import get_encoding

WriteJsonl = Callable[..., Path]


@pytest.fixture
def write_jsonl(tmp_path: Path) -> WriteJsonl:
    """write_jsonl(rows, name=...) -> path; a str row is written verbatim as one line."""

    def write(rows: list[Any], name: str = "train.jsonl") -> Path:
        path = tmp_path / name
        with path.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(row if isinstance(row, str) else json.dumps(row))
                out.write("\n")
        return path

    return write


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No network, an empty tiktoken cache and no encodings already loaded in-process."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network access blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    get_encoding.cache_clear()
    yield cache
    get_encoding.cache_clear()


def classification_rows(
    n_per_class: int = 100, labels: tuple[str, ...] = (" yes", " no")
) -> list[dict[str, str]]:
    """A file that follows the legacy guide's advice: separator, leading space, stop, 100+/class."""
    rows = []
    for i in range(n_per_class):
        for label in labels:
            rows.append(
                {"prompt": f"Is review {i} about{label}?\n\n###\n\n", "completion": f"{label}\n"}
            )
    return rows
