"""Disk use of the data directory after two 1-epoch full fine-tunes of the default model,
and what storing the final model in bfloat16 does to its greedy answers.

Disk: for each source tree given (e.g. a checkout of an older commit beside this one),
a fresh data directory and a real `fttui serve` from that tree: one small chat file
uploaded, two jobs (default model, full weights, 1 epoch, every option left to the
server) run one after the other to `succeeded`, the server stopped, then the data
directory measured as `du` measures it (allocated blocks, a file with two links
counted once): the whole directory and its parts: `jobs/` (checkpoints), `models/`
without `base/` (the fine-tuned models), `models/base/` (the default model converted
once from its GGUF) and the rest (files, database).

Answers (`--answers LABEL`: that tree's server, its own data directory): one
fine-tune of the default model run twice with the same seed, stored as float32 and
as bfloat16 (`stored_dtype`); the script checks that the bfloat16 weights are the
float32 ones rounded (the two runs trained alike), then asks the server for the
greedy answer (temperature 0, 32 tokens) of each model and of the base model to the
same prompts, and reports the share of identical answers, the token agreement
(position by position, over the longer answer) and how many of the answers the
fine-tune changed stay changed alike in bfloat16. Every answer is written to
`disk-bench-answers-LABEL.json` in the current directory.

    python benchmarks/disk_bench.py --tree before=/tmp/fttui-before --tree after=. \
        --answers after

Run niced: each job loads, trains and saves a 135M-parameter model on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def du(*paths: Path) -> int:
    """Bytes allocated, each inode once across `paths` (as `du -s --block-size=1`)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top in paths:
        if not top.exists():
            continue
        walked = [(str(top.parent), [], [top.name])] if top.is_file() else os.walk(top)
        for dirpath, _dirs, files in walked:
            for name in files:
                st = os.lstat(os.path.join(dirpath, name))
                key = (st.st_dev, st.st_ino)
                if key not in seen:
                    seen.add(key)
                    total += st.st_blocks * 512
    return total


def _rest(data: Path, fine_tuned: list[Path]) -> list[Path]:
    """Everything in the data directory but `jobs/` and the fine-tuned models."""
    out = [p for p in data.iterdir() if p.name not in ("jobs", "models")]
    models = data / "models"
    if models.is_dir():
        out += [p for p in models.iterdir() if p not in fine_tuned]
    return out


def _lines() -> str:
    rows = []
    for i in range(6):
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"What is {i} plus {i}?"},
                    {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."},
                ]
            }
        )
    return "".join(json.dumps(r) + "\n" for r in rows)


