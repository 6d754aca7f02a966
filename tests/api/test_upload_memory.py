"""A large upload streams from disk: the uploading process's memory stays flat.

A 64 MB JSONL file is generated, then uploaded to the real server by a separate
Python process that reports its peak RSS (getrusage) before and after the upload.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ServerProcess

SIZE = 64 * 1024 * 1024

UPLOADER = """
import asyncio, json, resource, sys
from fttui.api import Client

async def main() -> None:
    calls = []
    async with Client(sys.argv[1], max_retries=0) as client:
        await client.usage()  # imports, pool and event loop warmed up before the baseline
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        f = await client.files.upload(sys.argv[2], on_progress=lambda s, t: calls.append((s, t)))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"base_kib": base, "peak_kib": peak, "bytes": f.bytes,
                      "calls": len(calls), "last": calls[-1]}))

asyncio.run(main())
"""


def make_file(path: Path) -> int:
    pad = "x" * 150
    size = 0
    with path.open("w", encoding="utf-8") as out:
        n = 0
        while size < SIZE:
            line = (
                json.dumps(
                    {"prompt": f"Question {n}: {pad}\n\n###\n\n", "completion": f" answer {n} END"}
                )
                + "\n"
            )
            out.write(line)
            size += len(line)
            n += 1
    return size


def test_large_upload_memory_stays_flat(queued_server: ServerProcess, tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    size = make_file(big)
    done = subprocess.run(
        [sys.executable, "-c", UPLOADER, queued_server.base_url, str(big)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["bytes"] == size
    assert report["last"] == [size, size] and report["calls"] > 100
    growth = (report["peak_kib"] - report["base_kib"]) * 1024
    print(f"upload of {size / 1e6:.0f} MB: peak RSS grew {growth / 1e6:.2f} MB")
    assert growth < size / 10, f"RSS grew {growth} bytes for a {size}-byte file"
