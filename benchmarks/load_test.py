"""Load test of the local server: N concurrent clients for a fixed time, on loopback.

    python benchmarks/load_test.py [--clients 50] [--duration 20]
                                   [--think 0.5 | --rate 1.0]
                                   [--train tiny|default|none]
                                   [--base-url URL] [--json OUT]

Without `--base-url` it starts its own `fttui serve` on a fresh data dir (rate limit
off: every client shares 127.0.0.1, and the point is to measure the server, not the
limiter), uploads a training file and, with `--train`, starts a real fine-tuning job
that keeps training for the whole run (`tiny`: the test suite's tiny model; `default`:
SmolLM2-135M). Each client then loops over the operations a TUI does, in proportion:
list jobs, retrieve a job, poll its events, and now and then upload a small file.

`--rate R` paces every client at R requests per second on a fixed schedule (a
client that falls behind sends at once, it never skips), so the offered load stays
clients x R whatever the latency: `--clients 200 --rate 1` is 200 requests/s.
`--think T` instead pauses ~T s after each answer (closed loop).

It prints, per operation, the requests done, throughput, p50/p99 latency and errors,
the load average before and after, and exits 1 if any request failed. The latency is
measured at the client, so it includes the client's own share of the (2-core) CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fttui.server.logfile import read_tail

# (operation, weight): what a few open TUIs do, with an occasional upload.
MIX = (("list_jobs", 4), ("retrieve_job", 4), ("events", 4), ("upload", 1))
TRAIN_LINES = b"".join(
    b'{"prompt": "animal %d says\\n\\n###\\n\\n", "completion": " %s END"}\n'
    % (i, [b"meow", b"woof", b"tweet"][i % 3])
    for i in range(60)
)
SMALL_FILE = TRAIN_LINES[: TRAIN_LINES.index(b"\n", 2000) + 1]


@dataclass
class OpStats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)


@dataclass
class LoadResult:
    clients: int
    duration: float
    ops: dict[str, OpStats]
    think: float = 0.0
    rate: float = 0.0

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "clients": self.clients,
            "think_s": self.think,
            "rate_per_client": self.rate,
            "duration_s": round(self.duration, 2),
        }
        total = 0
        for name, stats in sorted(self.ops.items()):
            lat = sorted(stats.latencies)
            n = len(lat)
            total += n
            out[name] = {
                "requests": n,
                "per_s": round(n / self.duration, 1),
                "p50_ms": round(_pct(lat, 50) * 1000, 1),
                "p99_ms": round(_pct(lat, 99) * 1000, 1),
                "max_ms": round(lat[-1] * 1000, 1) if lat else None,
                "errors": stats.errors,
                "error_samples": stats.error_samples[:3],
            }
        out["total_per_s"] = round(total / self.duration, 1)
        out["errors"] = sum(s.errors for s in self.ops.values())
        return out


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(pct / 100 * len(values) + 0.5) - 1))
    return values[index]


async def _one(client: httpx.AsyncClient, op: str, job_ids: list[str]) -> httpx.Response:
    job = random.choice(job_ids)
    if op == "list_jobs":
        return await client.get("/fine_tuning/jobs", params={"limit": 20})
    if op == "retrieve_job":
        return await client.get(f"/fine_tuning/jobs/{job}")
    if op == "events":
        return await client.get(f"/fine_tuning/jobs/{job}/events", params={"limit": 20})
    return await client.post(
        "/files",
        data={"purpose": "fine-tune"},
        files={"file": ("small.jsonl", SMALL_FILE, "application/jsonl")},
    )


async def run_load(
    base_url: str,
    job_ids: list[str],
    clients: int = 50,
    duration: float = 20.0,
    headers: dict[str, str] | None = None,
    think: float = 0.0,
    rate: float = 0.0,
    seed_base: int = 0,
    pool: list[httpx.AsyncClient] | None = None,
) -> LoadResult:
    """Run `clients` concurrent loops against `base_url` for `duration` seconds.

    `think` is each client's mean pause between requests (a TUI polls, it does not
    hammer); 0 makes every client send back to back, which measures saturation.
    `rate` (requests per second per client) instead sends on a fixed schedule.
    `pool` (one client per simulated TUI) is reused when given, so a warm-up's
    connections carry into the measured run as a TUI's would.
    """
    ops = {name: OpStats() for name, _ in MIX}
    names = [name for name, _ in MIX]
    weights = [weight for _, weight in MIX]
    owned = pool is None
    if pool is None:
        pool = _clients(base_url, clients, headers)
    try:
        stop_at = time.perf_counter() + duration

        async def worker(seed: int) -> None:
            client = pool[seed]
            rng = random.Random(seed_base + seed)
            if think:  # independent TUIs are not in step: spread the first requests
                await asyncio.sleep(rng.uniform(0, think))
            period = 1.0 / rate if rate else 0.0
            next_at = time.perf_counter() + rng.uniform(0, period)
            while time.perf_counter() < stop_at:
                if period:
                    delay = next_at - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at += period
                    if time.perf_counter() >= stop_at:
                        break
                op = rng.choices(names, weights)[0]
                started = time.perf_counter()
                try:
                    resp = await _one(client, op, job_ids)
                    ok = resp.status_code == 200
                    detail = f"{resp.status_code} {resp.text[:120]}"
                except httpx.HTTPError as exc:
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                ops[op].latencies.append(time.perf_counter() - started)
                if not ok:
                    ops[op].errors += 1
                    ops[op].error_samples.append(detail)
                if think:
                    await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))

        begun = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        elapsed = time.perf_counter() - begun
    finally:
        if owned:
            await asyncio.gather(*(c.aclose() for c in pool))
    return LoadResult(clients=clients, duration=elapsed, ops=ops, think=think, rate=rate)


def _clients(
    base_url: str, clients: int, headers: dict[str, str] | None = None
) -> list[httpx.AsyncClient]:
    # One client (one connection) per simulated TUI, as separate TUIs have: one shared
    # pool of `clients` connections spends its time in the pool's bookkeeping.
    return [
        httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers) for _ in range(clients)
    ]


async def measure(
    base_url: str, ids: list[str], args: argparse.Namespace, clients: int, seed_base: int = 0
) -> LoadResult:
    """A discarded warm-up (connections opened, first-use imports), then the measured
    run on the same connections: a TUI keeps its connection open, so the figure is
    the steady state, not 200 TCP handshakes in its first second."""
    pool = _clients(base_url, clients)
    try:
        if args.warmup > 0:
            await run_load(
                base_url,
                ids,
                clients,
                args.warmup,
                think=args.think,
                rate=args.rate,
                seed_base=seed_base,
                pool=pool,
            )
        return await run_load(
            base_url,
            ids,
            clients,
            args.duration,
            think=args.think,
            rate=args.rate,
            seed_base=seed_base,
            pool=pool,
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in pool))


def _measure_share(
    base_url: str, ids: list[str], args: argparse.Namespace, clients: int, seed_base: int
) -> LoadResult:
    return asyncio.run(measure(base_url, ids, args, clients, seed_base))


def measure_all(base_url: str, ids: list[str], args: argparse.Namespace) -> LoadResult:
    """The clients in `args.procs` processes, their answers merged.

    One asyncio thread of httpx spends ~3.7 ms of CPU per request here, so near 200
    requests/s it is itself the bottleneck and its queue shows up as server latency;
    several processes (each its own loop and share of the clients) keep the
    generator out of the figure. Latency is still measured at the client."""
    procs = max(1, min(args.procs, args.clients))
    if procs == 1:
        return asyncio.run(measure(base_url, ids, args, args.clients))
    shares = [args.clients // procs + (i < args.clients % procs) for i in range(procs)]
    starts = [sum(shares[:i]) for i in range(procs)]
    with ProcessPoolExecutor(procs) as pool:
        parts = list(
            pool.map(
                _measure_share,
                [base_url] * procs,
                [ids] * procs,
                [args] * procs,
                shares,
                starts,
            )
        )
    ops = {name: OpStats() for name, _ in MIX}
    for part in parts:
        for name, stats in part.ops.items():
            ops[name].latencies += stats.latencies
            ops[name].errors += stats.errors
            ops[name].error_samples += stats.error_samples
    first = parts[0]
    return LoadResult(
        clients=args.clients,
        duration=max(p.duration for p in parts),
        ops=ops,
        think=first.think,
        rate=first.rate,
    )


def _own_cpu() -> float:
    """CPU seconds of this process and its finished load-generator processes."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_server(data_dir: Path) -> Iterator[tuple[str, int]]:
    """`fttui serve` on a free loopback port with the rate limit off; yields (base URL, pid)."""
    port = _free_port()
    env = {**os.environ, "FTTUI_RATE_LIMIT": "0"}
    env.pop("FTTUI_API_KEY", None)
    with open(data_dir / "server.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fttui", "serve", "--port", str(port)]
            + ["--data-dir", str(data_dir), "--log-level", "warning"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(read_tail(data_dir / "server.log", 2000))
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in 60 s")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def register_tiny(data_dir: Path) -> str:
    """Build the test suite's tiny model and register it (before the server starts)."""
    from fttui.train.tiny import build_tiny_model

    model_dir = build_tiny_model(data_dir / "tiny-model")
    config = {"models": [{"id": "tiny-test", "source": str(model_dir), "context_length": 256}]}
    (data_dir / "models.json").write_text(json.dumps(config))
    return "tiny-test"


def seed_jobs(base_url: str, model: str | None, n_queued: int = 5) -> tuple[list[str], str | None]:
    """Upload a file and create jobs; with `model`, the first one trains during the run."""
    with httpx.Client(base_url=base_url, timeout=60) as c:
        resp = c.post(
            "/files", data={"purpose": "fine-tune"}, files={"file": ("train.jsonl", TRAIN_LINES)}
        )
        resp.raise_for_status()
        file_id = resp.json()["id"]
        ids: list[str] = []
        training = None
        if model:
            body = {"model": model, "training_file": file_id}
            body["hyperparameters"] = {"n_epochs": 50, "batch_size": 4}
            training = c.post("/fine_tuning/jobs", json=body).raise_for_status().json()["id"]
            ids.append(training)
            # Measure while it trains (steps logged), not while it loads the model.
            deadline = time.monotonic() + 600
            while not any(
                e.get("type") == "metrics"
                for e in c.get(f"/fine_tuning/jobs/{training}/events").json()["data"]
            ):
                status = c.get(f"/fine_tuning/jobs/{training}").json()["status"]
                if status in ("failed", "cancelled", "succeeded") or time.monotonic() > deadline:
                    raise RuntimeError(f"the training job logged no step (status {status})")
                time.sleep(0.5)
        for _ in range(n_queued):
            body = {"model": model or "ada", "training_file": file_id}
            ids.append(c.post("/fine_tuning/jobs", json=body).raise_for_status().json()["id"])
        return ids, training


def training_status(base_url: str, job_id: str | None) -> str:
    if job_id is None:
        return "none"
    return str(httpx.get(f"{base_url}/fine_tuning/jobs/{job_id}", timeout=30).json()["status"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument(
        "--think", type=float, default=0.0, help="mean pause between a client's requests (s)"
    )
    parser.add_argument(
        "--rate", type=float, default=0.0, help="requests per second per client (fixed pace)"
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of load run first and not counted"
    )
    parser.add_argument(
        "--procs",
        type=int,
        default=1,
        help="load-generator processes sharing the clients (one asyncio loop each)",
    )
    parser.add_argument("--train", choices=("tiny", "default", "none"), default="tiny")
    parser.add_argument("--base-url", help="an already running server (its jobs are used)")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()

    if args.base_url:
        jobs = httpx.get(f"{args.base_url}/fine_tuning/jobs", timeout=30).json()["data"]
        ids = [j["id"] for j in jobs] or ["job-none"]
        result = measure_all(args.base_url, ids, args)
        summary = result.summary()
    else:
        with tempfile.TemporaryDirectory() as scratch:
            data_dir = Path(scratch)
            model = register_tiny(data_dir) if args.train == "tiny" else None
            with local_server(data_dir) as (base, pid):
                if args.train == "default":
                    # the server's first base model is its default (SmolLM2-135M)
                    model = httpx.get(f"{base}/models", timeout=30).json()["data"][0]["id"]
                ids, training = seed_jobs(base, model)
                import psutil

                server = psutil.Process(pid)
                server_cpu = sum(server.cpu_times()[:2])
                client_cpu = _own_cpu()
                result = measure_all(base, ids, args)
                summary = result.summary()
                # CPU seconds per wall second over warm-up + run: who used the 2 cores
                wall = result.duration + args.warmup
                summary["server_cpu_share"] = round(
                    (sum(server.cpu_times()[:2]) - server_cpu) / wall, 2
                )
                summary["load_generator_cpu_share"] = round((_own_cpu() - client_cpu) / wall, 2)
                summary["training_job_status_after"] = training_status(base, training)
    summary["train"] = args.train
    summary["cpus"] = os.cpu_count()
    summary["loadavg_before"] = [round(x, 2) for x in load_before]
    summary["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
