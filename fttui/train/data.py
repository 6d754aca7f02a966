"""Training data: JSONL lines -> token ids with the prompt masked out of the loss.

What a valid line is comes from the data contract (`fttui.data.contract`); this
module adds what needs the model's tokenizer: how each format is tokenised, whether
the model's chat template can render a conversation, and whether an example fits
the model's context. The server's `validating_files` step runs exactly this code
(`check_job_files`, with the tokenizer only, before the job is queued) and the
trainer runs it again (`load_job_examples`), so a file that cannot train fails in
validation, with line numbers, and never after a model load.

- prompt/completion: loss on the completion tokens; an empty prompt (open-ended
  generation) starts from the tokenizer's BOS (else EOS) token so the first
  completion token is trained too.
- chat: rendered with the model's chat template; loss on the assistant messages with
  `weight` 1. The template gets each message normalised: text parts joined,
  `developer` becomes `system` for templates that do not name it, the deprecated
  `function` role becomes `tool`, and tool calls are passed as `tool_calls` to
  templates that render them, otherwise written into the assistant's text as
  `<tool_call>{"name": ..., "arguments": ...}</tool_call>` (what the model learns to
  emit). `tools` are passed to templates that use them.
- preference (DPO): the input rendered with the generation prompt, and each output's
  tokens as its continuation (`PreferenceExample`).

Examples longer than the model's context are refused with their line numbers;
nothing is ever truncated silently.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fttui.data.contract import (
    FileContract,
    Parsed,
    content_text,
    example_key,
    has_images,
    method_problem,
)

IGNORE = -100
MAX_LISTED = 10  # invalid lines listed in an error message
MAX_LONG_LISTED = 20  # over-long lines listed


class DataError(ValueError):
    """Bad training data; the message names the file and line numbers."""

    def __init__(self, message: str, param: str = "training_file", code: str = "") -> None:
        super().__init__(message)
        self.param = param
        self.code = code or "invalid_training_file"


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
        if calls and caps.tool_calls:
            msg["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in calls
            ]
        elif calls:
            written = "\n".join(
                "<tool_call>\n"
                + json.dumps({"name": name, "arguments": args}, ensure_ascii=False)
                + "\n</tool_call>"
                for _, name, args in calls
            )
            msg["content"] = f"{text}\n{written}" if text else written
        if role == "tool" and "tool_call_id" in message:
            msg["tool_call_id"] = message["tool_call_id"]
        if isinstance(message.get("name"), str):
            msg["name"] = message["name"]
        out.append(msg)
    return out


def template_tools(tokenizer: Any, holder: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The example's `tools` (or deprecated `functions`) for templates that use them."""
    tools = holder.get("tools")
    if not tools and holder.get("functions"):
        tools = [{"type": "function", "function": fn} for fn in holder["functions"]]
    if not tools or not _caps(_template(tokenizer)).tools:
        return None
    return list(tools)


def _render(tokenizer: Any, messages: list[dict[str, Any]], prompt: bool, tools: Any) -> list[int]:
    try:
        return _ids(
            tokenizer.apply_chat_template(
                messages,
                tools=tools,
                tokenize=True,
                add_generation_prompt=prompt,
                return_dict=False,
            )
        )
    except ExampleError:
        raise
    except Exception as exc:  # jinja2's TemplateError, TypeError, ValueError ...
        raise ExampleError(
            "template_error",
            f"the model's chat template cannot render it ({type(exc).__name__}: {exc})",
        ) from None


def _continuation(
    tokenizer: Any, before: list[dict[str, Any]], upto: list[dict[str, Any]], tools: Any, where: str
) -> tuple[list[int], int, int]:
    """(ids of `upto`, start, end) of its last message, checked to be a clean continuation."""
    head = _render(tokenizer, before, True, tools) if before else []
    full = _render(tokenizer, upto, False, tools)
    if full[: len(head)] != head:
        raise ExampleError(
            "template_error",
            f"the model's chat template renders the conversation differently when cut before "
            f"{where}, so its tokens cannot be told apart",
        )
    return full, len(head), len(full)


