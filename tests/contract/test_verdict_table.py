"""One data contract, one verdict: ~40 example files, every layer agrees on each.

For each file (good and bad, in all three formats) this asks every layer that reads
training data whether the file can train, and which line is the first problem:

- the real local server (one for the whole table, the tiny model registered,
  `--concurrency 0`): the upload is refused naming the line, or accepted and then a
  job on it reaches `queued` or fails in `validating_files` naming the line;
- `fttui prepare --json` (exit code 2 and its error issues' lines);
- the TUI's pre-upload check, `fttui.data.check_file` (what the upload screen calls);
- the trainer's loader, `fttui.train.data.check_job_files`, with the tiny model's
  tokenizer and the trainer's token limit.

Format-level problems are refused at upload; what needs the model (token length,
text-only content, the job's method, overlap with the training file) fails the job
in validation, never after a model load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ServerProcess, free_port, register_tiny_model, wait_job_status

from fttui.cli import main as cli
from fttui.data import check_file
from fttui.data.tokenizing import token_limit
from fttui.train.data import DataError, check_job_files

MODEL = "tiny-test"
SEP = "\n\n###\n\n"


def pc(i: int, prompt: str | None = None, completion: str | None = None) -> dict[str, Any]:
    return {
        "prompt": f"cat number {i} says{SEP}" if prompt is None else prompt,
        "completion": " meow END" if completion is None else completion,
    }


def chat(i: int, *messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = list(messages) or [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": f"what does cat {i} say?"},
        {"role": "assistant", "content": "meow"},
    ]
    return {"messages": body, **extra}


def pref(i: int, **override: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "input": {"messages": [{"role": "user", "content": f"what does cat {i} say?"}]},
        "preferred_output": [{"role": "assistant", "content": "meow"}],
        "non_preferred_output": [{"role": "assistant", "content": "woof"}],
    }
    row.update(override)
    return row


# Only a name: the tiny model's template renders the definitions (as Qwen's do) and its
# window is 256 tokens of a small vocabulary.
TOOLS = [{"type": "function", "function": {"name": "sound_of"}}]


def tool_chat(i: int) -> dict[str, Any]:
    call = {
        "id": f"call_{i}",
        "type": "function",
        "function": {"name": "sound_of", "arguments": json.dumps({"animal": "cat"})},
    }
    return chat(
        i,
        {"role": "developer", "content": "use the tools"},
        {"role": "user", "content": f"what does cat {i} say?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": f"call_{i}", "content": "meow"},
        {"role": "assistant", "content": "it says meow"},
        tools=TOOLS,
        parallel_tool_calls=False,
    )


def lines(rows: list[Any]) -> bytes:
    """JSONL bytes; a bytes row is written verbatim (it carries its own newline or not)."""
    out = b""
    for row in rows:
        out += row if isinstance(row, bytes) else json.dumps(row).encode() + b"\n"
    return out


def good_pc(n: int = 6) -> list[Any]:
    return [pc(i) for i in range(n)]


@dataclass
class Case:
    name: str
    data: bytes
    ok: bool
    refused_at: str | None = None  # "upload" or "validation" (bad files only)
    line: int | None = None  # first line named (None: the file as a whole)
    method: str = "supervised"
    validation: bytes | None = None
    codes: set[str] = field(default_factory=set)  # error codes prepare must report


CASES = [
    # -- good ------------------------------------------------------------------------
    Case("pc", lines(good_pc()), True),
    Case("pc empty prompt (open-ended)", lines([pc(0, prompt=""), *good_pc(3)]), True),
    Case("pc blank line between", lines([pc(0), b"\n", b"   \n", pc(1)]), True),
    Case("pc utf-8 bom", b"\xef\xbb\xbf" + lines(good_pc(3)), True),
    Case("pc crlf", lines(good_pc(3)).replace(b"\n", b"\r\n"), True),
    Case("pc no final newline", lines(good_pc(3)).rstrip(b"\n"), True),
    Case("pc extra keys", lines([{**pc(0), "id": 7}, pc(1)]), True),
    Case("chat", lines([chat(i) for i in range(4)]), True),
    Case(
        "chat developer role",
        lines(
            [
                chat(
                    i,
                    {"role": "developer", "content": "be brief"},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": f"hello {i}"},
                )
                for i in range(3)
            ]
        ),
        True,
    ),
    Case("chat tools and tool calls", lines([tool_chat(i) for i in range(3)]), True),
    Case(
        "chat weight 0 on one turn",
        lines(
            [
                chat(
                    0,
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "bad answer", "weight": 0},
                    {"role": "user", "content": "again"},
                    {"role": "assistant", "content": "good answer", "weight": 1},
                )
            ]
        ),
        True,
    ),
    Case(
        "chat text content parts",
        lines(
            [
                chat(
                    0,
                    {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                    {"role": "assistant", "content": [{"type": "text", "text": "yo"}]},
                )
            ]
        ),
        True,
    ),
    Case("preference (dpo)", lines([pref(i) for i in range(3)]), True, method="dpo"),
    # -- refused at upload (the contract) ---------------------------------------------
    Case("invalid json", lines([pc(0), b'{"prompt": "x",\n', pc(2)]), False, "upload", 2),
    Case("not an object", lines([pc(0), b"[1, 2]\n"]), False, "upload", 2),
    Case("missing completion", lines([pc(0), {"prompt": "x"}]), False, "upload", 2),
    Case("empty completion", lines([pc(0), pc(1, completion="  ")]), False, "upload", 2),
    Case("prompt not a string", lines([{"prompt": 3, "completion": " x"}]), False, "upload", 1),
    Case("mixed formats", lines([pc(0), chat(1)]), False, "upload", 2),
    Case("both formats on a line", lines([{**pc(0), "messages": []}]), False, "upload", 1),
    Case("empty file", b"", False, "upload", None),
    Case("only blank lines", b"\n \n\n", False, "upload", None),
    Case(
        "nul byte",
        lines([pc(0)]) + b'{"prompt": "a\x00", "completion": " b"}\n',
        False,
        "upload",
        2,
    ),
    Case(
        "invalid utf-8",
        lines([pc(0)]) + b'{"prompt": "caf\xe9", "completion": " x"}\n',
        False,
        "upload",
        2,
    ),
    Case(
        "chat unknown role",
        lines(
            [
                chat(0),
                chat(1, {"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}),
            ]
        ),
        False,
        "upload",
        2,
    ),
    Case(
        # No assistant message, ending with a user message: a reinforcement prompt, which
        # a supervised job cannot train.
        "chat no assistant",
        lines([chat(0, {"role": "user", "content": "x"})]),
        False,
        "validation",
        None,
        codes={"method_mismatch"},
    ),
    Case(
        "chat every weight 0",
        lines(
            [
                chat(
                    0,
                    {"role": "user", "content": "x"},
                    {"role": "assistant", "content": "y", "weight": 0},
                )
            ]
        ),
        False,
        "upload",
        1,
    ),
    Case(
        "chat weight 2",
        lines(
            [
                chat(
                    0,
                    {"role": "user", "content": "x"},
                    {"role": "assistant", "content": "y", "weight": 2},
                )
            ]
        ),
        False,
        "upload",
        1,
    ),
    Case(
        "chat tool message without id",
        lines(
            [
                chat(
                    0,
                    {"role": "user", "content": "x"},
                    {"role": "tool", "content": "42"},
                    {"role": "assistant", "content": "y"},
                )
            ]
        ),
        False,
        "upload",
        1,
    ),
    Case(
        "chat tool call arguments not a string",
        lines(
            [
                chat(
                    0,
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": {"a": 1}},
                            }
                        ],
                    },
                )
            ]
        ),
        False,
        "upload",
        1,
    ),
    Case(
        "chat empty user content",
        lines(
            [
                chat(0),
                chat(1, {"role": "user", "content": " "}, {"role": "assistant", "content": "y"}),
            ]
        ),
        False,
        "upload",
        2,
    ),
    Case(
        "preference identical outputs",
        lines([pref(0), pref(1, non_preferred_output=[{"role": "assistant", "content": "meow"}])]),
        False,
        "upload",
        2,
        method="dpo",
    ),
    Case(
        "preference two preferred messages",
        lines([pref(0, preferred_output=[{"role": "assistant", "content": "a"}] * 2)]),
        False,
        "upload",
        1,
        method="dpo",
    ),
    Case(
        "preference output from the user",
        lines([pref(0, preferred_output=[{"role": "user", "content": "a"}])]),
        False,
        "upload",
        1,
        method="dpo",
    ),
    Case(
        "preference without non_preferred_output",
        lines([{k: v for k, v in pref(0).items() if k != "non_preferred_output"}]),
        False,
        "upload",
        1,
        method="dpo",
    ),
    # -- accepted at upload, refused in validating_files (the model, the job) ----------
    Case(
        "pc too long for the model",
        lines([pc(0), pc(1, prompt="cat says " * 200 + SEP)]),
        False,
        "validation",
        2,
        codes={"too_long"},
    ),
    Case(
        "chat too long for the model",
        lines(
            [
                chat(0),
                chat(
                    1,
                    {"role": "user", "content": "meow " * 300},
                    {"role": "assistant", "content": "ok"},
                ),
            ]
        ),
        False,
        "validation",
        2,
        codes={"too_long"},
    ),
    Case(
        "chat image for a text-only trainer",
        lines(
            [
                chat(
                    0,
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "what is this?"},
                            {
                                "type": "image_url",
                                "image_url": {"url": "https://example.com/cat.png"},
                            },
                        ],
                    },
                    {"role": "assistant", "content": "a cat"},
                )
            ]
        ),
        False,
        "validation",
        1,
        codes={"unsupported_content"},
    ),
    Case(
        "preference file for a supervised job",
        lines([pref(i) for i in range(3)]),
        False,
        "validation",
        None,
        codes={"method_mismatch"},
    ),
    Case(
        "chat file for a dpo job",
        lines([chat(i) for i in range(3)]),
        False,
        "validation",
        None,
        codes={"method_mismatch"},
        method="dpo",
    ),
    Case(
        "validation file overlaps training",
        lines(good_pc(4)),
        False,
        "validation",
        2,
        validation=lines([pc(10), pc(2)]),
        codes={"train_valid_overlap"},
    ),
]


def first_line(text: str) -> int | None:
    """The first line number a message names ("line 3: ...", "on lines 3 (300 tokens)")."""
    match = re.search(r"\blines? (\d+)", text)
    return int(match.group(1)) if match else None


@pytest.fixture(scope="module")
def table_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("verdicts")
    register_tiny_model(data_dir, tiny_model_dir, MODEL)
    srv = ServerProcess(data_dir=data_dir, port=free_port(), extra_args=("--concurrency", "0"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_model_dir: Path) -> tuple[Any, int]:
    """The trainer's tokenizer and limit for the tiny model (as run.py computes them)."""
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    return tokenizer, token_limit(256, AutoConfig.from_pretrained(str(tiny_model_dir)))


