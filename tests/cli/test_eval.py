"""`fttui eval` end to end: the real `fttui` process against the real local server.

A job trained with every hyperparameter on `auto` (the local engine's own rule, said
in the job's events) on the toy classification task, then `fttui eval TUNED --file
valid.jsonl --against BASE`: the tuned model's accuracy is above the base's, the
report is kept and shown again with --last, and exported as CSV. The tiny model: it
checks the pipeline; docs/training.md has the default model's figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.cli.conftest import fttui
from tests.conftest import ServerProcess, free_port
from tests.train.conftest import create_job, events, toy_lines, upload, wait_for


def test_eval_shows_the_gain_of_a_job_trained_on_auto(
    cli_server: ServerProcess, tmp_path: Path
) -> None:
    train_id = upload(cli_server, "train.jsonl", toy_lines(48))
    job = create_job(cli_server, training_file=train_id, model="tiny-test", seed=3)
    job = wait_for(cli_server, job["id"], {"succeeded", "failed"}, timeout=240)
    assert job["status"] == "succeeded", job.get("error")
    said = [e["message"] for e in events(cli_server, job["id"])]
    rule = next(m for m in said if m.startswith("Hyperparameters for the local engine"))
    assert "48 examples" in rule and "local rule" in rule
    assert any(m.startswith("Training finished: ") for m in said)

    valid = tmp_path / "valid.jsonl"
    valid.write_text("\n".join(toy_lines(24, offset=100)) + "\n")
    tuned = job["fine_tuned_model"]
    env = {"FTTUI_DATA_DIR": str(tmp_path / "client")}
    ran = fttui(
        "eval",
        tuned,
        "--file",
        str(valid),
        "--against",
        "tiny-test",
        "--json",
        "-o",
        str(tmp_path / "report.csv"),
        base_url=cli_server.base_url,
        env=env,
    )
    assert ran.code == 0, ran.err
    report = ran.json()
    assert report["task"] == "classification"
    base, after = (r["metrics"] for r in report["runs"])
    assert after["accuracy"] > base["accuracy"], (base["accuracy"], after["accuracy"])
    assert after["accuracy"] >= 0.9
    assert set(after["per_class"]) == {"meow", "woof", "tweet"}
    matrix = after["confusion"]["matrix"]
    assert sum(map(sum, matrix)) == 24

    shown = fttui("eval", tuned, "--last", base_url=cli_server.base_url, env=env)
    assert shown.code == 0, shown.err
    assert "accuracy" in shown.out and "confusion" in shown.out and "weighted_f1" in shown.out

    rows = list(csv.reader((tmp_path / "report.csv").open()))
    assert rows[0] == ["index", "prompt", "reference", "answer:tiny-test", f"answer:{tuned}"]
    assert len([r for r in rows[1:] if r and r[0].isdigit()]) == 24


def test_eval_names_the_bad_line(cli_server: ServerProcess, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "a", "completion": " b"}) + "\n{not json\n")
    ran = fttui("eval", "tiny-test", "--file", str(bad), base_url=cli_server.base_url)
    assert ran.code == 2
    assert "bad.jsonl line 2" in ran.err and "not valid JSON" in ran.err


def test_eval_scores_a_reinforcement_file_with_its_grader(
    cli_server: ServerProcess, tmp_path: Path
) -> None:
    """A reinforcement file (messages ending with the user's turn, the grader's fields
    beside them) has no reference answers: `--grader` scores each answer through the
    server's graders/run; without it the file is refused naming what is missing."""
    rows = [
        {"messages": [{"role": "user", "content": f"Say {w}"}], "word": w}
        for w in ("cat", "dog", "owl")
    ]
    valid = tmp_path / "rft.jsonl"
    valid.write_text("".join(json.dumps(r) + "\n" for r in rows))
    grader = tmp_path / "grader.json"
    grader.write_text(
        json.dumps(
            {
                "type": "python",
                "name": "len",
                "source": "def grade(sample, item):\n"
                "    return 1.0 if item['word'] in sample['output_text'] else 0.25\n",
            }
        )
    )
    base = cli_server.base_url
    ran = fttui("eval", "tiny-test", "--file", str(valid), "--grader", str(grader), "--json",
                base_url=base)  # fmt: skip
    assert ran.code == 0, ran.err
    report = json.loads(ran.out)
    assert report["task"] == "reward"
    run = report["runs"][0]
    # The tiny random model does not say the word: 0.25 each, as the grader says.
    want = [1.0 if r["word"] in a else 0.25 for r, a in zip(rows, run["answers"], strict=True)]
    assert run["metrics"]["rewards"] == want
    assert run["metrics"]["mean_reward"] == sum(want) / 3
    assert run["metrics"]["grader_errors"] == 0

    refused = fttui("eval", "tiny-test", "--file", str(valid), base_url=base)
    assert refused.code == 2
    assert "reinforcement file" in refused.err and "--grader" in refused.err


