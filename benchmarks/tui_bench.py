"""How fast the TUI starts and how responsive it stays under a big backend.

    python benchmarks/tui_bench.py [--jobs 5000] [--events 50000] [--runs 5]

1. Startup: a real local server with a few jobs is started; then `--runs` times a
   fresh process runs the app headless (as `fttui` would, 160x48) and reports the
   wall time from just before the process was spawned until the jobs pane has been
   filled and the screen drawn after it. Import cost is reported separately.
2. Load: a second server's store gets `--jobs` jobs and one job with `--events`
   events, written through `fttui.store.Store` before the server starts. The app
   runs in this process with a loop-lag probe (a 10 ms timer that records how late
   it fires: any synchronous refresh that blocks the event loop shows up as lag),
   through the full first load of all jobs, a few periodic refreshes, and the
   follow of the 50,000-event job to its end. Peak RSS is this process's maximum
   resident set size (the app, its widgets and pandas, not the server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # ServerProcess and free_port from tests/conftest.py

from conftest import ServerProcess, free_port  # noqa: E402

from fttui.store.db import Store, new_id  # noqa: E402

STARTUP_CHILD = r"""
import sys, time
from fttui.api import Client
from fttui.app import FtTuiApp

class Probe(FtTuiApp):
    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(0.005, self._check)

    def _check(self) -> None:
        try:
            table = self.main.query_one("#jobs")
        except Exception:  # not composed yet
            return
        if table.jobs and table.rows_pending == 0:
            self.call_after_refresh(self._done)

    def _done(self) -> None:
        print(f"DRAWN {time.time():.6f}", flush=True)
        self.exit()

