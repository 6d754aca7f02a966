"""How fast the TUI starts and how responsive it stays under a big backend.

    python benchmarks/tui_bench.py [--jobs 5000] [--events 50000] [--runs 5]
        [--only startup|load] [--baseline OTHER_CHECKOUT]

1. Startup: a real local server with a few jobs is started; then `--runs` times a
   fresh process runs `fttui` (the console script's entry point, default `local`
   profile pointed at that server) on a 160x48 pseudo-terminal and reports the wall
   time from just before the process was spawned until the jobs pane has been
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
import compileall
import fcntl
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # ServerProcess and free_port from tests/conftest.py

from conftest import ServerProcess, free_port  # noqa: E402

from fttui.store.db import Store, new_id  # noqa: E402

STARTUP_CHILD = r"""
import os, sys, time

import fttui.app as appmod

# The probe: the first frame written to the terminal after the jobs pane has its
# rows. Textual calls App._display with each frame it has just rendered, so the
# time taken there is when the user sees the screen (a timer-based check would
# itself be delayed by the busy start-up and add its own latency).
original_display = appmod.FtTuiApp._display
state = {"done": False}


def _display(self, screen, renderable):
    original_display(self, screen, renderable)
    if state["done"]:
        return
    try:
        from widgets import JobTable

        table = self.main.query_one(JobTable)
    except Exception:  # not composed yet
        return
    if table.jobs and table.rows_pending == 0:
        state["done"] = True
        cpu = time.process_time()
        os.write(int(os.environ["PROBE_FD"]), f"DRAWN {time.time():.6f} {cpu:.6f}\n".encode())
        # Exit a little later: exiting at once could drop this frame before the
        # writer thread sent it to the terminal, where the parent looks for the jobs.
        self.set_timer(0.3, self.exit)


appmod.FtTuiApp._display = _display
from fttui.cli import main

sys.exit(main([]))
"""


def _run_fttui_in_pty(
    env: dict[str, str], cols: int = 160, rows: int = 48, cwd: Path = ROOT
) -> tuple[float, float, float]:
    """Start `fttui` (the console script's `main([])`) on a pseudo-terminal of
    `cols`x`rows`; return seconds from spawn to the first drawn screen with jobs
    (the probe in the app), seconds from spawn until a job id reached the terminal
    (what the user sees, read from the pty: independent of the app's own
    bookkeeping, so fair to an older checkout), and the CPU seconds the process had
    used when the probe fired (steadier than wall time on a shared machine)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    read_end, write_end = os.pipe()
    start = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", STARTUP_CHILD],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        pass_fds=(write_end,),
        env={**env, "PROBE_FD": str(write_end)},
        cwd=cwd,  # `python -c` imports fttui from the working directory first
        start_new_session=True,
    )
    os.close(slave)
    os.close(write_end)

    seen: list[float] = []

    def drain() -> None:  # the terminal's output: read it as a terminal would
        tail = b""
        with suppress(OSError):
            while chunk := os.read(master, 65536):
                if not seen and b"ftjob-" in tail + chunk:
                    seen.append(time.time())
                tail = chunk[-8:]

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        with os.fdopen(read_end) as probe:
            line = probe.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(timeout=5)
        os.close(master)
    if not line.startswith("DRAWN") or not seen:
        raise RuntimeError(f"fttui did not draw its first screen (exit {proc.returncode})")
    _, drawn, cpu = line.split()
    return float(drawn) - start, seen[0] - start, float(cpu)


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


