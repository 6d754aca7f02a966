"""Every command of the legacy guide, as its `fttui` command, against the real local server.

Each test runs the real `fttui` process (tests/cli/conftest.py `fttui`) against one
real server with the tiny model; the rows of docs/cli.md's table name the test that
covers them. One small job (one epoch, 8 examples) is trained for all of them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fttui.core.results_columns import TRAIN_COLUMNS, VALIDATION_COLUMNS
from tests.cli.conftest import fttui
from tests.conftest import ServerProcess, free_port


def write_rows(path: Path, first: int, n: int, end: str = " END") -> Path:
    rows = (
        {"prompt": f"Item {i} is\n\n###\n\n", "completion": f" {'good' if i % 2 else 'bad'}{end}"}
        for i in range(first, first + n)
    )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def in_terminal(*args: str, timeout: float = 120) -> tuple[int, str]:
    """Run `fttui ARGS` with a pseudo-terminal as its stdout and stderr; (code, output)."""
    import os
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "160", "LINES": "40", "TERM": "xterm-256color"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fttui", *args], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=timeout), b"".join(chunks).decode("utf-8", "replace")


def ndjson(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_legacy_guide_session(cli_server: ServerProcess, tmp_path: Path) -> None:
    """prepare_data, fine_tunes.create/follow/list/get/events/results,
    completions.create with the fine-tuned model, models.delete."""
    url = cli_server.base_url
    # A classifier, as in the legacy guide: one-token classes after a separator.
    train = write_rows(tmp_path / "train.jsonl", 0, 8, end="")
    valid = write_rows(tmp_path / "valid.jsonl", 8, 4, end="")

    # prepare_data -> fttui prepare (warnings only: few examples per class)
    checked = fttui("prepare", str(train), "--validation", str(valid), "--json")
    assert checked.code in (0, 1), checked.err
    assert json.loads(checked.out)["summary"]["errors"] == 0

    # fine_tunes.create -t -v -m --suffix --n_epochs (+ follow) -> jobs create ... --follow
    created = fttui(
        "jobs", "create", "-t", str(train), "-v", str(valid), "-m", "tiny-test",
        "--n_epochs", "1", "--batch_size", "2", "--suffix", "custom model name",
        "--compute_classification_metrics", "--classification_n_classes", "2",
        "--classification_positive_class", " good", "--classification_betas", "0.5,2",
        "--follow", "--json", base_url=url, timeout=300,
    )  # fmt: skip
    assert created.code == 0, created.err
    lines = ndjson(created.out)
    job, followed = lines[0], lines[1:]
    assert job["object"] == "fine_tuning.job"
    assert "uploaded training file train.jsonl" in created.err
    job_id = str(job["id"])

    # fine_tunes.get -> jobs get
    got = fttui("jobs", "get", job_id, "--json", base_url=url)
    assert got.code == 0, got.err
    final = got.json()
    assert final["status"] == "succeeded"
    model = final["fine_tuned_model"]
    assert "custom-model-name" in model  # the suffix, as the legacy guide names it
    assert final["hyperparameters"]["n_epochs"] == 1

    # fine_tunes.events -> jobs events: follow printed every event once, in order
    events = fttui("jobs", "events", job_id, "--json", base_url=url).json()["data"]
    assert [e["id"] for e in followed] == [e["id"] for e in events]
    assert len({e["id"] for e in events}) == len(events)
    assert any(e.get("type") == "metrics" for e in followed)
    human = fttui("jobs", "events", job_id, base_url=url)
    assert "Job succeeded" in human.out and "train loss" in human.out

    # fine_tunes.list -> jobs list
    listed = fttui("jobs", "list", base_url=url)
    assert listed.code == 0 and job_id in listed.out and "succeeded" in listed.out

    # fine_tunes.results -> jobs results: the legacy guide's CSV, one row per step
    out = tmp_path / "results.csv"
    res = fttui("jobs", "results", job_id, "--legacy", "-o", str(out), base_url=url)
    assert res.code == 0, res.err
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    header = list(table[0])
    assert header[: len(TRAIN_COLUMNS) + 3] == [*TRAIN_COLUMNS, *VALIDATION_COLUMNS]
    # The classification metrics of the last step (end of the epoch), binary with betas.
    for column in ("accuracy", "precision", "recall", "f0.5", "f2.0", "auroc", "auprc"):
        assert f"classification/{column}" in header
    assert table[-1]["classification/accuracy"] != ""
    assert [int(r["step"]) for r in table] == list(range(1, 5))  # 8 examples, batch 2
    assert all(float(r["training_loss"]) > 0 for r in table)
    whole = fttui("jobs", "results", job_id, base_url=url)  # stdout, as the file is
    assert whole.out.startswith("step,train_loss,") and "training_loss" in whole.out

    # In a terminal, follow draws the metrics on one live loss line (redrawn in place,
    # erased at the end), the other events as lines above it.
    code, shown = in_terminal("jobs", "follow", job_id, "--base-url", url)
    assert code == 0, shown
    assert "\x1b[2K" in shown  # the live line erased and redrawn
    assert "step 4/4 · train loss" in shown
    assert "Job succeeded" in shown and "job succeeded" in shown

    # checkpoints
    ckpts = fttui("jobs", "checkpoints", job_id, "--json", base_url=url).json()["data"]
    assert ckpts and ckpts[0]["fine_tuned_model_checkpoint"].startswith(model)

    # completions.create -m MODEL -p PROMPT -> try MODEL PROMPT (streamed; completions
    # because the job trained on prompt/completion examples)
    answer = fttui("try", model, "Item 3 is\n\n###\n\n", "--max-tokens", "3", base_url=url)
    assert answer.code == 0, answer.err
    whole_answer = fttui(
        "try", model, "Item 3 is\n\n###\n\n", "--max-tokens", "3", "--json", base_url=url
    ).json()
    assert whole_answer["object"] == "text_completion"
    assert answer.out.rstrip("\n") == whole_answer["choices"][0]["text"].rstrip("\n")

    # models.delete -> models delete
    deleted = fttui("models", "delete", model, "--json", base_url=url)
    assert deleted.code == 0 and deleted.json()["deleted"] is True
    gone = fttui("models", "get", model, base_url=url)
    assert gone.code == 3 and model in gone.err


def test_cancel_follow_exit_codes_and_file_ids(cli_server: ServerProcess, tmp_path: Path) -> None:
    """fine_tunes.cancel; create from an uploaded file's id; follow's exit codes
    (cancelled 6, failed 5); the files commands."""
    url = cli_server.base_url
    train = write_rows(tmp_path / "t.jsonl", 0, 8)
    up = fttui("files", "upload", str(train), "--json", base_url=url)
    assert up.code == 0, up.err
    file_id = up.json()["id"]
    assert fttui("files", "get", file_id, "--json", base_url=url).json()["filename"] == "t.jsonl"
    assert file_id in fttui("files", "list", base_url=url).out
    copy = tmp_path / "copy.jsonl"
    assert fttui("files", "download", file_id, "-o", str(copy), base_url=url).code == 0
    assert copy.read_bytes() == train.read_bytes()

    created = fttui("jobs", "create", "-t", file_id, "-m", "tiny-test", "-q", base_url=url)
    assert created.code == 0, created.err
    job_id = created.out.strip()  # -q: the id alone, for JOB=$(fttui jobs create -q ...)
    assert job_id.startswith("ftjob-") and "\n" not in job_id
    assert fttui("jobs", "get", job_id, "--json", base_url=url).json()["training_file"] == file_id
    cancelled = fttui("jobs", "cancel", job_id, "--json", base_url=url)
    assert cancelled.code == 0 and cancelled.json()["status"] == "cancelled"
    followed = fttui("jobs", "follow", job_id, base_url=url)
    assert followed.code == 6 and "job cancelled" in followed.err

    # Too long for the tiny model's 256 tokens: the server's check fails the job.
    long = tmp_path / "long.jsonl"
    long.write_text(
        "".join(
            json.dumps({"prompt": f"{i} " + "word " * 400 + "\n\n###\n\n", "completion": " y END"})
            + "\n"
            for i in range(8)
        )
    )
    failed = fttui("jobs", "create", "-t", str(long), "-m", "tiny-test", "--follow", base_url=url)
    assert failed.code == 5, failed.err
    assert "job failed" in failed.err and "256 tokens" in failed.err

    assert fttui("files", "delete", file_id, base_url=url).code == 0
    assert fttui("files", "get", file_id, base_url=url).code == 3


@pytest.mark.alone  # Ctrl-C answered within 60 s: failed in both two-worker runs at load ~25
def test_follow_survives_a_server_restart_without_repeating_events(
    data_dir: Path, tmp_path: Path
) -> None:
    """`jobs follow` through a server killed and restarted: every stored event once."""
    from fttui.store.db import Store

    srv = ServerProcess(data_dir=data_dir, port=free_port(), extra_args=("--concurrency", "0"))
    srv.start()
    store = Store(data_dir)
    follower: subprocess.Popen[str] | None = None
    quitter: subprocess.Popen[str] | None = None
    try:
        train = write_rows(tmp_path / "t.jsonl", 0, 8)
        with httpx.Client(base_url=srv.base_url) as api:
            file_id = api.post(
                "/files", files={"file": train.open("rb")}, data={"purpose": "fine-tune"}
            ).json()["id"]
            job_id = api.post(
                "/fine_tuning/jobs", json={"training_file": file_id, "model": "davinci"}
            ).json()["id"]
        follower = subprocess.Popen(
            [sys.executable, "-m", "fttui", "jobs", "follow", job_id, "--json",
             "--poll-interval", "0.1", "--base-url", srv.base_url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        store.add_event(job_id, "before the crash")
        time.sleep(1.5)
        srv.stop(kill=True)
        for i in range(5):
            store.add_event(job_id, f"written while the server was down {i}")
        time.sleep(1.0)
        srv.start()
        store.add_event(job_id, "after the restart")
        # Ctrl-C stops following, not the job: exit 130 and how to follow again.
        quitter = subprocess.Popen(
            [sys.executable, "-m", "fttui", "jobs", "follow", job_id, "--base-url", srv.base_url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        )  # fmt: skip
        assert quitter.stdout is not None
        seen: list[str] = []
        while not any("after the restart" in x for x in seen):  # up to the newest event
            seen.append(quitter.stdout.readline())
            assert seen[-1] and len(seen) < 50, seen
        quitter.send_signal(signal.SIGINT)
        try:
            _, quit_err = quitter.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            # Once in CI (an idle box, the wall-clock pass) it went on following for
            # 60 s after Ctrl-C; not reproduced since (30 tries idle, 8 under load).
            # Its threads' stacks (faulthandler, on SIGABRT) say where it was.
            quitter.send_signal(signal.SIGABRT)
            out, err = quitter.communicate(timeout=30)
            pytest.fail(f"`jobs follow` went on after Ctrl-C:\n{out[-2000:]}\n{err[-6000:]}")
        assert quitter.returncode == 130, quit_err
        assert f"stopped following {job_id}; the job goes on" in quit_err
        assert "Traceback" not in quit_err
        with httpx.Client(base_url=srv.base_url) as api:
            assert api.post(f"/fine_tuning/jobs/{job_id}/cancel").status_code == 200
        out, err = follower.communicate(timeout=90)
        assert follower.returncode == 6, err
        got = ndjson(out)
        stored = [row["id"] for row in store.events_since(job_id)]
        assert [e["id"] for e in got] == stored
        messages = [e["message"] for e in got]
        assert messages.index("before the crash") < messages.index("after the restart")
        assert "written while the server was down 4" in messages
    finally:
        for proc in (follower, quitter):
            if proc is not None and proc.poll() is None:
                proc.kill()
        store.close()
        srv.stop()
