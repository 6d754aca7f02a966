"""The server stores names as data: control characters in any client string it keeps
and shows again are refused with a 400 naming the field, and its own log lines
quote client strings safely (no raw ESC or C1 in server.log)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ServerProcess

from .conftest import StartServer
from .helpers import PROMPT_COMPLETION, assert_openai_error, client, upload

# What a hostile client would try: CSI clear screen, OSC 0 title, OSC 52 clipboard,
# 8-bit CSI (C1), a bidi override, DEL, a tab and a newline.
BAD = [
    "\x1b[2J",
    "\x1b]0;pwned\x07",
    "\x1b]52;c;cHduZWQ=\x07",
    "\x9b6n",
    "x\u202egpj.exe",
    "a\x7fb",
    "a\tb",
    "a\nb",
]


@pytest.fixture(scope="module")
def srv(start_server: StartServer) -> ServerProcess:
    return start_server("--concurrency", "0")  # jobs stay queued: nothing trains


@pytest.fixture(scope="module")
def training_file(srv: ServerProcess) -> str:
    with client(srv) as c:
        resp = upload(c, PROMPT_COMPLETION)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["id"])


def _raw_upload(c: httpx.Client, filename: bytes) -> httpx.Response:
    """A multipart upload whose filename bytes are sent as given (httpx would
    percent-encode a tab or newline in it, as browsers do)."""
    boundary = b"fttui-test-boundary"
    body = b"".join(
        [
            b"--" + boundary + b"\r\n",
            b'Content-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n',
            b"--" + boundary + b"\r\n",
            b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n',
            b"Content-Type: application/octet-stream\r\n\r\n",
            PROMPT_COMPLETION,
            b"\r\n--" + boundary + b"--\r\n",
        ]
    )
    headers = {"Content-Type": "multipart/form-data; boundary=" + boundary.decode()}
    return c.post("/files", content=body, headers=headers)


@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_upload_with_a_control_character_in_its_name_is_refused(
    srv: ServerProcess, bad: str
) -> None:
    with client(srv) as c:
        before = {f["id"] for f in c.get("/files").json()["data"]}
        err = assert_openai_error(
            _raw_upload(c, f"data{bad}.jsonl".encode()),
            400,
            param="file",
            contains="file name contains U+",
        )
        assert err["code"] == "invalid_characters"
        assert {f["id"] for f in c.get("/files").json()["data"]} == before  # nothing stored
    assert not list((srv.data_dir / "tmp").glob("upload-*"))  # no temp file left behind


def test_printable_unicode_names_are_stored_as_given(srv: ServerProcess) -> None:
    name = "données-数据 [v2] (final).jsonl"
    with client(srv) as c:
        resp = upload(c, PROMPT_COMPLETION, name=name)
        assert resp.status_code == 200, resp.text
        assert c.get(f"/files/{resp.json()['id']}").json()["filename"] == name


def _job(c: httpx.Client, training_file: str, **fields: Any) -> httpx.Response:
    return c.post(
        "/fine_tuning/jobs", json={"model": "ada", "training_file": training_file, **fields}
    )


@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_job_strings_with_control_characters_are_refused(
    srv: ServerProcess, training_file: str, bad: str
) -> None:
    with client(srv) as c:
        jobs_before = len(c.get("/fine_tuning/jobs", params={"limit": 1000}).json()["data"])
        for fields, param in (
            ({"suffix": f"s{bad}"}, "suffix"),
            ({"metadata": {"team": f"v{bad}"}}, "metadata"),
            ({"metadata": {f"k{bad}": "v"}}, "metadata"),
            (
                {
                    "hyperparameters": {
                        "compute_classification_metrics": False,
                        "classification_n_classes": 2,
                        "classification_positive_class": f" yes{bad}",
                    }
                },
                "hyperparameters.classification_positive_class",
            ),
        ):
            err = assert_openai_error(
                _job(c, training_file, **fields), 400, param=param, contains="U+"
            )
            assert err["code"] == "invalid_characters", err
        # The legacy endpoint shares the rule.
        resp = c.post(
            "/fine-tunes", json={"training_file": training_file, "model": "ada", "suffix": bad}
        )
        assert_openai_error(resp, 400, param="suffix", contains="U+")
        jobs_after = len(c.get("/fine_tuning/jobs", params={"limit": 1000}).json()["data"])
        assert jobs_after == jobs_before  # nothing stored


def test_lone_surrogate_in_a_json_string_is_a_400_not_a_crash(
    srv: ServerProcess, training_file: str
) -> None:
    # A JSON escape for a lone surrogate (json.dumps would write it the same way).
    body = json.dumps({"model": "ada", "training_file": training_file, "metadata": {"k": "\udc80"}})
    with client(srv) as c:
        resp = c.post(
            "/fine_tuning/jobs", content=body, headers={"Content-Type": "application/json"}
        )
        err = assert_openai_error(resp, 400, param="metadata", contains="U+DC80")
        assert "lone surrogate" in err["message"]


def test_clean_strings_are_accepted(srv: ServerProcess, training_file: str) -> None:
    with client(srv) as c:
        resp = _job(
            c,
            training_file,
            suffix="reviews v2",
            metadata={"équipe": "données [x] 数据"},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["metadata"] == {"équipe": "données [x] 数据"}


def _raw_request(srv: ServerProcess, target: bytes) -> None:
    """A request line exactly as given (httpx would quote it), answer ignored."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass


