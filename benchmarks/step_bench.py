"""Per-step cost of small-batch training on CPU: where a step's time goes, before/after.

The case: every default on the default model (SmolLM2-135M-Instruct) with a
300-example generation file, which resolves to batch size 1 and 4 epochs (1,200
optimizer steps), so per-step work that does not scale with tokens decides the run
time. Each arm is a checkout of fttui (this one, and with `--baseline REV` a git
worktree of that revision made under `.bench/`), run in its own process with the
same data, seed and hyperparameters; arms alternate, `--rounds` times, so both see
the same machine load. A child trains through the checkout's own engine
(`fttui.train.engine.train`) after the process set-up its trainer does, with a
reporter that does a trainer's per-step reporting (a results CSV row, a metrics event
in a SQLite store, the estimated finish every 5 steps, a cancel poll twice a second).

Per step it times forward, backward, optimizer (everything between the end of the
backward pass and the reporter: clipping, AdamW, schedule, metrics), reporting and
other (the cancel check and packing the next batch), in wall-clock and CPU seconds, counts page faults, and keeps the training losses,
so the loss curves of the arms can be compared step by step.

    python benchmarks/step_bench.py --baseline main --candidate HEAD --steps 60 --rounds 3
    python benchmarks/step_bench.py --full            # all 1,200 steps, this checkout
    python benchmarks/step_bench.py --tiny --steps 5  # tiny model: a quick check (tests)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("forward", "backward", "optimizer", "reporting", "other")


# -- child: one arm, one run ----------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    code = Path(args.code).resolve()
    sys.path.insert(0, str(code))
    try:  # the trainer's process set-up, where the checkout has one
        from fttui.train.host import configure_process

        configure_process()
    except ImportError:
        pass
    import resource

    import torch

    import fttui
    from fttui.store import Store
    from fttui.train import engine
    from fttui.train.data import load_examples
    from fttui.train.models import load_for_training
    from fttui.train.results import ResultsCsv, metrics_event_data

    assert Path(fttui.__file__).resolve().is_relative_to(code), fttui.__file__
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    model, tokenizer = load_for_training(args.model, device)
    examples = load_examples(Path(args.data), tokenizer, 2048)

    wall = dict.fromkeys(PHASES, 0.0)
    cpu = dict.fromkeys(PHASES, 0.0)
    per_step: list[dict[str, Any]] = []
    mark = {"wall": 0.0, "cpu": 0.0, "phase": ""}

    def enter(phase: str) -> None:
        """Close the running phase and open `phase` (one clock read each)."""
        w, c = time.perf_counter(), time.process_time()
        if mark["phase"]:
            wall[mark["phase"]] += w - mark["wall"]
            cpu[mark["phase"]] += c - mark["cpu"]
        mark.update(wall=w, cpu=c, phase=phase)

    # A forward pass starts with the token embedding, whatever the loss path.
    model.get_input_embeddings().register_forward_pre_hook(lambda *a: enter("forward"))
    backward = torch.Tensor.backward

    def timed_backward(self: Any, *a: Any, **k: Any) -> Any:
        enter("backward")
        out = backward(self, *a, **k)
        enter("optimizer")  # clipping, AdamW, schedule, metrics: up to the reporter
        return out

    torch.Tensor.backward = timed_backward  # type: ignore[method-assign]

    tmp = Path(tempfile.mkdtemp(prefix="step-bench-"))
    store = Store(tmp)
    job = store.create_job(
        model="bench", base_model="bench", training_file="file-x", status="running"
    )
    results = ResultsCsv(tmp / "results.csv", validation=False, classification=None)
    state = {"step": 0, "started": time.monotonic(), "last_poll": 0.0}
    total = args.warmup + args.steps

    class Reporter:
        def should_stop(self) -> bool:
            t = time.monotonic()
            if t - state["last_poll"] >= 0.5:
                state["last_poll"] = t
                store.get_job(job["id"])
            return state["step"] >= total

        def on_step(self, row: dict[str, Any], total_steps: int) -> None:
            enter("reporting")
            results.write(row)
            store.add_event(
                job["id"],
                f"Step {row['step']}/{total_steps}: training loss={row['training_loss']:.4f}",
                type="metrics",
                data=metrics_event_data(row, total_steps),
            )
            if row["step"] == 1 or row["step"] % 5 == 0:
                store.update_job(job["id"], estimated_finish=int(time.time()) + 60)
            enter("other")  # cancel check, batch packing: up to the next forward
            state["step"] = row["step"]
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            per_step.append(
                {
                    "step": row["step"],
                    "loss": row["training_loss"],
                    "tokens": row["elapsed_tokens"],
                    "t": time.perf_counter(),
                    "faults": faults,
                    "wall": dict(wall),
                    "cpu": dict(cpu),
                }
            )

        def on_epoch_end(self, *a: Any, **k: Any) -> None:
            pass

    config = engine.TrainConfig(
        n_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        bf16=args.bf16,
    )
    start = time.perf_counter()
    engine.train(model, examples, [], config, Reporter(), device)
    rows = per_step[args.warmup :]
    first = per_step[args.warmup - 1] if args.warmup else None

    def delta(key: str) -> list[dict[str, float]]:
        out = []
        prev = first
        for r in rows:
            out.append({p: r[key][p] - (prev[key][p] if prev else 0.0) for p in PHASES})
            prev = r
        return out

    steps_wall = [
        r["t"] - (prev["t"] if prev else start)
        for prev, r in zip([first, *rows[:-1]], rows, strict=True)
    ]
    faults = [
        r["faults"] - (prev["faults"] if prev else 0)
        for prev, r in zip([first, *rows[:-1]], rows, strict=True)
    ]
    out = {
        "steps": len(rows),
        "step_wall": steps_wall,
        "phase_wall": delta("wall"),
        "phase_cpu": delta("cpu"),
        "faults": faults,
        "losses": [r["loss"] for r in per_step],
        "tokens": per_step[-1]["tokens"] if per_step else 0,
        "total_wall": time.perf_counter() - start,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
    }
    print("RESULT " + json.dumps(out), flush=True)


# -- parent: arms, rounds, summary ----------------------------------------------------


def _make_file(path: Path, n: int) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from train_bench import make_data

    path.write_text("".join(json.dumps(row) + "\n" for row in make_data(n)), encoding="utf-8")


def _checkout(rev: str) -> Path:
    """A detached git worktree of `rev` under .bench/ (reused), so a long run measures
    fixed code while the working tree changes."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    path = ROOT / ".bench" / f"checkout-{sha}"
    if not path.exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), sha],
            check=True,
            capture_output=True,
        )
    return path


