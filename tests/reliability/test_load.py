"""Load: concurrent clients against a real server (benchmarks/load_test.py).

The CI profile (10 clients, 5 s) asserts zero errors and that every operation ran;
the long profile (200 clients at 1 request/s each, 30 s, the default model training
meanwhile) also asserts the latency target of p99 < 50 ms for list/retrieve/events.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from benchmarks.load_test import measure_all, run_load, seed_jobs

from .helpers import StartServer

NO_RATE_LIMIT = {"FTTUI_RATE_LIMIT": "0"}  # every client shares 127.0.0.1


async def test_short_load_has_zero_errors(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0", env=NO_RATE_LIMIT)
    ids, _ = seed_jobs(srv.base_url, None, n_queued=3)
    result = await run_load(srv.base_url, ids, clients=10, duration=5, think=0.05)
    summary = result.summary()
    assert summary["errors"] == 0, summary
    for op in ("list_jobs", "retrieve_job", "events", "upload"):
        assert summary[op]["requests"] > 0, summary
    listed = len([p for p in (srv.data_dir / "files").iterdir()])
    assert listed == 1 + summary["upload"]["requests"]  # every accepted upload is stored


@pytest.mark.long
def test_two_hundred_clients_while_the_default_model_trains(
    start_server: StartServer, tmp_path: Path
) -> None:
    """The issue's figure: 200 clients at 1 request/s each while the default model
    trains: zero errors, p99 < 50 ms for list/retrieve/events. Needs an otherwise idle
    2-core box (see docs/reliability.md)."""
    import httpx

    srv = start_server(env=NO_RATE_LIMIT)
    model = httpx.get(f"{srv.base_url}/models", timeout=30).json()["data"][0]["id"]
    ids, training = seed_jobs(srv.base_url, model)
    # As `python benchmarks/load_test.py --clients 200 --rate 1 --duration 30 --procs 2`:
    # a 3 s warm-up on the same connections, two load-generator processes.
    args = argparse.Namespace(clients=200, rate=1.0, think=0.0, duration=30, warmup=3, procs=2)
    summary = measure_all(srv.base_url, ids, args).summary()
    assert summary["errors"] == 0, summary
    for op in ("list_jobs", "retrieve_job", "events"):
        assert summary[op]["p99_ms"] < 50, summary
