"""Batched local inference vs one prompt at a time vs transformers' batched generate().

The same 200 prompts (auto_bench's held-out generation prompts), the same model (the
default SmolLM2-135M-Instruct unless `--model` names a directory), greedy decoding
(temperature 0), `--max-tokens` new tokens at most, ended by the model's end-of-text
token. In one process, one after another:

1. fttui one at a time: the engine with `max_batch=1` (each prompt decoded alone with
   its KV cache, the path every request took before batching);
2. fttui batched: the engine's Batcher, all prompts handed over at once (left
   padding, KV cache, finished rows leave the batch), `max_batch` rows per batch;
3. transformers' `generate()` on left-padded batches of the same size.

The texts of all three must be identical (asserted); the script prints prompts/s and
generated tokens/s of each and the ratios.

    python benchmarks/inference_bench.py --prompts 200 --max-tokens 32 --batch 32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _store(model: str | None) -> tuple[Any, str]:
    from fttui.core.models import DEFAULT_MODEL
    from fttui.store import Store

    data_dir = Path(os.environ.get("FTTUI_BENCH_DATA") or tempfile.mkdtemp(prefix="inf-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    if model:
        (data_dir / "models.json").write_text(
            json.dumps({"models": [{"id": "bench", "source": model}]})
        )
        return Store(data_dir), "bench"
    return Store(data_dir), DEFAULT_MODEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--model", help="a model directory (default: the default model)")
    parser.add_argument("--skip-one", action="store_true", help="skip the one-at-a-time run")
    args = parser.parse_args()

    import torch
    from auto_bench import generation_rows

    from fttui.train.inference import InferenceEngine, Sampling

    store, name = _store(args.model)
    prompts = [r["prompt"] for r in generation_rows(args.prompts, seed=7, held_out=True)]
    sampling = Sampling(max_tokens=args.max_tokens, temperature=0)
    one = InferenceEngine(store, max_batch=1)
    batched = InferenceEngine(store, max_batch=args.batch)
    model, tokenizer, _ = batched.load(name)
    one._cache[name] = batched._cache[name]  # the same weights for both
    print(
        f"# {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    prepared = [batched.prepare_completion(name, p, args.max_tokens) for p in prompts]
    batched.generate_many([(prepared[0], sampling, 0, 0)])  # warm-up
    results: dict[str, tuple[float, list[str], int]] = {}

    start = time.perf_counter()
    gens = batched.generate_many([(p, sampling, 0, 0) for p in prepared])
    results["fttui batched"] = (
        time.perf_counter() - start,
        [g.text for g in gens],
        sum(g.completion_tokens for g in gens),
    )

    # transformers' generate(): left padding, batches of the same size, greedy.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    start = time.perf_counter()
    texts: list[str] = []
    new_tokens = 0
    eos = model.generation_config.eos_token_id
    for i in range(0, len(prepared), args.batch):
        chunk = [p.prompt_ids for p in prepared[i : i + args.batch]]
        longest = max(map(len, chunk))
        pad = tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (longest - len(c)) + c for c in chunk])
        mask = torch.tensor([[0] * (longest - len(c)) + [1] * len(c) for c in chunk])
        with torch.no_grad():
            out = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=args.max_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=pad,
            )
        ends = {eos} if isinstance(eos, int) else set(eos or [])
        ends.add(tokenizer.eos_token_id)
        for row in out[:, longest:].tolist():
            kept = []
            for t in row:
                if t in ends:
                    break
                kept.append(t)
            new_tokens += len(kept)
            texts.append(
                tokenizer.decode(kept, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            )
    results["transformers generate()"] = (time.perf_counter() - start, texts, new_tokens)

    if not args.skip_one:
        start = time.perf_counter()
        gens = [one.generate(p, sampling) for p in prepared]
        results["fttui one at a time"] = (
            time.perf_counter() - start,
            [g.text for g in gens],
            sum(g.completion_tokens for g in gens),
        )
    print(f"# load after {os.getloadavg()[0]:.2f}")
    reference = results["fttui batched"][1]
    for label, (_, got, _) in results.items():
        differ = [i for i, (a, b) in enumerate(zip(reference, got, strict=True)) if a != b]
        assert not differ, f"{label} differs from fttui batched at prompts {differ[:5]}: " + repr(
            (reference[differ[0]], got[differ[0]])
        )
    print(f"same greedy text from all {len(results)} paths on {len(prompts)} prompts")
    print("| path | seconds | prompts/s | generated tokens/s |")
    print("|---|---|---|---|")
    for label, (seconds, _, tokens) in results.items():
        print(
            f"| {label} | {seconds:.1f} | {len(prompts) / seconds:.2f} | {tokens / seconds:.1f} |"
        )
    b = results["fttui batched"][0]
    for label, (seconds, _, _) in results.items():
        if label != "fttui batched":
            print(f"fttui batched vs {label}: {seconds / b:.2f}x")


if __name__ == "__main__":
    main()
