"""Screenshots of the real app driving a real local server with real jobs.

    python screenshots/make.py [--out screenshots]

Builds the tests' tiny model (random weights, trains in seconds on a CPU), starts
`fttui serve` on a scratch data directory, uploads a small classification dataset
through the API, trains two jobs to completion (for the compare screen) and cancels a third, then drives
the app (Textual's pilot) and saves each main screen as SVG (`App.save_screenshot`)
and PNG (converted with `rsvg-convert`, from Debian's librsvg2-bin, when present).
Then an OpenAI-shaped session (`openai-*`): the app against the OpenAI test double
(tests/openai_fixture_server.py, OpenAI's published examples), a reinforcement job's
detail and the job form with a reinforcement grader and its cost line; alone:

    python screenshots/make.py --openai-only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # ServerProcess and the tiny-model helper

from conftest import ServerProcess, free_port, register_tiny_model  # noqa: E402

from fttui.api import Client  # noqa: E402
from fttui.app import FtTuiApp  # noqa: E402

WORDS = [("red", "colour"), ("dog", "animal"), ("blue", "colour"), ("cat", "animal")]
# Validation examples must not repeat a training prompt (the server checks).
HELD_OUT = [("green", "colour"), ("horse", "animal"), ("yellow", "colour"), ("mouse", "animal")]


def dataset(path: Path, repeat: int, words: list[tuple[str, str]] = WORDS) -> Path:
    rows = [
        {"prompt": f"{w}\n\n###\n\n", "completion": f" {label}\n"} for w, label in words * repeat
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


async def finished(client: Client, job_id: str) -> None:
    """Wait for the job to succeed; a failed one would make every screen wrong."""
    while not (job := await client.jobs.retrieve(job_id)).is_final:
        await asyncio.sleep(1)
    if job.status != "succeeded":
        raise SystemExit(f"{job_id} {job.status}: {job.error}")


async def prepare(client: Client, work: Path) -> tuple[str, str, str]:
    """Three real jobs: two trained to the end (to compare), one cancelled while it runs."""
    train = await client.files.upload(dataset(work / "words-train.jsonl", 8))
    valid = await client.files.upload(dataset(work / "words-valid.jsonl", 1, HELD_OUT))
    done = await client.jobs.create(
        training_file=train.id,
        validation_file=valid.id,
        model="tiny-test",
        suffix="words",
        hyperparameters={"n_epochs": 3, "batch_size": 4},
    )
    await finished(client, done.id)
    faster = await client.jobs.create(
        training_file=train.id,
        validation_file=valid.id,
        model="tiny-test",
        suffix="words-lr4",
        hyperparameters={"n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 4.0},
    )
    await finished(client, faster.id)
    cancelled = await client.jobs.create(
        training_file=train.id,
        model="tiny-test",
        suffix="long-run",
        hyperparameters={"n_epochs": 50, "batch_size": 2},
    )
    await asyncio.sleep(3)
    await client.jobs.cancel(cancelled.id)
    return done.id, faster.id, cancelled.id


async def wait_for(pilot: Any, predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await pilot.pause(0.1)


async def shoot(base_url: str, out: Path, sample: Path, done_id: str, other_id: str) -> list[Path]:
    from widgets import FileTable, JobTable, MetricsPanel

    saved: list[Path] = []

    async def save(app: FtTuiApp, name: str) -> None:
        for widget in app.screen.query("Input, TextArea"):
            widget.cursor_blink = False  # type: ignore[attr-defined]
        app.clear_notifications()
        await asyncio.sleep(0.3)
        saved.append(Path(app.save_screenshot(f"{name}.svg", path=str(out))))

    async def settled(app: FtTuiApp, pilot: Any) -> None:
        main = app.main
        jobs = main.query_one(JobTable)
        await wait_for(pilot, lambda: len(jobs.jobs) >= 2)
        await wait_for(pilot, lambda: len(main.query_one(FileTable).files) >= 3)
        jobs.select_id(done_id)  # the trained job: its curves, events and model
        await wait_for(pilot, lambda: main.query_one(MetricsPanel).loss_plot.has_data)
        await pilot.pause(1.0)

    for size, prefix in (((200, 60), "wide"), ((80, 24), "narrow")):
        client = Client(base_url, label="local · 127.0.0.1:8765")
        app = FtTuiApp(client)
        async with app.run_test(size=size) as pilot:
            await settled(app, pilot)
            await save(app, f"{prefix}-main")
            if prefix == "wide":  # two runs compared: curves overlaid, settings side by side
                jobs = app.main.jobs.table
                for job_id in (done_id, other_id):
                    jobs.select_id(job_id)
                    await pilot.press("space")
                plots = app.main.plots.panel
                await wait_for(pilot, lambda plots=plots: len(plots.loss_plot.series) >= 4)
                await pilot.pause(1.0)
                await save(app, "wide-compare")
                for job_id in (done_id, other_id):
                    jobs.select_id(job_id)
                    await pilot.press("space")
                jobs.select_id(done_id)
                await pilot.pause(1.0)
            if prefix == "narrow":
                for key, pane in (("1", "files"), ("3", "detail"), ("4", "events"), ("5", "plots")):
                    await pilot.press(key)
                    await save(app, f"narrow-{pane}")
                await pilot.press("2")
            await pilot.press("n")
            await pilot.pause(1.5)
            form = app.screen.query_one("HyperparamForm")
            form.query_one("#suffix").value = "words v2"  # type: ignore[attr-defined]
            await save(app, f"{prefix}-new-job")
            await pilot.press("escape")  # the form was changed: it asks first
            await pilot.pause(0.5)
            await pilot.press("y")
            await pilot.pause(0.3)
            await pilot.press("question_mark")
            await save(app, f"{prefix}-help")
            await pilot.press("escape")
            if prefix == "wide":
                await pilot.press("u")
                await pilot.pause(0.3)
                app.screen.query_one("#upload-path").value = str(sample)  # type: ignore[attr-defined]
                await pilot.press("enter")
                await pilot.pause(4.0)
                await save(app, "wide-upload")
                await pilot.press("escape", "t")
                await pilot.pause(2.0)
                app.screen.query_one("#try-prompt").text = "red"  # type: ignore[attr-defined]
                # A classification file: max tokens 1 and the top-5 bars by default.
                tokens = app.screen.query_one("#try-max-tokens")
                await wait_for(pilot, lambda t=tokens: t.value == "1")  # type: ignore[attr-defined]
                await pilot.press("ctrl+s")
                trial = app.screen
                await wait_for(
                    pilot,
                    lambda trial=trial: trial.last_completion is not None,  # type: ignore[attr-defined]
                    90,
                )
                await save(app, "wide-try-model")
        await client.aclose()
    return saved


async def shoot_openai(out: Path) -> list[Path]:
    """An OpenAI-shaped session: the app against tests/openai_fixture_server.py (OpenAI's
    published example responses), a reinforcement job selected, then the job form with
    a reinforcement grader and the cost line."""
    from openai_fixture_server import openai_fixture_server  # tests/

    from widgets import JobTable, KeyValueTable

    saved: list[Path] = []
    port = free_port()
    with openai_fixture_server(port):
        for size, prefix in (((200, 60), "openai-wide"), ((80, 24), "openai-narrow")):
            client = Client(f"http://127.0.0.1:{port}/v1", api_key="sk-x", label="openai")
            app = FtTuiApp(client, org="default org", frozen_now=1721770000.0)
            async with app.run_test(size=size) as pilot:
                main = app.main
                jobs = main.query_one(JobTable)
                await wait_for(pilot, lambda jobs=jobs: len(jobs.jobs) >= 20)
                jobs.select_id("ftjob-rft-python")
                detail = main.query_one(KeyValueTable)
                await wait_for(
                    pilot, lambda d=detail: dict(d.items).get("id") == "ftjob-rft-python"
                )
                await pilot.pause(1.0)
                if prefix == "openai-narrow":
                    await pilot.press("3")
                app.clear_notifications()
                saved.append(Path(app.save_screenshot(f"{prefix}-main.svg", path=str(out))))
                if prefix == "openai-narrow":
                    await pilot.press("2")
                await pilot.press("n")
                await pilot.pause(1.5)
                form = app.screen.query_one("HyperparamForm")
                form.query_one("#model").value = "o4-mini"  # type: ignore[attr-defined]
                form.query_one("#training_file").value = "file-abc"  # type: ignore[attr-defined]
                form.query_one("#method_type").value = "reinforcement"  # type: ignore[attr-defined]
                form.query_one("#suffix").value = "support bot"  # type: ignore[attr-defined]
                await pilot.pause(1.5)
                for widget in app.screen.query("Input, TextArea"):
                    widget.cursor_blink = False  # type: ignore[attr-defined]
                app.clear_notifications()
                saved.append(Path(app.save_screenshot(f"{prefix}-new-job.svg", path=str(out))))
            await client.aclose()
    return saved


def to_png(svgs: list[Path]) -> list[Path]:
    tool = shutil.which("rsvg-convert")
    if tool is None:
        print("rsvg-convert not found (apt-get install librsvg2-bin): SVG only", file=sys.stderr)
        return []
    pngs = []
    for svg in svgs:
        png = svg.with_suffix(".png")
        subprocess.run([tool, str(svg), "-o", str(png)], check=True)
        pngs.append(png)
    return pngs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument(
        "--openai-only", action="store_true", help="only the OpenAI-shaped session (no training)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.openai_only:
        svgs = asyncio.run(shoot_openai(args.out))
        for path in svgs + to_png(svgs):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        return 0
    from fttui.train.tiny import build_tiny_model

    with tempfile.TemporaryDirectory(prefix="fttui-shots-") as tmp:
        work = Path(tmp)
        data = work / "data"
        data.mkdir()
        register_tiny_model(data, build_tiny_model(work / "tiny"))
        server = ServerProcess(data_dir=data, port=free_port())
        server.start()
        try:

            async def run() -> list[Path]:
                async with Client(server.base_url) as client:
                    done_id, other_id, _ = await prepare(client, work)
                sample = dataset(work / "new-data.jsonl", 3)
                return await shoot(server.base_url, args.out, sample, done_id, other_id)

            svgs = asyncio.run(run())
        finally:
            server.stop()
    svgs += asyncio.run(shoot_openai(args.out))
    for path in svgs + to_png(svgs):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
