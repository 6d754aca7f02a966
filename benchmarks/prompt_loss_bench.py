"""Step time of completion-only training before and after `prompt_loss_weight` was
honoured, and what a weight > 0 costs.

Variants, run interleaved in ONE process on the same model and data (prompt/completion
rows of train_bench.py's shape), each engine imported from git at its revision:

- `before`: fttui/train/engine.py at `--before` (default a1d347e, the last revision
  that trained completion tokens only), no weight;
- `after w=0`: the engine at `--after` (default b08e3e9, the commit that honours the
  weight), no weight: must match `before` (same packing, same kept positions);
- `after w=1` (`--weight`): the same engine with the prompt weighted, so the LM head
  also runs on every prompt position.

Each round trains every variant for `--steps` steps from the same initial weights; the
first step of each run is a warm-up and not counted. Reported: the median step time
(wall and process CPU, the latter steadier on a shared box) and the ratios to `before`.
`--model default` is SmolLM2-135M-Instruct (its 49k-token LM head is where a weight
costs); `--model tiny` the test suite's 2-layer model (Python and packing overhead).

    python benchmarks/prompt_loss_bench.py --model tiny --rounds 7 --steps 10
    python benchmarks/prompt_loss_bench.py --model default --rounds 3 --steps 3
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def engine_at(revision: str) -> ModuleType:
    """fttui/train/engine.py as it was at `revision`, imported as its own module (its
    imports of the rest of fttui resolve to today's modules, which these revisions'
    engines use unchanged: fttui.train.data's Example/IGNORE and fttui.train.metrics)."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:fttui/train/engine.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    name = f"engine_{revision}"
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Clock:
    """Wall and process CPU time at each step's end (CPU time is steadier on a shared box)."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []

    def should_stop(self) -> bool:
        return False

    def on_step(self, row: dict[str, Any], total_steps: int) -> None:
        self.marks.append((time.perf_counter(), time.process_time()))

    def on_epoch_end(self, *args: Any, **kwargs: Any) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--weight", type=float, default=1.0)
    parser.add_argument("--before", default="a1d347e")
    parser.add_argument("--after", default="b08e3e9")
    parser.add_argument("--model", choices=("default", "tiny"), default="default")
    args = parser.parse_args()

    import torch
    from train_bench import make_data

    from fttui.core.models import default_model_spec
    from fttui.data.encode import encode_prompt_completion
    from fttui.train.client import cache_dir
    from fttui.train.data import Example
    from fttui.train.models import base_location, load_for_training

    before, after = engine_at(args.before), engine_at(args.after)
    torch.manual_seed(0)
    if args.model == "tiny":
        from fttui.train.tiny import build_tiny_model

        location = str(build_tiny_model(Path(tempfile.mkdtemp()) / "tiny"))
    else:  # the node's converted copy of the default model, as the trainer uses it
        location = base_location(default_model_spec(), cache_dir())
    model, tokenizer = load_for_training(location, torch.device("cpu"))
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    n = args.steps * args.batch_size
    examples = []
    for i, row in enumerate(make_data(n), start=1):
        ids, labels = encode_prompt_completion(tokenizer, row["prompt"], row["completion"])
        examples.append(Example(i, ids, labels, row["completion"]))
    completion = sum(sum(1 for x in ex.labels if x != -100) for ex in examples)
    tokens = sum(ex.n_tokens for ex in examples)
    print(f"{n} examples, {tokens} tokens, {completion} completion tokens")

    print(f"model {args.model}; before = {args.before}, after = {args.after}")
    # What changed at w=0 is the packing and the loss bookkeeping around unchanged model
    # calls: timed alone, the fastest of many repeats (steady even on a loaded box).
    batch = examples[: args.batch_size]
    cpu_device = torch.device("cpu")
    packs = {
        "before": lambda: before.pack(batch, cpu_device),
        "after w=0": lambda: after.pack(batch, cpu_device, 0.0),
        f"after w={args.weight:g}": lambda: after.pack(batch, cpu_device, args.weight),
    }
    best = {name: float("inf") for name in packs}
    for _ in range(10):  # interleaved rounds
        for name, call in packs.items():
            best[name] = min(best[name], min(timeit.repeat(call, number=100, repeat=3)) / 100)
    for name, call in packs.items():
        rows = int(call().keep.numel())
        print(f"pack {name:<12} {best[name] * 1e6:8.1f} us per batch, {rows} LM-head rows")
    variants = {
        "before": (before, 0.0),
        "after w=0": (after, 0.0),
        f"after w={args.weight:g}": (after, args.weight),
    }
    steps: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(args.rounds):
        # The order rotates each round, so no variant always runs first (or after another).
        for name in names[r % len(names) :] + names[: r % len(names)]:
            module, weight = variants[name]
            model.load_state_dict(initial)
            config = module.TrainConfig(n_epochs=1, batch_size=args.batch_size, learning_rate=1e-4)
            if weight:
                config.prompt_loss_weight = weight
            clock = Clock()
            start = (time.perf_counter(), time.process_time())
            module.train(model, examples, [], config, clock, torch.device("cpu"))
            marks = [start, *clock.marks]
            pairs = list(zip(marks, marks[1:], strict=False))[1:]  # first step: warm-up
            times = [b[0] - a[0] for a, b in pairs]
            steps[name] += times
            cpu[name] += [b[1] - a[1] for a, b in pairs]
            print(
                f"round {r + 1} {name}: median step {statistics.median(times):.3f} s wall, "
                f"{statistics.median(cpu[name][-len(pairs) :]):.3f} s CPU"
            )
    base, base_cpu = statistics.median(steps["before"]), statistics.median(cpu["before"])
    low, low_cpu = min(steps["before"]), min(cpu["before"])
    print(
        "\nvariant      median step wall (s)  ratio   median step CPU (s)  ratio"
        "   fastest step CPU (s)  ratio"
    )
    for name in variants:
        med, med_cpu = statistics.median(steps[name]), statistics.median(cpu[name])
        print(
            f"{name:<12} {med:>20.3f} {med / base:>6.3f}   {med_cpu:>19.3f} {med_cpu / base_cpu:>6.3f}"
            f"   {min(cpu[name]):>20.3f} {min(cpu[name]) / low_cpu:>6.3f}"
        )
    print(f"({len(steps['before'])} steps per variant; fastest wall step of before: {low:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