Probe(Client(sys.argv[1], max_retries=1)).run(headless=True, size=(160, 48))
"""


def seed(data_dir: Path, n_jobs: int, n_events: int) -> str:
    """`n_jobs` finished jobs plus one with `n_events` events; returns that job's id."""
    store = Store(data_dir)
    now = int(time.time())
    rows = []
    statuses = ("succeeded", "failed", "cancelled")
    for i in range(n_jobs):
        rows.append(
            (
                new_id("ftjob"),
                now - n_jobs + i,
                "davinci",
                "SmolLM2-135M-Instruct",
                "file-x",
                statuses[i % 3],
                f"davinci:ft-local:bench-{i}" if i % 3 == 0 else None,
                1000 + i,
                now - n_jobs + i + 60,
            )
        )
    big = new_id("ftjob")
    with store._tx() as conn:
        conn.executemany(
            "INSERT INTO jobs (id, created_at, model, base_model, training_file, status, "
            "fine_tuned_model, trained_tokens, finished_at) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
        conn.execute(
            "INSERT INTO jobs (id, created_at, model, base_model, training_file, status, "
            "finished_at) VALUES (?,?,?,?,?,?,?)",
            (big, now, "davinci", "SmolLM2-135M-Instruct", "file-x", "succeeded", now),
        )
        events = []
        for i in range(n_events):
            if i % 2:
                loss = 3.0 / (1 + i / 1000)
                data = json.dumps({"step": i, "train_loss": loss, "training_loss": loss})
                events.append(
                    (
                        new_id("ftevent"),
                        big,
                        now,
                        "info",
                        f"Step {i}: loss={loss:.4f}",
                        "metrics",
                        data,
                    )
                )
            else:
                events.append(
                    (new_id("ftevent"), big, now, "info", f"message {i}", "message", None)
                )
        conn.executemany(
            "INSERT INTO events (id, job_id, created_at, level, message, type, data) "
            "VALUES (?,?,?,?,?,?,?)",
            events,
        )
    store.close()
    return big


def startup(runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        seed(data, 20, 10)
        srv = ServerProcess(data_dir=data, port=free_port())
        srv.start()
        try:
            times = []
            for _ in range(runs):
                start = time.time()
                out = subprocess.run(
                    [sys.executable, "-c", STARTUP_CHILD, srv.base_url],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=True,
                ).stdout
                drawn = float(
                    next(ln for ln in out.splitlines() if ln.startswith("DRAWN")).split()[1]
                )
                times.append(drawn - start)
        finally:
            srv.stop()
    imports = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t=time.perf_counter(); import fttui.app, fttui.screens.main; "
            "print(time.perf_counter()-t)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        "median_s": statistics.median(times),
        "max_s": max(times),
        "import_app_s": float(imports.strip()),
    }


HANDLERS: dict[str, list[float]] = {}


def _timed(owner: type, name: str) -> None:
    """Wrap `owner.name` to record how long each synchronous call blocks the loop."""
    original = getattr(owner, name)

    def wrapper(*args: object, **kwargs: object) -> object:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            HANDLERS.setdefault(f"{owner.__name__}.{name}", []).append(time.perf_counter() - start)

    setattr(owner, name, wrapper)


async def load(n_jobs: int, n_events: int) -> dict[str, object]:
    from fttui.api import Client
    from fttui.app import FtTuiApp
    from fttui.screens.main import MainScreen
    from widgets import EventLog, FileTable, JobTable, KeyValueTable, MetricsPanel

    for owner, name in (
        (MainScreen, "_show_jobs"),
        (MainScreen, "_flush_events"),
        (JobTable, "set_jobs"),
        (JobTable, "_drain"),
        (FileTable, "set_files"),
        (EventLog, "add_events"),
        (MetricsPanel, "set_frame"),
        (KeyValueTable, "set_items"),
    ):
        _timed(owner, name)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        t = time.perf_counter()
        big = seed(data, n_jobs, n_events)
        seed_s = time.perf_counter() - t
        srv = ServerProcess(data_dir=data, port=free_port())
        srv.start()
        try:
            app = FtTuiApp(Client(srv.base_url, max_retries=1))
            lags: list[float] = []
            async with app.run_test(size=(160, 48)) as pilot:
                loop = asyncio.get_running_loop()
                expected = [loop.time() + 0.01]

                def probe() -> None:
                    now = loop.time()
                    lags.append(max(0.0, now - expected[0]))
                    expected[0] = now + 0.01

                app.set_interval(0.01, probe)
                main = app.main
                table = main.query_one(JobTable)
                started = t = time.perf_counter()
                while len(table.jobs) < n_jobs + 1 or table.rows_pending:
                    await pilot.pause(0.05)
                jobs_s = time.perf_counter() - t
                # A few periodic refreshes of the full table (2 s interval).
                await pilot.pause(5.0)
                refresh_lags = list(lags)
                # The big job is the newest, so it has been selected (and followed)
                # since the start, alongside the jobs load.
                table.select_id(big)
                log = main.query_one(EventLog)
                while len(log.lines) + log.dropped_lines < n_events:
                    await pilot.pause(0.1)
                    if time.perf_counter() - started > 300:
                        break
                follow_s = time.perf_counter() - started
                await pilot.pause(2.0)  # the plot of 25,000 metrics points is built
        finally:
            srv.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ordered = sorted(lags)
    return {
        "seed_s": seed_s,
        "all_jobs_loaded_s": jobs_s,
        "all_events_shown_since_start_s": follow_s,
        "max_lag_ms_jobs": 1000 * max(refresh_lags),
        "max_lag_ms_overall": 1000 * max(lags),
        "p99_lag_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
        "probes": len(lags),
        "peak_rss_mb": rss_mb,
        "handler_max_ms": {k: round(1000 * max(v), 1) for k, v in sorted(HANDLERS.items())},
        "handler_calls": {k: len(v) for k, v in sorted(HANDLERS.items())},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--events", type=int, default=50000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps({"startup": startup(args.runs)}, indent=2), flush=True)
    print(json.dumps({"load": asyncio.run(load(args.jobs, args.events))}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
