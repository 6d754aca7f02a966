"""Bytes per second the real `fttui` writes to its terminal: what an SSH link carries.

    python benchmarks/tui_bytes.py [--runs 3] [--settle 10] [--window 30]
        [--sizes 160x48,80x24] [--only idle|streaming] [--baseline OTHER_CHECKOUT]
        [--dump DIR]

A real local server is started on a store seeded with 200 finished jobs (and a few
files); `fttui` (the console script's `main([])`, `local` profile pointed at that
server) runs on a pseudo-terminal of each size, and everything it writes to the
terminal is counted. After `--settle` seconds (start-up, first loads, the chart
modules warming) the bytes written during the next `--window` seconds give the rate.

- idle: nothing changes on the server; 200 jobs listed (jobs pane shown at 80x24).
- streaming: one more job is `running`, 300 of its 2,000 steps done (someone opening
  fttui to watch a job under way), and gets a metrics event ~1.3 times a second
  (the tiny model's pace on a CPU), written through `fttui.store.Store` as the
  trainer writes them (message, OpenAI and legacy metric names, a validation loss
  every 10 steps, the ETA every 5 steps). It is the newest job, so it is selected;
  at 80x24 the plots pane is shown (key 5), at 160x48 all panes are.

With `--baseline` another checkout (a `git worktree` of an older commit) runs each
case in turn with this one, against the same server, so both see the same load.
`--dump DIR` saves each window's bytes (`<checkout>-<case>.bin`) for inspection.
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import json
import os
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # ServerProcess and free_port from tests/conftest.py

from conftest import ServerProcess, free_port  # noqa: E402

from fttui.store.db import Store, new_id  # noqa: E402

CHILD = "import sys; from fttui.cli import main; sys.exit(main([]))"
STEPS_PER_SECOND = 1.3


def seed(data_dir: Path, n_jobs: int) -> None:
    """`n_jobs` finished jobs (a third with a fine-tuned model) and two files."""
    store = Store(data_dir)
    now = int(time.time())
    statuses = ("succeeded", "failed", "cancelled")
    rows = [
        (
            new_id("ftjob"),
            now - 3600 - n_jobs * 60 + i * 60,
            "davinci",
            "SmolLM2-135M-Instruct",
            "file-x",
            statuses[i % 3],
            f"davinci:ft-local:bench-{i}" if i % 3 == 0 else None,
            1000 + i,
            now - 3600 - n_jobs * 60 + i * 60 + 45,
        )
        for i in range(n_jobs)
    ]
    with store._tx() as conn:
        conn.executemany(
            "INSERT INTO jobs (id, created_at, model, base_model, training_file, status, "
            "fine_tuned_model, trained_tokens, finished_at) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
    body = b'{"prompt": "a\\n\\n###\\n\\n", "completion": " b\\n"}\n' * 10
    for name in ("train.jsonl", "valid.jsonl"):
        file_id = new_id("file")
        (data_dir / "files").mkdir(exist_ok=True)
        (data_dir / "files" / file_id).write_bytes(body)
        store.add_file(
            filename=name,
            purpose="fine-tune",
            bytes=len(body),
            path=f"files/{file_id}",
            file_id=file_id,
        )
    store.close()


class Streamer:
    """Plays a trainer: a `running` job, `HISTORY` steps in, that gets a metrics event
    every 1/1.3 s (someone opening fttui to watch a job that is under way)."""

    HISTORY = 300
    TOTAL = 2000

    def __init__(self, data_dir: Path) -> None:
        self.store = Store(data_dir)
        self.job_id = new_id("ftjob")
        started = int(time.time() - self.HISTORY / STEPS_PER_SECOND)
        self.store.create_job(
            id=self.job_id,
            created_at=started - 5,
            model="davinci",
            base_model="SmolLM2-135M-Instruct",
            training_file="file-x",
            status="running",
            started_at=started,
        )
        self.store.add_event(self.job_id, "Training started: 4 epochs, batch size 2")
        self.step = 0
        for _ in range(self.HISTORY):
            self._step(started)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)

    def start(self) -> Streamer:
        self._thread.start()
        return self

    def _run(self, started: float) -> None:
        while not self._stop.wait(1 / STEPS_PER_SECOND):
            self._step(started)

    def _step(self, started: float) -> None:
        """One training step's metrics event, as the trainer writes it."""
        self.step += 1
        step, total = self.step, self.TOTAL
        loss = 3.0 / (1 + step / 40)
        data: dict[str, Any] = {
            "step": step,
            "total_steps": total,
            "train_loss": loss,
            "train_mean_token_accuracy": 1 - loss / 4,
            "training_loss": loss,
            "training_token_accuracy": 1 - loss / 4,
            "elapsed_tokens": step * 96,
            "elapsed_examples": step * 2,
        }
        message = f"Step {step}/{total}: training loss={loss:.4f}"
        if step % 10 == 0:
            data.update(valid_loss=loss * 1.1, validation_loss=loss * 1.1)
            message += f", validation loss={loss * 1.1:.4f}"
        self.store.add_event(self.job_id, message, type="metrics", data=data)
        if step == 1 or step % 5 == 0:
            left = (time.time() - started) / step * (total - step)
            self.store.update_job(self.job_id, estimated_finish=int(time.time() + left))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.store.update_job(self.job_id, status="cancelled", finished_at=int(time.time()))
        self.store.close()


