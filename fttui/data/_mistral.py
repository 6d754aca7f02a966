"""Mistral's chat format, rendered by Mistral's own `mistral-common` package.

A Mistral model directory carries mistral-common's tokenizer file (`tekken.json`, or
`tokenizer.model.v3`/`.v7`...) beside the Hugging Face tokenizer files; as vLLM does
for such a directory, its chats are rendered by mistral-common (`is_mistral`), not by
a Jinja template: the system prompt before the last user message, the tools in
`[AVAILABLE_TOOLS]` there, calls as `[TOOL_CALLS][{"name": ..., "arguments": ...}]`,
tool results in `[TOOL_RESULTS]`.

What is trained is what Mistral's own fine-tuning trains: every assistant message as
mistral-common renders it in the whole conversation, i.e. the tokens after an
`[/INST]` or `[/TOOL_RESULTS]` up to and including the `</s>` that ends the answer
(exactly what the model writes at inference after the prompt
`encode_chat_completion` renders). OpenAI's call ids become the 9-character ids
Mistral's v3 format requires (the same id for a call and its result).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from fttui.data.contract import content_text, has_images

TOOL_CALLS = "[TOOL_CALLS]"
FORMAT_FILES = ("tekken.json", "tokenizer.model.v7", "tokenizer.model.v3", "tokenizer.model.v2")


class MistralInputError(ValueError):
    """Messages mistral-common refuses (`code` as the contract's RULES name it)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def tokenizer_file(tokenizer: Any) -> Path | None:
    """mistral-common's tokenizer file in the model's directory, if any."""
    where = getattr(tokenizer, "name_or_path", "") or ""
    try:
        folder = Path(str(where))
        if not folder.is_dir():
            return None
    except (OSError, ValueError):
        return None
    for name in FORMAT_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def is_mistral(tokenizer: Any) -> bool:
    return tokenizer_file(tokenizer) is not None


@functools.lru_cache(maxsize=8)
def _load(path: str, mode: str) -> Any:
    try:
        from mistral_common.protocol.instruct.validator import ValidationMode
        from mistral_common.tokens.tokenizers.mistral import MistralTokenizer
    except ImportError as exc:
        raise MistralInputError(
            "template_error",
            "this Mistral model's chat format needs the mistral-common package "
            "(pip install mistral-common)",
        ) from exc
    return MistralTokenizer.from_file(path, mode=ValidationMode(mode))


def _call_id(raw: str) -> str:
    return hashlib.sha1(raw.encode()).hexdigest()[:9]


def _openai(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as mistral-common's `from_openai` takes them: text content, 9-char
    call ids, `developer` as `system`, `function` as `tool`."""
    out = []
    for i, m in enumerate(messages):
        if has_images(m.get("content")):
            raise MistralInputError(
                "unsupported_content",
                f"messages[{i}] has an image; the local trainer trains on text only",
            )
        role = {"developer": "system", "function": "tool"}.get(m["role"], m["role"])
        msg: dict[str, Any] = {"role": role, "content": content_text(m.get("content"))}
        if role == "assistant":
            calls = [
                {
                    "id": _call_id(c.get("id") or f"call_{k}"),
                    "type": "function",
                    "function": {
                        "name": c["function"]["name"],
                        "arguments": c["function"]["arguments"],
                    },
                }
                for k, c in enumerate(m.get("tool_calls") or [])
            ]
            if calls:
                msg["tool_calls"] = calls
                if not msg["content"]:
                    msg["content"] = None
        if role == "tool":
            msg["tool_call_id"] = _call_id(m.get("tool_call_id") or m.get("name") or "")
        out.append(msg)
    return out


def _tools(tools: Any) -> list[dict[str, Any]] | None:
    """OpenAI's tools as mistral-common takes them: a function without `parameters`
    (OpenAI allows it) takes none."""
    if not tools:
        return None
    out = []
    for tool in tools:
        fn = tool.get("function", tool)
        out.append(
            {
                "type": "function",
                "function": {
                    "name": fn["name"],
                    "description": fn.get("description") or "",
                    "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
                },
            }
        )
    return out


def _encode(path: Path, messages: list[dict[str, Any]], tools: Any, mode: str) -> list[int]:
    from mistral_common.protocol.instruct.request import ChatCompletionRequest

    mistral = _load(str(path), mode)
    try:
        request = ChatCompletionRequest.from_openai(_openai(messages), tools=_tools(tools))
        return list(mistral.encode_chat_completion(request).tokens)
    except MistralInputError:
        raise
    except Exception as exc:  # mistral-common's validation errors
        raise MistralInputError(
            "template_error", f"mistral-common cannot render it ({type(exc).__name__}: {exc})"
        ) from None


def render_prompt(tokenizer: Any, messages: list[dict[str, Any]], tools: Any = None) -> list[int]:
    """The generation prompt (mistral-common's `encode_chat_completion`)."""
    path = tokenizer_file(tokenizer)
    assert path is not None
    return _encode(path, messages, tools, "test")


def encode_chat(
    tokenizer: Any, messages: list[dict[str, Any]], tools: Any, trained: dict[int, bool]
) -> tuple[list[int], list[bool]]:
    """(input_ids, whether each is trained): the whole conversation as mistral-common
    renders it for fine-tuning, each assistant message's answer trained."""
    path = tokenizer_file(tokenizer)
    assert path is not None
    ids = _encode(path, messages, tools, "finetuning")
    mistral = _load(str(path), "finetuning")
    raw = mistral.instruct_tokenizer.tokenizer
    opens = _controls(raw, "[/INST]", "[/TOOL_RESULTS]")  # what an answer follows
    blocks = opens | _controls(raw, "[INST]", "[TOOL_RESULTS]", "[AVAILABLE_TOOLS]")
    eos = raw.eos_id
    answers = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    mask = [False] * len(ids)
    k = 0
    inside = False
    for pos, token in enumerate(ids):
        if inside:
            mask[pos] = trained.get(answers[k], True)
            if token == eos:
                inside = False
                k += 1
        elif token in opens and k < len(answers) and pos + 1 < len(ids):
            inside = ids[pos + 1] not in blocks
    if k != len(answers):
        raise MistralInputError(
            "template_error",
            "mistral-common renders the assistant messages in a way fttui cannot mark "
            f"({k} of {len(answers)} found)",
        )
    return ids, mask


def _controls(raw: Any, *names: str) -> set[int]:
    out = set()
    for name in names:
        try:
            out.add(int(raw.get_control_token(name)))
        except Exception:  # a control token this tokenizer version does not have
            continue
    return out


def parse_calls(text: str) -> list[tuple[str, str]] | None:
    """(name, arguments JSON) of `[{"name": ..., "arguments": {...}}, ...]` (what
    follows `[TOOL_CALLS]`), None when it is not that."""
    try:
        calls = json.loads(text.strip())
    except ValueError:
        return None
    if isinstance(calls, dict):
        calls = [calls]
    if not isinstance(calls, list) or not calls:
        return None
    out = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return None
        args = call.get("arguments", {})
        out.append((call["name"], args if isinstance(args, str) else json.dumps(args)))
    return out


__all__ = [
    "FORMAT_FILES",
    "TOOL_CALLS",
    "MistralInputError",
    "encode_chat",
    "is_mistral",
    "parse_calls",
    "render_prompt",
    "tokenizer_file",
]
