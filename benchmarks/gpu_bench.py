"""fttui vs TRL's SFTTrainer on one GPU: tokens/s, MFU and peak GPU memory, full and LoRA.

Made for a machine without internet (torch, transformers, peft and accelerate
installed; TRL carried as wheels): it builds a Qwen2.5-0.5B-shaped model (24 layers,
hidden 896, vocabulary 151,936, ~494M parameters) from its config with random weights
(`fttui.train.tiny.build_model`), so no hub is needed; throughput does not depend on
the weights' values. Same prompt/completion data, batch size, learning rate and
schedule on both sides, loss on completion tokens only, bf16 on both (fttui: its
automatic plan, bf16 autocast over float32 master weights; TRL: `bf16=True`).

Each configuration runs in its own process (so peak memory is its own), in the order
fttui full, TRL full, fttui LoRA, TRL LoRA, for `--warmup` + `--steps` optimizer
steps. Throughput counts non-padding tokens (what the model is trained on); tokens/s
is the median over windows of `--window` steps. MFU = 6 x parameters x tokens/s over
the GPU's dense bf16 peak (`--peak-tflops`, else looked up from the GPU's name); for
LoRA that formula counts weight gradients that are not computed, as is common.

    python benchmarks/gpu_bench.py                  # the H200 run (docs/training.md)
    python benchmarks/gpu_bench.py --tiny --steps 4 # a CPU check with a tiny model
    python benchmarks/gpu_bench.py --shape qwen3-8b --only fttui     # LoRA, 8.2B
    python benchmarks/gpu_bench.py --shape gpt-oss-20b --only fttui  # LoRA, 20.9B MoE

`--shape qwen3-8b` / `gpt-oss-20b` build those models from their published configs
(`fttui.train.memory_plan.SHAPES`) with random bf16 weights (16 / 42 GB on disk under
`--work`; `--layers N` keeps the first N layers' shape for a quicker run), with the tiny
model's byte-level tokenizer (token ids stay far below either vocabulary; throughput does
not depend on them), print `fttui.train.memory_plan`'s estimate for this GPU first, and
run LoRA only by default (full fine-tuning of either does not fit one GPU: the plan).

`--device` is `cuda` by default (no CUDA device: it stops and says so, rather than
training a 0.5B model on a CPU for hours) and `cpu` with `--tiny`. Without TRL
installed the TRL rows are skipped (`--only fttui` skips them anyway). fttui is
imported from this checkout (no install needed); on a machine with only torch,
transformers, peft and accelerate, the fttui side needs nothing more.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "benchmarks"):  # fttui from this checkout, and train_bench
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

# Dense bf16 tensor-core peaks (TFLOP/s) by GPU name, from the vendors' data sheets.
PEAK_BF16_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10G": 70.0,
}


def make_data(n: int, min_words: int, max_words: int, seed: int = 0) -> list[dict[str, str]]:
    """Prompts of min..max words, completions of 10-60 words (a generation task), from
    train_bench's word list."""
    from train_bench import make_data as words_data

    return words_data(n, seed, prompt_words=(min_words, max_words), completion_words=(10, 60))


def peak_tflops(name: str) -> float | None:
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in name:
            return value
    return None


# -- children ---------------------------------------------------------------------------


def _device(args: argparse.Namespace) -> Any:
    import torch

    return torch.device(args.device)


def _reset_peak(args: argparse.Namespace) -> None:
    import torch

    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _peak_mib(args: argparse.Namespace) -> float:
    import torch

    if args.device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # CPU: peak RSS


def _sync(args: argparse.Namespace) -> None:
    import torch

    if args.device == "cuda":
        torch.cuda.synchronize()


