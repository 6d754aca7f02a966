"""A validation file read for evaluation: what to ask, what the answer should be.

Three shapes, one per line of JSONL (the file's first line decides; every line must
match it):
- prompt/completion (the legacy guide's): asked through `/v1/completions`;
- chat (`messages`, the last one the assistant's reference answer): asked through
  `/v1/chat/completions` with the messages before it;
- preference (OpenAI's DPO format: `input.messages`, `preferred_output`,
  `non_preferred_output`): scored, not generated;
- reinforcement (OpenAI's RFT format: `messages` ending with the user's turn, every
  other key the grader's `item`): asked like chat, each answer scored by the job's
  grader (OpenAI's `graders/run`): the `reward` task.

A prompt/completion or chat file is a classification task when its references are a
few short labels that repeat (at most 20 distinct, each of at most 3 words, each
used on average at least twice); otherwise it is a generation task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Task = Literal["classification", "generation", "preference", "reward"]
# Stop sequences the legacy guide suggests ending completions with: when every
# reference ends with the same one, it is the stop sequence and not part of the answer.
KNOWN_STOPS = (" END", "\n\n", "\n", " ###", "###")
MAX_CLASSES = 20


class EvalFileError(ValueError):
    """The file cannot be evaluated; the message names the line and field."""


@dataclass
class Item:
    prompt: str | None = None  # prompt/completion files
    messages: list[dict[str, Any]] | None = None  # chat and preference files
    reference: str = ""
    rejected: str = ""  # preference files: the non-preferred answer
    fields: dict[str, Any] = field(default_factory=dict)  # reinforcement: the grader's item

    def shown(self) -> str:
        """The question as a person reads it (the last user message for chat)."""
        if self.prompt is not None:
            return self.prompt
        users = [m for m in self.messages or [] if m.get("role") == "user"]
        return str(users[-1].get("content", "")) if users else ""


@dataclass
class EvalFile:
    path: Path
    shape: Literal["prompt_completion", "chat", "preference", "reinforcement"]
    task: Task
    items: list[Item] = field(default_factory=list)
    stop: str | None = None
    grader: dict[str, Any] | None = None  # the reward task's grader (OpenAI's object)

    @property
    def labels(self) -> list[str]:
        return sorted({i.reference for i in self.items})


def _content(message: Any, where: str) -> str:
    if not isinstance(message, dict) or not isinstance(message.get("content"), str):
        raise EvalFileError(f"{where}: needs a message object with string 'content'")
    return str(message["content"])


def _item(row: Any, shape: str, where: str) -> Item:
    if not isinstance(row, dict):
        raise EvalFileError(f"{where}: must be a JSON object")
    if shape == "prompt_completion":
        if not isinstance(row.get("prompt"), str) or not isinstance(row.get("completion"), str):
            raise EvalFileError(f"{where}: needs string fields 'prompt' and 'completion'")
        return Item(prompt=row["prompt"], reference=row["completion"])
    if shape == "chat":
        messages = row.get("messages")
        if not isinstance(messages, list) or len(messages) < 2:
            raise EvalFileError(f"{where}: 'messages' must be a list of at least two messages")
        last = messages[-1]
        if not isinstance(last, dict) or last.get("role") != "assistant":
            raise EvalFileError(
                f"{where}: the last message must be the assistant's (the reference answer)"
            )
        return Item(messages=messages[:-1], reference=_content(last, f"{where} messages[-1]"))
    if shape == "reinforcement":
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages:
            raise EvalFileError(f"{where}: 'messages' must be a non-empty list")
        last = messages[-1]
        if not isinstance(last, dict) or last.get("role") != "user":
            raise EvalFileError(
                f"{where}: the last message must be the user's (a reinforcement example has "
                "no reference answer: the grader scores the model's)"
            )
        _content(last, f"{where} messages[-1]")
        fields = {k: v for k, v in row.items() if k != "messages"}
        return Item(messages=messages, reference=json.dumps(fields), fields=fields)
    inp = row.get("input")
    messages = inp.get("messages") if isinstance(inp, dict) else None
    if not isinstance(messages, list) or not messages:
        raise EvalFileError(f"{where}: 'input.messages' must be a non-empty list")
    chosen, rejected = row.get("preferred_output"), row.get("non_preferred_output")
    if not isinstance(chosen, list) or not chosen or not isinstance(rejected, list) or not rejected:
        raise EvalFileError(
            f"{where}: 'preferred_output' and 'non_preferred_output' must be non-empty lists"
        )
    return Item(
        messages=messages,
        reference=_content(chosen[0], f"{where} preferred_output[0]"),
        rejected=_content(rejected[0], f"{where} non_preferred_output[0]"),
    )


def _shape(row: Any) -> str:
    if isinstance(row, dict):
        if "prompt" in row and "completion" in row:
            return "prompt_completion"
        if "messages" in row:
            messages = row["messages"]
            last = messages[-1] if isinstance(messages, list) and messages else None
            user_last = isinstance(last, dict) and last.get("role") == "user"
            return "reinforcement" if user_last else "chat"
        if "preferred_output" in row:
            return "preference"
    return ""


def looks_like_classification(references: list[str]) -> bool:
    distinct = set(references)
    return (
        1 < len(distinct) <= MAX_CLASSES
        and len(references) >= 2 * len(distinct)
        and all(0 < len(r.split()) <= 3 for r in distinct)
    )


def read(
    path: Path,
    task: Task | None = None,
    stop: str | None = None,
    grader: dict[str, Any] | None = None,
) -> EvalFile:
    """Read and check `path`; raises EvalFileError naming the first bad line.

    `grader`: a reinforcement job's grader, which a reinforcement file needs (its
    examples have no reference answer to compare with)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot be read ({exc})") from None
    items: list[Item] = []
    shape = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{where}: not valid JSON ({exc.msg})") from None
        if not shape:
            shape = _shape(row)
            if not shape:
                raise EvalFileError(
                    f"{where}: not a prompt/completion, chat or reinforcement ('messages') "
                    "or preference ('input', 'preferred_output', 'non_preferred_output') "
                    "example"
                )
        items.append(_item(row, shape, where))
    if not items:
        raise EvalFileError(f"{path}: holds no examples")
    if shape == "prompt_completion" and stop is None:
        for candidate in KNOWN_STOPS:
            if all(i.reference.endswith(candidate) for i in items):
                stop = candidate
                break
    if stop:
        for i in items:
            i.reference = i.reference.removesuffix(stop)
    if shape == "reinforcement":
        if grader is None:
            raise EvalFileError(
                f"{path}: a reinforcement file (messages ending with the user's turn) has no "
                "reference answers; its answers are scored by a grader: evaluate it from its "
                "reinforcement job (the TUI's `e`) or give one with --grader"
            )
        return EvalFile(path=path, shape="reinforcement", task="reward", items=items, grader=grader)
    if grader is not None:
        raise EvalFileError(
            f"{path}: a grader scores reinforcement files (messages ending with the user's "
            f"turn); this is a {shape.replace('_', '/')} file"
        )
    if shape == "preference":
        chosen_task: Task = "preference"
    elif task is not None:
        chosen_task = task
    else:
        chosen_task = (
            "classification"
            if looks_like_classification([i.reference.strip() for i in items])
            else "generation"
        )
    if chosen_task == "preference" and shape != "preference":
        raise EvalFileError(f"{path}: --task preference needs a preference (DPO) file")
    return EvalFile(path=path, shape=shape, task=chosen_task, items=items, stop=stop)  # type: ignore[arg-type]