@dataclass
class Verdict:
    ok: bool
    line: int | None
    detail: str


def server_verdict(srv: ServerProcess, case: Case, tmp: Path) -> tuple[Verdict, str]:
    """(verdict, where the server refused: "upload" | "validation" | "")."""
    with httpx.Client(base_url=srv.base_url, timeout=60) as api:
        ids = []
        for name, content in (("train", case.data), ("valid", case.validation)):
            if content is None:
                continue
            resp = api.post(
                "/files",
                data={"purpose": "fine-tune"},
                files={"file": (f"{name}.jsonl", content)},
            )
            if resp.status_code != 200:
                assert resp.status_code == 400, resp.text
                message = resp.json()["error"]["message"]
                return Verdict(False, first_line(message), message), "upload"
            ids.append(resp.json()["id"])
        body: dict[str, Any] = {"model": MODEL, "training_file": ids[0]}
        if len(ids) > 1:
            body["validation_file"] = ids[1]
        if case.method != "supervised":
            body["method"] = {"type": case.method}
        resp = api.post("/fine_tuning/jobs", json=body)
        assert resp.status_code == 200, resp.text
        job = wait_job_status(api, resp.json()["id"], {"queued", "failed"}, 90, srv.data_dir)
        if job["status"] == "queued":
            return Verdict(True, None, ""), ""
        message = job["error"]["message"]
        return Verdict(False, first_line(message), message), "validation"


