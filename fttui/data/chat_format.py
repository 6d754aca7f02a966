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
- ``llama3_json``: Llama 3.1/3.2/3.3's JSON calls: the whole answer is
  ``{"name": ..., "parameters": {...}}`` (several joined by ``;``), as their template
  renders an assistant's `tool_calls` and asks the model to answer.
- ``mistral``: Mistral (rendered by `mistral-common`, see `fttui.data._mistral`):
  ``[TOOL_CALLS]`` then a JSON list of ``{"name": ..., "arguments": ...}``.
- ``harmony``: gpt-oss, whose format (OpenAI's harmony, rendered by `openai-harmony`,
  see `fttui.data._harmony`) puts reasoning, answers and calls on channels; its output
  is read by `HarmonyParser` from text decoded with the special tokens kept
  (`keeps_special_tokens`).

Reasoning is a leading ``<think>...</think>`` block (or, when the prompt already opened
it, everything up to ``</think>``); it never reaches `content`.

Light: no torch here; only the tokenizer is needed.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fttui.data import _harmony, _mistral
from fttui.data.encode import ExampleError, _render, _template, harmony_call, template_messages

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
HERMES_OPEN, HERMES_CLOSE = "<tool_call>", "</tool_call>"
# How Llama 3.1's template writes a call's arguments (its `tool_calls` branch).
LLAMA3_CALL = '"parameters": '

# OpenAI's `reasoning_effort` values; the first two ask for no reasoning.
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
NO_REASONING = ("none", "minimal")


@dataclass(frozen=True)
class Capabilities:
    """What a model's chat template renders, and how its tool calls are read back."""

    tools: bool  # the template renders `tools` (and so tells the model about them)
    thinking: bool  # the template has a thinking switch (`enable_thinking`)
    # "hermes", "llama3_json", "harmony", or None: no parser for this family's calls
    tool_parser: str | None


def has_chat_format(tokenizer: Any) -> bool:
    """Whether the model renders chats at all (a chat template, or harmony)."""
    if getattr(tokenizer, "chat_template", None):
        return True
    return _harmony.is_harmony(tokenizer) or _mistral.is_mistral(tokenizer)


def keeps_special_tokens(tokenizer: Any) -> bool:
    """Whether its chat output must be decoded with the special tokens kept (harmony's
    channels and Mistral's `[TOOL_CALLS]` are special tokens; the parsers read them)."""
    return _harmony.is_harmony(tokenizer) or _mistral.is_mistral(tokenizer)


def answer_stop_ids(tokenizer: Any) -> tuple[int, ...]:
    """Tokens that end an assistant's answer besides the model's eos tokens (harmony's
    `<|return|>` and `<|call|>`, whatever the model directory's generation config says)."""
    return _harmony.STOP_IDS if _harmony.is_harmony(tokenizer) else ()


def format_files(tokenizer: Any) -> list[Path]:
    """Files besides the Hugging Face tokenizer's that the model's chat format reads
    (mistral-common's tokenizer file): a fine-tuned model's directory carries them."""
    path = _mistral.tokenizer_file(tokenizer)
    return [path] if path is not None else []


def capabilities(tokenizer: Any) -> Capabilities:
    """Read from the template's source (raises ExampleError without a template)."""
    if _harmony.is_harmony(tokenizer):
        return Capabilities(tools=True, thinking=True, tool_parser="harmony")
    if _mistral.is_mistral(tokenizer):
        return Capabilities(tools=True, thinking=False, tool_parser="mistral")
    source = _template(tokenizer)
    tools = "tools" in source
    parser = None
    if tools and HERMES_OPEN in source:
        parser = "hermes"
    elif tools and LLAMA3_CALL in source and "<|eot_id|>" in source:
        parser = "llama3_json"
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
    reasoning_effort: str | None = None,
) -> list[int]:
    """The generation prompt for `messages` (OpenAI's chat messages), as the trainer
    renders the prompt of a training example's assistant turn. `reasoning_effort`:
    harmony's system message states it (templates only know `thinking`)."""
    if _harmony.is_harmony(tokenizer):
        return list(harmony_call(_harmony.render_prompt, messages, tools or None, reasoning_effort))
    if _mistral.is_mistral(tokenizer):
        return list(harmony_call(_mistral.render_prompt, tokenizer, messages, tools or None))
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


def parse_json_calls(text: str) -> list[ToolCall]:
    """Llama 3's JSON calls: `{"name": ..., "parameters": {...}}` objects, one or several
    separated by `;` (as vLLM's llama3_json parser reads them), or Mistral's list of
    `{"name": ..., "arguments": {...}}` after `[TOOL_CALLS]`; [] when the text is
    anything else (then it is content)."""
    decoder = json.JSONDecoder()
    calls: list[ToolCall] = []
    rest = text.strip()
    while rest:
        try:
            obj, end = decoder.raw_decode(rest)
        except ValueError:
            return []
        for item in obj if isinstance(obj, list) else [obj]:  # Mistral: a list of calls
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                return []
            args = item.get("parameters", item.get("arguments", {}))
            text_args = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            calls.append(ToolCall(_call_id(), item["name"], text_args))
        rest = rest[end:].lstrip().removeprefix(";").lstrip()
    return calls


