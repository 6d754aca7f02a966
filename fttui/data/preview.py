"""What is trained, shown before it is: examples rendered by a local model's chat format
with the trained tokens marked, and how many tokens of each are trained.

Uses the trainer's own encoding (`fttui.data.encode`), so what is marked is exactly
what the loss is taken on (as Together's `fine-tuning preview` and axolotl's `--debug`
show it). `fttui prepare --show-trained N` prints it; the TUI's upload check shows it
for the local server's model (`render_previews`, one renderer for both).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text

from fttui.core.models import model_info
from fttui.core.safe_text import safe_text
from fttui.data.contract import Invalid, parse_example
from fttui.data.encode import IGNORE, Example, ExampleError, PreferenceExample, encode

TRAINED_STYLE = "bold black on green"


@dataclass
class Segment:
    text: str
    trained: bool


@dataclass
class TrainedPreview:
    """One example: its rendered text cut into trained / untrained stretches."""

    line: int
    n_tokens: int = 0
    n_trained: int = 0
    segments: list[Segment] = field(default_factory=list)
    error: str | None = None  # why this line cannot be shown (invalid, template limit)

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "tokens": self.n_tokens,
            "trained_tokens": self.n_trained,
            "segments": [{"text": s.text, "trained": s.trained} for s in self.segments],
            "error": self.error,
        }


def _segments(tokenizer: Any, ids: list[int], trained: list[bool]) -> list[Segment]:
    """Decode runs of equally-marked tokens (special tokens shown: they are trained too)."""
    out: list[Segment] = []
    start = 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or trained[i] != trained[start]:
            text = str(tokenizer.decode(ids[start:i], skip_special_tokens=False))
            out.append(Segment(text, trained[start]))
            start = i
    return out


def preview_example(tokenizer: Any, obj: Any, line: int) -> TrainedPreview:
    """One parsed JSONL value, encoded as the trainer would."""
    try:
        parsed = parse_example(obj)
    except Invalid as exc:
        return TrainedPreview(line, error=f"{exc.code}: {exc.detail}")
    if parsed.format not in ("prompt_completion", "chat", "preference"):
        return TrainedPreview(line, error=f"{parsed.format} examples are not trained on tokens")
    try:
        ex = encode(tokenizer, parsed)
    except ExampleError as exc:
        return TrainedPreview(line, error=exc.detail)
    if isinstance(ex, PreferenceExample):
        ids = ex.prompt_ids + ex.chosen_ids
        marks = [False] * len(ex.prompt_ids) + [True] * len(ex.chosen_ids)
    else:
        assert isinstance(ex, Example)
        ids, marks = ex.input_ids, [label != IGNORE for label in ex.labels]
    return TrainedPreview(
        line, n_tokens=len(ids), n_trained=sum(marks), segments=_segments(tokenizer, ids, marks)
    )


def preview_file(tokenizer: Any, path: Path, n: int) -> list[TrainedPreview]:
    """The first `n` non-blank lines of a JSONL file."""
    out: list[TrainedPreview] = []
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            if len(out) >= n:
                break
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                out.append(TrainedPreview(number, error="not valid JSON"))
                continue
            out.append(preview_example(tokenizer, obj, number))
    return out


def trained_preview(
    path: Path, model: str, data_dir: str | None, n: int
) -> list[TrainedPreview] | str:
    """The first `n` examples as `model`'s chat format renders them, or why it cannot
    (a model that is not local: only its own tokenizer and template decide)."""
    from fttui.data.tokens import HFCounter, counter_for

    counter, warnings = counter_for(model_info(model, data_dir), data_dir)
    if not isinstance(counter, HFCounter):
        why = "; ".join(warnings) or f"{model} is not a model of the local server"
        return (
            f"--show-trained needs a local model (its own tokenizer and chat template decide "
            f"what is trained): {why}"
        )
    return preview_file(counter.tokenizer, path, n)


def render_previews(model: str, previews: list[TrainedPreview], *, plain: bool) -> Text:
    """The previews as one rich Text: trained stretches on green (bracketed ⟦…⟧ when
    `plain`: a pipe, NO_COLOR), the context dim, each line's token counts above it."""
    out = Text.assemble(
        (f"What {model} is trained on", "bold"),
        " (",
        ("⟦trained tokens⟧" if plain else "trained tokens", TRAINED_STYLE),
        ", the rest is context):",
    )
    for p in previews:
        out.append("\n")
        if p.error:
            out.append(safe_text(f"line {p.line}: {p.error}"), style="red")
            continue
        out.append(f"line {p.line}: {p.n_tokens:,} tokens, {p.n_trained:,} trained\n", "bold")
        for seg in p.segments:
            text = safe_text(seg.text, multiline=True)
            if seg.trained and plain:
                text = f"⟦{text}⟧"
            out.append(text, TRAINED_STYLE if seg.trained else "dim")
    return out


__all__ = [
    "TRAINED_STYLE",
    "Segment",
    "TrainedPreview",
    "preview_example",
    "preview_file",
    "render_previews",
    "trained_preview",
]