def measure(
    env: dict[str, str],
    cwd: Path,
    cols: int,
    rows: int,
    settle: float,
    window: float,
    keys: bytes = b"",
) -> tuple[float, bytes]:
    """Run `fttui` on a `cols`x`rows` pty; bytes/s written during the window, and them."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=cwd,  # `python -c` imports fttui from the working directory first
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[tuple[float, bytes]] = []

    def drain() -> None:  # read as a terminal would, stamping each read
        with suppress(OSError):
            while data := os.read(master, 65536):
                chunks.append((time.monotonic(), data))

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    start = time.monotonic()
    try:
        time.sleep(settle / 2)
        if keys:
            os.write(master, keys)
        time.sleep(settle / 2)
        begin = time.monotonic()
        time.sleep(window)
        end = time.monotonic()
        if proc.poll() is not None:
            raise RuntimeError(f"fttui exited early with {proc.returncode}")
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=5)
        os.close(master)
    if not any(t < begin for t, _ in chunks):
        raise RuntimeError(f"fttui wrote nothing in {begin - start:.1f}s")
    inside = b"".join(data for t, data in chunks if begin <= t < end)
    return len(inside) / (end - begin), inside


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--sizes", default="160x48,80x24")
    parser.add_argument("--only", choices=("idle", "streaming"))
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--dump", type=Path)
    args = parser.parse_args()
    roots = [ROOT] if args.baseline is None else [ROOT, args.baseline.resolve()]
    names = {ROOT: "this"} | ({roots[1]: "baseline"} if len(roots) > 1 else {})
    for root in roots:  # as `pip install` does; an editable checkout recompiles otherwise
        compileall.compile_dir(root / "fttui", quiet=1)
        compileall.compile_dir(root / "widgets", quiet=1)
    sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes.split(",")]
    scenarios = [args.only] if args.only else ["idle", "streaming"]
    rates: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        config = Path(tmp) / "config"
        data.mkdir()
        config.mkdir()
        seed(data, args.jobs)
        srv = ServerProcess(data_dir=data, port=free_port())
        srv.start()
        (config / "config.toml").write_text(f'[profiles.local]\nbase_url = "{srv.base_url}"\n')
        env = {
            k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "NO_COLOR")
        }
        env.update(
            FTTUI_CONFIG_DIR=str(config),
            FTTUI_DATA_DIR=str(data),
            TERM="xterm-256color",
            COLORTERM="truecolor",
            TZ="UTC",
        )
        try:
            for _ in range(args.runs):
                for scenario in scenarios:
                    for cols, rows in sizes:
                        case = f"{scenario} {cols}x{rows}"
                        for root in roots:
                            streamer = Streamer(data).start() if scenario == "streaming" else None
                            keys = b"5" if scenario == "streaming" and cols < 120 else b""
                            try:
                                rate, raw = measure(
                                    env, root, cols, rows, args.settle, args.window, keys
                                )
                            finally:
                                if streamer is not None:
                                    streamer.stop()
                            rates.setdefault(case, {}).setdefault(names[root], []).append(rate)
                            print(f"{case} {names[root]}: {rate:,.0f} B/s", file=sys.stderr)
                            if args.dump is not None:
                                args.dump.mkdir(parents=True, exist_ok=True)
                                name = f"{names[root]}-{scenario}-{cols}x{rows}.bin"
                                (args.dump / name).write_bytes(raw)
        finally:
            srv.stop()
    out: dict[str, Any] = {"load_average": os.getloadavg()}
    for case, by_root in rates.items():
        entry: dict[str, Any] = {
            name: {"median_bytes_per_s": round(statistics.median(v)), "runs": [round(r) for r in v]}
            for name, v in by_root.items()
        }
        if "baseline" in by_root:
            entry["ratio_baseline_to_this"] = round(
                statistics.median(by_root["baseline"])
                / max(1.0, statistics.median(by_root["this"])),
                1,
            )
        out[case] = entry
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
