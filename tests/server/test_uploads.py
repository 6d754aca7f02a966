"""Malformed uploads: a clear 4xx naming the line, the server keeps serving, and no
half-written bytes are left in the data directory."""

from __future__ import annotations

import json

import pytest
from conftest import ServerProcess

from .conftest import StartServer
from .helpers import PROMPT_COMPLETION, assert_openai_error, client, files_on_disk, upload

MAX_FILE = 20_000
MAX_LINE = 4_096
GOOD = b'{"prompt": "a ->", "completion": " b END"}\n'
CHAT_OK = (
    b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
)


@pytest.fixture(scope="module")
def small_server(start_server: StartServer) -> ServerProcess:
    return start_server(
        "--concurrency",
        "0",
        "--max-file-bytes",
        str(MAX_FILE),
        env={"FTTUI_MAX_LINE_BYTES": str(MAX_LINE)},
    )


# (id, file bytes, status, text the message must contain)
CORPUS: list[tuple[str, bytes, int, str]] = [
    (
        "bad utf-8",
        GOOD + b'{"prompt": "caf\xe9", "completion": " x"}\n',
        400,
        "line 2: not valid UTF-8",
    ),
    ("truncated json", GOOD + GOOD + b'{"prompt": "a", "compl', 400, "line 3: not valid JSON"),
    ("empty file", b"", 400, "file is empty"),
    ("only blank lines", b"\n\n\n", 400, "no examples"),
    ("missing completion", GOOD + b'{"prompt": "a"}\n', 400, "line 2: missing 'completion'"),
    ("missing prompt", b'{"completion": " a"}\n', 400, "line 1: missing 'prompt'"),
    (
        "no known keys",
        b'{"text": "a"}\n',
        400,
        "line 1: needs 'prompt' and 'completion', or 'messages'",
    ),
    (
        "empty completion",
        GOOD + b'{"prompt": "a", "completion": " "}\n',
        400,
        "line 2: 'completion' is empty",
    ),
    (
        "prompt not string",
        b'{"prompt": 5, "completion": " a"}\n',
        400,
        "line 1: 'prompt' must be a string",
    ),
    (
        "completion null",
        GOOD * 3 + b'{"prompt": "a", "completion": null}\n',
        400,
        "line 4: 'completion' must be a string",
    ),
    ("array line", GOOD + b"[1, 2]\n", 400, "line 2: expected a JSON object, got an array"),
    ("string line", b'"just text"\n', 400, "line 1: expected a JSON object, got a string"),
    ("number line", GOOD + b"42\n", 400, "line 2: expected a JSON object, got a number"),
    (
        "huge single line",
        GOOD + b'{"prompt": "' + b"x" * (MAX_LINE + 10) + b'", "completion": " a"}\n',
        400,
        f"line 2: the line is longer than {MAX_LINE} bytes",
    ),
    (
        "crlf with error on line 3",
        GOOD.replace(b"\n", b"\r\n") * 2 + b"{oops}\r\n",
        400,
        "line 3: not valid JSON",
    ),
    (
        "nul byte",
        GOOD + b'{"prompt": "a\x00", "completion": " b"}\n',
        400,
        "line 2: contains a NUL byte at column 14",
    ),
    ("messages not list", b'{"messages": "hi"}\n', 400, "line 1: 'messages' must be an array"),
    ("messages empty", b'{"messages": []}\n', 400, "line 1: 'messages' is empty"),
    (
        "unknown role",
        CHAT_OK + b'{"messages": [{"role": "robot", "content": "x"}]}\n',
        400,
        "line 2: messages[0].role 'robot' is not one of",
    ),
    (
        "no assistant turn",
        # (ending with a user message it would be a reinforcement prompt: valid)
        b'{"messages": [{"role": "system", "content": "x"}]}\n',
        400,
        "line 1: no assistant message",
    ),
    (
        "content wrong type",
        b'{"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "a"}]}\n',
        400,
        "line 1: messages[0].content must be a string",
    ),
    (
        "message without role",
        b'{"messages": [{"content": "x"}]}\n',
        400,
        "line 1: messages[0] has no 'role'",
    ),
    (
        "mixed formats",
        GOOD + CHAT_OK,
        400,
        "line 2: this example is in chat ('messages') format but line 1 is in prompt/completion",
    ),
    (
        "both formats on one line",
        b'{"prompt": "a", "completion": " b", "messages": []}\n',
        400,
        "line 1: has the keys of both the prompt/completion and the chat formats",
    ),
    ("many errors", b"[]\n" * 30, 400, "line 1: expected a JSON object"),
    (
        "oversize file",
        GOOD * (MAX_FILE // len(GOOD) + 1),
        413,
        f"larger than the {MAX_FILE}-byte limit",
    ),
]


@pytest.mark.parametrize(
    ("content", "status", "text"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS]
)
def test_malformed_upload_is_refused_cleanly(
    small_server: ServerProcess, content: bytes, status: int, text: str
) -> None:
    with client(small_server) as api:
        before = api.get("/files").json()["data"]
        err = assert_openai_error(upload(api, content), status, param="file", contains=text)
        if status == 400:
            assert err["code"] == "invalid_file_format"
            assert err["errors"] and err["errors"][0]["message"]
        # the server keeps serving, nothing was recorded, nothing half-written is left
        assert api.get("/files").json()["data"] == before
        assert api.get("/fttui/health").json()["status"] == "ok"
    names, tmp = files_on_disk(small_server.data_dir)
    assert tmp == []
    assert names == sorted(f["id"] for f in before)


def test_many_errors_are_summarised(small_server: ServerProcess) -> None:
    with client(small_server) as api:
        err = assert_openai_error(upload(api, b"[]\n" * 30), 400)
    assert "and 20 more problem(s)" in err["message"]
    assert err["error_count"] == 30 and [e["line"] for e in err["errors"]] == list(range(1, 11))


@pytest.mark.parametrize(
    ("build", "param", "text"),
    [
        (
            lambda api: api.post("/files", data={"purpose": "fine-tune"}),
            "file",
            "Content-Type multipart/form-data",
        ),
        (
            lambda api: api.post(
                "/files", data={"purpose": "fine-tune"}, files={"other": ("x", GOOD)}
            ),
            "file",
            "Missing required field 'file'",
        ),
        (
            lambda api: api.post("/files", files={"file": ("t.jsonl", GOOD)}),
            "purpose",
            "Missing required field 'purpose'",
        ),
        (
            lambda api: upload(api, GOOD, purpose="training"),
            "purpose",
            "Invalid purpose 'training'",
        ),
        (
            lambda api: api.post(
                "/files",
                content=b"garbage",
                headers={"content-type": "multipart/form-data; boundary=zz"},
            ),
            "file",
            "",
        ),
    ],
    ids=[
        "not multipart",
        "missing file field",
        "missing purpose",
        "bad purpose",
        "broken multipart",
    ],
)
def test_bad_form_is_refused(small_server: ServerProcess, build, param: str, text: str) -> None:
    with client(small_server) as api:
        resp = build(api)
        err = assert_openai_error(resp, 400, param=param, contains=text)
        assert err["message"]
    assert files_on_disk(small_server.data_dir)[1] == []


def test_good_uploads_keep_their_meta_and_crlf_is_accepted(small_server: ServerProcess) -> None:
    with client(small_server) as api:
        # The data contract's decisions: a UTF-8 BOM, blank lines between examples and an
        # empty prompt are accepted (prepare warns about them), as the trainer accepts them.
        for name, content in (
            ("bom", b"\xef\xbb\xbf" + GOOD),
            ("blank line", GOOD + b"\n  \n" + GOOD),
            ("empty prompt", b'{"prompt": "", "completion": " b END"}\n' + GOOD),
        ):
            accepted = upload(api, content, f"{name}.jsonl")
            assert accepted.status_code == 200, (name, accepted.text)
        crlf = upload(api, GOOD.replace(b"\n", b"\r\n") * 3, "crlf.jsonl")
        assert crlf.status_code == 200, crlf.text
        assert crlf.json()["fttui"] == {"examples": 3, "lines": 3, "format": "prompt_completion"}
        batch = upload(api, b"\x00\xffnot json at all", "blob.bin", purpose="batch")
        assert batch.status_code == 200 and batch.json()["purpose"] == "batch"  # stored as is
        assert api.get(f"/files/{batch.json()['id']}/content").content == b"\x00\xffnot json at all"
        no_newline = upload(api, CHAT_OK.rstrip(b"\n"), "nonl.jsonl")
        assert no_newline.json()["fttui"]["format"] == "chat"


def test_quota_is_enforced_and_freed_by_delete(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0", "--quota-bytes", str(3 * len(PROMPT_COMPLETION) // 2))
    with client(srv) as api:
        first = upload(api, PROMPT_COMPLETION)
        assert first.status_code == 200
        err = assert_openai_error(
            upload(api, PROMPT_COMPLETION), 413, param="file", contains="quota"
        )
        assert err["code"] == "quota_exceeded"
        usage = api.get("/fttui/usage").json()
        assert usage["used_bytes"] == len(PROMPT_COMPLETION) and usage["files"] == 1
        assert files_on_disk(srv.data_dir) == ([first.json()["id"]], [])
        api.delete(f"/files/{first.json()['id']}")
        assert upload(api, PROMPT_COMPLETION).status_code == 200


def test_error_body_is_json_everywhere(small_server: ServerProcess) -> None:
    with client(small_server) as api:
        resp = upload(api, b"{")
    assert resp.headers["content-type"].startswith("application/json")
    json.loads(resp.text)