@pytest.mark.long
@pytest.mark.timeout(5400)
def test_eval_shows_the_gain_on_the_default_model(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """The same loop with the default model (by hand, figures in docs/eval.md):

        pytest -m long -s tests/cli/test_eval.py -k default_model

    The 300-example classification file of benchmarks/auto_bench.py (a support
    ticket's department from a keyword among filler words) trained with every
    hyperparameter on auto; `fttui eval` on 100 held-out tickets (other numbers,
    other fillers), the fine-tuned model against the default model."""
    from benchmarks.auto_bench import classification_rows
    from fttui.core.models import DEFAULT_MODEL

    srv = ServerProcess(data_dir=tmp_path_factory.mktemp("default-eval"), port=free_port())
    srv.start()
    try:
        train = [json.dumps(r) for r in classification_rows(300, seed=1, held_out=False)]
        job = create_job(srv, training_file=upload(srv, "train.jsonl", train), model=DEFAULT_MODEL)
        job = wait_for(srv, job["id"], {"succeeded", "failed"}, timeout=3600)
        assert job["status"] == "succeeded", job.get("error")
        said = [e["message"] for e in events(srv, job["id"])]
        valid = tmp_path / "valid.jsonl"
        valid.write_text(
            "".join(json.dumps(r) + "\n" for r in classification_rows(100, 2, held_out=True))
        )
        tuned = job["fine_tuned_model"]
        ran = fttui(
            "eval", tuned, "--file", str(valid), "--against", DEFAULT_MODEL, "--json",
            base_url=srv.base_url, env={"FTTUI_DATA_DIR": str(tmp_path / "client")},
            timeout=1800,
        )  # fmt: skip
    finally:
        srv.stop()
    assert ran.code == 0, ran.err
    report = ran.json()
    assert report["task"] == "classification"
    base, after = report["runs"]
    figures = {
        "rule": next(m for m in said if m.startswith("Hyperparameters for the local engine")),
        "training": next(m for m in said if m.startswith("Training finished")),
        **{
            f"{name} {key}": round(run["metrics"][key], 3)
            for name, run in (("base", base), ("tuned", after))
            for key in ("accuracy", "weighted_f1")
        },
        "eval seconds": [base["seconds"], after["seconds"]],
    }
    print(json.dumps(figures, indent=1))
    assert after["metrics"]["accuracy"] > base["metrics"]["accuracy"]
    assert after["metrics"]["accuracy"] >= 0.9


def test_the_report_shows_brackets_as_written() -> None:
    """A prompt, label or model id holding Rich markup (`[/x]`, `[red]`) is shown as
    written, never read as markup (which stopped the report with a MarkupError)."""
    import io

    from rich.console import Console

    import fttui.evaluate as ev

    worst = {"index": 0, "prompt": "[/x] [bold]p", "reference": "[red]r", "answer": "[/]a"}
    report = {
        "file": "f.jsonl",
        "task": "generation",
        "prompts": ["[/x] [bold]p"],
        "references": ["[red]r"],
        "runs": [
            {
                "model": "m[/]",
                "answers": ["[/]a"],
                "metrics": {"examples": 1, "exact_match": 0.0, "worst": [{**worst, "token_f1": 0}]},
            }
        ],
    }
    out = Console(width=200, file=io.StringIO(), color_system=None)
    for part in ev.render(report):
        out.print(part)
    shown = out.file.getvalue()  # type: ignore[attr-defined]
    for text in ("[/x] [bold]p", "[red]r", "[/]a", "m[/]"):
        assert text in shown, text
