"""Close the loop in the app: evaluate a succeeded job's model against its base (`e`)
and export it as a directory transformers loads (`E`).

A real local server trains the tiny model for real on the toy animal-sounds task
(once for the module); the app evaluates the fine-tuned model against the base on
the job's validation file through `fttui.api`, shows the metrics side by side and
every example on request, keeps the report (shown again when opened later, and by
`fttui eval --last`), and exports the model. Against the test double made of
OpenAI's published examples: the cost first, and no export (OpenAI keeps its models).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import OpenAIFixture, ServerProcess, free_port, register_tiny_model
from rich.console import Console
from textual.widgets import DataTable, Input, Label, Static

from fttui.api import Client
from fttui.app import FtTuiApp
from fttui.screens.evaluate import EvalScreen
from fttui.screens.export import ExportScreen
from tests.train.conftest import create_job, toy_lines, upload
from tests.train.conftest import wait_for as wait_job
from widgets import JobTable

from .conftest import wait_for
from .test_openai_backend import fixture_app

pytestmark = pytest.mark.slow


def _first_answer(srv: ServerProcess) -> None:
    body = {"model": "tiny-test", "prompt": "cat", "max_tokens": 1}
    httpx.post(f"{srv.base_url}/completions", json=body, timeout=240)


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[tuple[ServerProcess, dict[str, Any]]]:
    """A server and a succeeded job on the tiny model, with a validation file."""
    data = tmp_path_factory.mktemp("loop-data")
    register_tiny_model(data, tiny_model_dir)
    srv = ServerProcess(data_dir=data, port=free_port())
    srv.start()
    try:
        train = upload(srv, "train.jsonl", toy_lines(48))
        valid = upload(srv, "valid.jsonl", toy_lines(12, offset=100))
        job = create_job(srv, training_file=train, validation_file=valid, model="tiny-test", seed=3)
        # The server loads its inference engine (half a minute on a busy 2-core box)
        # while the trainer's own process trains, not after.
        warm = threading.Thread(target=_first_answer, args=(srv,), daemon=True)
        warm.start()
        job = wait_job(srv, job["id"], {"succeeded", "failed"}, timeout=240)
        warm.join(timeout=240)
        assert job["status"] == "succeeded", job.get("error")
        yield srv, job
    finally:
        srv.stop()


@pytest.fixture(autouse=True)
def _client_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where reports are kept (`fttui eval` keeps them there too): fresh per test."""
    path = tmp_path / "client"
    monkeypatch.setenv("FTTUI_DATA_DIR", str(path))
    return path


def _text(static: Static, width: int = 150) -> str:
    out = Console(width=width, file=io.StringIO(), color_system=None)
    out.print(static.content)
    return out.file.getvalue()  # type: ignore[attr-defined,no-any-return]


async def _select(pilot: Any, app: FtTuiApp, job_id: str) -> None:
    main = app.main
    table = main.query_one(JobTable)
    await wait_for(pilot, lambda: job_id in table.jobs, what="the job listed")
    assert table.select_id(job_id)
    await wait_for(pilot, lambda: main.selected_job_id == job_id, what="selection")


async def test_evaluate_a_job_against_its_base_and_see_it_again(
    trained: tuple[ServerProcess, dict[str, Any]],
) -> None:
    srv, job = trained
    tuned = job["fine_tuned_model"]
    app = FtTuiApp(Client(srv.base_url, max_retries=1))
    async with app.run_test(size=(160, 48)) as pilot:
        await _select(pilot, app, job["id"])
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EvalScreen), what="eval dialog")
        screen = app.screen
        assert isinstance(screen, EvalScreen)
        # The job's fine-tuned model, its base and its validation file.
        assert screen.query_one("#eval-model", Input).value == tuned
        assert screen.query_one("#eval-against", Input).value == "tiny-test"
        assert screen.query_one("#eval-file", Input).value == job["validation_file"]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.report is not None, timeout=120, what="report")
        assert screen.report is not None
        base, after = screen.report["runs"]
        assert (base["model"], after["model"]) == ("tiny-test", tuned)
        assert screen.report["task"] == "classification"
        assert after["metrics"]["accuracy"] > base["metrics"]["accuracy"]
        assert after["metrics"]["accuracy"] >= 0.9
        shown = _text(screen.query_one("#eval-report", Static))
        for words in ("accuracy", "weighted_f1", "change", "confusion", "tiny-test", tuned):
            assert words in shown, words
        status = str(screen.query_one("#eval-status", Label).render())
        assert "done in" in status

        examples = screen.query_one("#eval-examples", DataTable)
        assert not examples.display  # per example on demand
        await pilot.press("ctrl+e")
        assert examples.display and examples.row_count == 12
        row = [str(c) for c in examples.get_row_at(0)]
        assert "dog number 100 says" in row[1] and row[2] == "woof"
        assert row[4] == after["answers"][0].strip()
        await pilot.press("escape")  # the table has focus: escape closes the dialog
        await wait_for(pilot, lambda: not isinstance(app.screen, EvalScreen), what="closed")

        # Opened again: the report kept is shown at once, nothing asked.
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EvalScreen), what="again")
        again = app.screen
        assert isinstance(again, EvalScreen)
        await wait_for(pilot, lambda: again.report is not None, what="kept report")
        assert again.report is not None
        assert again.report["runs"][1]["metrics"] == after["metrics"]
        assert "last evaluation" in str(again.query_one("#eval-status", Label).render())


