"""Evaluate a model on a validation file, in place: `fttui eval` and the TUI's view.

A client of `fttui.api`, so it works the same against the local server, OpenAI and
OpenAI-compatible servers. `compare()` evaluates a model and, optionally, the model
it is measured against (its base) on the same file and returns one report; `render()`
draws it (Rich: side-by-side metrics, per-class table, confusion matrix, worst
answers); `estimate_cost()` says what a run would cost on OpenAI before it starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fttui.evaluate._examples import EvalFile, EvalFileError, Task, read
from fttui.evaluate._run import Progress, evaluate, max_tokens_for
from fttui.evaluate._store import export, history, record, recorded, save, summary_names

__all__ = [
    "EvalFile",
    "EvalFileError",
    "Task",
    "compare",
    "estimate_cost",
    "export",
    "history",
    "read",
    "record",
    "recorded",
    "render",
    "save",
    "summary_names",
]

# USD per 1M tokens (input, output) for inference with fine-tuned models, from
# OpenAI's pricing page as of 2026-12; `--price-in/--price-out` override it.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1-nano": (0.20, 0.80),
    "gpt-4.1-mini": (0.80, 3.20),
    "gpt-4.1": (3.00, 12.00),
    "gpt-4o-mini": (0.30, 1.20),
    "gpt-4o": (3.75, 15.00),
    "gpt-3.5-turbo": (3.00, 6.00),
    "babbage-002": (1.60, 1.60),
    "davinci-002": (12.00, 12.00),
}


def price_of(model: str) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens for a model or a fine-tune of it (ft:BASE:...)."""
    base = model.split(":")[1] if model.startswith("ft:") else model
    for name in sorted(PRICES, key=len, reverse=True):
        if base.startswith(name):
            return PRICES[name]
    return None


def estimate_cost(
    file: EvalFile, models: list[str], price: tuple[float, float] | None = None
) -> tuple[float | None, int, int]:
    """(USD or None when a price is unknown, input tokens, output tokens at most) for
    evaluating every model on `file`; tokens counted with o200k_base (tiktoken)."""
    import tiktoken

    enc = tiktoken.get_encoding("o200k_base")
    inputs = 0
    for item in file.items:
        if item.prompt is not None:
            inputs += len(enc.encode(item.prompt, disallowed_special=()))
        for m in item.messages or []:
            inputs += 4 + len(enc.encode(str(m.get("content", "")), disallowed_special=()))
    outputs = max_tokens_for(file) * len(file.items)
    total: float | None = 0.0
    for model in models:
        p = price or price_of(model)
        if p is None or total is None:
            total = None
            continue
        total += (inputs * p[0] + outputs * p[1]) / 1e6
    return total, inputs * len(models), outputs * len(models)