def encode_chat(tokenizer: Any, obj: dict[str, Any]) -> tuple[list[int], list[int], str]:
    """(input_ids, labels, last assistant text) of a chat example."""
    source = obj["messages"]
    messages = template_messages(tokenizer, source)
    tools = template_tools(tokenizer, obj)
    full = _render(tokenizer, messages, False, tools)
    labels = [IGNORE] * len(full)
    for i, message in enumerate(source):
        if message["role"] != "assistant" or message.get("weight", 1) == 0:
            continue
        upto, start, end = _continuation(
            tokenizer, messages[:i], messages[: i + 1], tools, f"messages[{i}]"
        )
        if full[:end] != upto:
            raise ExampleError(
                "template_error",
                f"the model's chat template renders messages[{i}] differently inside the "
                "whole conversation, so its tokens cannot be told apart",
            )
        labels[start:end] = full[start:end]
    last = next((m["content"] for m in reversed(messages) if m["role"] == "assistant"), "")
    return full, labels, str(last)


def render_conversation(
    tokenizer: Any, messages: list[dict[str, Any]], holder: dict[str, Any] | None = None
) -> list[int]:
    """The token ids of a whole conversation as the model's chat template renders it."""
    tools = template_tools(tokenizer, holder or {})
    return _render(tokenizer, template_messages(tokenizer, messages), False, tools)


def encode_preference(
    tokenizer: Any, obj: dict[str, Any]
) -> tuple[list[int], list[int], list[int]]:
    """(prompt_ids, chosen continuation ids, rejected continuation ids)."""
    inp = obj["input"]
    messages = template_messages(tokenizer, inp["messages"])
    tools = template_tools(tokenizer, inp)
    out = []
    for key in ("preferred_output", "non_preferred_output"):
        (answer,) = template_messages(tokenizer, obj[key])
        full, start, _ = _continuation(tokenizer, messages, [*messages, answer], tools, key)
        out.append((full[:start], full[start:]))
    (prompt_ids, chosen), (_, rejected) = out
    return prompt_ids, chosen, rejected


def encode(tokenizer: Any, parsed: Parsed) -> Example | PreferenceExample:
    """Tokenise one contract-valid example (line 0); raises ExampleError."""
    obj = parsed.obj
    if parsed.format == "prompt_completion":
        ids, labels = encode_prompt_completion(tokenizer, obj["prompt"], obj["completion"])
        return Example(0, ids, labels, obj["completion"])
    if parsed.format == "chat":
        ids, labels, last = encode_chat(tokenizer, obj)
        return Example(0, ids, labels, last)
    prompt_ids, chosen, rejected = encode_preference(tokenizer, obj)
    return PreferenceExample(0, prompt_ids, chosen, rejected)


# -- whole files ---------------------------------------------------------------------


@dataclass
class FileSummary:
    """What reading one file found: its format, its examples (when kept) and warnings."""

    param: str
    format: str | None = None
    n_examples: int = 0
    n_tokens: int = 0
    examples: list[Any] = field(default_factory=list)
    keys: set[int] = field(default_factory=set)
    # warning code -> (count, first few lines)
    warnings: dict[str, tuple[int, list[int]]] = field(default_factory=dict)

    def note(self, code: str, line: int) -> None:
        count, lines = self.warnings.get(code, (0, []))
        if len(lines) < 5:
            lines = [*lines, line]
        self.warnings[code] = (count + 1, lines)


def _listed(items: list[str], limit: int, sep: str = "; ") -> str:
    shown = sep.join(items[:limit])
    more = len(items) - limit
    return shown + (f"{sep}and {more} more" if more > 0 else "")