def _model(args: argparse.Namespace) -> str:
    if args.tiny:
        from fttui.train.tiny import build_tiny_model

        target = args.data_dir / "tiny-model"
        if not (target / "config.json").exists():
            build_tiny_model(target)
        return str(target)
    from fttui.core.models import DEFAULT_MODEL
    from fttui.store import Store
    from fttui.train.models import ensure_local, resolve

    store = Store(args.data_dir)
    return ensure_local(store, resolve(store, DEFAULT_MODEL))


def _run_arm(
    args: argparse.Namespace, code: Path, model: str, data: Path, hp: dict[str, Any]
) -> dict[str, Any] | None:
    cmd = [
        sys.executable, __file__, "--child", "--code", str(code), "--model", model,
        "--data", str(data), "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--epochs", str(hp["n_epochs"]), "--batch-size", str(hp["batch_size"]),
        "--lr", str(hp["lr"]), "--seed", str(args.seed), "--threads", str(args.threads),
    ] + (["--bf16"] if args.bf16 else [])  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        print(f"{code}: failed (exit {proc.returncode})\n{proc.stderr[-3000:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(name: str, runs: list[dict[str, Any]]) -> dict[str, float]:
    walls = [w for r in runs for w in r["step_wall"]]
    out = {"step_wall": _median(walls)}
    for key in ("phase_wall", "phase_cpu"):
        for p in PHASES:
            out[f"{key}.{p}"] = _median([s[p] for r in runs for s in r[key]])
    out["faults"] = _median([f for r in runs for f in r["faults"]])
    out["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    ms = {k: 1000 * v for k, v in out.items() if k.startswith(("step", "phase"))}
    print(
        f"{name:10s} step {ms['step_wall']:6.0f} ms wall (median of {len(walls)})  |  "
        + "  ".join(f"{p} {ms['phase_wall.' + p]:5.0f}" for p in PHASES)
        + "  ms wall  |  "
        + "  ".join(f"{p} {ms['phase_cpu.' + p]:5.0f}" for p in PHASES)
        + f"  ms CPU  |  {out['faults']:.0f} page faults/step, peak RSS "
        f"{out['peak_rss_mib']:.0f} MiB",
        flush=True,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", help="git revision to compare with (a worktree in .bench/)")
    parser.add_argument(
        "--candidate", help="git revision to measure instead of the working tree (a worktree)"
    )
    parser.add_argument("--steps", type=int, default=60, help="measured steps per run")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured first steps per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per arm, alternating")
    parser.add_argument("--full", action="store_true", help="every step of the job (1,200)")
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: its default)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast in every arm")
    parser.add_argument("--tiny", action="store_true", help="the tiny test model (quick check)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".bench" / "data")
    parser.add_argument("--json", type=Path, help="write every run's raw figures here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--lr", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from fttui.core.job_spec import resolve as resolve_hparams
    from fttui.core.models import DEFAULT_MODEL, load_registry

    args.data_dir.mkdir(parents=True, exist_ok=True)
    data = args.data_dir / f"generation-{args.examples}.jsonl"
    _make_file(data, args.examples)
    resolved = resolve_hparams({}, args.examples)  # every default, as a job would
    base_lr = 0.05 if args.tiny else load_registry(args.data_dir)[DEFAULT_MODEL].base_learning_rate
    hp = {
        "n_epochs": resolved.n_epochs,
        "batch_size": resolved.batch_size,
        "lr": base_lr * resolved.learning_rate_multiplier,
    }
    total_steps = -(-args.examples * resolved.n_epochs // resolved.batch_size)
    if args.full:
        args.warmup, args.steps = 0, total_steps
    model = _model(args)
    this = _checkout(args.candidate) if args.candidate else ROOT
    arms = {"this": this}
    if args.baseline:
        arms = {"baseline": _checkout(args.baseline), "this": this}
    print(
        f"{args.examples} examples -> batch size {hp['batch_size']}, {hp['n_epochs']} epochs, "
        f"learning rate {hp['lr']:.3g}: {total_steps} steps; measuring {args.steps} steps after "
        f"{args.warmup} warm-up, {args.rounds} round(s); load average {os.getloadavg()}",
        flush=True,
    )
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in arms}
    loads = []
    for _ in range(args.rounds):
        for name, code in arms.items():
            loads.append(os.getloadavg()[0])
            result = _run_arm(args, code, model, data, hp)
            if result is not None:
                runs[name].append(result)
                print(
                    f"  {name}: {result['total_wall']:.0f} s for {result['steps']} measured steps "
                    f"(+{args.warmup} warm-up), median step "
                    f"{1000 * _median(result['step_wall']):.0f} ms, load {loads[-1]:.1f}",
                    flush=True,
                )
                if args.json:  # after every run, so a long run that is cut short keeps them
                    args.json.write_text(json.dumps({"hp": hp, "runs": runs, "loads": loads}))
    print(f"load average (1 min) at each start: {', '.join(f'{x:.1f}' for x in loads)}")
    summary = {name: summarise(name, r) for name, r in runs.items() if r}
    if "baseline" in summary and "this" in summary:
        b, t = summary["baseline"], summary["this"]
        print(f"step time: this / baseline = {t['step_wall'] / b['step_wall']:.2f}")
        diffs = [
            abs(x - y) / max(abs(y), 1e-9)
            for rb, rt in zip(runs["baseline"], runs["this"], strict=False)
            for x, y in zip(rt["losses"], rb["losses"], strict=False)
        ]
        print(f"loss curves: max relative difference per step {max(diffs):.2e}")
    if args.json:
        args.json.write_text(json.dumps({"hp": hp, "runs": runs, "loads": loads}))


if __name__ == "__main__":
    main()
