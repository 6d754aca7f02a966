"""How fast the server's `validating_files` step checks a job's files.

Runs what the validation worker runs (`fttui.train.validate.handle`: the default
model's tokenizer, `check_job_files`) on generated prompt/completion and chat files
under .bench/, after one warm-up, and prints examples per second (median of runs), by
wall time and by the process's CPU time (steady on a shared, loaded machine):

    python benchmarks/validation_bench.py --lines 20000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from fttui.core.models import DEFAULT_MODEL, load_registry
from fttui.train.validate import handle

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"


def write(path: Path, n: int, chat: bool) -> Path:
    with path.open("w") as out:
        for i in range(n):
            text = f"Review {i}: the product arrived on time and works as described"
            if chat:
                row: dict[str, object] = {
                    "messages": [
                        {"role": "system", "content": "You classify reviews."},
                        {"role": "user", "content": text},
                        {"role": "assistant", "content": "positive" if i % 2 else "negative"},
                    ]
                }
            else:
                row = {"prompt": text + "\n\n###\n\n", "completion": " positive END"}
            out.write(json.dumps(row) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    BENCH.mkdir(exist_ok=True)
    spec = load_registry(tempfile.mkdtemp())[DEFAULT_MODEL]
    model = {
        "id": spec.id,
        "source": spec.source,
        "gguf_file": spec.gguf_file,
        "context_length": spec.context_length,
    }
    print("| file | examples | median wall s | examples/s (wall) | examples/s (CPU time) |")
    print("|---|---:|---:|---:|---:|")
    for chat in (False, True):
        path = write(BENCH / f"validate_{'chat' if chat else 'pc'}.jsonl", args.lines, chat)
        request = {"job_id": "bench", "training": str(path), "model": model}
        assert handle(request)["ok"]  # warm-up: tokenizer loaded and cached
        times, cpu = [], []
        for _ in range(args.runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            answer = handle(request)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            assert answer["ok"], answer
        median, median_cpu = statistics.median(times), statistics.median(cpu)
        kind = "chat" if chat else "prompt/completion"
        print(
            f"| {kind} | {args.lines:,} | {median:.2f} | {args.lines / median:,.0f} "
            f"| {args.lines / median_cpu:,.0f} |"
        )


if __name__ == "__main__":
    main()