def read_file(
    path: Path,
    tokenizer: Any,
    max_tokens: int,
    *,
    param: str = "training_file",
    method: str = "supervised",
    keep: bool = True,
    train: FileSummary | None = None,
) -> FileSummary:
    """Apply the contract and the model to every line of `path`; raise DataError listing
    each line that cannot train. With `train` (the training file's summary) this is the
    validation file: it must have the same format and share no example with it."""
    summary = FileSummary(param)
    contract = FileContract()
    problems: list[str] = []
    too_long: list[str] = []
    overlap: list[int] = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            result = contract.line(number, raw)
            for finding in result.warnings:
                summary.note(finding.code, finding.line)
            if result.error is not None:
                problems.append(str(result.error))
                continue
            parsed = result.example
            if parsed is None:
                continue
            if summary.format is None:
                summary.format = parsed.format
                _check_format(summary, method, train)
            try:
                example = encode(tokenizer, parsed)
            except ExampleError as exc:
                problems.append(f"line {number}: {exc.detail}")
                continue
            if example.n_tokens > max_tokens:
                too_long.append(f"{number} ({example.n_tokens} tokens)")
                continue
            key = example_key(parsed)
            if train is not None and key in train.keys:
                overlap.append(number)
            if train is None:
                summary.keys.add(key)
            summary.n_examples += 1
            summary.n_tokens += example.n_tokens
            if keep:
                summary.examples.append(_numbered(example, number))
    problems += [str(f) for f in contract.finish()]
    messages = []
    if problems:
        messages.append(f"{param} has invalid examples: {_listed(problems, MAX_LISTED)}")
    if too_long:
        what = (
            "an input + its longer output"
            if summary.format == "preference"
            else "prompt + completion"
        )
        messages.append(
            f"{param}: examples longer than the model's limit of {max_tokens} tokens "
            f"({what}) on lines {_listed(too_long, MAX_LONG_LISTED, ', ')}; shorten or drop "
            "them, nothing is truncated"
        )
    if overlap:
        shown = ", ".join(map(str, overlap[:MAX_LONG_LISTED]))
        messages.append(
            f"{param}: {len(overlap)} examples also appear in the training file (lines {shown}"
            + (" ..." if len(overlap) > MAX_LONG_LISTED else "")
            + "); training and validation data must be mutually exclusive"
        )
    if messages:
        raise DataError(". ".join(messages), param)
    return summary


def _check_format(summary: FileSummary, method: str, train: FileSummary | None) -> None:
    problem = method_problem(summary.format, method)
    if problem:
        raise DataError(f"{summary.param}: {problem}", summary.param, "method_mismatch")
    if train is not None and train.format != summary.format:
        raise DataError(
            f"{summary.param} is in the {summary.format} format but training_file is in the "
            f"{train.format} format; both must have the same format",
            summary.param,
        )


def _numbered(example: Example | PreferenceExample, line: int) -> Example | PreferenceExample:
    if isinstance(example, Example):
        return Example(line, example.input_ids, example.labels, example.completion)
    return PreferenceExample(line, example.prompt_ids, example.chosen_ids, example.rejected_ids)


def check_job_files(
    training: Path,
    validation: Path | None,
    tokenizer: Any,
    max_tokens: int,
    method: str = "supervised",
    *,
    keep: bool = False,
) -> tuple[FileSummary, FileSummary | None]:
    """Validate a job's files as training will read them; raise DataError naming the
    file and lines. `keep=False` (the server's validation) holds no token ids."""
    train = read_file(training, tokenizer, max_tokens, method=method, keep=keep)
    valid = None
    if validation is not None:
        valid = read_file(
            validation,
            tokenizer,
            max_tokens,
            param="validation_file",
            method=method,
            keep=keep,
            train=train,
        )
    return train, valid


def load_examples(
    path: Path,
    tokenizer: Any,
    max_tokens: int,
    param: str = "training_file",
    method: str = "supervised",
) -> list[Any]:
    """Tokenise every example of a JSONL file; DataError lists each bad or overlong line."""
    return read_file(path, tokenizer, max_tokens, param=param, method=method).examples


def iter_warnings(summary: FileSummary) -> Iterator[str]:
    """Human lines for the warnings a file raised (for job events)."""
    from fttui.data.contract import RULES

    for code, (count, lines) in summary.warnings.items():
        shown = ", ".join(map(str, lines)) + (" ..." if count > len(lines) else "")
        yield f"{summary.param}: {count} {RULES[code].title} (lines {shown})"
