"""The checker streams: peak memory stays bounded on a large file, every token counted."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000


def _generator():  # type: ignore[no-untyped-def]
    """The benchmark's file generator (benchmarks/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "prepare_bench", ROOT / "benchmarks" / "prepare_bench.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate


def test_peak_memory_is_bounded_on_a_60_mb_file(tmp_path: Path) -> None:
    path = _generator()(tmp_path / "big.jsonl", 40_000, 60 * MB)
    size = path.stat().st_size
    assert size >= 50 * MB
    out = tmp_path / "report.json"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            # The benchmark's model (docs/data.md): prepare's default is the local one.
            [
                sys.executable,
                "-m",
                "fttui",
                "prepare",
                str(path),
                "--model",
                "davinci-002",
                "--json",
            ],
            stdout=sink,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        ps = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, ps.memory_info().rss)
            time.sleep(0.01)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    report = json.loads(out.read_text())
    assert report["summary"]["n_examples"] == 40_000
    # Every token counted: ~1 token per 4-7 bytes of this English-like text.
    assert size / 8 < report["summary"]["tokens_per_epoch"] < size / 3
    assert peak < 300 * MB, f"peak RSS {peak / MB:.0f} MB on a {size / MB:.0f} MB file"
