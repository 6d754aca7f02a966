"""How a local model reads each format: one contract-valid example -> token ids and labels.

The trainer (`fttui.train.data`, also run by the server's `validating_files` step) and
`fttui prepare` / the TUI's check for a local model (`fttui.data.tokens.HFCounter`) use
these functions, so the tokens they count and the errors they find are the same. They
need only the model's tokenizer (light: no torch here).

- prompt/completion: loss on the completion tokens; an empty prompt (open-ended
  generation) starts from the tokenizer's BOS (else EOS) token so the first
  completion token is trained too.
- chat: rendered with the model's chat template; loss on the assistant messages with
  `weight` 1 (each in its last-turn form: `encode_chat`). The template gets each
  message normalised: text parts joined, `developer` becomes `system` for templates
  that do not name it, the deprecated `function` role becomes `tool`; tool calls and
  `tools` are rendered by the template itself, and refused (`template_error`) by a
  template that cannot render them.
- gpt-oss (a tokenizer with harmony's special tokens): rendered by OpenAI's
  `openai-harmony` package instead of a template (`fttui.data._harmony`), with the
  same rule for what is trained.
- Mistral (a directory with mistral-common's `tekken.json` / `tokenizer.model.vN`):
  rendered by Mistral's `mistral-common` (`fttui.data._mistral`), every assistant
  answer trained as rendered in the whole conversation, as Mistral's fine-tuning does.
- preference (DPO): the input rendered with the generation prompt, and each output's
  tokens as its continuation (`PreferenceExample`).
- reinforcement (RFT): the messages rendered with the generation prompt: what the model
  answers (`PromptExample`); the line itself is the grader's `item`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from fttui.data import _harmony, _mistral
from fttui.data.contract import Parsed, content_text, has_images

IGNORE = -100


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


@dataclass(frozen=True)
class PreferenceExample:
    """One tokenised preference pair: the rendered input and each output's continuation."""

    line: int
    prompt_ids: list[int]
    chosen_ids: list[int]
    rejected_ids: list[int]

    @property
    def n_tokens(self) -> int:
        """The longer of the two sequences the model sees (input + one output)."""
        return len(self.prompt_ids) + max(len(self.chosen_ids), len(self.rejected_ids))


@dataclass(frozen=True)
class PromptExample:
    """One tokenised reinforcement prompt and the line it came from (the grader's `item`)."""

    line: int
    prompt_ids: list[int]
    item: dict[str, Any]

    @property
    def n_tokens(self) -> int:
        return len(self.prompt_ids)


class ExampleError(ValueError):
    """A contract-valid example this model cannot take (code from the contract's RULES)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# -- tokenising each format ----------------------------------------------------------


def _ids(encoded: Any) -> list[int]:
    if isinstance(encoded, dict) or hasattr(encoded, "keys"):
        encoded = encoded["input_ids"]
    return list(encoded)


def start_token(tokenizer: Any) -> list[int]:
    """What an empty prompt becomes: BOS, else EOS (some token must precede the completion)."""
    for token in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token is not None:
            return [int(token)]
    return []


def encode_prompt_completion(
    tokenizer: Any, prompt: str, completion: str
) -> tuple[list[int], list[int]]:
    """(input_ids, labels): the prompt (special tokens added) masked, the completion trained."""
    prompt_ids = _ids(tokenizer(prompt, add_special_tokens=True)) or start_token(tokenizer)
    completion_ids = _ids(tokenizer(completion, add_special_tokens=False))
    return prompt_ids + completion_ids, [IGNORE] * len(prompt_ids) + completion_ids


@dataclass(frozen=True)
class _Caps:
    """What a chat template renders, read from its source text."""

    developer: bool
    tool_calls: bool
    tools: bool


@functools.lru_cache(maxsize=32)
def _caps(template: str) -> _Caps:
    return _Caps(
        developer="developer" in template,
        tool_calls="tool_calls" in template,
        tools="tools" in template,
    )


def _template(tokenizer: Any) -> str:
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise ExampleError(
            "template_error",
            "this model's tokenizer has no chat template, so it trains prompt/completion files only",
        )
    return template if isinstance(template, str) else json.dumps(template, default=str)


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _calls(message: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(id, name, arguments) of an assistant message's tool calls (function_call included)."""
    out = []
    for k, call in enumerate(message.get("tool_calls") or []):
        fn = call["function"]
        out.append((call.get("id") or f"call_{k}", fn["name"], _arguments(fn["arguments"])))
    if message.get("function_call"):
        fn = message["function_call"]
        out.append(("call_function", fn["name"], _arguments(fn["arguments"])))
    return out