def prepare_verdict(
    capsys: pytest.CaptureFixture[str],
    srv: ServerProcess,
    case: Case,
    path: Path,
    valid: Path | None,
) -> tuple[Verdict, set[str]]:
    argv = ["--data-dir", str(srv.data_dir), "prepare", str(path), "--model", MODEL, "--json"]
    argv += ["--method", case.method]
    if valid is not None:
        argv += ["--validation", str(valid)]
    code = cli(argv)
    report = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == code
    errors = [i for i in report["issues"] if i["severity"] == "error"]
    assert (code == 2) == bool(errors)
    lines = sorted(line for i in errors for line in i["lines"])
    detail = "; ".join(i["message"] for i in errors)
    return Verdict(code != 2, lines[0] if lines else None, detail), {i["code"] for i in errors}


def tui_verdict(srv: ServerProcess, case: Case, path: Path, valid: Path | None) -> Verdict:
    report = check_file(
        path, validation=valid, model=MODEL, data_dir=str(srv.data_dir), method=case.method
    )
    lines = sorted(line for i in report.errors for line in i.lines)
    return Verdict(not report.errors, lines[0] if lines else None, str(report.errors))


def trainer_verdict(tok: tuple[Any, int], case: Case, path: Path, valid: Path | None) -> Verdict:
    tokenizer, limit = tok
    try:
        train, _ = check_job_files(path, valid, tokenizer, limit, case.method, keep=True)
    except DataError as exc:
        return Verdict(False, first_line(str(exc)), str(exc))
    assert train.examples, "a good file yields examples to train on"
    return Verdict(True, None, "")


