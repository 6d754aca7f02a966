"""Files: streamed upload with progress, listing, retrieval, deletion, streamed download.

Uploads hand httpx an open file, which its multipart encoder reads in 64 KiB
chunks, so a 150 MB training file never sits in memory whole; the progress
callback fires as chunks are read for sending. Downloads write chunks to a
temporary file next to the target and rename it into place, so a dropped
connection never leaves a half-written results CSV under the real name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from fttui.api._http import HTTP, segment
from fttui.api.errors import APIError, transport_error
from fttui.api.types import FileDeleted, FileObject, Page, parse

__all__ = ["Files", "ProgressCallback"]

# on_progress(done_bytes, total_bytes or None when the server sent no length)
ProgressCallback = Callable[[int, int | None], None]

_UPLOAD_READ_TIMEOUT = 600.0  # the server may validate a large file before answering


class _ProgressReader:
    """A binary file whose reads report progress; keeps `fileno()` so httpx knows the size."""

    def __init__(self, path: Path, total: int, on_progress: ProgressCallback | None) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._total = total
        self._sent = 0
        self._on_progress = on_progress

    def fileno(self) -> int:
        return self._file.fileno()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        pos = self._file.seek(offset, whence)
        self._sent = pos
        return pos

    def tell(self) -> int:
        return self._file.tell()

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        if chunk:
            self._sent += len(chunk)
            if self._on_progress is not None:
                self._on_progress(self._sent, self._total)
        return chunk

    def close(self) -> None:
        self._file.close()


class Files:
    """`client.files`: the /files endpoints."""

    def __init__(self, http: HTTP) -> None:
        self._http = http

    async def upload(
        self,
        path: str | os.PathLike[str],
        purpose: str = "fine-tune",
        on_progress: ProgressCallback | None = None,
    ) -> FileObject:
        """Upload a file from disk, streamed; `on_progress(sent, total)` as it goes.

        Not retried after the body was sent (see `fttui.api.retry`), except on 429.
        """
        source = Path(path)
        try:
            total = source.stat().st_size
        except OSError as exc:
            raise APIError(f"cannot read {source}: {exc.strerror or exc}") from exc
        if not source.is_file():
            raise APIError(f"cannot upload {source}: not a regular file")

        def open_parts() -> tuple[dict[str, Any], Callable[[], None]]:
            reader = _ProgressReader(source, total, on_progress)
            return {"file": (source.name, reader, "application/jsonl")}, reader.close

        timeout = self._http.timeout
        timeout = httpx.Timeout(
            connect=timeout.connect,
            write=timeout.write,
            pool=timeout.pool,
            read=max(timeout.read or 0.0, _UPLOAD_READ_TIMEOUT),
        )
        body = await self._http.request(
            "POST",
            "/files",
            data={"purpose": purpose},
            files=open_parts,
            timeout=timeout,
            idempotent=False,
        )
        return parse(FileObject, body)

    async def list(
        self, purpose: str | None = None, limit: int | None = None, after: str | None = None
    ) -> Page[FileObject]:
        body = await self._http.request(
            "GET", "/files", params={"purpose": purpose, "limit": limit, "after": after}
        )
        return parse(Page[FileObject], body)

    async def iter(
        self, purpose: str | None = None, page_size: int = 100
    ) -> AsyncIterator[FileObject]:
        """Every file, page by page (backends without pagination answer in one page)."""
        after: str | None = None
        seen: set[str] = set()
        while True:
            page = await self.list(purpose=purpose, limit=page_size, after=after)
            for item in page.data:
                if item.id not in seen:  # a backend ignoring `after` must not loop forever
                    seen.add(item.id)
                    yield item
            if not page.has_more or not page.data or page.last_id == after:
                return
            after = page.last_id

    async def retrieve(self, file_id: str) -> FileObject:
        return parse(FileObject, await self._http.request("GET", f"/files/{segment(file_id)}"))

    async def delete(self, file_id: str) -> FileDeleted:
        return parse(FileDeleted, await self._http.request("DELETE", f"/files/{segment(file_id)}"))

    async def download(
        self,
        file_id: str,
        path: str | os.PathLike[str],
        on_progress: ProgressCallback | None = None,
    ) -> Path:
        """Stream a file's content to `path` (temporary file + rename); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        what = f"GET /files/{segment(file_id)}/content"

        async def attempt() -> Path:
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".part", dir=target.parent
            )
            try:
                with os.fdopen(fd, "wb") as out:
                    async with self._http.stream(
                        "GET", f"/files/{segment(file_id)}/content", retry=False
                    ) as response:
                        length = response.headers.get("content-length")
                        total = int(length) if length and length.isdigit() else None
                        done = 0
                        try:
                            async for chunk in response.aiter_bytes(65536):
                                out.write(chunk)
                                done += len(chunk)
                                if on_progress is not None:
                                    on_progress(done, total)
                        except httpx.TransportError as exc:
                            raise transport_error(exc, what) from exc
                os.replace(tmp_name, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
                raise
            return target

        # A dropped download restarts from the beginning: it is a GET, and the file on
        # disk is only replaced once a complete copy has arrived.
        return await self._http.policy.run(attempt, idempotent=True)

    async def head(self, file_id: str, max_bytes: int = 65536) -> bytes:
        """The first `max_bytes` of a file's content, without downloading the rest."""
        parts: list[bytes] = []
        size = 0
        async with self._http.stream("GET", f"/files/{segment(file_id)}/content") as response:
            try:
                async for chunk in response.aiter_bytes(min(max_bytes, 65536) or 1):
                    parts.append(chunk)
                    size += len(chunk)
                    if size >= max_bytes:
                        break
            except httpx.TransportError as exc:
                raise transport_error(exc, f"GET /files/{segment(file_id)}/content") from exc
        return b"".join(parts)[:max_bytes]