def test_server_log_never_holds_a_raw_escape(srv: ServerProcess, training_file: str) -> None:
    with client(srv) as c:
        # Percent-encoded: the server decodes the path before logging and routing.
        for path in (
            "/files/%1b%5b2J%1b%5d0%3bpwned%07",
            "/fine_tuning/jobs/%1b%5d52%3bc%3bcHduZWQ%3d%07",
            "/nowhere/%c2%9b6n/%e2%80%ae",
        ):
            resp = c.get(path)
            assert resp.status_code == 404
            message = resp.json()["error"]["message"]
            assert "\x1b" not in message and "\x9b" not in message and "\u202e" not in message
            assert "\\x1b" in message or "\\x9b" in message
        c.get("/files", params={"after": "\x1b[2J\x1b]0;pwned\x07", "limit": 5})
        upload(c, PROMPT_COMPLETION, name="x\x1b]0;pwned\x07.jsonl")
    # Raw bytes in the request target and query (what a hand-made client can send).
    for target in (b"/v1/files?after=\x1b[2J", b"/v1/\x1b]0;pwned\x07", b"/v1/files/\xc2\x9b6n"):
        with contextlib.suppress(OSError):  # refusing such a request outright is fine too
            _raw_request(srv, target)
    time.sleep(0.5)  # the access log line is written after the response
    log = (srv.data_dir / "server.log").read_bytes()
    assert b"/files/" in log  # the requests were logged at all
    # server.log is a file, so uvicorn adds no colours: not a single ESC is expected.
    for raw in (b"\x1b", b"\x07", b"\xc2\x9b", b"\xe2\x80\xae"):
        assert raw not in log, f"{raw!r} in server.log:\n{log[-3000:]!r}"


_LOGGING_CHILD = r"""
import logging, sys
from pathlib import Path
from fttui.server import logfile

logfile.setup(Path(sys.argv[1]))
# An access line with a decoded path (uvicorn before 0.3x logged it so), as uvicorn logs it.
logging.getLogger("uvicorn.access").info(
    '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/v1/files/\x1b[2J\x9b6n", "1.1", 404
)
log = logging.getLogger("fttui.server")
log.warning("removing %s", "x\x1b]0;pwned\x07")
try:
    raise ValueError("bad name \x1b]52;c;cHduZWQ=\x07 \u202eexe")
except ValueError:
    log.exception("internal error on %s %s", "GET", "/v1/\x1b[2J")
"""


def test_server_logging_shows_client_strings_escaped(tmp_path: Path) -> None:
    """`fttui serve`'s logging set-up (logfile.setup, in a child process) on records
    carrying client strings: an access line, a message, a traceback."""
    subprocess.run(
        [sys.executable, "-c", _LOGGING_CHILD, str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    log = (tmp_path / "server.log").read_bytes()
    for raw in (b"\x1b", b"\x07", b"\xc2\x9b", b"\xe2\x80\xae"):
        assert raw not in log, f"{raw!r} in {log!r}"
    text = log.decode()
    assert '"GET /v1/files/\\x1b[2J\\x9b6n HTTP/1.1" 404' in text
    assert "removing x\\x1b]0;pwned\\x07" in text
    assert "ValueError: bad name \\x1b]52;c;cHduZWQ=\\x07 \\u202eexe" in text


def test_a_failed_jobs_log_tail_is_stored_escaped(tmp_path: Path) -> None:
    """The trainer log's tail goes into a failed job's error, which every client reads."""
    from fttui.server.local_runner import log_tail

    log = tmp_path / "train.log"
    log.write_bytes(
        b"step 1\rstep 2\r\x1b[32mgreen\x1b[0m\n"
        b"KeyError: ' label\x1b]0;pwned\x07 \xc2\x9b6n \xe2\x80\xae'\n"
    )
    tail = log_tail(log)
    assert "\x1b" not in tail and "\x9b" not in tail and "\u202e" not in tail
    assert "\r" not in tail and "\x07" not in tail
    assert "\\x1b[32mgreen" in tail and "\\x1b]0;pwned\\x07" in tail
    # splitlines() already breaks progress-bar frames at "\r" into lines of their own.
    assert tail.splitlines()[-1].startswith("KeyError: ' label")
