"""Whole workflows typed into the installed `fttui` in a real terminal, over a simulated link.

The real app runs in a private tmux server (tests/tui/terminal.py) against a real
local server that trains the tiny test model. Each workflow is typed step by step as
a user does it: a step's keys go out over the link (`BURST`: all at once, as a fast
typist ahead of a laggy SSH link; `SLOW`: one key every half second; `ssh(seed)`:
chunks of 1-5 keys, 20-150 ms apart), then the user waits for what the screen shows
(the check report before uploading, the job's steps before cancelling). Every
workflow checks the screen and the server: the files and jobs it made, their
statuses and settings, the results file saved on disk, the model's answer.

The same keys over any link must end in the same state: each link's run is reduced
to a summary (server state and the screen text that matters, ids and times left
out) that must equal the workflow's one expected summary, so two links that pass
ended alike. To keep CI short, CI runs one link per workflow (each trains the tiny
model for real, 20-60 s); the other links are `long` (run by hand:
`pytest -m long tests/tui/test_workflows.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ServerProcess, free_port, register_tiny_model

from .terminal import BURST, SLOW, Link, Terminal, needs_tmux, ssh

pytestmark = [needs_tmux, pytest.mark.slow]

#: The wide layout: files, jobs, detail, events and plots all on screen at once.
SIZE = (160, 48)

LABELS = [("red", "colour"), ("dog", "animal"), ("blue", "colour"), ("cat", "animal")]
ROWS = [{"prompt": f"{word}\n\n###\n\n", "completion": f" {label}\n"} for word, label in LABELS * 6]
DATASET = "w.jsonl"  # in the terminal's working directory: a short path to type
CONTENT = "".join(json.dumps(row) + "\n" for row in ROWS).encode()


def dataset(home: Path) -> Path:
    path = home / DATASET
    path.write_bytes(CONTENT)
    return path


def form_keys(suffix: str, epochs: str, batch: str) -> list[str]:
    """The new-job form from its first field: the tiny model and the file (each chosen by
    typing in its list), n_epochs, batch_size, the suffix; then create (ctrl+s)."""
    return [
        *("Enter", "tiny", "Enter"),  # model: open the list, type to find, choose
        *("Tab", "Enter", "w", "Enter"),  # training file
        *("Tab", "Tab", "Tab", epochs),  # past validation file and method
        *("Tab", batch),
        *("Tab", "Tab", suffix),  # past lr multiplier
        "C-s",
    ]


@pytest.fixture
def tiny_server(tmp_path: Path, tiny_model_dir: Path) -> Iterator[ServerProcess]:
    """A real server that trains the tiny model, two jobs at a time."""
    data = tmp_path / "data"
    data.mkdir()
    register_tiny_model(data, tiny_model_dir)
    srv = ServerProcess(data_dir=data, port=free_port(), extra_args=("--concurrency", "2"))
    srv.start(timeout=120)  # a loaded machine (tests side by side) starts it slowly
    try:
        yield srv
    finally:
        srv.stop()


def api(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=30)


def jobs_row(screen: str, suffix: str) -> list[str]:
    """The jobs list's row of the job with `suffix`: its cells but the id, times and
    token count (status, suffix, model, method, fine-tuned model)."""
    lines = screen.splitlines()
    top = next(i for i, line in enumerate(lines) if "─ 2 Jobs" in line)
    for line in lines[top + 2 :]:
        left = line.split("││")[0].strip("│ ")
        cells = re.split(r"\s{2,}", left)
        if suffix in cells:
            return [c for c in cells if not re.fullmatch(VARIABLE, c)]
    raise AssertionError(f"no job with suffix {suffix!r} in the jobs list:\n{screen}")


#: Cells of a jobs row that differ from run to run: id, created, time, tokens.
VARIABLE = r"…?[0-9a-f]{6,}|ftjob-\w+|\d\d-\d\d \d\d:\d\d|(ETA )?(\d+[hm])?\d+s|[\d,]+"


# -- workflow 1: upload -> create -> watch -> cancel ------------------------------------


def upload_create_watch_cancel(term: Terminal, server: ServerProcess, link: Link) -> dict[str, Any]:
    local = dataset(term.home)
    term.start(server.base_url, SIZE)
    term.wait("No jobs yet")
    # Upload: the path, Enter checks it; the report is read before ctrl+s uploads.
    term.send(["u", DATASET, "Enter"], link)
    term.wait(lambda s: "Dataset check" in s and f"training: {DATASET}" in s, timeout=180)
    term.send(["C-s"], link)
    term.wait(lambda s: "Upload a training" not in s and "1.4 kB" in s, timeout=60)
    # Create: a long job (50 epochs of 24 single examples: 1,200 steps) to watch.
    term.send(["n", *form_keys("w1", "50", "1")], link)
    term.wait(lambda s: "Create (ctrl+s)" not in s and "w1" in s, timeout=60)
    # Watch: the job runs, its steps arrive in the events pane, its loss curve plots.
    screen = term.wait(lambda s: re.search(r"Step \d+/1200: training loss", s), timeout=120)
    assert "running" in jobs_row(screen, "w1"), screen
    with api(server) as http:
        (job,) = http.get("/fine_tuning/jobs").json()["data"]
        assert job["status"] == "running"
        # Cancel: the question names the job; it is answered once seen.
        term.send(["c"], link)
        term.wait(f"Cancel job {job['id']}?")
        term.send(["y"], link)
        screen = term.wait(
            lambda s: "cancelled" in s and f"Cancel job {job['id']}?" not in s, timeout=60
        )
        screen = term.settle()
        files = http.get("/files").json()["data"]
        job = http.get(f"/fine_tuning/jobs/{job['id']}").json()
        events = http.get(f"/fine_tuning/jobs/{job['id']}/events?limit=50").json()["data"]
        steps = [int(m[1]) for e in events if (m := re.match(r"Step (\d+)/", e["message"]))]
    (uploaded,) = [f for f in files if f["purpose"] == "fine-tune"]
    hyper = job["method"]["supervised"]["hyperparameters"]
    return {
        # Uploaded once, whole.
        "files": [(f["filename"], f["bytes"]) for f in files if f["purpose"] == "fine-tune"],
        "local bytes": local.stat().st_size,
        "job": {
            "status": job["status"],
            "model": job["model"],
            "training_file": "uploaded" if job["training_file"] == uploaded["id"] else "other",
            "suffix": job["user_provided_suffix"],
            "n_epochs": hyper["n_epochs"],
            "batch_size": hyper["batch_size"],
            "fine_tuned_model": job["fine_tuned_model"],
        },
        "stopped early": 0 < max(steps) < 1200,
        "row": jobs_row(screen, "w1"),
    }


WORKFLOW_1 = {
    "files": [(DATASET, len(CONTENT))],
    "local bytes": len(CONTENT),
    "job": {
        "status": "cancelled",
        "model": "tiny-test",
        "training_file": "uploaded",
        "suffix": "w1",
        "n_epochs": 50,
        "batch_size": 1,
        "fine_tuned_model": None,
    },
    "stopped early": True,
    "row": ["cancelled", "w1", "tiny-te…", "SFT"],
}


@pytest.mark.parametrize(
    "link",
    [
        BURST,
        pytest.param(SLOW, marks=pytest.mark.long),
        pytest.param(ssh(1), marks=pytest.mark.long),
    ],
    ids=lambda link: link.name,
)
def test_upload_create_watch_cancel(
    link: Link, tiny_server: ServerProcess, terminals: Callable[[str], Terminal]
) -> None:
    """Upload -> create -> watch -> cancel ends alike over every link (CI: the burst;
    SLOW and ssh(1) are `long`)."""
    term = terminals("w1")
    state = upload_create_watch_cancel(term, tiny_server, link)
    assert state == WORKFLOW_1, term.screen()


# -- workflow 2: create -> succeed -> download -> try -> compare ------------------------


def clone_keys(lr: str, suffix: str) -> list[str]:
    """`y` clones the selected job: a new learning-rate multiplier and suffix (each field
    cleared with ctrl+u first), then create."""
    return ["y", *["Tab"] * 6, "C-u", lr, "Tab", "C-u", suffix, "C-s"]


def create_succeed_download_try_compare(
    term: Terminal, server: ServerProcess, link: Link
) -> dict[str, Any]:
    local = dataset(term.home)
    with api(server) as http:
        http.post(
            "/files", files={"file": (DATASET, local.read_bytes())}, data={"purpose": "fine-tune"}
        ).raise_for_status()
    term.start(server.base_url, SIZE)
    term.wait(lambda s: "No jobs yet" in s and DATASET in s)
    # Two short runs (1 epoch, 3 steps each), the second a clone with another lr.
    term.send(["n", *form_keys("ta", "1", "8")], link)
    term.wait(lambda s: "Create (ctrl+s)" not in s and " ta " in s, timeout=60)
    term.send(clone_keys("0.2", "tb"), link)
    term.wait(lambda s: "Create (ctrl+s)" not in s and " tb " in s, timeout=60)

    def both_succeeded(screen: str) -> bool:
        try:
            return all("succeeded" in jobs_row(screen, s) for s in ("ta", "tb"))
        except AssertionError:  # not listed yet
            return False

    screen = term.wait(both_succeeded, timeout=300)
    with api(server) as http:
        jobs = {j["user_provided_suffix"]: j for j in http.get("/fine_tuning/jobs").json()["data"]}
        newest = jobs["tb"]  # selected since it was created
        # Download its results: the dialog offers the working directory; Enter saves.
        term.send(["d"], link)
        term.wait(f"Download the results of {newest['id']}")
        term.send(["Enter"], link)
        term.wait(lambda s: "saved" in s and "Download the results" not in s)
        saved = term.home / f"{newest['id']}-results.csv"
        (results_id,) = newest["result_files"]
        on_server = http.get(f"/files/{results_id}/content").content
        # Try it: the separator and stop come from its training file (a classifier:
        # one token); the answer on screen is the server's greedy answer (asked here
        # first, which also loads the model: on a loaded machine that can take longer
        # than the app waits for an answer).
        answer = http.post(
            "/completions",
            json={
                "model": newest["fine_tuned_model"],
                "prompt": "red\n\n###\n\n",
                "max_tokens": 1,
                "temperature": 0.0,
                "stop": ["\n"],
                "logprobs": 5,
            },
            timeout=300,
        ).json()["choices"][0]["text"]
        term.send(["t"], link)
        term.wait(lambda s: "Try a model" in s and "classification file" in s)
        term.send(["red", "C-s"], link)
        screen = term.wait(lambda s: re.search(r"completion: '", s), timeout=120)
        shown = re.search(r"completion: ('[^']*')", screen)
        assert shown is not None, screen
        term.send(["Escape"], link)
        term.wait(lambda s: "Try a model" not in s)
        # Compare: mark both (space, down, space); the detail shows them side by side.
        term.send(["2", "Space", "j", "Space"], link)
        screen = term.wait(lambda s: "comparing 2 jobs" in s)
        screen = term.settle()
        jobs = {j["user_provided_suffix"]: j for j in http.get("/fine_tuning/jobs").json()["data"]}
    return {
        "jobs": {
            suffix: (
                job["status"],
                job["method"]["supervised"]["hyperparameters"]["learning_rate_multiplier"],
                re.sub(r"\d{4}(-\d\d){5}", "<time>", job["fine_tuned_model"] or ""),
            )
            for suffix, job in sorted(jobs.items())
        },
        "downloaded": saved.read_bytes() == on_server and len(on_server) > 0,
        "answer shown": shown.group(1) == repr(answer),
        "rows": [jobs_row(screen, suffix) for suffix in ("ta", "tb")],
        "compared": compared(screen),
    }


def compared(screen: str) -> list[list[str]]:
    """The detail pane's side-by-side table: its header (the runs' names) and the rows
    of status and fine-tuned model (at the top: a finished job's results come first)."""
    lines = screen.splitlines()
    top = next(i for i, line in enumerate(lines) if "─ 3 Job detail" in line)
    bottom = next(i for i, line in enumerate(lines) if "comparing 2 jobs" in line)
    rows = [
        re.split(r"\s{2,}", line.split("││")[-1].rstrip(" │▁▂▃▄▅▆▇█").strip())
        for line in lines[top + 1 : bottom]
    ]
    return [rows[0], *(row for row in rows if row[0] in ("status", "fine-tuned model"))]


WORKFLOW_2 = {
    "jobs": {
        "ta": ("succeeded", 0.1, "tiny-test:ft-local:ta-<time>"),
        "tb": ("succeeded", 0.2, "tiny-test:ft-local:tb-<time>"),
    },
    "downloaded": True,
    "answer shown": True,
    "rows": [["●succeeded", "ta", "tiny-te…", "SFT"], ["●succeeded", "tb", "tiny-te…", "SFT"]],
    "compared": [
        ["tb", "ta"],
        ["status", "succeeded", "succeeded"],
        ["fine-tuned model", "tiny-test:ft-lo", "tiny-test:ft-lo"],  # cut to the column
    ],
}


@pytest.mark.parametrize(
    "link",
    [
        ssh(3),
        pytest.param(BURST, marks=pytest.mark.long),
        pytest.param(SLOW, marks=pytest.mark.long),
    ],
    ids=lambda link: link.name,
)
def test_create_succeed_download_try_compare(
    link: Link, tiny_server: ServerProcess, terminals: Callable[[str], Terminal]
) -> None:
    """Create -> succeed -> download -> try -> compare ends alike over every link (CI:
    ssh(3); the burst and SLOW are `long`)."""
    term = terminals("w2")
    state = create_succeed_download_try_compare(term, tiny_server, link)
    assert state == WORKFLOW_2, term.screen()
