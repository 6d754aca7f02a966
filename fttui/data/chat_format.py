"""A family's chat format at inference: the prompt its template renders, and its output
read back into OpenAI's message fields (`content`, `reasoning_content`, `tool_calls`).

The trainer (`fttui.data.encode`) renders training examples with the same functions, so
what a model is asked at inference is what it was trained on: reasoning templates
(Qwen3's `enable_thinking`) in non-thinking mode by default, tools rendered by the
template itself.

What a template can do is read from its source text (`capabilities`): whether it
renders `tools`, whether it has a thinking switch. How a family writes tool calls is
the family's parser (as vLLM's tool parsers do); today:

- ``hermes``: ``<tool_call>{"name": ..., "arguments": ...}</tool_call>`` blocks
  (Qwen2.5, Qwen3 and every template that tells the model to answer that way).

Reasoning is a leading ``<think>...</think>`` block (or, when the prompt already opened
it, everything up to ``</think>``); it never reaches `content`.

Light: no torch here; only the tokenizer is needed.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from fttui.data.encode import ExampleError, _render, _template, template_messages

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
HERMES_OPEN, HERMES_CLOSE = "<tool_call>", "</tool_call>"

# OpenAI's `reasoning_effort` values; the first two ask for no reasoning.
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
NO_REASONING = ("none", "minimal")


@dataclass(frozen=True)
class Capabilities:
    """What a model's chat template renders, and how its tool calls are read back."""

    tools: bool  # the template renders `tools` (and so tells the model about them)
    thinking: bool  # the template has a thinking switch (`enable_thinking`)
    tool_parser: str | None  # "hermes", or None: no parser for this family's calls


def capabilities(tokenizer: Any) -> Capabilities:
    """Read from the template's source (raises ExampleError without a template)."""
    source = _template(tokenizer)
    tools = "tools" in source
    parser = "hermes" if tools and HERMES_OPEN in source else None
    return Capabilities(tools=tools, thinking="enable_thinking" in source, tool_parser=parser)


def wants_thinking(effort: str | None) -> bool:
    """Non-thinking by default; `reasoning_effort` low and up asks for reasoning."""
    return effort is not None and effort not in NO_REASONING


def render_prompt(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    thinking: bool = False,
) -> list[int]:
    """The generation prompt for `messages` (OpenAI's chat messages), as the trainer
    renders the prompt of a training example's assistant turn."""
    rendered = template_messages(tokenizer, messages)
    return _render(tokenizer, rendered, True, tools or None, thinking)


def prompt_opens_thinking(tokenizer: Any, prompt_ids: list[int]) -> bool:
    """Whether the generation prompt ends inside an open think block (templates that
    start the model's reasoning for it)."""
    tail = str(tokenizer.decode(prompt_ids[-8:], skip_special_tokens=False)).rstrip()
    return tail.endswith(THINK_OPEN)


# -- reading the output back --------------------------------------------------------


@dataclass
class ToolCall:
    """One call in OpenAI's shape (`arguments` a JSON string, as OpenAI sends it)."""

    id: str
    name: str
    arguments: str

    def as_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass
class Piece:
    """What a chunk of output added: reasoning text, content text, finished tool calls."""

    reasoning: str = ""
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.reasoning or self.content or self.tool_calls)


def _partial_tag(text: str, tags: tuple[str, ...]) -> int:
    """Length of the longest ending of `text` that starts one of `tags` (held back)."""
    hold = 0
    for tag in tags:
        for k in range(min(len(tag) - 1, len(text)), 0, -1):
            if text.endswith(tag[:k]):
                hold = max(hold, k)
                break
    return hold


def _call_id() -> str:
    return f"call_{secrets.token_hex(12)}"


def parse_hermes_call(body: str) -> ToolCall | None:
    """`{"name": ..., "arguments": {...}}` (the body of a <tool_call> block), else None."""
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
    return ToolCall(_call_id(), obj["name"], text)