def run_fttui(args: argparse.Namespace, rows: list[dict[str, str]]) -> dict[str, Any]:
    import torch

    from fttui.data.encode import Example, encode_prompt_completion
    from fttui.train.engine import TrainConfig, train
    from fttui.train.plan import finish_plan, load_model, plan_loading

    device = _device(args)
    torch.manual_seed(0)
    plan = plan_loading(None, device.type, args.method, args.model)
    model, tokenizer = load_model(args.model, plan, device)
    examples = []
    for i, row in enumerate(rows, start=1):
        ids, labels = encode_prompt_completion(tokenizer, row["prompt"], row["completion"])
        examples.append(Example(i, ids, labels, row["completion"]))
    finish_plan(model, plan, None, device, [e.n_tokens for e in examples], args.batch_size)
    # The model's own parameters (LoRA adds its adapters to the modules in place).
    params = sum(p.numel() for p in model.parameters())
    marks: list[tuple[float, int]] = []
    total = args.warmup + args.steps

    class Clock:
        def should_stop(self) -> bool:
            return len(marks) >= total

        def on_step(self, row: dict[str, Any], total_steps: int) -> None:
            _sync(args)
            marks.append((time.perf_counter(), int(row["elapsed_tokens"])))
            if len(marks) == args.warmup:
                _reset_peak(args)

        def on_epoch_end(self, *a: Any, **k: Any) -> None:
            pass

    epochs = -(-total * args.batch_size // len(examples))
    config = TrainConfig(
        n_epochs=epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr * (10 if args.method == "lora" else 1),
        method=args.method,
        bf16=plan.precision.bf16,
        loss=plan.loss,
        eval_every=10**9,
    )
    train(model, examples, [], config, Clock(), device)
    return {"marks": marks, "params": params, "plan": plan.describe()}


def run_trl(args: argparse.Namespace, rows: list[dict[str, str]]) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    device = _device(args)
    torch.manual_seed(0)
    cuda = device.type == "cuda"
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    params = sum(p.numel() for p in model.parameters())  # before LoRA adds adapters
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    marks: list[tuple[float, int]] = []
    counted = [0]
    total = args.warmup + args.steps

    class Counting(SFTTrainer):  # type: ignore[misc]
        def compute_loss(self, model: Any, inputs: Any, *a: Any, **k: Any) -> Any:
            mask = inputs.get("attention_mask")
            ids = inputs["input_ids"]
            counted[0] += int(mask.sum()) if mask is not None else int(ids.numel())
            return super().compute_loss(model, inputs, *a, **k)

    class Clock(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, training_args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            _sync(args)
            marks.append((time.perf_counter(), counted[0]))
            if len(marks) == args.warmup:
                _reset_peak(args)
            if len(marks) >= total:
                control.should_training_stop = True

    import tempfile

    with tempfile.TemporaryDirectory() as out:
        config = SFTConfig(
            output_dir=out,
            per_device_train_batch_size=args.batch_size,
            max_steps=total,
            learning_rate=args.lr * (10 if args.method == "lora" else 1),
            lr_scheduler_type="linear",
            warmup_steps=1,
            weight_decay=0.0,
            max_grad_norm=1.0,
            completion_only_loss=True,
            max_length=4096,
            logging_strategy="no",
            save_strategy="no",
            eval_strategy="no",
            report_to="none",
            use_cpu=not cuda,
            bf16=cuda,  # bf16 on the GPU like fttui; float32 on a CPU without bf16
            dataloader_num_workers=0,
            seed=0,
        )
        peft_config = None
        if args.method == "lora":
            peft_config = LoraConfig(
                r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"
            )
        trainer = Counting(
            model=model,
            args=config,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[Clock()],
        )
        trainer.train()
    return {"marks": marks, "params": params, "plan": "TRL SFTTrainer defaults, bf16"}


def child(args: argparse.Namespace) -> None:
    rows = make_data(args.examples, args.min_words, args.max_words)
    runner = run_trl if args.impl == "trl" else run_fttui
    print("RESULT " + json.dumps(measure(runner, args, rows)), flush=True)


def measure(runner: Any, args: argparse.Namespace, rows: list[dict[str, str]]) -> dict[str, Any]:
    """Train with `runner` and turn its (time, tokens) marks into tokens/s windows."""
    result: dict[str, Any] = runner(args, rows)
    result.update(throughput(result.pop("marks"), args.warmup, args.window))
    result.update(peak_mib=_peak_mib(args), device=_device_name(args))
    return result


def throughput(marks: list[tuple[float, int]], warmup: int, window: int) -> dict[str, Any]:
    """Tokens/s over windows of `window` steps after `warmup` steps, and their median."""
    marks = marks[max(0, warmup - 1) :]  # from the end of the last warm-up step
    rates = []
    for i in range(0, len(marks) - window, window):
        (t0, n0), (t1, n1) = marks[i], marks[i + window]
        rates.append((n1 - n0) / (t1 - t0))
    if not rates and len(marks) > 1:
        (t0, n0), (t1, n1) = marks[0], marks[-1]
        rates = [(n1 - n0) / (t1 - t0)]
    return {"tokens_per_second": rates, "median": statistics.median(rates) if rates else 0.0}


def mfu(params: int, tokens_per_second: float, peak: float | None) -> float | None:
    """Model FLOPs utilisation: 6 x parameters x tokens/s over the peak (TFLOP/s)."""
    return 6 * params * tokens_per_second / (peak * 1e12) if peak else None


def _device_name(args: argparse.Namespace) -> str:
    import torch

    return torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"


# -- parent -----------------------------------------------------------------------------


def build_shape(args: argparse.Namespace) -> Path:
    """A `fttui.train.memory_plan` shape with random bf16 weights, and a small tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fttui.train import memory_plan
    from fttui.train.tiny import build_model

    overrides = {"num_hidden_layers": args.layers} if args.layers else {}
    target = args.work / f"{args.shape}-{args.layers or 'all'}"
    if not (target / "config.json").exists():
        start = time.perf_counter()
        config = memory_plan.config_for(args.shape, **overrides)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        model.save_pretrained(target)
        del model
        tiny = build_model(args.work / "tokenizer-source", size="tiny")
        AutoTokenizer.from_pretrained(str(tiny)).save_pretrained(target)
        print(f"built {target} in {time.perf_counter() - start:.0f} s", flush=True)
    if args.device == "cuda":
        import torch

        gib = torch.cuda.get_device_properties(0).total_memory / memory_plan.GIB
        c = memory_plan.count(memory_plan.config_for(args.shape, **overrides))
        tokens = args.batch_size * args.max_words * 2  # a rough upper bound per pass
        table = memory_plan.rows(c, tokens=min(tokens, 8192), sequence=2048, rank=16, gpu_gib=gib)
        for row in table:
            print(f"plan: {row}", flush=True)
        print(f"plan: fttui lora -> {memory_plan.choice(c, table, gib, 'lora')}", flush=True)
    return target


def build(args: argparse.Namespace) -> Path:
    from fttui.train.tiny import build_model

    if getattr(args, "shape", None) and args.shape != "qwen2.5-0.5b":
        return build_shape(args)
    size = "tiny" if args.tiny else "0.5b"
    target = args.work / f"qwen2-{size}"
    if not (target / "config.json").exists():
        start = time.perf_counter()
        build_model(target, arch="qwen2", size=size, dtype="float32" if args.tiny else "bfloat16")
        print(f"built {target} in {time.perf_counter() - start:.0f} s", flush=True)
    return target


def spawn(args: argparse.Namespace, impl: str, method: str, model: Path) -> dict[str, Any] | None:
    cmd = [
        sys.executable, __file__, "--child", "--impl", impl, "--method", method,
        "--model", str(model), "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--window", str(args.window), "--examples", str(args.examples),
        "--min-words", str(args.min_words), "--max-words", str(args.max_words),
        "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--device", args.device,
    ]  # fmt: skip
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-2000:]
        text = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        print(f"{impl} {method}: stopped after {args.timeout:.0f} s (--timeout)\n{text}")
        return None
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        print(
            f"{impl} {method}: failed (exit {proc.returncode})\n{proc.stderr[-4000:]}", flush=True
        )
        return None
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["wall_s"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny model (a CPU check)")
    parser.add_argument("--device", choices=["cuda", "cpu"], help="default: cuda (cpu with --tiny)")
    parser.add_argument("--steps", type=int, default=60, help="measured optimizer steps")
    parser.add_argument("--warmup", type=int, default=8, help="unmeasured first steps")
    parser.add_argument("--window", type=int, default=10, help="steps per throughput window")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--min-words", type=int, default=150, help="shortest prompt, in words")
    parser.add_argument("--max-words", type=int, default=600, help="longest prompt, in words")
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak")
    parser.add_argument("--only", choices=["fttui", "trl"])
    parser.add_argument("--methods", help="default: full,lora (lora for the big shapes)")
    parser.add_argument(
        "--shape",
        choices=["qwen2.5-0.5b", "qwen3-8b", "gpt-oss-20b"],
        default="qwen2.5-0.5b",
        help="the model's shape (random weights, no download)",
    )
    parser.add_argument("--layers", type=int, help="keep only N layers of --shape")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "gpu")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--timeout", type=float, help="seconds per configuration (180; 900 with --tiny)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", default="fttui", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="full", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device is None:
        args.device = "cpu" if args.tiny else "cuda"
    if args.timeout is None:
        args.timeout = 900.0 if args.tiny else 180.0
    if args.methods is None:
        args.methods = "full,lora" if args.shape == "qwen2.5-0.5b" else "lora"
    if args.child:
        child(args)
        return
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit(
            "gpu_bench: no CUDA device is visible (torch.cuda.is_available() is False); "
            "for a check on this machine use --tiny (which runs on the CPU)"
        )
    if args.tiny:  # small enough for a CPU in seconds
        args.examples, args.min_words, args.max_words = 32, 10, 40
        args.batch_size, args.window = 4, max(1, min(args.window, args.steps // 2))
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    model = build(args)
    try:
        import trl  # noqa: F401

        have_trl = True
    except ImportError:
        have_trl = False
        if args.only != "fttui":
            print("trl is not installed: TRL rows skipped", flush=True)
    impls = [i for i in ("fttui", "trl") if (args.only in (None, i)) and (i != "trl" or have_trl)]
    results: dict[str, dict[str, Any]] = {}
    load = os.getloadavg()
    for method in args.methods.split(","):
        for impl in impls:
            res = spawn(args, impl, method, model)
            if res is None:
                continue
            res["mfu"] = mfu(
                res["params"], res["median"], args.peak_tflops or peak_tflops(res["device"])
            )
            results[f"{impl} {method}"] = res
            shown = f"{100 * res['mfu']:.1f}%" if res["mfu"] is not None else "n/a"
            print(
                f"{impl:5s} {method:4s}  {res['median']:9.0f} tok/s  MFU {shown:>6s}  "
                f"peak memory {res['peak_mib']:7.0f} MiB  ({res['device']}, "
                f"{res['params'] / 1e6:.0f}M parameters, {res['wall_s']:.0f} s)",
                flush=True,
            )
    for method in args.methods.split(","):
        ours, theirs = results.get(f"fttui {method}"), results.get(f"trl {method}")
        if ours and theirs and theirs["median"]:
            print(f"{method}: fttui / TRL tokens/s = {ours['median'] / theirs['median']:.2f}x")
    print(f"total {time.perf_counter() - started:.0f} s; load average at start {load}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