class _StreamParser:
    """What both output parsers share: text arrives in pieces (`feed`), the end of the
    answer flushes what was held back (`finish`); `_step` reads the buffer."""

    _buffer: str

    def feed(self, text: str) -> Piece:
        self._buffer += text
        return self._step(final=False)

    def finish(self) -> Piece:
        return self._step(final=True)

    def _step(self, final: bool) -> Piece:
        raise NotImplementedError


class OutputParser(_StreamParser):
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
                self._state = "json_start" if self._tool_parser == "llama3_json" else "content"
                continue
            if self._state == "json_start":  # Llama 3: an answer that is a JSON call
                stripped = buf.lstrip()
                if not stripped and not final:
                    return out
                self._state = "json" if stripped.startswith("{") else "content"
                continue
            if self._state == "json":  # held whole: only its end says whether it is a call
                if not final:
                    return out
                calls = parse_json_calls(buf)
                if calls:
                    self.tool_calls += calls
                    out.tool_calls += calls
                else:
                    self.unparsed.append(buf)
                    out.content += buf
                self._buffer = ""
                return out
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
            if self._state == "content" and self._tool_parser == "mistral":
                start = buf.find(_mistral.TOOL_CALLS)
                if start >= 0:  # the calls: a JSON list, up to the end of the answer
                    out.content += buf[:start]
                    self._buffer = buf[start + len(_mistral.TOOL_CALLS) :]
                    self._state = "json"
                    continue
            if self._state == "content":
                start = buf.find(HERMES_OPEN) if self._tool_parser == "hermes" else -1
                if start >= 0:
                    out.content += buf[:start]
                    self._buffer = buf[start + len(HERMES_OPEN) :]
                    self._state = "call"
                    continue
                tags = {"hermes": (HERMES_OPEN,), "mistral": (_mistral.TOOL_CALLS,)}.get(
                    self._tool_parser or "", ()
                )
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


def output_parser(
    tool_parser: str | None, *, tools: bool, in_reasoning: bool = False
) -> OutputParser | HarmonyParser:
    """The parser for a family's output: harmony's for gpt-oss, else the text one
    (reading `tool_parser`'s calls when the request has `tools`)."""
    if tool_parser == "harmony":
        return HarmonyParser(tools=tools)
    return OutputParser(in_reasoning=in_reasoning, tool_parser=tool_parser if tools else None)


class HarmonyParser(_StreamParser):
    """Reads gpt-oss's output (text decoded with its special tokens, starting after the
    prompt's `<|start|>assistant`) into reasoning, content and tool calls, piece by
    piece; `feed`/`finish` return the same `Piece`s as `chat_format.OutputParser`.

    `analysis` is reasoning; `final`, a `commentary` preamble or any other channel is
    content; a message to `functions.<name>` is a tool call (its text the arguments),
    when the request has tools. Headers and special tokens are never shown."""

    def __init__(self, *, tools: bool) -> None:
        self._tools = tools
        self._state = "header"
        self._buffer = ""
        self._channel = ""
        self._recipient = ""
        self._body = ""  # a call's arguments, read to its end
        self.tool_calls: list[ToolCall] = []
        self.unparsed: list[str] = []

    def _step(self, final: bool) -> Piece:
        out = Piece()
        while True:
            buf = self._buffer
            if self._state == "header":
                end = buf.find(_harmony.MESSAGE)
                if end < 0:
                    if final:  # a header that never opened a message: nothing to show
                        self._buffer = ""
                    return out
                header = buf[:end]
                self._buffer = buf[end + len(_harmony.MESSAGE) :]
                self._channel = _harmony.channel_of(header)
                self._recipient = _harmony.recipient_of(header)
                self._body = ""
                self._state = "body"
                continue
            # "body": a message's text up to its end
            found = [(buf.find(tag), tag) for tag in _harmony.END_TAGS if tag in buf]
            cut, tag = min(found) if found else (-1, "")
            if cut < 0 and not final:
                keep = _partial_tag(buf, _harmony.END_TAGS)
                text, self._buffer = buf[: len(buf) - keep], buf[len(buf) - keep :]
            elif cut < 0:
                text, self._buffer = buf, ""
            else:
                text = buf[:cut]
                # a new header (<|channel|>) stays to be read; an end or <|start|> goes
                self._buffer = buf[cut:] if tag == _harmony.CHANNEL else buf[cut + len(tag) :]
            text = _harmony.strip_specials(text)
            calling = self._recipient.startswith("functions.")
            if calling:
                self._body += text
            elif self._channel == "analysis":
                out.reasoning += text
            else:  # final, a preamble on commentary, anything else a user should see
                out.content += text
            if cut < 0 and not final:
                return out
            if calling:
                name = self._recipient[len("functions.") :]
                if self._tools:
                    call = ToolCall(_call_id(), name, self._body.strip())
                    self.tool_calls.append(call)
                    out.tool_calls.append(call)
                else:
                    self.unparsed.append(self._body)
            self._recipient = ""
            self._state = "header"  # after <|end|>: `<|start|>` was read, `assistant...` follows
            if cut < 0:
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
    "HarmonyParser",
    "NO_REASONING",
    "REASONING_EFFORTS",
    "Capabilities",
    "OutputParser",
    "Piece",
    "ToolCall",
    "capabilities",
    "answer_stop_ids",
    "check_tools_supported",
    "format_files",
    "has_chat_format",
    "keeps_special_tokens",
    "output_parser",
    "parse_hermes_call",
    "parse_json_calls",
    "prompt_opens_thinking",
    "render_prompt",
    "wants_thinking",
]
