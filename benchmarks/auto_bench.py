"""Local `auto` hyperparameters: how long a job with everything on auto trains, and
whether it learns, on generation and classification files of several sizes.

Each run goes through the real local server (upload, create a job, wait), with the
default model unless `--model` names another. The training time is the trainer's own
figure (its "Training finished" event: first step to last, per-epoch checkpoints
included, model loading and the final save not). The model is then scored on
held-out prompts through the server's `/v1/completions` at temperature 0:

- generation: a reservation sentence rewritten as `City / people / Day`, the
  held-out sentences name cities that no training example names (exact match);
- classification: a support ticket's department from a keyword among filler words,
  held-out tickets with other numbers and fillers (accuracy of the first token).

`--hp n_epochs=4,batch_size=1,learning_rate_multiplier=0.05` pins values instead of
auto (the legacy guide's rule for 300 examples is exactly that).

    python benchmarks/auto_bench.py --task generation --sizes 100,300,3000
    python benchmarks/auto_bench.py --task classification --sizes 300 \
        --hp n_epochs=4,batch_size=1,learning_rate_multiplier=0.05
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SEP = "\n\n###\n\n"
STOP = " END"
CITIES = """Lisbon Porto Madrid Seville Valencia Bilbao Paris Lyon Marseille Nice Toulouse
Bordeaux Lille Nantes Brussels Antwerp Ghent Amsterdam Rotterdam Utrecht Berlin Hamburg
Munich Cologne Frankfurt Stuttgart Leipzig Dresden Vienna Graz Salzburg Zurich Geneva Basel
Bern Milan Rome Naples Turin Florence Venice Bologna Genoa Palermo Athens Sofia Bucharest
Budapest Prague Brno Warsaw Krakow Gdansk Vilnius Riga Tallinn Helsinki Stockholm Oslo
Bergen Copenhagen Aarhus Dublin Cork London Leeds Glasgow Edinburgh Cardiff Bristol
Liverpool Manchester Boston Chicago Denver Seattle Portland Austin Dallas Houston Phoenix
Atlanta Miami Tampa Detroit Toronto Montreal Ottawa Calgary Vancouver Quebec Lima Quito
Bogota Caracas Santiago Montevideo Asuncion Havana Kingston Nairobi Lagos Accra Dakar Cairo
Tunis Algiers Rabat Casablanca Tokyo Osaka Kyoto Seoul Busan Beijing Shanghai Hanoi Bangkok
Manila Jakarta Sydney Melbourne Perth Auckland Wellington Mumbai Delhi Chennai Karachi
Lahore Dhaka Tehran Baghdad Doha Dubai Muscat Ankara Izmir Tbilisi Yerevan Baku Almaty""".split()  # noqa: SIM905 - a word list reads better as text
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
DEPARTMENTS = {
    "billing": ["invoice", "refund", "charge", "payment"],
    "shipping": ["parcel", "courier", "tracking", "delivery"],
    "account": ["password", "login", "username", "profile"],
    "hardware": ["battery", "screen", "charger", "keyboard"],
}
FILLERS = [
    "since yesterday",
    "and I am not happy",
    "please help me soon",
    "this happened twice now",
    "my neighbour has the same",
    "it was fine last week",
    "I tried again this morning",
    "can someone look at it",
    "thanks in advance",
    "the app says nothing",
]


def _split_cities() -> tuple[list[str], list[str]]:
    """Training cities and held-out cities (every fourth), never mixed."""
    held = CITIES[::4]
    return [c for c in CITIES if c not in held], held


def generation_rows(n: int, seed: int, held_out: bool) -> list[dict[str, str]]:
    rng = random.Random(seed)
    train_cities, held = _split_cities()
    cities = held if held_out else train_cities
    rows = []
    for _ in range(n):
        city, day, people = rng.choice(cities), rng.choice(DAYS), rng.randint(1, 12)
        prompt = f"Please book a table for {people} in {city} on {day}.{SEP}"
        rows.append({"prompt": prompt, "completion": f" {city} / {people} / {day}{STOP}"})
    return rows


def classification_rows(n: int, seed: int, held_out: bool) -> list[dict[str, str]]:
    rng = random.Random(seed)
    fillers = FILLERS[7:] if held_out else FILLERS[:7]
    names = list(DEPARTMENTS)
    rows = []
    for i in range(n):
        dept = names[i % len(names)]
        word = rng.choice(DEPARTMENTS[dept])
        number = rng.randint(1000, 4999) if not held_out else rng.randint(5000, 9999)
        prompt = f"Ticket {number}: problem with my {word}, {rng.choice(fillers)}.{SEP}"
        rows.append({"prompt": prompt, "completion": f" {dept}"})
    rng.shuffle(rows)
    return rows


def make_rows(task: str, n: int, seed: int, held_out: bool) -> list[dict[str, str]]:
    make = generation_rows if task == "generation" else classification_rows
    return make(n, seed, held_out)


def score(client: httpx.Client, model: str, task: str, rows: list[dict[str, str]]) -> float:
    """Exact match (generation) or first-token accuracy (classification), temperature 0.

    Up to 16 prompts per request (the server's limit), the choices in prompt order."""
    right = 0
    for start in range(0, len(rows), 16):
        chunk = rows[start : start + 16]
        body: dict[str, Any] = {
            "model": model,
            "prompt": [r["prompt"] for r in chunk],
            "temperature": 0,
            "max_tokens": 1 if task == "classification" else 24,
        }
        if task == "generation":
            body["stop"] = [STOP]
        resp = client.post("/completions", json=body, timeout=600)
        resp.raise_for_status()
        choices = sorted(resp.json()["choices"], key=lambda c: c["index"])
        for row, choice in zip(chunk, choices, strict=True):
            want = row["completion"].removesuffix(STOP).strip()
            right += int(choice["text"].strip() == want)
    return right / len(rows)


class Server:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}/v1"
        log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fttui", "serve", "--port", str(port)]
            + ["--data-dir", str(data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/models", timeout=1).status_code < 500:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("server did not start; see " + str(data_dir / "server.log"))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _upload(client: httpx.Client, name: str, rows: list[dict[str, str]]) -> str:
    content = "".join(json.dumps(r) + "\n" for r in rows).encode()
    resp = client.post(
        "/files", files={"file": (name, content)}, data={"purpose": "fine-tune"}, timeout=120
    )
    resp.raise_for_status()
    return str(resp.json()["id"])


def _events(client: httpx.Client, job_id: str) -> list[str]:
    data = client.get(f"/fine_tuning/jobs/{job_id}/events", params={"limit": 1000}).json()["data"]
    return [e["message"] for e in reversed(data)]


def run_one(
    client: httpx.Client, args: argparse.Namespace, n: int, hp: dict[str, Any]
) -> dict[str, Any]:
    train = make_rows(args.task, n, seed=n, held_out=False)
    held = make_rows(args.task, args.held_out, seed=10_000 + n, held_out=True)
    file_id = _upload(client, f"{args.task}-{n}.jsonl", train)
    body: dict[str, Any] = {"training_file": file_id, "seed": 1, "model": args.model}
    if hp:
        body["hyperparameters"] = hp
    resp = client.post("/fine_tuning/jobs", json=body)
    if resp.status_code != 200:
        raise RuntimeError(f"job refused: {resp.text}")
    job = resp.json()
    job_id = job["id"]
    load = os.getloadavg()
    while job["status"] not in ("succeeded", "failed", "cancelled"):
        time.sleep(2)
        job = client.get(f"/fine_tuning/jobs/{job_id}").json()
    messages = _events(client, job_id)
    if job["status"] != "succeeded":
        raise RuntimeError(f"job {job_id} {job['status']}: {messages[-3:]}")
    load_after = os.getloadavg()
    finished = [m for m in messages if m.startswith("Training finished")]
    seconds = float(finished[-1].split(" in ")[1].split(" s")[0]) if finished else float("nan")
    rule = [m for m in messages if m.startswith("Hyperparameters")]
    base_model = job["model"]
    accuracy = score(client, job["fine_tuned_model"], args.task, held)
    base = score(client, base_model, args.task, held) if args.base else None
    return {
        "task": args.task,
        "examples": n,
        "hyperparameters": job["hyperparameters"],
        "train_seconds": seconds,
        "held_out": len(held),
        "held_out_score": accuracy,
        "base_score": base,
        "load_before": round(load[0], 2),
        "load_after": round(load_after[0], 2),
        "rule": rule[-1] if rule else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=["generation", "classification"], required=True)
    parser.add_argument("--sizes", default="100,300,3000")
    parser.add_argument("--held-out", type=int, default=100)
    parser.add_argument("--model", default="SmolLM2-135M-Instruct", help="base model")
    parser.add_argument("--hp", default="", help="pinned values: name=value,...")
    parser.add_argument("--base", action="store_true", help="score the base model too")
    parser.add_argument("--data-dir", help="reuse a data directory (keeps the converted model)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    hp: dict[str, Any] = {}
    for item in filter(None, args.hp.split(",")):
        key, value = item.split("=")
        hp[key] = float(value) if "." in value else int(value)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="auto-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    port = args.port or random.randint(20000, 60000)
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, data dir {data_dir}",
        flush=True,
    )
    server = Server(data_dir, port)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for n in (int(s) for s in args.sizes.split(",")):
                print(json.dumps(run_one(client, args, n, hp)), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
