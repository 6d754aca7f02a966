"""Load: concurrent clients against a real server (benchmarks/load_test.py).

The CI profile (10 clients, 5 s) asserts zero errors and that every operation ran;
the long profile (50 clients, 20 s, a real job training meanwhile) also asserts the
latency target of p99 < 100 ms for list/retrieve/events.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.load_test import register_tiny, run_load, seed_jobs

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
async def test_fifty_clients_while_training_meet_the_latency_target(
    start_server: StartServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "load"
    data_dir.mkdir()
    model = register_tiny(data_dir)
    srv = start_server(env=NO_RATE_LIMIT, data_dir=data_dir)
    ids, training = seed_jobs(srv.base_url, model)
    await run_load(srv.base_url, ids, clients=50, duration=3, think=0.5)  # warm-up
    summary = (await run_load(srv.base_url, ids, clients=50, duration=20, think=0.5)).summary()
    assert summary["errors"] == 0, summary
    for op in ("list_jobs", "retrieve_job", "events"):
        assert summary[op]["p99_ms"] < 100, summary