class OutputParser:
    """Splits a model's output, fed piece by piece, into reasoning, content and tool calls.

    Streamed and whole answers are the same by construction: a whole answer is what
    `feed` and `finish` returned, added up. Text that may still become a tag is held
    back until it cannot.
    """

    def __init__(self, *, in_reasoning: bool = False, tool_parser: str | None = None) -> None:
        self._state = "reasoning_start" if in_reasoning else "start"
        self._tool_parser = tool_parser
        self._buffer = ""  # text received, not yet handed out
        self._call = ""  # the body of the tool call being read
        self.tool_calls: list[ToolCall] = []
        self.unparsed: list[str] = []  # tool-call blocks that were not valid calls

    def feed(self, text: str) -> Piece:
        self._buffer += text
        return self._step(final=False)

    def finish(self) -> Piece:
        return self._step(final=True)

    def _step(self, final: bool) -> Piece:
        out = Piece()
        while True:
            buf = self._buffer
            if self._state == "start":
                stripped = buf.lstrip()
                if stripped.startswith(THINK_OPEN):
                    self._buffer = stripped[len(THINK_OPEN) :]
                    self._state = "reasoning_start"
                    continue
                if not final and (not stripped or THINK_OPEN.startswith(stripped)):
                    return out  # may still open a think block
                self._state = "content"
                continue
            if self._state in ("reasoning_start", "gap"):
                # The newlines the templates put around reasoning belong to neither part.
                rest = buf.lstrip("\n")
                self._buffer = rest
                if not rest and not final:
                    return out
                self._state = "reasoning" if self._state == "reasoning_start" else "content"
                continue
            if self._state == "reasoning":
                end = buf.find(THINK_CLOSE)
                if end >= 0:
                    out.reasoning += buf[:end].rstrip("\n")
                    self._buffer = buf[end + len(THINK_CLOSE) :]
                    self._state = "gap"
                    continue
                keep = 0
                if not final:  # a possible </think>, and the newlines before it
                    keep = _partial_tag(buf, (THINK_CLOSE,))
                    head = buf[: len(buf) - keep]
                    keep += len(head) - len(head.rstrip("\n"))
                out.reasoning += buf[: len(buf) - keep]
                self._buffer = buf[len(buf) - keep :]
                return out
            if self._state == "content":
                start = buf.find(HERMES_OPEN) if self._tool_parser == "hermes" else -1
                if start >= 0:
                    out.content += buf[:start]
                    self._buffer = buf[start + len(HERMES_OPEN) :]
                    self._state = "call"
                    continue
                tags = (HERMES_OPEN,) if self._tool_parser == "hermes" else ()
                keep = 0 if final else _partial_tag(buf, tags)
                out.content += buf[: len(buf) - keep]
                self._buffer = buf[len(buf) - keep :]
                return out
            # "call": inside a <tool_call> block
            end = buf.find(HERMES_CLOSE)
            if end < 0 and not final:
                return out
            body = buf if end < 0 else buf[:end]
            self._buffer = "" if end < 0 else buf[end + len(HERMES_CLOSE) :]
            call = parse_hermes_call(body.strip())
            if call is None:
                self.unparsed.append(body)
                out.content += HERMES_OPEN + body + ("" if end < 0 else HERMES_CLOSE)
            else:
                self.tool_calls.append(call)
                out.tool_calls.append(call)
            self._state = "gap"  # the newline between calls is neither
            if end < 0:
                return out


def check_tools_supported(tokenizer: Any, model: str) -> Capabilities:
    """The template's capabilities, or ExampleError when it cannot render `tools`."""
    caps = capabilities(tokenizer)
    if not caps.tools or caps.tool_parser is None:
        why = (
            "does not render tools"
            if not caps.tools
            else "renders tools in a format fttui cannot read back"
        )
        raise ExampleError(
            "tools_unsupported",
            f"model {model!r} cannot take 'tools': its chat template {why}",
        )
    return caps


__all__ = [
    "NO_REASONING",
    "REASONING_EFFORTS",
    "Capabilities",
    "OutputParser",
    "Piece",
    "ToolCall",
    "capabilities",
    "check_tools_supported",
    "parse_hermes_call",
    "prompt_opens_thinking",
    "render_prompt",
    "wants_thinking",
]
