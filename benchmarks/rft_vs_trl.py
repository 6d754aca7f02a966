"""Reinforcement fine-tuning: fttui's local server vs Hugging Face TRL's GRPOTrainer.

One run trains the default model (SmolLM2-135M-Instruct, the same local weights on
both sides) on benchmarks/rft_task.py's task (answer with the city name only; the same
training prompts, the same `python` grader run by fttui's grading code on both sides)
with the same settings, fttui's local defaults: 4 prompts x 4 sampled answers a step,
`--epochs` over the file, sampling temperature DEFAULT_TEMPERATURE, at most
MAX_NEW_TOKENS new tokens, learning rate 5e-5 (linear decay, 3% warm-up), KL weight
DEFAULT_BETA, full fine-tuning, the group-normalised advantage and the per-answer token
mean of the loss (TRL's `loss_type="grpo"`, `scale_rewards="group"`). fttui picks its
precision itself (bf16 autocast where the CPU has native bf16, as the job's events
say); TRL follows `--trl-bf16`.

- fttui: a real `fttui serve` on loopback, the job created with the OpenAI SDK
  (`method={"type": "reinforcement", ...}`), timed from the create call; each step's
  time is its metrics event's arrival.
- TRL: `GRPOTrainer` in its own process (TRL is benchmark-only), timed from before
  the model is loaded; each step's time is its `on_log` callback.

Both report, per step, the wall time and the step's mean reward; the figure compared
is the time until the mean reward of the last `--window` steps first reaches
`--target` (and the median seconds a step). Sides run one after the other (a 2-core
box cannot run both at once fairly); `--order` says which goes first.

TRL lives in a throwaway venv that also sees the project's (as for
benchmarks/train_bench.py):

    python -m venv .bench/venv
    echo "import site; site.addsitedir('$PWD/.venv/lib/python3.11/site-packages')" \\
        > .bench/venv/lib/python3.11/site-packages/main.pth
    .bench/venv/bin/pip install trl==1.16.0
    nice -n 5 python benchmarks/rft_vs_trl.py --trl-python .bench/venv/bin/python

A tiny smoke run (minutes): `--train 8 --epochs 1 --target 0.2`.
Figures from this machine are in docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import rft_task  # noqa: E402

from fttui.train.rft import DEFAULT_BETA, DEFAULT_TEMPERATURE, MAX_NEW_TOKENS  # noqa: E402

BATCH = 4  # prompts a step
GROUP = 4  # answers sampled per prompt (compute_multiplier 1)
LR_MULTIPLIER = 0.05  # x the default model's base learning rate 1e-3 = 5e-5


def time_to(curve: list[dict[str, float]], target: float, window: int) -> float | None:
    """Seconds until the mean reward of the last `window` steps first reaches `target`."""
    for i in range(len(curve)):
        last = curve[max(0, i - window + 1) : i + 1]
        if len(last) == min(window, len(curve)) and (
            sum(p["reward"] for p in last) / len(last) >= target
        ):
            return curve[i]["t"]
    return None


def summary(name: str, curve: list[dict[str, float]], args: argparse.Namespace) -> dict[str, Any]:
    step_s = [b["t"] - a["t"] for a, b in zip(curve, curve[1:], strict=False)]
    return {
        "side": name,
        "steps": len(curve),
        "seconds": curve[-1]["t"] if curve else None,
        "median_step_s": round(statistics.median(step_s), 1) if step_s else None,
        "first_reward": curve[0]["reward"] if curve else None,
        "last_window_reward": (
            round(sum(p["reward"] for p in curve[-args.window :]) / min(args.window, len(curve)), 3)
            if curve
            else None
        ),
        "seconds_to_target": time_to(curve, args.target, args.window),
    }


# -- fttui --------------------------------------------------------------------------------
def run_fttui(args: argparse.Namespace, data_dir: Path) -> list[dict[str, float]]:
    import openai

    curve: list[dict[str, float]] = []
    with rft_task.server(data_dir, rft_task._free_port()) as url:
        client = openai.OpenAI(base_url=url, api_key="local", max_retries=0, timeout=600)
        content = "".join(json.dumps(r) + "\n" for r in rft_task.train_rows(args.train)).encode()
        train_id = client.files.create(file=("rft.jsonl", content), purpose="fine-tune").id
        # The file's validation is not training: wait for it before the clock starts.
        while client.files.retrieve(train_id).status not in ("processed", "error"):
            time.sleep(0.5)
        started = time.monotonic()
        job = client.fine_tuning.jobs.create(
            model=rft_task.DEFAULT_MODEL,
            training_file=train_id,
            method={  # type: ignore[arg-type]
                "type": "reinforcement",
                "reinforcement": {
                    "grader": rft_task.GRADER,
                    "hyperparameters": {
                        "n_epochs": args.epochs,
                        "batch_size": BATCH,
                        "learning_rate_multiplier": LR_MULTIPLIER,
                        "compute_multiplier": GROUP / 4,
                    },
                },
            },
            seed=args.seed,
        )
        seen: set[str] = set()
        while True:
            job = client.fine_tuning.jobs.retrieve(job.id)
            for ev in reversed(client.fine_tuning.jobs.list_events(job.id, limit=1000).data):
                if ev.id in seen:
                    continue
                seen.add(ev.id)
                data = ev.data if isinstance(ev.data, dict) else {}
                if ev.type == "metrics" and "train_reward_mean" in data:
                    point = {
                        "step": data["step"],
                        "t": round(time.monotonic() - started, 1),
                        "reward": data["train_reward_mean"],
                    }
                    curve.append(point)
                    print(f"  fttui {point}", flush=True)
            if job.status in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(1)
        if job.status != "succeeded":
            raise RuntimeError(f"fttui job {job.id} {job.status}: {job.error}")
    return curve


# -- TRL ----------------------------------------------------------------------------------
def run_trl(args: argparse.Namespace, location: str) -> list[dict[str, float]]:
    """Runs in the TRL venv (`--side trl`)."""
    started = time.monotonic()
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from fttui.train.grading import Grading

    torch.manual_seed(args.seed)
    model = AutoModelForCausalLM.from_pretrained(location, dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(location)
    rows = rft_task.train_rows(args.train)
    dataset = Dataset.from_list([{"prompt": r["messages"], "city": r["city"]} for r in rows])
    grading = Grading(rft_task.GRADER)

    def reward(completions: list[Any], city: list[str], **_: Any) -> list[float]:
        texts = [c[-1]["content"] if isinstance(c, list) else str(c) for c in completions]
        graded = grading.grade(texts, [{"city": c} for c in city])
        return [g.reward for g in graded]

    curve: list[dict[str, float]] = []

    class Clock(TrainerCallback):  # type: ignore[misc]
        def on_log(
            self,
            args: Any,
            state: Any,
            control: Any,
            logs: dict[str, float] | None = None,
            **kwargs: Any,
        ) -> None:
            if logs and "reward" in logs:
                point = {
                    "step": state.global_step,
                    "t": round(time.monotonic() - started, 1),
                    "reward": float(logs["reward"]),
                }
                curve.append(point)
                print(f"  trl {point}", flush=True)

    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(
            output_dir=out,
            per_device_train_batch_size=BATCH * GROUP,  # completions a step
            num_generations=GROUP,
            gradient_accumulation_steps=1,
            num_iterations=1,
            num_train_epochs=args.epochs,
            learning_rate=1e-3 * LR_MULTIPLIER,
            lr_scheduler_type="linear",
            # fttui's warm-up: 3% of the steps, at least one.
            warmup_steps=max(1, math.ceil(0.03 * math.ceil(args.train / BATCH) * args.epochs)),
            weight_decay=0.0,
            max_grad_norm=1.0,
            beta=DEFAULT_BETA,
            loss_type="grpo",
            scale_rewards="group",
            temperature=DEFAULT_TEMPERATURE,
            top_p=1.0,
            top_k=0,
            max_completion_length=MAX_NEW_TOKENS,
            # TRL turns it on by default; fttui leaves it off for a model this small
            # (its job events say so): the same work on both sides.
            gradient_checkpointing=False,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            bf16=args.trl_bf16,
            dataloader_num_workers=0,
            seed=args.seed,
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=reward,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[Clock()],
        )
        trainer.train()
    return curve


def model_dir(data_dir: Path) -> str:
    from fttui.store import Store
    from fttui.train.models import ensure_local, resolve

    store = Store(data_dir)
    return ensure_local(store, resolve(store, rft_task.DEFAULT_MODEL))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=64, help="training prompts")
    parser.add_argument("--epochs", type=int, default=4, help="64 prompts x 4 epochs = 64 steps")
    parser.add_argument("--target", type=float, default=0.5, help="mean reward to reach")
    parser.add_argument("--window", type=int, default=4, help="steps averaged for the target")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--order", choices=["fttui-first", "trl-first"], default="fttui-first")
    parser.add_argument("--trl-python", default=str(ROOT / ".bench" / "venv" / "bin" / "python"))
    parser.add_argument("--trl-bf16", action="store_true", help="TRL in bf16 (fttui chooses)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--side", choices=["trl"], help=argparse.SUPPRESS)
    parser.add_argument("--location", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "trl":
        print("CURVE " + json.dumps(run_trl(args, args.location)), flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="rft-vs-trl-") as tmp:
        location = model_dir(Path(tmp) / "trl")
        results: dict[str, list[dict[str, float]]] = {}
        for side in ["fttui", "trl"] if args.order == "fttui-first" else ["trl", "fttui"]:
            print(f"{side}: {os.getloadavg()[0]:.1f} load average at start", flush=True)
            if side == "fttui":
                (Path(tmp) / "fttui").mkdir()
                results[side] = run_fttui(args, Path(tmp) / "fttui")
                continue
            cmd = [args.trl_python, __file__, "--side", "trl", "--location", location]
            cmd += ["--train", str(args.train), "--epochs", str(args.epochs)]
            cmd += ["--seed", str(args.seed)] + (["--trl-bf16"] if args.trl_bf16 else [])
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            # Its steps are printed as they come (a TRL step can take minutes on a
            # busy CPU); its stderr (progress bars, warnings) goes to a file.
            errors = Path(tmp) / "trl.stderr"
            out_lines: list[str] = []
            with errors.open("w") as err:
                proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
                assert proc.stdout is not None
                for line in proc.stdout:
                    out_lines.append(line.rstrip("\n"))
                    if line.startswith("  trl "):
                        print(line, end="", flush=True)
                returncode = proc.wait()
            lines = [ln for ln in out_lines if ln.startswith("CURVE ")]
            if returncode != 0 or not lines:
                print("\n".join(out_lines[-40:]), errors.read_text()[-3000:], sep="\n")
                raise SystemExit(f"the TRL side failed (exit {returncode})")
            results[side] = json.loads(lines[-1][len("CURVE ") :])
    rows = [summary(side, curve, args) for side, curve in results.items()]
    out = {
        "target": args.target,
        "window": args.window,
        "train_prompts": args.train,
        "epochs": args.epochs,
        "load_average_end": os.getloadavg(),
        "sides": rows,
        "curves": results,
    }
    reached = {r["side"]: r["seconds_to_target"] for r in rows}
    if reached.get("fttui") and reached.get("trl"):
        out["trl_over_fttui_time_to_target"] = round(reached["trl"] / reached["fttui"], 2)
    print(json.dumps({k: v for k, v in out.items() if k != "curves"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
