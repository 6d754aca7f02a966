"""Try model asks each model where its backend serves it.

OpenAI serves its completions models (davinci-002 and its fine-tunes) on
/v1/completions and every other model on /v1/chat/completions only (the fixture
server, made of OpenAI's published examples, refuses the wrong one as OpenAI does);
the local server serves both, and a model trained on a chat file is asked as a chat
model, one trained on prompt/completion lines as a completions model.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import OpenAIFixture, ServerProcess, free_port, register_tiny_model
from textual.widgets import Label, Static, TextArea

from fttui.api import ChatCompletion, Client, Completion
from fttui.app import FtTuiApp
from fttui.screens.try_model import TryModelScreen
from widgets import JobTable

from .conftest import wait_for
from .test_openai_backend import fixture_app


async def _try(pilot, app: FtTuiApp, job_id: str) -> TryModelScreen:
    main = app.main
    await wait_for(pilot, lambda: len(main.query_one(JobTable).jobs) > 0, what="jobs")
    assert main.query_one(JobTable).select_id(job_id)
    await wait_for(pilot, lambda: main.selected_job_id == job_id, what="selection")
    await pilot.press("t")
    await wait_for(pilot, lambda: isinstance(app.screen, TryModelScreen), what="try dialog")
    return app.screen  # type: ignore[return-value]


async def _send(pilot, trial: TryModelScreen, prompt: str) -> None:
    trial.query_one("#try-prompt", TextArea).text = prompt
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: trial.last_completion is not None, timeout=60, what="answer")


@pytest.mark.parametrize(
    ("job_id", "path", "kind"),
    [
        # ft:davinci-002:my-org:custom_suffix:7q8mpxmy, OpenAI's retrieve example.
        ("ftjob-succeeded", "/v1/completions", Completion),
        # No fine-tuned model yet: its base, gpt-4o-mini, a chat model.
        ("ftjob-running", "/v1/chat/completions", ChatCompletion),
    ],
)
async def test_openai_models_are_asked_on_their_endpoint(
    openai_fixture: OpenAIFixture, job_id: str, path: str, kind: type
) -> None:
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(80, 24)) as pilot:
        trial = await _try(pilot, app, job_id)
        await _send(pilot, trial, "Say this is a test")
        assert isinstance(trial.last_completion, kind)
        shown = str(trial.query_one("#try-output", Static).render())
        assert "This is indeed a test" in shown or "How can I assist you today?" in shown
    asked = [p for m, p in openai_fixture.account.requests if p.endswith("completions")]
    assert asked == [path]


async def test_a_prompt_from_the_validation_file(
    openai_fixture: OpenAIFixture, tmp_path: Path
) -> None:
    lines = [
        {"messages": [{"role": "user", "content": f"question {i}"},
                      {"role": "assistant", "content": f"answer {i}"}]}
        for i in range(3)
    ]  # fmt: skip
    path = tmp_path / "valid.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    acct = openai_fixture.account
    with httpx.Client(base_url=openai_fixture.base_url) as http:
        uploaded = http.post(
            "/files", files={"file": path.open("rb")}, data={"purpose": "fine-tune"}
        ).json()
    acct.job("ftjob-running")["validation_file"] = uploaded["id"]
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(80, 24)) as pilot:
        trial = await _try(pilot, app, "ftjob-running")
        prompt = trial.query_one("#try-prompt", TextArea)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: prompt.text == "question 0", what="first example")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: prompt.text == "question 1", what="next example")


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> ServerProcess:
    data = tmp_path_factory.mktemp("try-data")
    register_tiny_model(data, tiny_model_dir)
    srv = ServerProcess(data_dir=data, port=free_port(), extra_args=("--concurrency", "0"))
    srv.start()
    yield srv  # type: ignore[misc]
    srv.stop()


def _upload(server: ServerProcess, tmp_path: Path, name: str, lines: list[dict]) -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with path.open("rb") as fh:
        answer = httpx.post(
            f"{server.base_url}/files", files={"file": fh}, data={"purpose": "fine-tune"}
        )
    answer.raise_for_status()
    return str(answer.json()["id"])


@pytest.mark.parametrize("fmt", ["chat", "prompt_completion"])
async def test_local_models_are_asked_as_they_were_trained(
    tiny_server: ServerProcess, tmp_path: Path, fmt: str
) -> None:
    if fmt == "chat":
        lines = [{"messages": [{"role": "user", "content": f"hi {i}"},
                               {"role": "assistant", "content": f"hello {i}"}]}
                 for i in range(12)]  # fmt: skip
        kind: type = ChatCompletion
    else:
        lines = [{"prompt": f"hi {i}\n\n###\n\n", "completion": f" hello {i}\n"}
                 for i in range(12)]  # fmt: skip
        kind = Completion
    file_id = _upload(tiny_server, tmp_path, f"{fmt}.jsonl", lines)
    app = FtTuiApp(Client(tiny_server.base_url, max_retries=1))
    async with app.run_test(size=(80, 24)) as pilot:
        trial = TryModelScreen(app.client, "tiny-test", training_file=file_id)
        await app.push_screen(trial)
        endpoint = trial.query_one("#try-endpoint", Label)
        word = "chat model" if fmt == "chat" else "completions model"
        await wait_for(pilot, lambda: word in str(endpoint.render()), timeout=30, what=word)
        trial.query_one("#try-max-tokens").value = "4"  # type: ignore[attr-defined]
        await _send(pilot, trial, "hi 3")
        assert isinstance(trial.last_completion, kind)
