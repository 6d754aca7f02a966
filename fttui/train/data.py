"""Training data: JSONL lines -> token ids with the prompt masked out of the loss.

Both formats, the legacy guide's and today's API's, are read here: legacy
`{"prompt", "completion"}` and chat `{"messages": [...]}`. Loss falls only on
completion tokens (legacy) or assistant turns (chat, rendered with the model's own
chat template). Examples longer than the model's context are refused with their line
numbers; nothing is ever truncated silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IGNORE = -100


class DataError(ValueError):
    """Bad training data; the message names the file and line numbers."""

    def __init__(self, message: str, param: str = "training_file") -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Example:
    """One tokenised example; `labels` is IGNORE wherever no loss is taken."""

    line: int
    input_ids: list[int]
    labels: list[int]
    # The completion text (legacy) or last assistant message (chat): the class label.
    completion: str

    @property
    def n_tokens(self) -> int:
        return len(self.input_ids)

    @property
    def first_target(self) -> int:
        """Index of the first position whose token is trained on."""
        return next(i for i, lab in enumerate(self.labels) if lab != IGNORE)


def _legacy(tokenizer: Any, record: dict[str, Any]) -> tuple[list[int], list[int], str]:
    prompt, completion = record["prompt"], record["completion"]
    if not isinstance(prompt, str) or not isinstance(completion, str):
        raise ValueError("'prompt' and 'completion' must be strings")
    prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    if not completion_ids:
        raise ValueError("empty completion: nothing to train on")
    labels = [IGNORE] * len(prompt_ids) + list(completion_ids)
    return list(prompt_ids) + list(completion_ids), labels, completion


def _render(tokenizer: Any, messages: list[dict[str, Any]], prompt: bool) -> list[int]:
    ids = tokenizer.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=prompt, return_dict=False
    )
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return list(ids)


def _chat(tokenizer: Any, record: dict[str, Any]) -> tuple[list[int], list[int], str]:
    messages = record["messages"]
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("content"), str):
            raise ValueError(f"messages[{i}] needs a string 'content'")
        if msg.get("role") not in ("system", "user", "assistant"):
            raise ValueError(f"messages[{i}] has role {msg.get('role')!r}")
    if not any(m["role"] == "assistant" and m.get("weight", 1) for m in messages):
        raise ValueError("no assistant message to train on")
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("this model's tokenizer has no chat template; use prompt/completion")
    clean = [{"role": m["role"], "content": m["content"]} for m in messages]
    full = _render(tokenizer, clean, prompt=False)
    labels = [IGNORE] * len(full)
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant" or not msg.get("weight", 1):
            continue
        start = len(_render(tokenizer, clean[:i], prompt=True))
        end = len(_render(tokenizer, clean[: i + 1], prompt=False))
        labels[start:end] = full[start:end]
    last = next(m for m in reversed(messages) if m["role"] == "assistant")
    return full, labels, last["content"]


def load_examples(
    path: Path, tokenizer: Any, max_tokens: int, param: str = "training_file"
) -> list[Example]:
    """Tokenise every line of a JSONL file; DataError lists each bad or overlong line."""
    examples: list[Example] = []
    problems: list[str] = []
    too_long: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                if "messages" in record:
                    ids, labels, completion = _chat(tokenizer, record)
                elif "prompt" in record and "completion" in record:
                    ids, labels, completion = _legacy(tokenizer, record)
                else:
                    raise ValueError("needs 'messages' or 'prompt' and 'completion'")
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"line {number}: {exc}")
                continue
            if len(ids) > max_tokens:
                too_long.append(f"{number} ({len(ids)} tokens)")
                continue
            examples.append(Example(number, ids, labels, completion))
    if problems:
        shown = "; ".join(problems[:10]) + (
            f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        )
        raise DataError(f"{param} has invalid examples: {shown}", param)
    if too_long:
        shown = ", ".join(too_long[:20]) + (
            f" and {len(too_long) - 20} more" if len(too_long) > 20 else ""
        )
        raise DataError(
            f"{param}: examples longer than the model's limit of {max_tokens} tokens "
            f"(prompt + completion) on lines {shown}; shorten or drop them, nothing is truncated",
            param,
        )
    if not examples:
        raise DataError(f"{param} has no examples", param)
    return examples