class _Server:
    """`fttui serve` from a source tree on a fresh port and data directory."""

    def __init__(self, label: str, tree: Path, work: Path, data: Path) -> None:
        port = _free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "FTTUI_CACHE_DIR": str(work / f"cache-{label}"),
        }
        self.label = label
        self.log = open(work / f"server-{label}.log", "wb")  # noqa: SIM115 - closed in stop
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fttui", "serve", "--port", str(port), "--data-dir", str(data)],
            cwd=tree,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.base}/models", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{label}: the server did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()

    def upload(self, text: str) -> str:
        return str(
            httpx.post(
                f"{self.base}/files",
                files={"file": ("tiny.jsonl", text.encode(), "application/jsonl")},
                data={"purpose": "fine-tune"},
                timeout=60,
            ).json()["id"]
        )

    def train(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a job and wait for it to succeed; the finished job object."""
        job = httpx.post(f"{self.base}/fine_tuning/jobs", json=body, timeout=60).json()
        if "id" not in job:
            raise RuntimeError(f"{self.label}: job not created: {job}")
        while True:
            status = httpx.get(f"{self.base}/fine_tuning/jobs/{job['id']}", timeout=60).json()
            if status["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(2)
        if status["status"] != "succeeded":
            raise RuntimeError(
                f"{self.label}: job {job['id']} {status['status']}: {status['error']}"
            )
        return dict(status)

    def greedy(self, model: str, prompt: str, max_tokens: int) -> str:
        reply = httpx.post(
            f"{self.base}/chat/completions",
            json={
                "model": model,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": 0,
                "max_tokens": max_tokens,
            },
            timeout=600,
        ).json()
        return str(reply["choices"][0]["message"]["content"] or "")


def run_tree(label: str, tree: Path, work: Path) -> dict[str, int | str | float]:
    data = work / f"data-{label}"
    started = time.monotonic()
    server = _Server(label, tree, work, data)
    try:
        file_id = server.upload(_lines())
        for n in range(2):
            server.train(
                {
                    "model": "SmolLM2-135M-Instruct",
                    "training_file": file_id,
                    "hyperparameters": {"n_epochs": 1, "batch_size": 2},
                    "suffix": f"disk-{n}",
                }
            )
    finally:
        server.stop()
    models = data / "models"
    fine_tuned = [p for p in models.iterdir() if p.name != "base"] if models.is_dir() else []
    result: dict[str, int | str | float] = {
        "tree": label,
        "total": du(data),
        "jobs": du(data / "jobs"),
        "fine_tuned_models": du(*fine_tuned),
        "jobs_and_models": du(data / "jobs", *fine_tuned),
        "base": du(models / "base"),
        # What the two jobs add to the data directory: all of it less what is there
        # without them (the converted base, the uploaded file, the database). A model
        # file that is a link to the base's (the tokenizer) adds nothing.
        "added_by_jobs": du(data) - du(*_rest(data, fine_tuned)),
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    shutil.rmtree(data, ignore_errors=True)
    return result


_QUESTIONS = [
    "Name three colours of the rainbow.",
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Give me a tip for sleeping better.",
    "What does a bee make?",
    "Explain what a noun is in one sentence.",
    "How many days are in a week?",
    "Suggest a name for a grey cat.",
    "What is the opposite of cold?",
    "Tell me a fact about the moon.",
    "Which animal is known as the king of the jungle?",
    "What do plants need to grow?",
    "Translate 'good morning' into French.",
    "What is water made of?",
    "Write one sentence about autumn.",
    "Why do we brush our teeth?",
    "What is a synonym for happy?",
    "How do you make a cup of tea?",
    "What is the largest ocean?",
    "Describe a bicycle in one sentence.",
    "What season comes after winter?",
    "Give an example of a fruit that is yellow.",
    "What is the boiling point of water in Celsius?",
    "Who wrote Romeo and Juliet?",
]


def _answer_lines() -> str:
    """24 chat examples of one answer style, for a fine-tune that changes answers."""
    rows = []
    for a, b in [(a, b) for a in range(1, 7) for b in range(1, 5)]:
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"What is {a} plus {b}?"},
                    {"role": "assistant", "content": f"{a} plus {b} is {a + b}."},
                ]
            }
        )
    return "".join(json.dumps(r) + "\n" for r in rows)


def _prompts() -> list[str]:
    """48 prompts: 24 sums the file does not hold, 24 unrelated questions."""
    sums = [f"What is {a} plus {b}?" for a in range(12, 18) for b in range(21, 25)]
    return sums + _QUESTIONS


def _weights_dtype_and_match(fp32_dir: Path, bf16_dir: Path) -> dict[str, Any]:
    """Whether the bfloat16 model is the float32 one rounded, tensor by tensor."""
    import torch
    from safetensors import safe_open

    same = total = 0
    with (
        safe_open(str(fp32_dir / "model.safetensors"), "pt") as wide,
        safe_open(str(bf16_dir / "model.safetensors"), "pt") as narrow,
    ):
        keys = list(wide.keys())
        dtypes = {
            str(wide.get_slice(keys[0]).get_dtype()),
            str(narrow.get_slice(keys[0]).get_dtype()),
        }
        for key in keys:
            total += 1
            same += bool(
                torch.equal(wide.get_tensor(key).to(torch.bfloat16), narrow.get_tensor(key))
            )
    return {"tensors": total, "tensors_equal_after_rounding": same, "dtypes": sorted(dtypes)}


def _agreement(a: list[int], b: list[int]) -> tuple[int, int]:
    """(positions where the two token lists agree, length of the longer)."""
    return sum(x == y for x, y in zip(a, b, strict=False)), max(len(a), len(b))


def run_answers(label: str, tree: Path, work: Path, max_tokens: int = 32) -> dict[str, Any]:
    from transformers import AutoTokenizer

    data = work / f"data-answers-{label}"
    started = time.monotonic()
    server = _Server(f"answers-{label}", tree, work, data)
    try:
        file_id = server.upload(_answer_lines())
        models: dict[str, str] = {}
        for dtype in ("float32", "bfloat16"):
            job = server.train(
                {
                    "model": "SmolLM2-135M-Instruct",
                    "training_file": file_id,
                    "hyperparameters": {"n_epochs": 2, "batch_size": 2, "stored_dtype": dtype},
                    "seed": 1234,
                    "suffix": f"answers-{dtype}",
                }
            )
            models[dtype] = str(job["fine_tuned_model"])
        trained_minutes = round((time.monotonic() - started) / 60, 1)
        dirs = {
            d: next(p for p in (data / "models").iterdir() if f"answers-{d}" in p.name)
            for d in models
        }
        weights = _weights_dtype_and_match(dirs["float32"], dirs["bfloat16"])
        answers: dict[str, list[str]] = {"base": [], "float32": [], "bfloat16": []}
        names = {"base": "SmolLM2-135M-Instruct", **models}
        for prompt in _prompts():
            for key, name in names.items():
                answers[key].append(server.greedy(name, prompt, max_tokens))
    finally:
        server.stop()
    tokenizer = AutoTokenizer.from_pretrained(
        str(data / "models" / "base" / "SmolLM2-135M-Instruct")
    )
    ids = {
        k: [tokenizer(t, add_special_tokens=False)["input_ids"] for t in v]
        for k, v in answers.items()
    }
    n = len(_prompts())

    def compare(x: str, y: str) -> dict[str, float]:
        agree = [_agreement(a, b) for a, b in zip(ids[x], ids[y], strict=True)]
        return {
            "identical": sum(a == b for a, b in zip(answers[x], answers[y], strict=True)) / n,
            "token_agreement": sum(a for a, _ in agree) / max(1, sum(m for _, m in agree)),
        }

    changed = [i for i in range(n) if answers["float32"][i] != answers["base"][i]]
    result: dict[str, Any] = {
        "tree": label,
        "prompts": n,
        "max_tokens": max_tokens,
        "weights": weights,
        "float32_vs_bfloat16": compare("float32", "bfloat16"),
        "float32_vs_base": compare("float32", "base"),
        "bfloat16_vs_base": compare("bfloat16", "base"),
        "changed_by_fine_tune": len(changed),
        "of_those_bfloat16_identical_to_float32": sum(
            answers["bfloat16"][i] == answers["float32"][i] for i in changed
        ),
        "model_bytes": {d: (dirs[d] / "model.safetensors").stat().st_size for d in dirs},
        "trained_minutes": trained_minutes,
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    Path(f"disk-bench-answers-{label}.json").write_text(
        json.dumps({"result": result, "prompts": _prompts(), "answers": answers}, indent=1)
    )
    shutil.rmtree(data, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tree", action="append", required=True, help="LABEL=PATH of a source tree"
    )
    parser.add_argument(
        "--answers",
        metavar="LABEL",
        help="also compare greedy answers of float32 and bfloat16 stored models on this tree",
    )
    parser.add_argument("--skip-disk", action="store_true", help="answers only")
    args = parser.parse_args()
    trees = {}
    for item in args.tree:
        label, _, path = item.partition("=")
        trees[label] = Path(path).resolve()
    with tempfile.TemporaryDirectory(prefix="fttui-disk-") as tmp:
        rows = []
        for label, tree in trees.items():
            if args.skip_disk:
                break
            rows.append(run_tree(label, tree, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
        if args.answers:
            answers = run_answers(args.answers, trees[args.answers], Path(tmp))
            print(json.dumps(answers), flush=True)
    mb = 1_000_000
    keys = ("total", "jobs", "fine_tuned_models", "jobs_and_models", "added_by_jobs", "base")
    print(
        "\n| tree | data dir | jobs/ (checkpoints) | fine-tuned models | jobs/ + models "
        "(du of both) | added by the jobs | models/base |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['tree']} | " + " | ".join(f"{int(r[k]) / mb:,.1f} MB" for k in keys) + " |")
    if len(rows) == 2:
        for key in ("total", "jobs_and_models", "added_by_jobs"):
            ratio = int(rows[1][key]) / int(rows[0][key])
            print(f"{key}, {rows[1]['tree']} / {rows[0]['tree']}: {ratio:.4f}")


if __name__ == "__main__":
    main()
