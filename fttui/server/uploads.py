"""Receive a multipart upload by streaming it to disk while checking it.

The request body goes through python-multipart's streaming parser chunk by chunk:
the file part is written to a temp file under `<data_dir>/tmp/` and fed to the JSONL
checker as it arrives, so memory stays flat whatever the file size. Only a complete,
valid file is renamed into `<data_dir>/files/<id>` and recorded; on any error the
temp file is removed, so nothing half-written is ever visible.
"""

from __future__ import annotations

import errno
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from fttui.core.safe_text import find_unsafe
from fttui.server.errors import APIError
from fttui.server.jsonl_check import JsonlChecker

PURPOSES = (
    "fine-tune",
    "fine-tune-results",
    "batch",
    "batch_output",
    "assistants",
    "assistants_output",
    "vision",
    "user_data",
)
_MAX_FIELD_BYTES = 1024


@dataclass
class Received:
    """A complete upload sitting in a temp file, not yet visible to anyone."""

    tmp_path: Path
    filename: str
    purpose: str
    size: int
    meta: dict[str, Any]


@dataclass
class _Receiver:
    """Callbacks for the multipart parser; runs in a worker thread (it does file I/O)."""

    tmp_dir: Path
    max_file_bytes: int
    room: int  # bytes left in the quota when the upload started
    max_line_bytes: int
    error: APIError | None = None
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    size: int = 0
    tmp_path: Path | None = None
    checker: JsonlChecker | None = None
    _fd: int | None = None
    _headers: dict[str, bytes] = field(default_factory=dict)
    _hname: bytearray = field(default_factory=bytearray)
    _hvalue: bytearray = field(default_factory=bytearray)
    _part: str | None = None  # "file", a field name, or None (ignored part)
    _value: bytearray = field(default_factory=bytearray)
    _files_seen: int = 0

    # python-multipart callbacks -------------------------------------------------
    def on_part_begin(self) -> None:
        self._headers.clear()
        self._part = None
        self._value.clear()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._hname.decode("latin-1").lower()] = bytes(self._hvalue)
        self._hname.clear()
        self._hvalue.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if name == "file" and filename is not None:
            self._files_seen += 1
            if self._files_seen > 1:
                self._fail(APIError(400, "Send exactly one 'file' field", param="file"))
                return
            self._part = "file"
            raw = filename.decode("utf-8", "replace").replace("\\", "/")
            self.filename = os.path.basename(raw) or "file"
            problem = find_unsafe(self.filename)
            if problem is not None:
                # The name is stored and shown to every client: data, never a command
                # to their terminal (one rule, see errors.refuse_unsafe).
                self._fail(
                    APIError(
                        400,
                        f"The file name contains {problem}; control characters, bidirectional "
                        "text controls and lone surrogates are not allowed in names",
                        param="file",
                        code="invalid_characters",
                    )
                )
                return
            fd, path = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-", suffix=".part")
            self._fd, self.tmp_path = fd, Path(path)
            self.checker = JsonlChecker(max_line_bytes=self.max_line_bytes)
        else:
            self._part = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None or self._part is None:
            return
        chunk = data[start:end]
        if self._part != "file":
            if len(self._value) + len(chunk) > _MAX_FIELD_BYTES:
                self._fail(
                    APIError(400, f"Form field '{self._part}' is too long", param=self._part)
                )
            else:
                self._value += chunk
            return
        self.size += len(chunk)
        if self.size > self.max_file_bytes:
            self._fail(
                APIError(
                    413,
                    f"File is larger than the {self.max_file_bytes}-byte limit per file",
                    param="file",
                    code="file_too_large",
                )
            )
            return
        if self.size > self.room:
            self._fail(quota_error(self.room))
            return
        assert self._fd is not None and self.checker is not None
        view = memoryview(chunk)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            # Disk full: a clear 507 and the partial temp file removed (not a 400/500).
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise
            self._fail(disk_full_error())
            return
        self.checker.feed(chunk)

    def on_part_end(self) -> None:
        if self._part == "file" and self.error is None and self._fd is not None:
            os.close(self._fd)
            self._fd = None
            assert self.checker is not None
            self.checker.finish()
        elif self._part and self._part != "file" and self.error is None:
            self.fields[self._part] = self._value.decode("utf-8", "replace").strip()
        self._part = None

    # -----------------------------------------------------------------------------
    def _fail(self, error: APIError) -> None:
        if self.error is None:
            self.error = error
        self.cleanup()

    def cleanup(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.tmp_path is not None:
            self.tmp_path.unlink(missing_ok=True)
            self.tmp_path = None


def disk_full_error() -> APIError:
    return APIError(
        507,
        "The server's disk is full: the upload was not stored; free disk space and retry",
        param="file",
        code="disk_full",
    )


def quota_error(room: int) -> APIError:
    return APIError(
        413,
        f"Storage quota exceeded: only {max(room, 0)} bytes are left; delete files to make room",
        param="file",
        code="quota_exceeded",
    )


async def receive_upload(
    request: Request,
    *,
    tmp_dir: Path,
    max_file_bytes: int,
    room: int,
    max_line_bytes: int,
) -> Received:
    """Stream a `multipart/form-data` upload to a checked temp file, or raise APIError."""
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise APIError(
            400,
            "Upload with Content-Type multipart/form-data carrying 'purpose' and 'file' fields",
            param="file",
        )
    receiver = _Receiver(
        tmp_dir=tmp_dir, max_file_bytes=max_file_bytes, room=room, max_line_bytes=max_line_bytes
    )
    callbacks: Any = {
        name: getattr(receiver, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)
    try:
        try:
            async for chunk in request.stream():
                # After an error the rest of the body is drained (not stored) so the
                # client still reads our answer instead of a reset connection.
                if chunk and receiver.error is None:
                    await anyio.to_thread.run_sync(parser.write, chunk)
            if receiver.error is None:
                parser.finalize()
        except ClientDisconnect:
            raise APIError(400, "Upload interrupted: the client disconnected") from None
        except APIError:
            raise
        except Exception as exc:  # malformed multipart framing
            raise APIError(400, f"Malformed multipart body: {exc}", param="file") from None
        if receiver.error is not None:
            raise receiver.error
        return _finish(receiver)
    except BaseException:
        receiver.cleanup()
        raise


def _finish(receiver: _Receiver) -> Received:
    purpose = receiver.fields.get("purpose")
    if not purpose:
        raise APIError(
            400, "Missing required field 'purpose' (e.g. purpose=fine-tune)", param="purpose"
        )
    if purpose not in PURPOSES:
        raise APIError(
            400,
            f"Invalid purpose {purpose!r}; expected one of: {', '.join(PURPOSES)}",
            param="purpose",
        )
    if receiver.tmp_path is None or receiver.checker is None or receiver.filename is None:
        raise APIError(
            400, "Missing required field 'file' (a file part with a filename)", param="file"
        )
    meta: dict[str, Any] = {}
    checker = receiver.checker
    if purpose == "fine-tune":
        if not checker.ok:
            raise APIError(
                400,
                f"Invalid training file {receiver.filename!r}: {checker.summary()}",
                param="file",
                code="invalid_file_format",
                extra={
                    "errors": [{"line": p.line, "message": p.message} for p in checker.problems],
                    "error_count": checker.n_problems,
                },
            )
        meta = {"examples": checker.examples, "lines": checker.examples, "format": checker.format}
    return Received(
        tmp_path=receiver.tmp_path,
        filename=receiver.filename,
        purpose=purpose,
        size=receiver.size,
        meta=meta,
    )