async def test_a_bad_file_is_named_with_its_line(
    trained: tuple[ServerProcess, dict[str, Any]], tmp_path: Path
) -> None:
    srv, _ = trained
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "a", "completion": " b"}) + "\n{not json\n")
    app = FtTuiApp(Client(srv.base_url, max_retries=1))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = EvalScreen(app.client, "tiny-test", file=str(bad))
        await app.push_screen(screen)
        await pilot.press("ctrl+s")
        status = screen.query_one("#eval-status", Label)
        await wait_for(pilot, lambda: "line 2" in str(status.render()), what="the bad line")
        assert "bad.jsonl line 2: not valid JSON" in str(status.render())
        screen.query_one("#eval-file", Input).value = "file-nope"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "file-nope" in str(status.render()), what="unknown file")
        assert screen.report is None


async def test_export_a_job_model_for_transformers(
    trained: tuple[ServerProcess, dict[str, Any]], tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    srv, job = trained
    app = FtTuiApp(Client(srv.base_url, max_retries=1))
    target = tmp_path / "exported"
    async with app.run_test(size=(80, 24)) as pilot:
        await _select(pilot, app, job["id"])
        await pilot.press("E")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), what="export dialog")
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        assert screen.model == job["fine_tuned_model"]
        screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.written is not None, timeout=120, what="export")
        assert "exported to" in str(screen.query_one("#export-status", Label).render())
    model = AutoModelForCausalLM.from_pretrained(target)
    tokenizer = AutoTokenizer.from_pretrained(target)
    assert model.config.model_type == "llama" and tokenizer.chat_template


async def test_openai_costs_first_and_keeps_its_models(
    openai_fixture: OpenAIFixture, tmp_path: Path
) -> None:
    valid = tmp_path / "greetings.jsonl"
    valid.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"Greeting number {i}"},
                        {"role": "assistant", "content": label},
                    ]
                }
            )
            + "\n"
            for i, label in enumerate(["Hello", "Hi"] * 3)
        )
    )
    app = fixture_app(openai_fixture)
    app.client.kind = "openai"  # as a profile of kind openai says
    asked = openai_fixture.account.bodies
    async with app.run_test(size=(80, 24)) as pilot:
        screen = EvalScreen(app.client, "gpt-4o-mini", file=str(valid))
        await app.push_screen(screen)
        status = screen.query_one("#eval-status", Label)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "cost $" in str(status.render()), what="the cost")
        assert "6 examples with 1 model(s)" in str(status.render())
        assert not [b for k, b in asked if k == "chat"]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.report is not None, timeout=30, what="report")
        assert len([b for k, b in asked if k == "chat"]) == 6
        assert screen.report is not None
        assert screen.report["runs"][0]["metrics"]["accuracy"] == pytest.approx(0.5)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EvalScreen), what="closed")

        export = ExportScreen(app.client, "gpt-4o-mini", directory=tmp_path)
        await app.push_screen(export)
        await pilot.press("ctrl+s")
        said = export.query_one("#export-status", Label)
        await wait_for(pilot, lambda: "local server" in str(said.render()), what="refusal")
        assert export.written is None
        assert not (tmp_path / "gpt-4o-mini").exists()