def template_messages(tokenizer: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as the model's chat template gets them (see the module docstring)."""
    caps = _caps(_template(tokenizer))
    out = []
    for i, message in enumerate(messages):
        role = message["role"]
        content = message.get("content")
        if has_images(content):
            raise ExampleError(
                "unsupported_content",
                f"messages[{i}] has an image; the local trainer trains on text only",
            )
        if role == "developer" and not caps.developer:
            role = "system"
        elif role == "function":
            role = "tool"
        text = content_text(content)
        msg: dict[str, Any] = {"role": role, "content": text}
        calls = _calls(message) if role == "assistant" else []
        if calls and not caps.tool_calls:
            raise ExampleError(
                "template_error",
                f"messages[{i}] has tool calls, and this model's chat template cannot render "
                "tool calls (it never reads `tool_calls`): train it on chats without them, or "
                "pick a model whose template renders them (Qwen3, Mistral, gpt-oss)",
            )
        if calls:
            msg["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in calls
            ]
        if role == "tool" and "tool_call_id" in message:
            msg["tool_call_id"] = message["tool_call_id"]
        if isinstance(message.get("name"), str):
            msg["name"] = message["name"]
        out.append(msg)
    return out


def template_tools(tokenizer: Any, holder: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The example's `tools` (or deprecated `functions`), for templates that render them;
    refused by a template that does not (the model would learn calls without seeing the
    definitions it is asked about at inference)."""
    tools = holder.get("tools")
    if not tools and holder.get("functions"):
        tools = [{"type": "function", "function": fn} for fn in holder["functions"]]
    if not tools:
        return None
    if not _caps(_template(tokenizer)).tools:
        raise ExampleError(
            "template_error",
            "the example has `tools`, and this model's chat template cannot render tool "
            "definitions: train it on chats without tools, or pick a model whose template "
            "renders them (Qwen3, Mistral, gpt-oss)",
        )
    return list(tools)


def _render(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    prompt: bool,
    tools: Any,
    thinking: bool = False,
) -> list[int]:
    """The template's token ids. Reasoning templates (Qwen3's `enable_thinking`) render in
    non-thinking mode unless `thinking`: the empty think block is then part of the
    generation prompt, exactly as at inference, so it is never trained as the reply.
    Templates without that switch ignore it."""
    kwargs = {} if thinking else {"enable_thinking": False}
    try:
        return _ids(
            tokenizer.apply_chat_template(
                messages,
                tools=tools,
                tokenize=True,
                add_generation_prompt=prompt,
                return_dict=False,
                **kwargs,
            )
        )
    except ExampleError:
        raise
    except Exception as exc:  # jinja2's TemplateError, TypeError, ValueError ...
        raise ExampleError(
            "template_error",
            f"the model's chat template cannot render it ({type(exc).__name__}: {exc})",
        ) from None


def _render_text(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    prompt: bool,
    tools: Any,
    thinking: bool = False,
) -> str:
    """The template's text, as `_render` tokenizes it."""
    kwargs = {} if thinking else {"enable_thinking": False}
    try:
        return str(
            tokenizer.apply_chat_template(
                messages, tools=tools, tokenize=False, add_generation_prompt=prompt, **kwargs
            )
        )
    except Exception:  # _render has said what is wrong by now
        return ""


def _continuation(
    tokenizer: Any,
    before: list[dict[str, Any]],
    upto: list[dict[str, Any]],
    tools: Any,
    where: str,
    rendered: list[int] | None = None,
) -> tuple[list[int], int, int]:
    """(ids of `upto`, start, end) of its last message, checked to be a clean continuation
    of the generation prompt for it. `rendered`: `upto`'s ids when the caller has them.

    The prompt is tried in non-thinking mode first, then (an answer that carries its
    own reasoning) as the template renders it by default."""
    full = rendered if rendered is not None else _render(tokenizer, upto, False, tools)
    if not before:
        return full, 0, len(full)
    for thinking in (False, True):
        head = _render(tokenizer, before, True, tools, thinking)
        if full[: len(head)] == head:
            return full, len(head), len(full)
    for thinking in (False, True):
        # A reply whose first characters merge with the prompt's last token (a reply that
        # starts with a newline after ChatML's "assistant\n"): the same text, split where
        # inference splits it, the prompt's tokens then the reply's own.
        head_text = _render_text(tokenizer, before, True, tools, thinking)
        full_text = _render_text(tokenizer, upto, False, tools, False)
        if head_text and full_text.startswith(head_text):
            head = _render(tokenizer, before, True, tools, thinking)
            rest = _ids(tokenizer.encode(full_text[len(head_text) :], add_special_tokens=False))
            return head + rest, len(head), len(head) + len(rest)
    raise ExampleError(
        "template_error",
        f"the model's chat template renders the conversation differently when cut before "
        f"{where}, so its tokens cannot be told apart",
    )


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass(frozen=True)
class _Turn:
    """One assistant turn rendered as the last one: the prompt before it and its reply."""

    index: int
    head: list[int]  # the generation prompt for this turn (earlier turns as history)
    reply: list[int]  # what the template renders for the turn itself, end of turn included
    trained: bool


def _history_end(head: list[int], prev: _Turn) -> int | None:
    """Where, in `head` (which renders `prev` as an earlier turn), `prev`'s turn ends.

    A template that rewrites earlier turns (Qwen3 drops their think block) renders a
    turn in history as a tail of its last-turn form: the longest start of what follows
    `prev`'s own generation prompt that is also an ending of its reply."""
    start = _common_prefix(head, prev.head)
    rest = head[start:]
    for m in range(min(len(rest), len(prev.reply)), 0, -1):
        if rest[:m] == prev.reply[-m:]:
            return start + m
    return None


def _example_tools(holder: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The example's `tools` (or deprecated `functions`) as OpenAI's tool list."""
    tools = holder.get("tools")
    if not tools and holder.get("functions"):
        tools = [{"type": "function", "function": fn} for fn in holder["functions"]]
    return list(tools) if tools else None


def harmony_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """`fn` of `fttui.data._harmony` or `_mistral` (the formats a library renders rather
    than a template), its errors as ExampleError (what a line cannot do)."""
    try:
        return fn(*args, **kwargs)
    except (_harmony.HarmonyInputError, _mistral.MistralInputError) as exc:
        raise ExampleError(exc.code, exc.detail) from None
    except _harmony.HarmonyUnavailable as exc:
        raise ExampleError("template_error", str(exc)) from None
    except ExampleError:
        raise
    except Exception as exc:  # harmony's own errors (HarmonyError: a bad tool schema ...)
        raise ExampleError(
            "template_error", f"gpt-oss's harmony format cannot render it ({exc})"
        ) from None


def _last_text(messages: list[dict[str, Any]]) -> str:
    last = next((m.get("content") for m in reversed(messages) if m["role"] == "assistant"), "")
    return content_text(last) if last else ""


def encode_chat(tokenizer: Any, obj: dict[str, Any]) -> tuple[list[int], list[int], str]:
    """(input_ids, labels, last assistant text) of a chat example.

    Every assistant turn is trained as the template renders it when it is the last one
    (its generation prompt in non-thinking mode, then its reply and end of turn), which
    is what the model is asked to produce at inference. Templates that render earlier
    turns the same way (Llama 3, Gemma 3, ChatML) give the whole conversation as
    rendered; templates that rewrite history (Qwen3 drops the think block of earlier
    turns) give the conversation with each turn in its last-turn form, as TRL's
    Qwen3 training template and LLaMA-Factory do. Turns with `weight` 0 stay in the
    context, untrained.
    """
    source = obj["messages"]
    if _harmony.is_harmony(tokenizer):
        trained = {i: m.get("weight", 1) != 0 for i, m in enumerate(source)}
        ids, mask = harmony_call(_harmony.encode_chat, source, _example_tools(obj), trained)
        labels = [t if m else IGNORE for t, m in zip(ids, mask, strict=True)]
        return ids, labels, _last_text(source)
    if _mistral.is_mistral(tokenizer):
        trained = {i: m.get("weight", 1) != 0 for i, m in enumerate(source)}
        tools = _example_tools(obj)
        ids, mask = harmony_call(_mistral.encode_chat, tokenizer, source, tools, trained)
        labels = [t if m else IGNORE for t, m in zip(ids, mask, strict=True)]
        return ids, labels, _last_text(source)
    messages = template_messages(tokenizer, source)
    tools = template_tools(tokenizer, obj)
    full = _render(tokenizer, messages, False, tools)
    turns: list[_Turn] = []
    for i, message in enumerate(source):
        if message["role"] != "assistant":
            continue
        last_turn = i == len(source) - 1  # the usual case: the whole conversation
        upto, start, end = _continuation(
            tokenizer,
            messages[:i],
            messages[: i + 1],
            tools,
            f"messages[{i}]",
            full if last_turn else None,
        )
        turns.append(_Turn(i, upto[:start], upto[start:end], message.get("weight", 1) != 0))
    last = next((m["content"] for m in reversed(messages) if m["role"] == "assistant"), "")
    if all(full[: len(t.head) + len(t.reply)] == t.head + t.reply for t in turns):
        labels = [IGNORE] * len(full)
        for t in turns:
            if t.trained:
                labels[len(t.head) : len(t.head) + len(t.reply)] = t.reply
        return full, labels, str(last)
    ids = []
    labels = []
    for k, t in enumerate(turns):
        if k == 0:
            context = t.head
        else:
            cut = _history_end(t.head, turns[k - 1])
            if cut is None:
                raise ExampleError(
                    "template_error",
                    f"the model's chat template renders messages[{turns[k - 1].index}] "
                    "differently once a later turn follows, in a way its tokens cannot be "
                    "lined up with its last-turn form",
                )
            context = t.head[cut:]
        ids += context + t.reply
        labels += [IGNORE] * len(context) + (t.reply if t.trained else [IGNORE] * len(t.reply))
    return ids, labels, str(last)


def render_conversation(
    tokenizer: Any, messages: list[dict[str, Any]], holder: dict[str, Any] | None = None
) -> list[int]:
    """The token ids of a whole conversation as the trainer sees it (`encode_chat`'s)."""
    if any(m.get("role") == "assistant" for m in messages):
        return encode_chat(tokenizer, {**(holder or {}), "messages": messages})[0]
    if _harmony.is_harmony(tokenizer):
        tools = _example_tools(holder or {})
        return list(harmony_call(_harmony.encode_chat, messages, tools, {})[0])
    if _mistral.is_mistral(tokenizer):  # a prompt: the conversation so far
        tools = _example_tools(holder or {})
        return list(harmony_call(_mistral.render_prompt, tokenizer, messages, tools))
    tools = template_tools(tokenizer, holder or {})
    return _render(tokenizer, template_messages(tokenizer, messages), False, tools)


def encode_preference(
    tokenizer: Any, obj: dict[str, Any]
) -> tuple[list[int], list[int], list[int]]:
    """(prompt_ids, chosen continuation ids, rejected continuation ids)."""
    inp = obj["input"]
    if _harmony.is_harmony(tokenizer):
        tools = _example_tools(inp)
        prompt_ids = harmony_call(_harmony.render_prompt, inp["messages"], tools)
        outs = []
        for key in ("preferred_output", "non_preferred_output"):
            both = [*inp["messages"], *obj[key]]
            history = dict.fromkeys(range(len(inp["messages"])), False)  # as the prompt has it
            ids, _ = harmony_call(_harmony.encode_chat, both, tools, history)
            if ids[: len(prompt_ids)] != prompt_ids:
                raise ExampleError(
                    "template_error", f"harmony renders {key} apart from its input's prompt"
                )
            outs.append(ids[len(prompt_ids) :])
        return prompt_ids, outs[0], outs[1]
    if _mistral.is_mistral(tokenizer):
        tools = _example_tools(inp)
        prompt_ids = harmony_call(_mistral.render_prompt, tokenizer, inp["messages"], tools)
        outs = []
        for key in ("preferred_output", "non_preferred_output"):
            both = [*inp["messages"], *obj[key]]
            ids, _ = harmony_call(_mistral.encode_chat, tokenizer, both, tools, {})
            if ids[: len(prompt_ids)] != prompt_ids:
                raise ExampleError(
                    "template_error", f"mistral-common renders {key} apart from its prompt"
                )
            outs.append(ids[len(prompt_ids) :])
        return prompt_ids, outs[0], outs[1]
    messages = template_messages(tokenizer, inp["messages"])
    tools = template_tools(tokenizer, inp)
    out = []
    for key in ("preferred_output", "non_preferred_output"):
        (answer,) = template_messages(tokenizer, obj[key])
        full, start, _ = _continuation(tokenizer, messages, [*messages, answer], tools, key)
        out.append((full[:start], full[start:]))
    (prompt_ids, chosen), (_, rejected) = out
    return prompt_ids, chosen, rejected


def encode_prompt(tokenizer: Any, obj: dict[str, Any]) -> list[int]:
    """A reinforcement prompt's ids: its messages with the generation prompt."""
    if _harmony.is_harmony(tokenizer):
        return list(harmony_call(_harmony.render_prompt, obj["messages"], _example_tools(obj)))
    if _mistral.is_mistral(tokenizer):
        tools = _example_tools(obj)
        return list(harmony_call(_mistral.render_prompt, tokenizer, obj["messages"], tools))
    messages = template_messages(tokenizer, obj["messages"])
    return _render(tokenizer, messages, True, template_tools(tokenizer, obj))


def encode(tokenizer: Any, parsed: Parsed) -> Example | PreferenceExample | PromptExample:
    """Tokenise one contract-valid example (line 0); raises ExampleError."""
    obj = parsed.obj
    if parsed.format == "reinforcement":
        return PromptExample(0, encode_prompt(tokenizer, obj), obj)
    if parsed.format == "prompt_completion":
        ids, labels = encode_prompt_completion(tokenizer, obj["prompt"], obj["completion"])
        return Example(0, ids, labels, obj["completion"])
    if parsed.format == "chat":
        ids, labels, last = encode_chat(tokenizer, obj)
        return Example(0, ids, labels, last)
    prompt_ids, chosen, rejected = encode_preference(tokenizer, obj)
    return PreferenceExample(0, prompt_ids, chosen, rejected)
