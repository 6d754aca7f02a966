"""Disk use of the data directory after two 1-epoch full fine-tunes of the default model.

For each source tree given (e.g. a checkout of an older commit beside this one), a
fresh data directory and a real `fttui serve` from that tree: one small chat file
uploaded, two jobs (default model, full weights, 1 epoch) run one after the other to
`succeeded`, the server stopped, then the data directory measured as `du` measures
it (allocated blocks, a file with two links counted once): the whole directory and
its parts: `jobs/` (checkpoints), `models/` without `base/` (the fine-tuned models),
`models/base/` (the default model converted once from its GGUF) and the rest (files,
database).

    python benchmarks/disk_bench.py --tree before=/tmp/fttui-before --tree after=.

Run niced: each job loads, trains and saves a 135M-parameter model on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def du(*paths: Path) -> int:
    """Bytes allocated, each inode once across `paths` (as `du -s --block-size=1`)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top in paths:
        if not top.exists():
            continue
        walked = [(str(top.parent), [], [top.name])] if top.is_file() else os.walk(top)
        for dirpath, _dirs, files in walked:
            for name in files:
                st = os.lstat(os.path.join(dirpath, name))
                key = (st.st_dev, st.st_ino)
                if key not in seen:
                    seen.add(key)
                    total += st.st_blocks * 512
    return total


def _rest(data: Path, fine_tuned: list[Path]) -> list[Path]:
    """Everything in the data directory but `jobs/` and the fine-tuned models."""
    out = [p for p in data.iterdir() if p.name not in ("jobs", "models")]
    models = data / "models"
    if models.is_dir():
        out += [p for p in models.iterdir() if p not in fine_tuned]
    return out


def _lines() -> str:
    rows = []
    for i in range(6):
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"What is {i} plus {i}?"},
                    {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."},
                ]
            }
        )
    return "".join(json.dumps(r) + "\n" for r in rows)


def run_tree(label: str, tree: Path, work: Path) -> dict[str, int | str | float]:
    data = work / f"data-{label}"
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "FTTUI_CACHE_DIR": str(work / f"cache-{label}"),
    }
    log = open(work / f"server-{label}.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "fttui", "serve", "--port", str(port), "--data-dir", str(data)],
        cwd=tree,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    started = time.monotonic()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/models", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{label}: the server did not start") from None
                time.sleep(0.2)
        file_id = httpx.post(
            f"{base}/files",
            files={"file": ("tiny.jsonl", _lines().encode(), "application/jsonl")},
            data={"purpose": "fine-tune"},
            timeout=60,
        ).json()["id"]
        for n in range(2):
            job = httpx.post(
                f"{base}/fine_tuning/jobs",
                json={
                    "model": "SmolLM2-135M-Instruct",
                    "training_file": file_id,
                    "hyperparameters": {"n_epochs": 1, "batch_size": 2},
                    "suffix": f"disk-{n}",
                },
                timeout=60,
            ).json()
            if "id" not in job:
                raise RuntimeError(f"{label}: job not created: {job}")
            while True:
                status = httpx.get(f"{base}/fine_tuning/jobs/{job['id']}", timeout=60).json()
                if status["status"] in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(2)
            if status["status"] != "succeeded":
                raise RuntimeError(
                    f"{label}: job {job['id']} {status['status']}: {status['error']}"
                )
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    models = data / "models"
    fine_tuned = [p for p in models.iterdir() if p.name != "base"] if models.is_dir() else []
    result: dict[str, int | str | float] = {
        "tree": label,
        "total": du(data),
        "jobs": du(data / "jobs"),
        "fine_tuned_models": du(*fine_tuned),
        "jobs_and_models": du(data / "jobs", *fine_tuned),
        "base": du(models / "base"),
        # What the two jobs add to the data directory: all of it less what is there
        # without them (the converted base, the uploaded file, the database). A model
        # file that is a link to the base's (the tokenizer) adds nothing.
        "added_by_jobs": du(data) - du(*_rest(data, fine_tuned)),
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    shutil.rmtree(data, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tree", action="append", required=True, help="LABEL=PATH of a source tree"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fttui-disk-") as tmp:
        rows = []
        for item in args.tree:
            label, _, path = item.partition("=")
            rows.append(run_tree(label, Path(path).resolve(), Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    mb = 1_000_000
    keys = ("total", "jobs", "fine_tuned_models", "jobs_and_models", "added_by_jobs", "base")
    print(
        "\n| tree | data dir | jobs/ (checkpoints) | fine-tuned models | jobs/ + models "
        "(du of both) | added by the jobs | models/base |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['tree']} | " + " | ".join(f"{int(r[k]) / mb:,.1f} MB" for k in keys) + " |")
    if len(rows) == 2:
        for key in ("total", "jobs_and_models", "added_by_jobs"):
            ratio = int(rows[1][key]) / int(rows[0][key])
            print(f"{key}, {rows[1]['tree']} / {rows[0]['tree']}: {ratio:.4f}")


if __name__ == "__main__":
    main()