async def compare(
    client: Any,
    model: str,
    file: EvalFile,
    *,
    against: str | None = None,
    concurrency: int = 8,
    max_tokens: int | None = None,
    positive: str | None = None,
    progress: Progress | None = None,
    against_client: Any | None = None,
    against_recorded: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate `model` (and `against`, first) on `file`: one report for both.

    `against` runs on `against_client` when given: another backend (the OpenAI model a
    local fine-tune replaces, `fttui eval ... --against-profile openai`). With
    `against_recorded` (a run kept by `--record`) the against model is not asked again:
    its recorded answers are scored (the source model may no longer answer).
    """
    runs = []
    for name in [against, model] if against else [model]:
        if name == against and against_recorded is not None:
            runs.append({**against_recorded, "recorded": True})
            continue
        runs.append(
            await evaluate(
                against_client if (name == against and against_client is not None) else client,
                name,
                file,
                concurrency=concurrency,
                max_tokens=max_tokens,
                positive=positive,
                progress=progress,
            )
        )
    return {
        "file": str(file.path),
        "task": file.task,
        "shape": file.shape,
        **({"grader": file.grader} if file.grader is not None else {}),
        "prompts": [i.shown() for i in file.items],
        "references": [i.reference for i in file.items],
        "runs": runs,
    }


def _plain(text: str) -> Any:
    """Text from a file or a backend (a model id, a prompt, a label) as a Rich cell: its
    controls made visible and never read as markup (a prompt holding `[/x]` would
    otherwise stop the report with a MarkupError, or style it)."""
    from rich.text import Text

    from fttui.core.safe_text import safe_text

    return Text(safe_text(text))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render(report: dict[str, Any]) -> list[Any]:
    """Rich renderables for a report: metrics side by side, then the task's details."""
    from rich.table import Table
    from rich.text import Text

    runs = report["runs"]
    out: list[Any] = []
    summary = Table(
        title=_plain(f"{report['task']} · {Path(report['file']).name}"), title_justify="left"
    )
    summary.add_column("metric")
    for run in runs:
        summary.add_column(_plain(run["model"]), justify="right")
    if len(runs) == 2:
        summary.add_column("change", justify="right")
    for name in summary_names(runs[-1]["metrics"]):
        values = [r["metrics"].get(name) for r in runs]
        row: list[Any] = [name, *(_fmt(v) for v in values)]
        if len(runs) == 2 and all(isinstance(v, (int, float)) for v in values):
            delta = values[1] - values[0]
            style = "green" if delta > 0 else "red" if delta < 0 else ""
            row.append(Text(f"{delta:+.3f}", style=style) if name != "examples" else "")
        elif len(runs) == 2:
            row.append("")
        summary.add_row(*row)
    if any("latency" in r for r in runs):
        for key, label in (("median_ms", "latency median (ms)"), ("p90_ms", "latency p90 (ms)")):
            cells = [_fmt((r.get("latency") or {}).get(key)) for r in runs]
            summary.add_row(label, *cells, *([""] if len(runs) == 2 else []))
    if any(r.get("backend") or r.get("recorded") for r in runs):
        cells = [
            _plain(str(r.get("backend") or "") + (" (recorded)" if r.get("recorded") else ""))
            for r in runs
        ]
        summary.add_row("backend", *cells, *([""] if len(runs) == 2 else []))
    out.append(summary)
    for run in runs:
        metrics = run["metrics"]
        if "per_class" in metrics:
            per = Table(title=_plain(f"per class · {run['model']}"), title_justify="left")
            for col in ("class", "precision", "recall", "f1", "support"):
                per.add_column(col, justify="left" if col == "class" else "right")
            for label, v in metrics["per_class"].items():
                per.add_row(
                    _plain(label),
                    _fmt(v["precision"]),
                    _fmt(v["recall"]),
                    _fmt(v["f1"]),
                    str(v["support"]),
                )
            out.append(per)
            out.append(confusion_table(metrics["confusion"], run["model"]))
        if metrics.get("worst") and "reward" in metrics["worst"][0]:
            worst = Table(title=_plain(f"lowest rewards · {run['model']}"), title_justify="left")
            for col in ("#", "prompt", "answer", "reward"):
                worst.add_column(col, overflow="fold")
            for w in metrics["worst"]:
                worst.add_row(
                    str(w["index"]),
                    _plain(w["prompt"][-60:]),
                    _plain((w["answer"] or w.get("error") or "")[:60]),
                    _fmt(w["reward"]),
                )
            out.append(worst)
        elif metrics.get("worst"):
            worst = Table(title=_plain(f"worst answers · {run['model']}"), title_justify="left")
            for col in ("#", "prompt", "reference", "answer", "F1"):
                worst.add_column(col, overflow="fold")
            for w in metrics["worst"]:
                worst.add_row(
                    str(w["index"]),
                    _plain(w["prompt"][-60:]),
                    _plain(w["reference"][:60]),
                    _plain(w["answer"][:60]),
                    _fmt(w["token_f1"]),
                )
            out.append(worst)
    return out


def confusion_table(confusion: dict[str, Any], model: str) -> Any:
    """The confusion matrix as a table: rows the true class, columns the answer, the
    diagonal green and the other non-zero cells red, shaded by their share of the row."""
    from rich.table import Table
    from rich.text import Text

    labels, matrix = confusion["labels"], confusion["matrix"]
    table = Table(title=_plain(f"confusion · {model} (rows: true, columns: answer)"))
    table.add_column("true \\ answer")
    for label in labels:
        table.add_column(_plain(label[:12]), justify="right")
    for i, (label, row) in enumerate(zip(labels, matrix, strict=True)):
        total = sum(row) or 1
        cells = []
        for j, count in enumerate(row):
            share = count / total
            if count == 0:
                cells.append(Text("·", style="dim"))
            else:
                colour = "green" if i == j else "red"
                cells.append(Text(str(count), style=f"bold {colour}" if share > 0.5 else colour))
        table.add_row(_plain(label[:16]), *cells)
    return table
