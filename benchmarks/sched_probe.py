"""Is a slow answer the server's doing, or is the whole machine not running?

    python benchmarks/sched_probe.py [--base-url http://127.0.0.1:8765/v1] [--duration 60]

Two threads, for `--duration` seconds, at this process's own priority:

- a sleeper that sleeps 2 ms in a loop and records every wake-up more than 20 ms late
  (it touches neither the server nor its store: if it is late, the machine did not run
  it);
- with `--base-url`, a client that times `GET /fine_tuning/jobs?limit=1` every 100 ms
  and records every answer slower than 50 ms.

Prints one JSON object: each late wake-up and slow answer as [seconds since start,
milliseconds]. Run it beside `benchmarks/load_test.py` (whose server's port is in its
`fttui serve` command line); late wake-ups at the same instants as slow answers mean
the stall is the machine's, not the server's (docs/reliability.md).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any

import httpx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="a server to time (its /v1 URL)")
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    start = time.monotonic()
    found: dict[str, list[Any]] = {"late_wakeups": [], "slow_answers": []}

    def since() -> float:
        return round(time.monotonic() - start, 3)

    def sleeper() -> None:
        while time.monotonic() - start < args.duration:
            before = time.monotonic()
            time.sleep(0.002)
            late = time.monotonic() - before - 0.002
            if late > 0.02:
                found["late_wakeups"].append([since(), round(late * 1000, 1)])

    def client() -> None:
        with httpx.Client(base_url=args.base_url, timeout=30) as http:
            while time.monotonic() - start < args.duration:
                before = time.monotonic()
                try:
                    http.get("/fine_tuning/jobs", params={"limit": 1})
                except httpx.HTTPError as exc:
                    found["slow_answers"].append([since(), f"{type(exc).__name__}: {exc}"])
                    time.sleep(0.1)
                    continue
                took = time.monotonic() - before
                if took > 0.05:
                    found["slow_answers"].append([since(), round(took * 1000, 1)])
                time.sleep(0.1)

    threads = [threading.Thread(target=sleeper)]
    if args.base_url:
        threads.append(threading.Thread(target=client))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(found))


if __name__ == "__main__":
    main()
