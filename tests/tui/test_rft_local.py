"""A reinforcement job made in the TUI's form and trained by the local server (the tiny
model, for real): the form sends OpenAI's method object with the grader typed into it,
the job is followed to the end, the reward curves (train and validation reward
means, per step) come from the job's own metrics, the fine-tuned model is tried
(`t`: asked as a chat model, its answer on screen), and it is evaluated against its
base in the eval view (`e`), its answers scored by the job's own grader."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ServerProcess, running_server
from rich.console import Console
from textual.widgets import DataTable, Input, Label, Select, Static, TextArea

from fttui.screens.evaluate import EvalScreen
from fttui.screens.job_form import JobFormScreen
from fttui.screens.main import MainScreen
from fttui.screens.try_model import TryModelScreen
from widgets import EventLog, HyperparamForm, MetricsPanel

from .conftest import make_app, wait_for

pytestmark = pytest.mark.slow

GRADER = {
    "type": "text_similarity",
    "name": "close",
    "input": "{{sample.output_text}}",
    "reference": "{{item.want}}",
    "evaluation_metric": "fuzzy_match",
}


@pytest.fixture
def tiny_server(tmp_path: Path, tiny_model_dir: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "data", tiny_model_dir=tiny_model_dir) as srv:
        yield srv


def _upload(srv: ServerProcess, name: str, n: int, offset: int = 0) -> str:
    rows = [
        {"messages": [{"role": "user", "content": f"say {i}"}], "want": "aaaa"}
        for i in range(offset, offset + n)
    ]
    content = "".join(json.dumps(r) + "\n" for r in rows).encode()
    resp = httpx.post(
        f"{srv.base_url}/files",
        files={"file": (name, content)},
        data={"purpose": "fine-tune"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def _job(srv: ServerProcess, job_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{srv.base_url}/fine_tuning/jobs/{job_id}", timeout=30).json())


async def test_a_reinforcement_job_from_the_form_trains_and_plots_its_rewards(
    tiny_server: ServerProcess,
) -> None:
    train = _upload(tiny_server, "rft-train.jsonl", 8)
    valid = _upload(tiny_server, "rft-valid.jsonl", 2, offset=100)
    app = make_app(tiny_server, frozen=False)
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.main
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")
        form = app.screen.query_one(HyperparamForm)
        models = form.query_one("#model", Select)
        files = form.query_one("#training_file", Select)
        await wait_for(pilot, lambda: len(models._options) > 2, what="model choices")
        await wait_for(pilot, lambda: len(files._options) > 2, what="file choices")
        models.value = "tiny-test"
        files.value = train
        form.query_one("#validation_file", Select).value = valid
        form.query_one("#method_type", Select).value = "reinforcement"
        await pilot.pause()
        form.query_one("#grader", TextArea).text = json.dumps(GRADER, indent=2)
        # 8 prompts, batch 2, 1 epoch: 4 steps of 2 prompts x 2 answers; validation
        # every 2 steps.
        form.query_one("#n_epochs", Input).value = "1"
        form.query_one("#batch_size", Input).value = "2"
        form.query_one("#compute_multiplier", Input).value = "0.5"
        form.query_one("#eval_interval", Input).value = "2"
        form.query_one("#suffix", Input).value = "rft"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="job created")
        await pilot.pause()
        job_id = main.selected_job_id
        assert job_id is not None and job_id.startswith("ftjob-")
        job = _job(tiny_server, job_id)
        assert job["method"]["type"] == "reinforcement"
        assert job["method"]["reinforcement"]["grader"] == GRADER
        # -- followed to the end: the events, then every step's rewards plotted.
        await wait_for(
            pilot,
            lambda: _job(tiny_server, job_id)["status"] in ("succeeded", "failed"),
            timeout=180,
            what="job finished",
        )
        done = _job(tiny_server, job_id)
        assert done["status"] == "succeeded", done["error"]
        log = main.query_one(EventLog)
        await wait_for(
            pilot,
            lambda: any("Job succeeded" in ln for ln in log.lines),
            timeout=30,
            what="the final event",
        )
        assert any("2 answers sampled per prompt" in ln for ln in log.lines)
        plots = main.query_one(MetricsPanel)
        steps = [1.0, 2.0, 3.0, 4.0]
        await wait_for(
            pilot,
            lambda: plots.grader_plot.series.get("train_reward_mean", ([], []))[0] == steps,
            timeout=30,
            what="4 steps of train reward plotted",
        )
        series = plots.grader_plot.series
        assert plots.grader_plot.display and plots.has_class("-grader")
        valid_steps, valid_values = series["valid_reward_mean"]
        assert valid_steps == [2.0, 4.0]  # validation every 2 steps (and the last)
        assert all(0.0 <= v <= 1.0 for v in valid_values + series["train_reward_mean"][1])
        # The grader's own score series too, named by the grader's name.
        assert "train_score/close" in series

        # -- tried: `t` asks the fine-tuned model as a chat model (a reinforcement
        # file's prompts are chats ending with a user message), one of the validation
        # file's prompts (ctrl+r), and shows the server's answer.
        await wait_for(
            pilot,
            lambda: main.jobs.jobs[job_id].fine_tuned_model == done["fine_tuned_model"],
            timeout=30,
            what="the fine-tuned model in the jobs list",
        )
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TryModelScreen), what="try view")
        trial = app.screen
        assert isinstance(trial, TryModelScreen)
        await wait_for(pilot, lambda: trial.holds_keys_until == 0.0, what="training file read")
        assert trial.chat, "a reinforcement job's model is a chat model"
        assert "/v1/chat/completions" in str(trial.query_one("#try-endpoint", Label).render())
        # Not taken for a classifier (one token and class probabilities).
        assert trial.query_one("#try-max-tokens", Input).value == "32"
        assert not trial.query_one("#try-mode", Label).display
        # No separator field: a chat prompt is sent as a user message, nothing appended.
        assert not trial.query_one("#try-separator-field").display
        await pilot.press("ctrl+r")
        prompt = trial.query_one("#try-prompt", TextArea)
        await wait_for(pilot, lambda: prompt.text == "say 100", what="a validation prompt")
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: trial.last_completion is not None, timeout=60, what="the answer"
        )
        assert trial.last_completion is not None
        assert trial.last_completion.model == done["fine_tuned_model"]
        # The same question put to the server directly: the same (greedy) answer is
        # the one on screen.
        direct = httpx.post(
            f"{tiny_server.base_url}/chat/completions",
            json={
                "model": done["fine_tuned_model"],
                "messages": [{"role": "user", "content": "say 100"}],
                "max_tokens": 32,
                "temperature": 0.0,
            },
            timeout=60,
        )
        assert direct.status_code == 200, direct.text
        answer = direct.json()["choices"][0]["message"]["content"]
        assert answer, "the model answered nothing"
        shown = _text(trial.query_one("#try-output", Static))
        assert "".join(f"reply: {answer!r}".split()) in "".join(shown.split()), shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="back")

        # -- evaluated: `e` opens the eval view on the validation file, scored by the
        # job's grader through the server's graders/run.
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EvalScreen), what="eval view")
        screen = app.screen
        assert isinstance(screen, EvalScreen)
        assert screen.grader == GRADER
        assert screen.query_one("#eval-model", Input).value == done["fine_tuned_model"]
        assert screen.query_one("#eval-file", Input).value == valid
        status = str(screen.query_one("#eval-status", Label).render())
        assert 'scored by the job\'s grader (text_similarity "close")' in status, status
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.report is not None, timeout=120, what="report")
        assert screen.report is not None and screen.report["task"] == "reward"
        base, tuned = screen.report["runs"]
        assert (base["model"], tuned["model"]) == ("tiny-test", done["fine_tuned_model"])
        for run in (base, tuned):
            metrics = run["metrics"]
            assert metrics["examples"] == 2 and metrics["grader_errors"] == 0
            # fuzzy_match of each answer to "aaaa", as the grader itself scores it.
            want = [_fuzzy(a, "aaaa") for a in run["answers"]]
            assert metrics["rewards"] == pytest.approx(want)
            assert metrics["mean_reward"] == pytest.approx(sum(want) / 2)
        shown = _text(screen.query_one("#eval-report", Static))
        for words in (
            "reward",
            "mean_reward",
            "full_reward",
            "tiny-test",
            done["fine_tuned_model"],
        ):
            assert words in shown, words
        await pilot.press("ctrl+e")
        examples = screen.query_one("#eval-examples", DataTable)
        assert examples.display and examples.row_count == 2
        # Opened again, the view shows that last evaluation and still names the grader.
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="back")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EvalScreen), what="eval again")
        again = app.screen.query_one("#eval-status", Label)
        await wait_for(
            pilot, lambda: "last evaluation" in str(again.render()), what="the last evaluation"
        )
        assert 'the job\'s grader (text_similarity "close")' in str(again.render())


def _text(static: Static) -> str:
    out = Console(width=150, file=io.StringIO(), color_system=None)
    out.print(static.content)
    return out.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def _fuzzy(answer: str, want: str) -> float:
    from rapidfuzz import fuzz

    return float(fuzz.ratio(answer, want)) / 100.0
