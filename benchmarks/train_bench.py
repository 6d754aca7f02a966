"""Training throughput of fttui's engine vs Hugging Face TRL's SFTTrainer.

Same model (the default SmolLM2-135M-Instruct, converted from its GGUF), same
prompt/completion data, same batch size, same learning rate and schedule, loss on
completion tokens only on both sides. Each configuration runs in its own process (so
peak RSS is that process's own) for 1 warm-up epoch plus `--epochs` measured epochs;
throughput is non-padding tokens per second per measured epoch, and the median is
reported.

TRL is benchmark-only: install it into a throwaway venv that also sees the project's
venv, e.g.

    python -m venv .bench/venv
    echo "import site; site.addsitedir('$PWD/.venv/lib/python3.11/site-packages')" \
        > .bench/venv/lib/python3.11/site-packages/main.pth
    .bench/venv/bin/pip install trl==1.16.0
    .bench/venv/bin/python benchmarks/train_bench.py

Without TRL installed the TRL rows are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORDS = [
    "the",
    "model",
    "learns",
    "from",
    "examples",
    "and",
    "each",
    "prompt",
    "ends",
    "with",
    "a",
    "separator",
    "while",
    "every",
    "completion",
    "starts",
    "with",
    "a",
    "space",
    "and",
    "stops",
    "at",
    "a",
    "fixed",
    "sequence",
    "so",
    "inference",
    "matches",
]


def make_data(
    n: int,
    seed: int = 0,
    prompt_words: tuple[int, int] = (10, 100),
    completion_words: tuple[int, int] = (3, 30),
) -> list[dict[str, str]]:
    """Prompts of 10-100 words and completions of 3-30 words by default: realistic
    length spread (gpu_bench asks for its own ranges)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(*prompt_words)))
        completion = " " + " ".join(
            rng.choice(WORDS) for _ in range(rng.randint(*completion_words))
        )
        rows.append({"prompt": prompt + "\n\n###\n\n", "completion": completion + " END"})
    return rows


def model_dir(data_dir: Path) -> str:
    from fttui.core.models import DEFAULT_MODEL
    from fttui.store import Store
    from fttui.train.models import ensure_local, resolve

    store = Store(data_dir)
    return ensure_local(store, resolve(store, DEFAULT_MODEL))


def run_ours(args: argparse.Namespace, location: str, rows: list[dict[str, str]]) -> dict[str, Any]:
    import torch

    from fttui.data.encode import Example, encode_prompt_completion
    from fttui.train.engine import TrainConfig, train
    from fttui.train.models import load_for_training

    torch.manual_seed(0)
    model, tokenizer = load_for_training(location, torch.device("cpu"))
    examples = []
    for i, row in enumerate(rows, start=1):
        ids, labels = encode_prompt_completion(tokenizer, row["prompt"], row["completion"])
        examples.append(Example(i, ids, labels, row["completion"]))
    marks: list[float] = []
    losses: list[float] = []
    epoch_losses: list[float] = []

    class Clock:
        def should_stop(self) -> bool:
            return False

        def on_step(self, row: dict[str, Any], total_steps: int) -> None:
            losses.append(float(row["training_loss"]))

        def on_epoch_end(
            self, epoch: int, step: int, row: dict[str, Any], model: Any, **_: Any
        ) -> None:
            marks.append(time.perf_counter())
            epoch_losses.append(statistics.fmean(losses))
            losses.clear()

    config = TrainConfig(
        n_epochs=args.epochs + 1,
        batch_size=args.batch_size,
        learning_rate=args.lr * (10 if args.method == "lora" else 1),
        method=args.method,
        bf16=args.bf16,
    )
    start = time.perf_counter()
    train(model, examples, [], config, Clock(), torch.device("cpu"))
    tokens = sum(ex.n_tokens for ex in examples)
    return {
        "tokens_per_epoch": tokens,
        "epoch_seconds": _epochs(start, marks),
        "epoch_loss": epoch_losses,
    }


