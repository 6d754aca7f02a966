"""A backend failing part-way through a streamed answer (OpenAI's wire format: an
`error` chunk after the headers) ends `fttui try` with what arrived, then one line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.cli.conftest import fttui


def chunk(content: str) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


@contextmanager
def failing_stream() -> Iterator[str]:
    """A chat endpoint that streams two pieces, then OpenAI's error object."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            error = {"error": {"message": "The server had an error while processing your "
                               "request.", "type": "server_error", "param": None, "code": None}}  # fmt: skip
            for part in (
                chunk("Hello"),
                chunk(" wor\x1b[2Jld"),
                f"data: {json.dumps(error)}\n\n".encode(),
            ):
                self.wfile.write(part)
                self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_an_error_mid_stream_keeps_what_arrived_and_says_why() -> None:
    with failing_stream() as url:
        run = fttui("try", "gpt-4o-mini", "Hi", "--chat", base_url=url)
    assert run.code == 1
    assert run.out == "Hello wor\\x1b[2Jld\n"  # what arrived, the escape shown, not obeyed
    assert run.err.strip() == (
        "fttui try: POST /chat/completions: The server had an error while processing your request."
    )
