"""DPO's no-gradient passes (reference log-probabilities, validation) on CPU: how many
tokens to pack into one forward pass.

A packed row attends within each sequence, but on CPU the attention runs over the
whole row with a block-diagonal mask, so its cost grows with the row's length
squared; the linear layers cost the same per token whatever the row. This times the
reference pass of `fttui.train.dpo` over the same pairs with several pass budgets,
after a warm-up pass, interleaved round by round in alternating order (medians and
each round's times), and checks every budget gives the same
log-probabilities.

    python benchmarks/dpo_reference_bench.py --model-dir <data_dir>/models/base/SmolLM2-135M-Instruct \
        --pairs 100 --budgets 8192 2048 1024 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--budgets", type=int, nargs="+", default=[8192, 2048, 1024])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from fttui.train import dpo
    from fttui.train.data import read_file
    from fttui.train.engine import micro_batches
    from fttui.train.models import load_for_training
    from fttui.train.tiny import preference_task

    cpu = torch.device("cpu")
    model, tokenizer = load_for_training(str(args.model_dir), cpu)
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pairs.jsonl"
        rows = preference_task(args.pairs, kind="exclaim")
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        # Tokenised exactly as the trainer does (fttui.train.data).
        examples = read_file(path, tokenizer, 2048, method="dpo").examples
    pairs = dpo.pairs_from(examples)
    tokens = sum(p.n_tokens for p in pairs)
    times: dict[int, list[float]] = {b: [] for b in args.budgets}
    results: dict[int, list[float]] = {}
    original = micro_batches
    chosen = dpo._no_grad_groups
    with torch.no_grad():  # warm-up: the first forward pass pays one-time set-up costs
        dpo.sequence_logps(model, dpo._pack_pairs(pairs[:2], cpu))
    for round_ in range(args.rounds):
        # The order alternates round by round, so a load change favours no budget.
        for budget in args.budgets if round_ % 2 == 0 else args.budgets[::-1]:
            dpo._no_grad_groups = lambda ps, _d, budget=budget: original(ps, budget)  # type: ignore[misc,assignment]
            objective = dpo.DPOObjective(beta=0.1)
            started = time.perf_counter()
            with torch.no_grad():
                objective._reference_pass(model, pairs, cpu, lambda: False)
            times[budget].append(time.perf_counter() - started)
            results[budget] = [v for p in pairs for v in (p.ref_chosen, p.ref_rejected)]
    dpo._no_grad_groups = chosen  # type: ignore[assignment]
    base = args.budgets[0]
    print(f"{len(pairs)} pairs, {tokens} tokens, torch threads {torch.get_num_threads()}")
    for budget in args.budgets:
        med = statistics.median(times[budget])
        worst = max(abs(a - b) for a, b in zip(results[budget], results[base], strict=True))
        print(
            f"budget {budget:5d}: median {med:6.1f} s over {args.rounds} rounds "
            f"({', '.join(f'{t:.1f}' for t in times[budget])}); "
            f"{tokens / med:6.0f} tokens/s; ratio to {base}: "
            f"{med / statistics.median(times[base]):.2f}; max |logp diff| {worst:.1e}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