def run_trl(args: argparse.Namespace, location: str, rows: list[dict[str, str]]) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(location, dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(location)
    marks: list[float] = []
    epoch_losses: list[float] = []

    class Clock(TrainerCallback):  # type: ignore[misc]
        def on_epoch_end(self, *a: Any, **k: Any) -> None:
            marks.append(time.perf_counter())

        def on_log(self, *a: Any, logs: dict[str, float] | None = None, **k: Any) -> None:
            if logs and "loss" in logs:  # logged once an epoch: the epoch's mean loss
                epoch_losses.append(float(logs["loss"]))

    with tempfile.TemporaryDirectory() as out:
        config = SFTConfig(
            output_dir=out,
            per_device_train_batch_size=args.batch_size,
            num_train_epochs=args.epochs + 1,
            learning_rate=args.lr * (10 if args.method == "lora" else 1),
            lr_scheduler_type="linear",
            warmup_steps=1,
            weight_decay=0.0,
            max_grad_norm=1.0,
            completion_only_loss=True,
            max_length=2048,
            logging_strategy="epoch",
            save_strategy="no",
            eval_strategy="no",
            report_to="none",
            use_cpu=True,
            # TRL defaults to bf16; here it follows --bf16 like ours (fp32 otherwise: on a
            # CPU without native bf16, bf16 autocast is emulated and far slower).
            bf16=args.bf16,
            dataloader_num_workers=0,
            seed=0,
        )
        peft_config = None
        if args.method == "lora":
            peft_config = LoraConfig(
                r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"
            )
        trainer = SFTTrainer(
            model=model,
            args=config,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[Clock()],
        )
        tokens = sum(len(x) for x in trainer.train_dataset["input_ids"])
        start = time.perf_counter()
        trainer.train()
    return {
        "tokens_per_epoch": tokens,
        "epoch_seconds": _epochs(start, marks),
        "epoch_loss": epoch_losses,
    }


def _epochs(start: float, marks: list[float]) -> list[float]:
    edges = [start, *marks]
    return [b - a for a, b in zip(edges, edges[1:], strict=False)]


def child(args: argparse.Namespace) -> None:
    if args.impl == "ours":
        # What fttui's trainer process does first (fttui/train/host.py): passive
        # OpenMP waiting and no per-step page faults. Before torch loads.
        sys.path.insert(0, str(ROOT))
        from fttui.train.host import configure_process

        configure_process()
    rows = make_data(args.examples)
    location = model_dir(args.data_dir)
    runner = run_trl if args.impl == "trl" else run_ours
    result = runner(args, location, rows)
    measured = result["epoch_seconds"][1:]  # epoch 1 is warm-up
    per_epoch = [result["tokens_per_epoch"] / s for s in measured]
    result.update(tokens_per_second=per_epoch, median=statistics.median(per_epoch))
    print("RESULT " + json.dumps(result), flush=True)


def spawn(args: argparse.Namespace, impl: str, method: str, bf16: bool) -> dict[str, Any] | None:
    cmd = [
        sys.executable, __file__, "--child", "--impl", impl, "--method", method,
        "--epochs", str(args.epochs), "--examples", str(args.examples),
        "--batch-size", str(args.batch_size), "--lr", str(args.lr),
        "--data-dir", str(args.data_dir),
    ] + (["--bf16"] if bf16 else [])  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
    if status != 0 or line is None:
        print(f"{impl} {method}: failed (exit status {status})", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="measured epochs (plus 1 warm-up)")
    parser.add_argument("--examples", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".bench" / "data")
    parser.add_argument("--only", choices=["ours", "trl"], help="run one implementation only")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="full", help=argparse.SUPPRESS)
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="also measure bf16 autocast, both sides, full and LoRA (for a CPU with native bf16)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of every configuration, order alternating"
    )
    parser.add_argument(
        "--reverse-first", type=int, choices=[0, 1], default=0,
        help="1: the first round runs the configurations in reverse order",
    )  # fmt: skip
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    model_dir(args.data_dir)  # convert once, outside the timed processes
    try:
        import trl  # noqa: F401

        have_trl = True
    except ImportError:
        have_trl = False
        print("trl is not installed: TRL rows skipped", file=sys.stderr)
    configs = [
        ("ours", "full", False),
        ("trl", "full", False),
        ("ours", "lora", False),
        ("trl", "lora", False),
    ]
    if args.bf16:
        configs += [
            ("ours", "full", True),
            ("trl", "full", True),
            ("ours", "lora", True),
            ("trl", "lora", True),
        ]
    results: dict[str, list[dict[str, Any]]] = {}
    for round_ in range(args.rounds):
        # Odd rounds run the configurations in reverse order, so a load that changes
        # during the run weighs on both sides alike.
        order = configs if (round_ + args.reverse_first) % 2 == 0 else configs[::-1]
        print(f"round {round_ + 1}: load average {os.getloadavg()}", flush=True)
        for impl, method, bf16 in order:
            if (impl == "trl" and not have_trl) or (args.only and impl != args.only):
                continue
            name = f"{impl} {method}" + (" bf16" if bf16 else "")
            res = spawn(args, impl, method, bf16)
            if res is not None:
                results.setdefault(name, []).append(res)
                runs = ", ".join(f"{t:.0f}" for t in res["tokens_per_second"])
                curve = ", ".join(f"{x:.3f}" for x in res.get("epoch_loss", []))
                print(
                    f"{name:15s} median {res['median']:7.0f} tok/s  (epochs: {runs})  "
                    f"peak RSS {res['peak_rss_mib']:.0f} MiB  loss per epoch: {curve}",
                    flush=True,
                )
    medians = {
        name: statistics.median(t for r in runs for t in r["tokens_per_second"])
        for name, runs in results.items()
    }
    for name, value in medians.items():
        print(f"{name:15s} median over all measured epochs {value:7.0f} tok/s")
    for method in ("full", "lora", "full bf16", "lora bf16"):
        ours, theirs = medians.get(f"ours {method}"), medians.get(f"trl {method}")
        if ours and theirs:
            print(f"{method}: fttui / TRL median throughput = {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
