"""Benchmark `fttui prepare --json` against the legacy `openai tools fine_tunes.prepare_data`.

Generates a prompt/completion JSONL file (default 100k lines, ~150 MB) under .bench/,
creates a throwaway venv with openai==0.28.1 (+ pandas, numpy) there, then runs both
tools on the same file, alternating, N times each, recording wall time and the peak
resident memory of each process tree (psutil polling). Prints a Markdown table.

    python benchmarks/prepare_bench.py --lines 100000 --mb 150 --runs 3

The legacy tool counts no tokens; fttui counts every token of every example.
`--baseline DIR` adds `fttui prepare` from another checkout (e.g. a worktree of an
older commit) as a third tool in the same interleaved runs, for before/after figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
LEGACY_VENV = BENCH / "legacy-venv"

WORDS = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "is",
    "it",
    "that",
    "for",
    "on",
    "with",
    "as",
    "was",
    "at",
    "by",
    "this",
    "be",
    "from",
    "or",
    "have",
    "an",
    "customer",
    "product",
    "order",
    "shipping",
    "refund",
    "price",
    "quality",
    "great",
    "terrible",
    "good",
    "bad",
    "fast",
    "slow",
    "delivery",
    "package",
    "arrived",
    "damaged",
    "excellent",
    "service",
    "support",
    "return",
    "exchange",
    "size",
    "color",
    "fit",
    "comfortable",
    "recommend",
    "would",
    "again",
    "never",
    "always",
    "love",
    "hate",
    "item",
    "review",
    "stars",
    "quickly",
    "broken",
    "working",
    "perfectly",
    "expected",
    "described",
    "seller",
    "value",
]
LABELS = (" positive", " negative", " neutral")


def generate(path: Path, n_lines: int, target_bytes: int, seed: int = 0) -> Path:
    """A clean prompt/completion file of `n_lines` lines totalling about `target_bytes`.

    Prompts end with the separator, completions start with a space and end with
    ' END' (the legacy guide's conditional-generation shape), so both tools see valid data.
    """
    rng = random.Random(seed)
    per_line = max(64, target_bytes // n_lines)
    words_per_line = max(4, int(per_line / 6.3))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n_lines):
            words = rng.choices(WORDS, k=words_per_line)
            cut = int(len(words) * 0.8)
            prompt = " ".join(words[:cut]).replace('"', "") + f" #{i}\n\n###\n\n"
            completion = " " + " ".join(words[cut:]) + rng.choice(LABELS) + " END"
            out.write(
                '{"prompt": "'
                + prompt.replace("\n", "\\n")
                + '", "completion": "'
                + completion
                + '"}\n'
            )
    return path


def ensure_legacy_venv() -> Path:
    """A venv with the legacy CLI (openai 0.28.1 needs pandas and numpy for prepare_data)."""
    python = LEGACY_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LEGACY_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "openai==0.28.1", "pandas", "numpy"],
            check=True,
        )
    return LEGACY_VENV / "bin" / "openai"


def measure(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """(wall seconds, peak RSS bytes of the process tree, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = root.memory_info().rss + sum(
                child.memory_info().rss for child in root.children(recursive=True)
            )
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    return time.perf_counter() - start, peak, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--mb", type=float, default=150.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", default="davinci-002")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout whose fttui prepare runs alongside"
    )
    args = parser.parse_args()

    data = BENCH / f"bench_{args.lines}_{int(args.mb)}mb.jsonl"
    if not data.exists():
        print(f"generating {data} ...", flush=True)
        generate(data, args.lines, int(args.mb * 1e6))
    size = data.stat().st_size
    legacy = ensure_legacy_venv()
    tools = {
        "fttui prepare --json": [
            sys.executable,
            "-m",
            "fttui",
            "prepare",
            str(data),
            "--json",
            "--model",
            args.model,
        ],
        "openai 0.28.1 prepare_data -q": [
            str(legacy),
            "tools",
            "fine_tunes.prepare_data",
            "-f",
            str(data),
            "-q",
        ],
    }
    envs: dict[str, dict[str, str] | None] = dict.fromkeys(tools)
    if args.baseline is not None:
        name = f"fttui prepare --json ({args.baseline.name}, baseline)"
        tools[name] = tools["fttui prepare --json"]
        envs[name] = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
    # Warm every tool (page cache, tiktoken cache), then alternate the measured runs.
    for name, cmd in tools.items():
        measure(cmd, BENCH, envs[name])
    results: dict[str, list[tuple[float, int, int]]] = {name: [] for name in tools}
    for _ in range(args.runs):
        for name, cmd in tools.items():
            results[name].append(measure(cmd, BENCH, envs[name]))
    print(
        f"\nfile: {data.name}, {args.lines:,} lines, {size / 1e6:.1f} MB, "
        f"{os.cpu_count()} CPUs, median of {args.runs} runs\n"
    )
    print("| tool | wall time (s) | peak RSS (MB) | exit code |")
    print("|---|---:|---:|---:|")
    medians = {}
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        peak = max(r[1] for r in runs)
        medians[name] = (wall, peak)
        print(f"| {name} | {wall:.2f} | {peak / 1e6:.0f} | {runs[-1][2]} |")
    (ft_wall, ft_peak), (lg_wall, lg_peak), *base = medians.values()
    print(f"\nspeed-up {lg_wall / ft_wall:.2f}x, memory ratio {lg_peak / ft_peak:.2f}x")
    if base:
        (b_wall, b_peak), *_ = base
        print(
            f"this checkout vs baseline: wall {ft_wall / b_wall:.2f}x, RSS {ft_peak / b_peak:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
