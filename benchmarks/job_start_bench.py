"""How much sooner a job ends with its trainer in standby (FTTUI_TRAINER_STANDBY).

Side by side in one run, the two settings alternating: a fresh server on the tiny
test model, then
  - `first`: one job, from its creation to `succeeded` (the trainer loads torch and
    transformers while the server's validation worker starts and checks the file);
  - `queued`: two jobs created together (`--concurrency 1`), from their creation to
    the second one's `succeeded` (its trainer loads while the first one trains).
The tiny model trains in a tenth of a second, so these times are almost all process
start-up: the part standby trainers shorten.

    python benchmarks/job_start_bench.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import ServerProcess, free_port, register_tiny_model  # noqa: E402

from fttui.train.tiny import build_tiny_model  # noqa: E402

ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"hi {i}"},
            {"role": "assistant", "content": "hello"},
        ]
    }
    for i in range(8)
]


def _wait(api: httpx.Client, job_id: str) -> None:
    while True:
        status = api.get(f"/fine_tuning/jobs/{job_id}").json()["status"]
        if status in ("succeeded", "failed", "cancelled"):
            assert status == "succeeded", status
            return
        time.sleep(0.02)


def run_once(tiny: Path, standby: bool, jobs: int) -> float:
    """Seconds from creating `jobs` jobs at once to the last one's `succeeded`."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        register_tiny_model(data, tiny)
        env = {"FTTUI_TRAINER_STANDBY": "1" if standby else "0"}
        srv = ServerProcess(data_dir=data, port=free_port(), env=env)
        srv.start()
        try:
            with httpx.Client(base_url=srv.base_url, timeout=60) as api:
                body = "".join(json.dumps(r) + "\n" for r in ROWS)
                file_id = api.post(
                    "/files", files={"file": ("t.jsonl", body)}, data={"purpose": "fine-tune"}
                ).json()["id"]
                start = time.monotonic()
                made = [
                    api.post(
                        "/fine_tuning/jobs",
                        json={"model": "tiny-test", "training_file": file_id, "seed": i},
                    ).json()["id"]
                    for i in range(jobs)
                ]
                for job_id in made:
                    _wait(api, job_id)
                return time.monotonic() - start
        finally:
            srv.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        tiny = build_tiny_model(Path(tmp) / "tiny")
        times: dict[tuple[str, bool], list[float]] = {}
        for _ in range(args.repeats):
            for name, jobs in (("first", 1), ("queued", 2)):
                for standby in (False, True):
                    times.setdefault((name, standby), []).append(run_once(tiny, standby, jobs))
    print(f"{'scenario':<8} {'standby off':>12} {'standby on':>11} {'on/off':>7}  (medians, s)")
    for name in ("first", "queued"):
        off = statistics.median(times[(name, False)])
        on = statistics.median(times[(name, True)])
        print(f"{name:<8} {off:>12.2f} {on:>11.2f} {on / off:>7.2f}")
    print("all runs:", {f"{k[0]}/{'on' if k[1] else 'off'}": [round(t, 2) for t in v]
                        for k, v in times.items()})  # fmt: skip


if __name__ == "__main__":
    main()