def test_every_layer_gives_the_same_verdict(
    table_server: ServerProcess,
    tiny_tokenizer: tuple[Any, int],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    assert len(CASES) >= 30
    failures = []
    for n, case in enumerate(CASES):
        path = tmp_path / f"case{n}.jsonl"
        path.write_bytes(case.data)
        valid = None
        if case.validation is not None:
            valid = tmp_path / f"case{n}_valid.jsonl"
            valid.write_bytes(case.validation)
        server, where = server_verdict(table_server, case, tmp_path)
        prepared, codes = prepare_verdict(capsys, table_server, case, path, valid)
        verdicts = {
            "server": server,
            "prepare": prepared,
            "tui check": tui_verdict(table_server, case, path, valid),
            "trainer": trainer_verdict(tiny_tokenizer, case, path, valid),
        }
        problems = []
        for layer, verdict in verdicts.items():
            if verdict.ok != case.ok:
                problems.append(f"{layer} says ok={verdict.ok}: {verdict.detail[:300]}")
            elif not case.ok and verdict.line != case.line:
                problems.append(f"{layer} names line {verdict.line}: {verdict.detail[:300]}")
        if not case.ok and where != case.refused_at:
            problems.append(f"server refused at {where!r}, expected {case.refused_at!r}")
        if not codes >= case.codes:
            problems.append(f"prepare reports {sorted(codes)}, expected {sorted(case.codes)}")
        if problems:
            failures.append(f"{case.name}:\n  " + "\n  ".join(problems))
    assert not failures, "\n".join(failures)
