"""Small real servers on loopback for what the fttui server cannot be made to do.

`ScriptedServer` plays an OpenAI-compatible backend that answers 429/503/401 on
cue (speaking OpenAI's error wire format) and records when each request arrived,
so retry timing can be measured. `CuttingProxy` sits in front of the real fttui
server and aborts connections part-way through responses, as a flaky network does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    at: float
    body: bytes


def openai_error(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> Any:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class ScriptedServer:
    """An HTTP server in a thread; `script(n, method, path)` gives the n-th reply (0-based)."""

    def __init__(self, script: Callable[[int, str, str], Reply]) -> None:
        self.script = script
        self.requests: list[Seen] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                n = len(owner.requests)
                owner.requests.append(Seen(self.command, self.path, time.monotonic(), body))
                reply = owner.script(n, self.command, self.path)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                # The client may have given up (a timeout test): nothing to report.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def gaps(self) -> list[float]:
        times = [r.at for r in self.requests]
        return [b - a for a, b in zip(times, times[1:], strict=False)]

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class CuttingProxy:
    """A TCP proxy to `upstream_port` that aborts every connection after a random
    number of response bytes (between `min_cut` and `max_cut`), mid-response."""

    def __init__(self, upstream_port: int, min_cut: int = 300, max_cut: int = 6000) -> None:
        self.upstream_port = upstream_port
        self.min_cut, self.max_cut = min_cut, max_cut
        self.cuts = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._rng = random.Random(1234)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        budget = self._rng.randint(self.min_cut, self.max_cut)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return

        async def upstream() -> None:
            try:
                while chunk := await reader.read(65536):
                    up_writer.write(chunk)
                    await up_writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                up_writer.close()

        async def downstream() -> None:
            nonlocal budget
            try:
                while chunk := await up_reader.read(4096):
                    if len(chunk) >= budget:
                        writer.write(chunk[:budget])
                        await writer.drain()
                        self.cuts += 1
                        writer.transport.abort()
                        up_writer.transport.abort()
                        return
                    budget -= len(chunk)
                    writer.write(chunk)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        up_task = asyncio.create_task(upstream())
        await downstream()
        up_task.cancel()
