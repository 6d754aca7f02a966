"""Bad input is one clear line on stderr and the right exit code, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.cli.conftest import Run, fttui
from tests.conftest import OpenAIFixture, ServerProcess, free_port


def one_line(run: Run, code: int, *needles: str) -> None:
    assert run.code == code, (run.code, run.err)
    assert "Traceback" not in run.err
    lines = [x for x in run.err.splitlines() if x.strip()]
    assert len(lines) == 1, run.err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_flags_and_files_stop_before_anything_is_sent(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing may be sent: nothing listens
    good = tmp_path / "t.jsonl"
    good.write_text(json.dumps({"prompt": "a\n\n###\n\n", "completion": " b END"}) + "\n")
    create = ("jobs", "create", "-t", str(good), "-m", "davinci-002")

    one_line(
        fttui("jobs", "create", "-t", str(tmp_path / "missing.jsonl"), "-m", "m", base_url=down),
        2, "training file", "missing.jsonl: no such file",
    )  # fmt: skip
    one_line(
        fttui("files", "upload", str(tmp_path / "nope.jsonl"), base_url=down), 2, "no such file"
    )
    one_line(
        fttui(*create, "--n_epochs", "zero", base_url=down), 2, "--n_epochs 'zero'", "an integer"
    )
    one_line(fttui(*create, "--n_epochs", "0", base_url=down), 2, "n_epochs must be in [1, 50]")
    one_line(
        fttui(*create, "--learning_rate_multiplier", "-1", base_url=down),
        2, "learning_rate_multiplier must be in (0, 10]",
    )  # fmt: skip
    one_line(fttui(*create, "--method", "magic", base_url=down), 2, "--method", "magic")
    one_line(fttui(*create, "--metadata", "novalue", base_url=down), 2, "expected KEY=VALUE")
    one_line(fttui(*create, "--integration", "slack:x", base_url=down), 2, "wandb:PROJECT")
    one_line(fttui(*create, "--beta", "0.1", "--method", "supervised", base_url=down), 2, "DPO")
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps({"type": "string_check", "name": "g", "operation": "eq"}))
    one_line(fttui(*create, "--grader", str(grader), base_url=down), 2, "--grader", "grader.")
    one_line(fttui(*create, "--method", "reinforcement", base_url=down), 2, "needs --grader")
    one_line(fttui("jobs", "list", "--base-url", "ftp://x"), 2, "--base-url must start with http")
    one_line(fttui("jobs", "get", base_url=down), 2, "Missing argument")
    # An unreachable backend once the flags are right: exit 4, one line naming it.
    one_line(fttui("jobs", "create", "-t", "file-abc", "-m", "m", base_url=down), 4, down)


def test_the_data_check_stops_a_bad_file_and_unknown_ids_are_not_found(
    server: ServerProcess, tmp_path: Path
) -> None:
    url = server.base_url
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": " b"}\n{"prompt": "broken\n')
    run = fttui("jobs", "create", "-t", str(bad), "-m", "davinci-002", base_url=url)
    assert run.code == 2 and "Traceback" not in run.err
    assert "the data check found" in run.err and "nothing was uploaded" in run.err
    assert "line 2" in run.err or "2" in run.err  # the report names the line
    assert httpx.get(f"{url}/files").json()["data"] == []

    one_line(fttui("jobs", "follow", "ftjob-nope", base_url=url), 3, "ftjob-nope")
    one_line(fttui("jobs", "results", "ftjob-nope", base_url=url), 3, "ftjob-nope")
    one_line(fttui("jobs", "cancel", "ftjob-nope", base_url=url), 3, "ftjob-nope")
    one_line(fttui("models", "delete", "nope:ft-x", base_url=url), 3, "nope:ft-x")
    one_line(fttui("files", "download", "file-nope", "-o", str(tmp_path / "x"), base_url=url), 3)
    # An unknown file in a create body is a 400 naming the param (as OpenAI answers): bad input.
    one_line(
        fttui("jobs", "create", "-t", "file-nope", "-m", "davinci-002", base_url=url),
        2, "fttui jobs create: ", "file-nope", "training_file",
    )  # fmt: skip


def test_untrusted_text_is_shown_not_obeyed(openai_fixture: OpenAIFixture, tmp_path: Path) -> None:
    """A file name with an escape sequence (a backend's data) prints as `\\x1b`; --json
    keeps the exact data with the control written as a JSON escape."""
    evil = "evil\x1b[2J\x1b]0;pwned\x1b\\\u202e.jsonl"  # clear screen, set title, RLO
    body = b'{"messages": []}\n'
    httpx.post(
        f"{openai_fixture.base_url}/files",
        files={"file": (evil, body, "application/jsonl")},
        data={"purpose": "fine-tune"},
    ).raise_for_status()
    listed = fttui("files", "list", "--api-key", "sk-fixture", base_url=openai_fixture.base_url)
    assert listed.code == 0, listed.err
    assert "\x1b" not in listed.out and "\u202e" not in listed.out
    shown = "evil" + "\\x1b[2J" + "\\x1b]0;pwned" + "\\x1b\\" + "\\u202e" + ".jsonl"
    assert shown in listed.out
    as_json = fttui(
        "files", "list", "--json", "--api-key", "sk-fixture", base_url=openai_fixture.base_url
    )
    assert "\x1b" not in as_json.out and "\u202e" not in as_json.out
    assert evil in {f["filename"] for f in json.loads(as_json.out)["data"]}
