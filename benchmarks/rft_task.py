"""Reinforcement fine-tuning of the default model on a task of our own, end to end.

The task: a sentence says where someone went ("Hana flew to Lisbon last year."); the
user asks which city and to answer with the city name only. The grader is OpenAI's
`python` grader (field extraction): 1 for the city alone (trailing punctuation and
quotes ignored), 0.5 for an answer that starts with the city but goes on ("Lisbon,
Portugal"), 0 otherwise. SmolLM2-135M-Instruct's greedy answers are sentences ("Hana
flew to Lisbon.", "The city of Lisbon is ..."), so the base model earns about 0 on the
held-out prompts; its sampled answers (temperature 0.7) are rarely the city alone
(1 of 32 in a probe), which is what reinforcement learning can grow. Validation prompts
use cities, names and sentences the training prompts never have (held out: the
format is learned, not the answers).

Everything goes through a real `fttui serve` on loopback and the OpenAI SDK: files
uploaded, the job created with `client.fine_tuning.jobs.create(method={"type":
"reinforcement", ...})` with no hyperparameters (the defaults), its metrics events
followed to the end. The base model and the fine-tuned model answer the validation
prompts through `client.chat.completions.create` at temperature 0 (greedy, as the
job's own validation samples), graded by the same grader code the trainer runs.

    nice -n 5 python benchmarks/rft_task.py --train 32 --valid 8   # the curve, a summary
    OMP_NUM_THREADS=1 ...   # on a busy shared box (docs/training.md: threads under load)
    nice -n 5 python benchmarks/rft_task.py --json out.json

Figures from this machine are in docs/training.md ("Reinforcement fine-tuning").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fttui.core.models import DEFAULT_MODEL  # noqa: E402
from fttui.train.grading import Grading  # noqa: E402

TRAIN_CITIES = [
    "Paris", "Rome", "Tokyo", "Cairo", "Lima", "Oslo", "Madrid", "Berlin",
    "Dublin", "Seoul", "Vienna", "Prague", "Lisbon", "Athens", "Warsaw", "Nairobi",
]  # fmt: skip
VALID_CITIES = ["London", "Moscow", "Sydney", "Toronto", "Bangkok", "Havana", "Helsinki", "Mumbai"]
TRAIN_NAMES = ["Anna", "Ben", "Carla", "Dev", "Eli", "Fay", "Gus", "Hana"]
VALID_NAMES = ["Ivan", "Jill", "Kofi", "Lena", "Mateo", "Nora"]
TRAIN_SENTENCES = [
    "{name} flew to {city} last year.",
    "{name} moved to {city} in May.",
    "Last week {name} visited {city}.",
    "{name} drove to {city} with a friend.",
]
VALID_SENTENCES = [
    "{name} took a train to {city} yesterday.",
    "In June, {name} sailed to {city}.",
]
QUESTION = "Which city? Answer with the city name only."

# What the grader runs (OpenAI's `python` grader: `grade(sample, item)` -> float).
# Partial credit only for answers that lead with the city. An earlier version gave
# partial credit to any answer containing the city, shrinking with its length
# (`0.5 * len(city) / len(answer)`): the base model's copies of the sentence ("Hana
# flew to Lisbon last year.", ~0.1) then beat its off-task answers (0), and the first
# two or three updates collapsed every group onto copying the sentence (measured
# in-process, KL weight 0, constant learning rate 5e-5 or 2e-4, 8 answers a prompt: 28
# distinct answers of 32 at step 1, 4 of 32 at step 3, no answer with the city alone
# in 16 steps, held-out reward 0.10 -> 0.13; with the defaults through the server
# 0.098 -> 0.127 in 32 steps); from a copy, no small change earns more. Here a copy
# earns 0 like any other miss, so only answers that are (or start with) the city pull:
# with the defaults, held-out 0.000 -> 1.000 (docs/training.md).
GRADE_SOURCE = """
def grade(sample, item):
    answer = sample["output_text"].strip().strip(".!'\\"").strip()
    city = item["city"]
    if answer.lower() == city.lower():
        return 1.0
    if answer.lower().startswith(city.lower()):
        return 0.5
    return 0.0
"""

GRADER: dict[str, Any] = {
    "type": "python",
    "name": "city",
    "source": GRADE_SOURCE.lstrip(),
}


def task(
    n: int, seed: int, cities: list[str], names: list[str], sentences: list[str]
) -> list[dict[str, Any]]:
    """`n` distinct reinforcement examples: chat messages ending with the user's turn,
    plus `city`, the field the grader's `{{item.city}}` reads."""
    rng = random.Random(seed)
    combos = [(c, p, s) for c in cities for p in names for s in sentences]
    rng.shuffle(combos)
    return [
        {
            "messages": [
                {"role": "user", "content": f"{s.format(name=p, city=c)} {QUESTION}"},
            ],
            "city": c,
        }
        for c, p, s in combos[:n]
    ]


def train_rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    return task(n, seed, TRAIN_CITIES, TRAIN_NAMES, TRAIN_SENTENCES)


def valid_rows(n: int, seed: int = 1) -> list[dict[str, Any]]:
    return task(n, seed, VALID_CITIES, VALID_NAMES, VALID_SENTENCES)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(data_dir: Path, port: int) -> Iterator[str]:
    """A `fttui serve` subprocess on loopback; yields its base URL."""
    import httpx

    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - owned by the process
    env = {k: v for k, v in os.environ.items() if k != "FTTUI_API_KEY"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fttui", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the server did not start: see {data_dir / 'server.log'}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def greedy_reward(client: Any, model: str, rows: list[dict[str, Any]]) -> tuple[float, list[str]]:
    """Mean reward of `model`'s greedy answers to `rows` (requests sent together, so the
    server decodes them in one batch), and the answers."""

    def ask(row: dict[str, Any]) -> str:
        resp = client.chat.completions.create(
            model=model, messages=row["messages"], temperature=0, max_tokens=64
        )
        return str(resp.choices[0].message.content or "")

    # The first request alone: it loads the model (the server's first concurrent
    # requests can race in transformers' lazy imports).
    answers = [ask(rows[0])]
    with ThreadPoolExecutor(max_workers=len(rows)) as pool:
        answers += list(pool.map(ask, rows[1:]))
    graded = Grading(GRADER).grade(answers, rows)
    return sum(g.reward for g in graded) / len(graded), answers


def run(
    url: str,
    n_train: int,
    n_valid: int,
    seed: int,
    timeout: float,
    hyperparameters: dict[str, Any] | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """The whole benchmark against the server at `url`; returns the figures."""
    import openai

    client = openai.OpenAI(base_url=url, api_key="local", max_retries=0, timeout=600)
    train, valid = train_rows(n_train), valid_rows(n_valid)

    def upload(name: str, rows: list[dict[str, Any]]) -> str:
        content = "".join(json.dumps(r) + "\n" for r in rows).encode()
        return client.files.create(file=(name, content), purpose="fine-tune").id

    train_id, valid_id = upload("rft-train.jsonl", train), upload("rft-valid.jsonl", valid)
    t0 = time.monotonic()
    base_reward, base_answers = greedy_reward(client, DEFAULT_MODEL, valid)
    log(f"base model: mean reward {base_reward:.3f} on {len(valid)} held-out prompts "
        f"({time.monotonic() - t0:.0f} s); e.g. {base_answers[:3]}")  # fmt: skip
    reinforcement: dict[str, Any] = {"grader": GRADER}
    if hyperparameters:
        reinforcement["hyperparameters"] = hyperparameters
    started = time.monotonic()
    job = client.fine_tuning.jobs.create(
        model=DEFAULT_MODEL,
        training_file=train_id,
        validation_file=valid_id,
        method={"type": "reinforcement", "reinforcement": reinforcement},  # type: ignore[arg-type]
        seed=seed,
        suffix="city",
    )
    curve: list[dict[str, Any]] = []
    seen: set[str] = set()
    while True:
        job = client.fine_tuning.jobs.retrieve(job.id)
        page = client.fine_tuning.jobs.list_events(job.id, limit=1000)
        for ev in reversed(page.data):
            if ev.id in seen:
                continue
            seen.add(ev.id)
            data = ev.data if isinstance(ev.data, dict) else {}
            if ev.type == "metrics" and "train_reward_mean" in data:
                point = {"t": round(time.monotonic() - started, 1), **data}
                curve.append(point)
                log(
                    f"  {point['t']:7.1f} s  step {data['step']}/{data.get('total_steps')}  "
                    f"train reward {data['train_reward_mean']:.3f}"
                    + (
                        f"  valid reward {data['valid_reward_mean']:.3f}"
                        if "valid_reward_mean" in data
                        else ""
                    )
                )
            elif ev.type != "metrics":
                log(f"  [{ev.level}] {ev.message[:300]}")
        if job.status in ("succeeded", "failed", "cancelled"):
            break
        if time.monotonic() - started > timeout:
            # Out of time: the curve so far is the result (the job is cancelled).
            log(f"  timeout: job {job.id} still {job.status} after {timeout:.0f} s: cancelled")
            client.fine_tuning.jobs.cancel(job.id)
            break
        time.sleep(5)
    took = time.monotonic() - started
    tuned_model = tuned_reward = tuned_answers = None
    if job.status == "succeeded":
        tuned_model = str(job.fine_tuned_model)
        tuned_reward, tuned_answers = greedy_reward(client, tuned_model, valid)
        log(f"fine-tuned {tuned_model}: mean reward {tuned_reward:.3f}; e.g. {tuned_answers[:3]}")
    elif job.status in ("failed", "cancelled") and time.monotonic() - started <= timeout:
        raise RuntimeError(f"job {job.id} {job.status}: {job.error}")
    hp = (
        job.method.reinforcement.hyperparameters
        if job.method and job.method.reinforcement
        else None
    )
    return {
        "model": DEFAULT_MODEL,
        "train_prompts": len(train),
        "valid_prompts": len(valid),
        "base_valid_reward": base_reward,
        "tuned_valid_reward": tuned_reward,
        "job_status": job.status,
        "job_seconds": round(took, 1),
        "hyperparameters": hp.model_dump() if hp is not None else None,
        "curve": curve,
        "base_answers": base_answers,
        "tuned_answers": tuned_answers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=32, help="training prompts")
    parser.add_argument("--valid", type=int, default=8, help="held-out validation prompts")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before giving up")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a temporary one")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rft-task-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        with server(data_dir, args.port or _free_port()) as url:
            result = run(url, args.train, args.valid, args.seed, args.timeout)
    summary = {k: v for k, v in result.items() if k not in ("curve",)}
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
