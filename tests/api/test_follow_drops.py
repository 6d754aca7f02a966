"""`jobs.follow` keeps every event exactly once, in order, across dropped connections.

Events are written straight into the store (as the trainer writes them) while a
follower runs against the real server, once through a proxy that cuts connections
mid-response and once while the server is killed and restarted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import ServerProcess, free_port

from fttui.api import Client, JobEvent
from fttui.store.db import Store

from .conftest import write_jsonl
from .helpers import CuttingProxy


def stored_ids(store: Store, job_id: str) -> list[str]:
    return [row["id"] for row in store.events_since(job_id)]


async def collect(client: Client, job_id: str, into: list[JobEvent]) -> None:
    async for event in client.jobs.follow(job_id, poll_interval=0.05):
        into.append(event)


async def test_follow_through_connections_cut_mid_response(
    queued_server: ServerProcess, tmp_path: Path
) -> None:
    async with Client(queued_server.base_url) as direct:
        training = await direct.files.upload(write_jsonl(tmp_path / "t.jsonl", 10))
        job = await direct.jobs.create(training_file=training.id, model="davinci")
    store = Store(queued_server.data_dir)
    got: list[JobEvent] = []
    try:
        async with (
            CuttingProxy(queued_server.port, min_cut=300, max_cut=50_000) as proxy,
            Client(
                proxy.base_url, max_retries=1, retry_initial_delay=0.01, retry_max_delay=0.05
            ) as flaky,
        ):
            follower = asyncio.create_task(collect(flaky, job.id, got))
            # 250 metrics events in bursts of 10, 40 and 200 (written without yielding to
            # the follower), so one poll must walk back across several pages of 100.
            step = 0
            for burst in (10, 40, 200):
                for _ in range(burst):
                    step += 1
                    store.add_event(
                        job.id, f"Step {step}/250: training loss={1 / step:.4f}",
                        type="metrics", data={"step": step, "train_loss": 1 / step},
                    )  # fmt: skip
                await asyncio.sleep(0.3)
            async with Client(queued_server.base_url) as direct:
                await direct.jobs.cancel(job.id)
            await asyncio.wait_for(follower, timeout=60)
        print(f"proxy: {proxy.connections} connections, {proxy.cuts} cut mid-response")
        assert proxy.cuts >= 3, "the proxy never cut a connection: the test proved nothing"
        assert [e.id for e in got] == stored_ids(store, job.id)
        steps = [m.step for e in got if (m := e.metrics) is not None]
        assert steps == list(range(1, 251))
    finally:
        store.close()


async def test_follow_survives_server_kill_and_restart(data_dir: Path, tmp_path: Path) -> None:
    srv = ServerProcess(data_dir=data_dir, port=free_port(), extra_args=("--concurrency", "0"))
    srv.start()
    store = Store(data_dir)
    got: list[JobEvent] = []
    try:
        async with Client(srv.base_url, retry_initial_delay=0.05, retry_max_delay=0.2) as client:
            training = await client.files.upload(write_jsonl(tmp_path / "t.jsonl", 10))
            job = await client.jobs.create(training_file=training.id, model="davinci")
            follower = asyncio.create_task(collect(client, job.id, got))
            store.add_event(job.id, "before the crash")
            await asyncio.sleep(0.3)
            srv.stop(kill=True)  # connections refused from here on
            for i in range(5):
                store.add_event(job.id, f"written while the server was down {i}")
            await asyncio.sleep(0.5)
            await asyncio.to_thread(srv.start)
            store.add_event(job.id, "after the restart")
            await client.jobs.cancel(job.id)
            await asyncio.wait_for(follower, timeout=60)
        messages = [e.message for e in got]
        assert [e.id for e in got] == stored_ids(store, job.id)
        assert "before the crash" in messages and "after the restart" in messages
        assert messages.index("before the crash") < messages.index("after the restart")
    finally:
        store.close()
        srv.stop()
