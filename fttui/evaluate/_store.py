"""Evaluation results kept on this machine, per backend and model, to be shown again.

One JSON file per (backend URL, model) under `<data dir>/evals/`, holding every run
newest last; `export` writes a run as JSON or as CSV (one row per example).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from fttui.paths import data_dir


def _path(base_url: str, model: str, root: Path | None = None) -> Path:
    key = hashlib.sha256(f"{base_url}\n{model}".encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", model)[:80]
    return (root or data_dir()) / "evals" / f"{safe}-{key}.json"


def save(base_url: str, run: dict[str, Any], root: Path | None = None) -> Path:
    """Append `run` (one evaluation of `run["model"]`) to that model's history."""
    path = _path(base_url, str(run["model"]), root)
    path.parent.mkdir(parents=True, exist_ok=True)
    runs = history(base_url, str(run["model"]), root)
    runs.append({**run, "base_url": base_url, "saved_at": int(time.time())})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(runs, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def history(base_url: str, model: str, root: Path | None = None) -> list[dict[str, Any]]:
    """Every stored evaluation of `model` on that backend, oldest first ([] if none)."""
    path = _path(base_url, model, root)
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return runs if isinstance(runs, list) else []


def export(report: dict[str, Any], target: Path) -> None:
    """Write a report as JSON (`.json`) or as CSV (any other suffix): one row per
    example with each model's answer, then the summary metrics."""
    if target.suffix.lower() == ".json":
        target.write_text(json.dumps(report, indent=1), encoding="utf-8")
        return
    runs = report["runs"]
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["index", "prompt", "reference", *(f"answer:{r['model']}" for r in runs)])
        for k, (prompt, reference) in enumerate(
            zip(report["prompts"], report["references"], strict=True)
        ):
            answers = [r["answers"][k] if k < len(r["answers"]) else "" for r in runs]
            writer.writerow([k, prompt, reference, *answers])
        writer.writerow([])
        writer.writerow(["metric", *(r["model"] for r in runs)])
        for name in summary_names(runs[0]["metrics"]):
            writer.writerow([name, *(r["metrics"].get(name, "") for r in runs)])


def summary_names(metrics: dict[str, Any]) -> list[str]:
    """The single-number metrics of a run, in a fixed order."""
    order = [
        "examples",
        "accuracy",
        "weighted_f1",
        "auroc",
        "auprc",
        "exact_match",
        "token_f1",
        "mean_words",
        "reference_mean_words",
        "prefers_chosen",
        "mean_margin",
        "mean_reward",
        "full_reward",
        "grader_errors",
    ]
    return [n for n in order if isinstance(metrics.get(n), (int, float))]


def _recording_path(
    base_url: str, model: str, against: str, digest: str, root: Path | None
) -> Path:
    key = hashlib.sha256(f"{base_url}\n{model}\n{against}\n{digest}".encode()).hexdigest()[:16]
    return (root or data_dir()) / "evals" / "recorded" / f"{key}.json"


def record(
    base_url: str,
    model: str,
    against: str,
    digest: str,
    run: dict[str, Any],
    root: Path | None = None,
) -> Path:
    """Keep `against`'s run (its answers and scores on the file with this sha256) with
    `model` on `base_url`, so the comparison can be shown again after `against` stops
    answering (an OpenAI fine-tune whose base model is retired)."""
    path = _recording_path(base_url, model, against, digest, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**run, "recorded_at": int(time.time())}, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def recorded(
    base_url: str, model: str, against: str, digest: str, root: Path | None = None
) -> dict[str, Any] | None:
    """The run `record` kept, or None."""
    try:
        run = json.loads(_recording_path(base_url, model, against, digest, root).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return run if isinstance(run, dict) else None