def startup(runs: int, baseline: Path | None = None) -> dict[str, Any]:
    """Median and worst time of `runs` starts of `fttui` against a running local server.

    The child runs the real entry point: profile resolution (a `local` profile in a
    temporary config dir pointing at the server), the launcher's check that the
    server answers, then the app on a real pseudo-terminal. Bytecode of fttui and
    widgets is compiled first, as `pip install` does (an editable install does not).
    With `baseline` (another checkout, e.g. a `git worktree` of an older commit),
    its starts are interleaved with this checkout's against the same server, so a
    busy machine slows both alike; the ratio of medians is reported.
    """
    roots = [ROOT] if baseline is None else [ROOT, baseline.resolve()]
    for root in roots:
        compileall.compile_dir(root / "fttui", quiet=1)
        compileall.compile_dir(root / "widgets", quiet=1)
    results: dict[Path, list[tuple[float, float, float]]] = {root: [] for root in roots}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        config = Path(tmp) / "config"
        data.mkdir()
        config.mkdir()
        seed(data, 20, 10)
        srv = ServerProcess(data_dir=data, port=free_port())
        srv.start()
        (config / "config.toml").write_text(f'[profiles.local]\nbase_url = "{srv.base_url}"\n')
        env = {
            k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "NO_COLOR")
        }
        env.update(FTTUI_CONFIG_DIR=str(config), FTTUI_DATA_DIR=str(data), TERM="xterm-256color")
        try:
            for root in roots:
                _run_fttui_in_pty(env, cwd=root)  # warm the OS file cache
            for _ in range(runs):
                for root in roots:
                    results[root].append(_run_fttui_in_pty(env, cwd=root))
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
        cwd=ROOT,
    ).stdout

    def summary(runs_of: list[tuple[float, float, float]]) -> dict[str, float]:
        times = [wall for wall, _, _ in runs_of]
        return {
            "median_s": statistics.median(times),
            "max_s": max(times),
            "min_s": min(times),
            "median_on_terminal_s": statistics.median(seen for _, seen, _ in runs_of),
            "median_cpu_s": statistics.median(cpu for _, _, cpu in runs_of),
        }

    out: dict[str, Any] = {**summary(results[ROOT]), "import_app_s": float(imports.strip())}
    if baseline is not None:
        base = summary(results[roots[1]])
        out["baseline"] = {"checkout": str(roots[1]), **base}
        out["speedup_median"] = base["median_s"] / out["median_s"]
        out["speedup_on_terminal"] = base["median_on_terminal_s"] / out["median_on_terminal_s"]
    return out


HANDLERS: dict[str, list[float]] = {}


def _timed(owner: type, name: str) -> None:
    """Wrap `owner.name` to record how long each synchronous call blocks the loop
    (names an older checkout lacks are skipped, so `--baseline` style runs work)."""
    original = getattr(owner, name, None)
    if original is None:
        return

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

    try:  # the panes (this round); older checkouts did it all in MainScreen
        from fttui.panes import EventsPane, JobsPane
    except ImportError:
        EventsPane = JobsPane = MainScreen  # type: ignore[misc,assignment]

    for owner, name in (
        (MainScreen, "_show_jobs"),
        (MainScreen, "_flush_events"),
        (JobsPane, "_show"),
        (EventsPane, "_flush"),
        (JobTable, "set_jobs"),
        (JobTable, "_measure_chunk"),
        (JobTable, "render_line"),
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
            when: list[float] = []  # seconds since the probe started, per lag sample
            async with app.run_test(size=(160, 48)) as pilot:
                loop = asyncio.get_running_loop()
                expected = [loop.time() + 0.01]
                probe_start = loop.time()

                def probe() -> None:
                    now = loop.time()
                    lags.append(max(0.0, now - expected[0]))
                    when.append(now - probe_start)
                    expected[0] = now + 0.01

                app.set_interval(0.01, probe)
                main = app.main
                table = main.query_one(JobTable)
                started = t = time.perf_counter()
                while len(table.jobs) < n_jobs + 1 or table.rows_pending:
                    await pilot.pause(0.05)
                jobs_s = time.perf_counter() - t
                loaded_at = len(lags)
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
        "max_lag_ms_first_load": 1000 * max(lags[:loaded_at]),
        "max_lag_ms_after_first_load": 1000 * max(lags[loaded_at:]),
        "max_lag_ms_overall": 1000 * max(lags),
        "worst_lags_ms_at_s": sorted(
            ((round(1000 * lag), round(at, 2)) for lag, at in zip(lags, when, strict=True)),
            reverse=True,
        )[:6],
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
    parser.add_argument("--only", choices=("startup", "load"), help="run one part only")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout whose start-up is measured interleaved with this one",
    )
    args = parser.parse_args()
    if args.only != "load":
        print(json.dumps({"startup": startup(args.runs, args.baseline)}, indent=2), flush=True)
    if args.only != "startup":
        print(json.dumps({"load": asyncio.run(load(args.jobs, args.events))}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
