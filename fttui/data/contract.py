"""The data contract: what a valid line of a fine-tuning JSONL file is, decided once.

Every layer that reads training data applies THIS module, so their verdicts cannot
differ: the server's upload check (`fttui.server.jsonl_check`), `fttui prepare` and
the TUI's pre-upload report (`fttui.data.check`), the server's `validating_files`
step and the trainer's loader (`fttui.train.data`). It knows three formats, as
OpenAI's fine-tuning API defines them:

- ``prompt_completion``: the legacy fine-tunes API's `{"prompt", "completion"}`;
- ``chat``: `{"messages": [...], "tools"?, "parallel_tool_calls"?, "functions"?}` with
  system / developer / user / assistant / tool (and the deprecated function) roles,
  assistant `tool_calls`, `tool` messages answering them by `tool_call_id`, and
  `weight` 0/1 on assistant messages;
- ``preference`` (DPO): `{"input": {"messages", "tools"?, "parallel_tool_calls"?},
  "preferred_output": [one assistant message], "non_preferred_output": [one]}`;
- ``reinforcement`` (RFT): `{"messages": [..., a final user message], "tools"?, ...}`
  with no assistant message: the prompt the model answers; every other key is a
  reference field the grader's `{{item.<field>}}` templates read (never ignored, never
  warned about). A chat line with no assistant message whose last message is a user
  message is this format (as a supervised line it would have nothing to learn).

It also makes the file-level decisions (blank lines, byte order mark, CRLF, NUL bytes,
over-long lines, mixed formats, empty files), each once; `RULES` lists every code
with its severity and the decision, and docs/data.md shows that table. Findings are
errors (the file cannot train: refused at upload, the job fails in validation) or
warnings (it trains, but probably not as meant).

What needs the model (token length, whether its chat template can render a line)
is decided in `fttui.data.encode` / `fttui.train.data`, from the same parsed examples. This module is
deliberately light (standard library and `fttui.core` only): the server, the trainer
and the TUI all import it. A value quoted from the data in a message passes
`fttui.core.safe_text` (see `quote`), so no message carries a control character.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from fttui.core.graders import Reference, TemplateError, resolve_reference
from fttui.core.safe_text import safe_text

Severity = Literal["error", "warning", "info"]
Format = Literal["prompt_completion", "chat", "preference", "reinforcement"]

FORMATS: tuple[Format, ...] = ("prompt_completion", "chat", "preference", "reinforcement")
FORMAT_NAMES: dict[str, str] = {
    "prompt_completion": "prompt/completion",
    "chat": "chat ('messages')",
    "preference": "preference (DPO: 'input', 'preferred_output', 'non_preferred_output')",
    "reinforcement": "reinforcement (RFT: 'messages' ending with a user message, no assistant "
    "message, plus the grader's reference fields)",
}
# Which formats each fine-tuning method trains on (OpenAI's `method.type`).
METHOD_FORMATS: dict[str, tuple[str, ...]] = {
    "supervised": ("prompt_completion", "chat"),
    "dpo": ("preference",),
    "reinforcement": ("reinforcement",),
}
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
# One line holds one example; a longer line is refused (it bounds the server's memory
# per line while it streams an upload). Far above any model's context in tokens.
MAX_LINE_BYTES = 1 << 20
BOM = b"\xef\xbb\xbf"
MAX_BLANK_LISTED = 20  # blank lines named one by one; the rest are counted


class Rule(NamedTuple):
    severity: Severity
    title: str  # what the finding means, as a count's noun phrase ("lines are not ...")
    decision: str  # the rule, for docs/data.md


# Every code any layer reports about a file's contents. Codes marked (model) are
# decided by `fttui.train.data` / `fttui.data.check` with the model's tokenizer.
RULES: dict[str, Rule] = {
    # -- file level -----------------------------------------------------------------
    "no_examples": Rule(
        "error",
        "the file has no valid examples",
        "An empty file, or one with only blank or invalid lines, is refused.",
    ),
    "invalid_utf8": Rule(
        "error", "lines are not valid UTF-8", "Files are UTF-8; other encodings are refused."
    ),
    "nul_byte": Rule(
        "error",
        "lines contain a NUL byte",
        "A raw NUL byte is refused (often a UTF-16 file); `\\u0000` inside a JSON string is fine.",
    ),
    "line_too_long": Rule(
        "error",
        "lines are longer than the per-line limit",
        f"One line holds one example of at most {MAX_LINE_BYTES:,} bytes (the server's "
        "`FTTUI_MAX_LINE_BYTES` may lower it).",
    ),
    "invalid_json": Rule("error", "lines are not valid JSON", "Each line is one JSON value."),
    "not_an_object": Rule(
        "error", "lines are not JSON objects", "Each line is a JSON object (not an array etc.)."
    ),
    "mixed_format": Rule(
        "error",
        "lines use a different format from the first example",
        "The first valid example decides the file's format; lines in another format are refused.",
    ),
    "bom": Rule(
        "warning",
        "the file starts with a UTF-8 byte order mark (ignored)",
        "A UTF-8 byte order mark at the start of the file is skipped, with a warning.",
    ),
    "blank_lines": Rule(
        "warning",
        "blank lines (skipped)",
        "Blank (whitespace-only) lines are skipped everywhere; prepare warns about those "
        "before the last example. CRLF line endings are accepted silently.",
    ),
    # -- every format ---------------------------------------------------------------
    "missing_keys": Rule(
        "error",
        "lines lack required keys",
        "A line has `prompt`+`completion`, `messages`, or `input`+`preferred_output`+"
        "`non_preferred_output` (keys are case-sensitive).",
    ),
    "ambiguous_format": Rule(
        "error",
        "lines mix the keys of two formats",
        "A line with the keys of two formats (e.g. `messages` and `prompt`) is refused.",
    ),
    "wrong_type": Rule(
        "error",
        "lines have a field of the wrong type",
        "Each field has the type OpenAI's API gives it.",
    ),
    "extra_keys": Rule(
        "warning",
        "lines have keys the format does not use (ignored)",
        "Unknown keys, at the top level or in a message, are ignored, with a warning.",
    ),
    # -- prompt/completion ----------------------------------------------------------
    "empty_completion": Rule(
        "error",
        "completions are empty",
        "A blank (empty or whitespace-only) completion is refused: nothing to learn.",
    ),
    "empty_prompt": Rule(
        "warning",
        "prompts are empty",
        "An empty prompt is allowed (open-ended generation, as the legacy tool says); "
        "prepare warns when only some prompts are empty.",
    ),
    # -- chat (and the preference input) --------------------------------------------
    "invalid_messages": Rule(
        "error",
        "'messages' is not a non-empty list of message objects",
        "`messages` is a non-empty list of objects.",
    ),
    "unknown_role": Rule(
        "error",
        "messages have an unknown role",
        "Roles: system, developer, user, assistant, tool, function (deprecated).",
    ),
    "empty_content": Rule(
        "error",
        "messages have empty content",
        "User messages and assistant messages without tool calls need non-blank content; "
        "system, developer and tool content may be empty.",
    ),
    "unsupported_content": Rule(
        "error",
        "messages have content parts fine-tuning does not take",
        "Content is a string or a list of `text` parts (`image_url` parts in user messages "
        "only); other part types are refused. (model) The local trainer trains text only: "
        "image parts fail validation for a local model.",
    ),
    "missing_assistant": Rule(
        "error",
        "conversations have no assistant message to learn from",
        "A chat example needs an assistant message with `weight` 1 (the default); a line "
        "with no assistant message that ends with a user message is a reinforcement prompt.",
    ),
    "invalid_weight": Rule(
        "error", "messages have a weight other than 0 or 1", "`weight` is 0 or 1."
    ),
    "weight_ignored": Rule(
        "warning",
        "messages carry a weight that has no effect (ignored)",
        "`weight` only applies to assistant messages of chat examples; elsewhere it is ignored.",
    ),
    "invalid_tool_call": Rule(
        "error",
        "tool calls are malformed",
        "`tool_calls` is a non-empty list of `{id, type: function, function: {name, "
        "arguments: string}}`; `function_call` is `{name, arguments}`.",
    ),
    "missing_tool_call_id": Rule(
        "error", "tool messages have no tool_call_id", "A `tool` message names the call it answers."
    ),
    "invalid_tools": Rule(
        "error",
        "'tools' or 'functions' are malformed",
        "`tools` is a list of `{type: function, function: {name, ...}}`, `functions` a list of "
        "`{name, ...}`, `parallel_tool_calls` a boolean.",
    ),
    "tool_arguments_not_json": Rule(
        "warning",
        "tool call arguments are not valid JSON",
        "Arguments that do not parse as JSON are trained as they are, with a warning.",
    ),
    "unknown_tool_call_id": Rule(
        "warning",
        "tool messages answer no earlier tool call",
        "A `tool_call_id` that no earlier assistant tool call has is allowed, with a warning.",
    ),
    "unknown_tool": Rule(
        "warning",
        "tool calls name a function missing from 'tools'",
        "Calls to functions that `tools`/`functions` do not declare get a warning.",
    ),
    "parallel_tool_calls": Rule(
        "warning",
        "messages make several tool calls while parallel_tool_calls is false",
        "Several calls in one message with `parallel_tool_calls: false` get a warning.",
    ),
    "deprecated_functions": Rule(
        "warning",
        "lines use the deprecated function-calling fields",
        "`functions`, `function_call` and the `function` role are accepted (deprecated by "
        "OpenAI in favour of `tools`), with a warning.",
    ),
    # -- preference (DPO) -------------------------------------------------------------
    "invalid_input": Rule(
        "error",
        "preference inputs are malformed",
        "`input` is an object with a non-empty `messages` list (plus optional `tools`, "
        "`parallel_tool_calls`).",
    ),
    "invalid_output": Rule(
        "error",
        "preference outputs are not a single assistant message",
        "`preferred_output` and `non_preferred_output` each hold exactly one assistant "
        "message, with content or tool calls.",
    ),
    "identical_outputs": Rule(
        "error",
        "preferred and non-preferred outputs are identical",
        "The two outputs must differ (identical ones teach nothing).",
    ),
    "input_ends_with_assistant": Rule(
        "warning",
        "preference inputs end with an assistant message",
        "The outputs answer the input's last message; an input ending with an assistant "
        "message gets a warning.",
    ),
    # -- decided with the model (fttui.train.data for local models) -------------------
    "too_long": Rule(
        "error",
        "examples exceed the model's token limit",
        "(model) prompt + completion, a whole conversation, or a preference input + its longer "
        "output over the model's limit is refused; nothing is truncated.",
    ),
    "template_error": Rule(
        "error",
        "examples the model's chat template cannot render",
        "(model) a local model's chat template must render the conversation (and its "
        "assistant turns as a prefix-stable continuation); a model without a chat template "
        "trains prompt/completion files only.",
    ),
    # -- a job's two files ----------------------------------------------------------
    "method_mismatch": Rule(
        "error",
        "the file's format does not fit the job's method",
        "(job) supervised jobs train prompt/completion or chat files, DPO jobs preference "
        "files, reinforcement jobs reinforcement files.",
    ),
    "missing_reference": Rule(
        "error",
        "reinforcement examples lack a field the grader reads",
        "(job) every example of a reinforcement job has each field its grader's "
        "`{{item...}}` templates read (checked before the job is queued).",
    ),
    "format_mismatch": Rule(
        "error",
        "the validation file's format differs from the training file's",
        "(job) training and validation files have the same format.",
    ),
    "train_valid_overlap": Rule(
        "error",
        "validation examples also appear in the training file",
        "(job) no example in both files: OpenAI's legacy fine-tuning guide requires them "
        "mutually exclusive.",
    ),
}

ERROR_CODES = frozenset(code for code, rule in RULES.items() if rule.severity == "error")
# Codes of lines that are not usable examples (what prepare's drop-invalid fix removes).
INVALID_LINE_CODES = frozenset(
    ERROR_CODES
    - {
        "no_examples",
        "too_long",
        "method_mismatch",
        "format_mismatch",
        "train_valid_overlap",
        "missing_reference",
    }
)


class Finding(NamedTuple):
    """One finding about a file: a `RULES` code, what exactly, and the line (0: the file)."""

    code: str
    detail: str
    line: int = 0

    @property
    def severity(self) -> Severity:
        return RULES[self.code].severity

    def __str__(self) -> str:
        return f"line {self.line}: {self.detail}" if self.line else self.detail


class Invalid(Exception):
    """A line that breaks the contract (an error): `code` from RULES, `detail` says where."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(slots=True)
class Parsed:
    """A valid example: its format, the decoded object and the warnings it raised."""

    format: Format
    obj: dict[str, Any]
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (code, detail)


def method_problem(fmt: str | None, method: str) -> str | None:
    """Why a file of format `fmt` cannot train with `method` (None when it can)."""
    formats = METHOD_FORMATS.get(method)
    if formats is None:
        return f"unknown fine-tuning method {method!r}; expected one of {', '.join(METHOD_FORMATS)}"
    if fmt is None or fmt in formats:
        return None
    fits = next((m for m, fs in METHOD_FORMATS.items() if fmt in fs), None)
    wanted = " or ".join(FORMAT_NAMES[f].split(" (")[0] for f in formats)
    return (
        f"the file is in the {FORMAT_NAMES[fmt].split(' (')[0]} format, but a {method} job "
        f"trains on {wanted} examples" + (f"; create a {fits} job for it" if fits else "")
    )


# -- helpers ----------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    names: dict[type, str] = {str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), "a value")


def quote(value: Any, limit: int = 60) -> str:
    """A value quoted from the data, for a message: repr (control characters escaped),
    cut to `limit` characters so a huge value never floods an error or an event."""
    text = safe_text(repr(value))  # repr escapes controls; safe_text is the one rule
    return text if len(text) <= limit else text[: limit - 3] + "..."


def content_text(content: Any) -> str:
    """The text of a message's content (a string, or the `text` parts of a list)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def has_images(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") == "image_url" for p in content
    )


_PC_KEYS = ("prompt", "completion")
_CHAT_KEYS = ("messages", "tools", "parallel_tool_calls", "functions")
_PREF_KEYS = ("input", "preferred_output", "non_preferred_output")
# Older spellings of the preference keys, recognised so the message can name the fix.
_PREF_OLD = {
    "preferred_completion": "preferred_output",
    "non_preferred_completion": "non_preferred_output",
}
_PREF_ANY = frozenset((*_PREF_KEYS, *_PREF_OLD))
_MESSAGE_KEYS: dict[str, frozenset[str]] = {
    "system": frozenset({"role", "content", "name"}),
    "developer": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset(
        {"role", "content", "name", "tool_calls", "function_call", "weight", "refusal"}
    ),
    "tool": frozenset({"role", "content", "tool_call_id"}),
    "function": frozenset({"role", "content", "name"}),
}


def detect_format(obj: dict[str, Any]) -> Format:
    """The format a JSON object claims by its keys; raises Invalid when none or several."""
    found: list[Format] = []
    if "prompt" in obj or "completion" in obj:
        found.append("prompt_completion")
    if "messages" in obj:
        found.append("chat")
    if not _PREF_ANY.isdisjoint(obj):
        found.append("preference")
    if len(found) == 1:
        return found[0]
    if found:
        raise Invalid(
            "ambiguous_format",
            f"has the keys of both the {FORMAT_NAMES[found[0]].split(' (')[0]} and the "
            f"{FORMAT_NAMES[found[1]].split(' (')[0]} formats; use one format per line",
        )
    keys = ", ".join(map(quote, list(obj)[:6])) or "none"
    hint = ""
    lowered = {str(k).lower(): k for k in obj}
    near = [lowered[k] for k in ("prompt", "completion", "messages", "input") if k in lowered]
    if near:
        hint = (
            f" (keys are case-sensitive: {quote(near[0])} should be {quote(str(near[0]).lower())})"
        )
    raise Invalid(
        "missing_keys",
        "needs 'prompt' and 'completion', or 'messages', or 'input', 'preferred_output' and "
        f"'non_preferred_output' (found keys: {keys}){hint}",
    )


def parse_example(obj: Any) -> Parsed:
    """Validate one decoded JSON line against the contract; raises Invalid on an error."""
    if not isinstance(obj, dict):
        raise Invalid("not_an_object", f"expected a JSON object, got {_kind(obj)}")
    warnings: list[tuple[str, str]] = []
    if len(obj) == 2:  # the hot path: a plain {"prompt": str, "completion": str} line
        prompt, completion = obj.get("prompt"), obj.get("completion")
        if (
            type(prompt) is str
            and type(completion) is str
            and completion
            and not completion.isspace()
            and prompt
            and not prompt.isspace()
        ):
            return Parsed("prompt_completion", obj, warnings)
    fmt = detect_format(obj)
    if fmt == "prompt_completion":
        _prompt_completion(obj, warnings)
    elif fmt == "chat":
        if is_reinforcement(obj):
            _reinforcement(obj, warnings)
            return Parsed("reinforcement", obj, warnings)
        _chat(obj, warnings)
    else:
        _preference(obj, warnings)
    return Parsed(fmt, obj, warnings)


def _case_hint(obj: dict[str, Any], key: str) -> str:
    """' (keys are case-sensitive: ...)' when `obj` has `key` in another case."""
    near = next((k for k in obj if isinstance(k, str) and k.lower() == key), None)
    return f" (keys are case-sensitive: {quote(near)} should be {key!r})" if near else ""


def _prompt_completion(obj: dict[str, Any], warnings: list[tuple[str, str]]) -> None:
    for key in _PC_KEYS:
        if key not in obj:
            raise Invalid(
                "missing_keys",
                f"missing {key!r} (a prompt/completion line has both){_case_hint(obj, key)}",
            )
        if not isinstance(obj[key], str):
            raise Invalid("wrong_type", f"{key!r} must be a string, got {_kind(obj[key])}")
    completion, prompt = obj["completion"], obj["prompt"]
    if not completion or completion.isspace():
        raise Invalid("empty_completion", "'completion' is empty")
    if not prompt or prompt.isspace():
        warnings.append(("empty_prompt", "'prompt' is empty"))
    if len(obj) > 2:
        extra = [k for k in obj if k not in _PC_KEYS]
        warnings.append(("extra_keys", f"keys {', '.join(map(quote, extra[:6]))} are ignored"))


def _chat(obj: dict[str, Any], warnings: list[tuple[str, str]]) -> None:
    extra = [k for k in obj if k not in _CHAT_KEYS]
    if extra:
        warnings.append(("extra_keys", f"keys {', '.join(map(quote, extra[:6]))} are ignored"))
    names = _tools(obj, "", warnings)
    trainable = _messages(obj.get("messages"), "messages", names, obj, warnings, chat=True)
    if trainable == 0:
        if any(isinstance(m, dict) and m.get("role") == "assistant" for m in obj["messages"]):
            raise Invalid(
                "missing_assistant", "every assistant message has weight 0: nothing to learn"
            )
        raise Invalid(
            "missing_assistant",
            "no assistant message: a chat example needs at least one 'assistant' turn to learn from",
        )


def is_reinforcement(obj: dict[str, Any]) -> bool:
    """A reinforcement prompt: messages end with a user message and none is an assistant's."""
    messages = obj.get("messages")
    return (
        isinstance(messages, list)
        and bool(messages)
        and all(isinstance(m, dict) for m in messages)
        and messages[-1].get("role") == "user"
        and not any(m.get("role") == "assistant" for m in messages)
    )


def _reinforcement(obj: dict[str, Any], warnings: list[tuple[str, str]]) -> None:
    # Keys beyond messages/tools are the grader's reference fields: kept, not warned about.
    names = _tools(obj, "", warnings)
    _messages(obj["messages"], "messages", names, obj, warnings, chat=False)


def reference_problem(obj: dict[str, Any], refs: list[Reference]) -> str | None:
    """Why a reinforcement example lacks a field its grader reads (None when it has all).

    `refs`: the grader's `{{item...}}` references (`fttui.core.graders.item_references`)."""
    missing = []
    for ref in refs:
        try:
            resolve_reference(ref, None, obj)
        except TemplateError:
            missing.append("{{" + ref.text + "}}")
    if not missing:
        return None
    return (
        f"has no value for the grader's {', '.join(missing[:5])}"
        + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        + f" (keys found: {', '.join(map(quote, [k for k in obj if k != 'messages'][:8])) or 'none'})"
    )


def _preference(obj: dict[str, Any], warnings: list[tuple[str, str]]) -> None:
    for old, new in _PREF_OLD.items():
        if old in obj:
            raise Invalid("missing_keys", f"{old!r} is now called {new!r} in OpenAI's API")
    for key in _PREF_KEYS:
        if key not in obj:
            raise Invalid(
                "missing_keys",
                f"missing {key!r} (a preference line has {', '.join(_PREF_KEYS)})"
                f"{_case_hint(obj, key)}",
            )
    extra = [k for k in obj if k not in _PREF_KEYS]
    if extra:
        warnings.append(("extra_keys", f"keys {', '.join(map(quote, extra[:6]))} are ignored"))
    inp = obj["input"]
    if not isinstance(inp, dict):
        raise Invalid("invalid_input", f"'input' must be an object, got {_kind(inp)}")
    if "messages" not in inp:
        raise Invalid("invalid_input", "'input' has no 'messages'")
    extra = [k for k in inp if k not in ("messages", "tools", "parallel_tool_calls")]
    if extra:
        warnings.append(
            ("extra_keys", f"input keys {', '.join(map(quote, extra[:6]))} are ignored")
        )
    names = _tools(inp, "input.", warnings)
    _messages(inp["messages"], "input.messages", names, inp, warnings, chat=False)
    last = inp["messages"][-1]
    if last.get("role") == "assistant":
        warnings.append(
            ("input_ends_with_assistant", "input.messages ends with an assistant message")
        )
    outputs = []
    for key in ("preferred_output", "non_preferred_output"):
        value = obj[key]
        if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
            what = f"{len(value)} items" if isinstance(value, list) else _kind(value)
            raise Invalid(
                "invalid_output",
                f"{key!r} must be a list of exactly one assistant message, got {what}",
            )
        message = value[0]
        if message.get("role") != "assistant":
            raise Invalid(
                "invalid_output",
                f"{key}[0].role must be 'assistant', got {quote(message.get('role'))}",
            )
        _message(message, f"{key}[0]", names, inp, warnings, ids=set(), chat=False)
        outputs.append({k: v for k, v in message.items() if k != "weight"})
    if _canonical(outputs[0]) == _canonical(outputs[1]):
        raise Invalid(
            "identical_outputs", "'preferred_output' and 'non_preferred_output' are identical"
        )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def example_key(parsed: Parsed) -> int:
    """A 64-bit identity of an example: duplicates and train/validation overlap use it.

    Keys other than the example's own (ignored extras) do not count.
    """
    obj = parsed.obj
    if parsed.format == "prompt_completion":
        return hash((obj["prompt"], obj["completion"]))
    if parsed.format == "chat":
        return hash(_canonical([obj["messages"], obj.get("tools")]))
    if parsed.format == "reinforcement":  # the reference fields are part of the example
        return hash(_canonical(obj))
    return hash(_canonical([obj["input"], obj["preferred_output"], obj["non_preferred_output"]]))


def _tools(obj: dict[str, Any], where: str, warnings: list[tuple[str, str]]) -> set[str] | None:
    """Check `tools`, `functions` and `parallel_tool_calls`; the declared names (None: none)."""
    names: set[str] | None = None
    tools = obj.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise Invalid("invalid_tools", f"'{where}tools' must be a list, got {_kind(tools)}")
        names = set()
        for i, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if (
                not isinstance(tool, dict)
                or tool.get("type", "function") != "function"
                or not isinstance(fn, dict)
                or not isinstance(fn.get("name"), str)
                or not fn["name"]
            ):
                raise Invalid(
                    "invalid_tools",
                    f"{where}tools[{i}] must be {{'type': 'function', 'function': {{'name': ...}}}}",
                )
            if "parameters" in fn and not isinstance(fn["parameters"], dict):
                raise Invalid(
                    "invalid_tools", f"{where}tools[{i}].function.parameters must be an object"
                )
            names.add(fn["name"])
    functions = obj.get("functions")
    if functions is not None:
        warnings.append(("deprecated_functions", f"'{where}functions' is deprecated; use 'tools'"))
        if not isinstance(functions, list):
            raise Invalid(
                "invalid_tools", f"'{where}functions' must be a list, got {_kind(functions)}"
            )
        names = names or set()
        for i, fn in enumerate(functions):
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                raise Invalid(
                    "invalid_tools", f"{where}functions[{i}] must be an object with a 'name'"
                )
            names.add(fn["name"])
    parallel = obj.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise Invalid(
            "invalid_tools",
            f"'{where}parallel_tool_calls' must be true or false, got {_kind(parallel)}",
        )
    return names


def _messages(
    messages: Any,
    where: str,
    names: set[str] | None,
    holder: dict[str, Any],
    warnings: list[tuple[str, str]],
    *,
    chat: bool,
) -> int:
    """Validate a message list; returns how many assistant messages are trained on."""
    if not isinstance(messages, list):
        raise Invalid("invalid_messages", f"'{where}' must be an array, got {_kind(messages)}")
    if not messages:
        raise Invalid("invalid_messages", f"'{where}' is empty")
    ids: set[str] = set()
    trainable = 0
    for i, message in enumerate(messages):
        trainable += _message(message, f"{where}[{i}]", names, holder, warnings, ids=ids, chat=chat)
    return trainable


def _message(
    message: Any,
    where: str,
    names: set[str] | None,
    holder: dict[str, Any],
    warnings: list[tuple[str, str]],
    *,
    ids: set[str],
    chat: bool,
) -> int:
    """Validate one message; returns 1 when it is an assistant message trained on."""
    if not isinstance(message, dict):
        raise Invalid("invalid_messages", f"{where} must be an object, got {_kind(message)}")
    if "role" not in message:
        raise Invalid("invalid_messages", f"{where} has no 'role'")
    role = message["role"]
    if not isinstance(role, str) or role not in ROLES:
        raise Invalid(
            "unknown_role", f"{where}.role {quote(role)} is not one of {', '.join(ROLES)}"
        )
    extra = [k for k in message if k not in _MESSAGE_KEYS[role]]
    if role != "assistant" and "weight" in extra:
        extra.remove("weight")
        warnings.append(("weight_ignored", f"{where} is a {role} message; its weight is ignored"))
    if extra:
        warnings.append(
            ("extra_keys", f"{where} keys {', '.join(map(quote, extra[:6]))} are ignored")
        )
    name = message.get("name")
    if name is not None and not isinstance(name, str):
        raise Invalid("wrong_type", f"{where}.name must be a string, got {_kind(name)}")
    calls = 0
    if role == "assistant":
        calls = _tool_calls(message, where, names, holder, warnings, ids)
    content = message.get("content")
    if "content" not in message and not calls:
        raise Invalid("invalid_messages", f"{where} has no 'content'")
    _content(content, where, role, calls)
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise Invalid("missing_tool_call_id", f"{where} (tool) needs a 'tool_call_id' string")
        if call_id not in ids:
            warnings.append(
                (
                    "unknown_tool_call_id",
                    f"{where}.tool_call_id {quote(call_id)} answers no earlier tool call",
                )
            )
    if role == "function":
        warnings.append(("deprecated_functions", f"{where} uses the deprecated 'function' role"))
        if not isinstance(name, str) or not name:
            raise Invalid("invalid_messages", f"{where} (function) needs a 'name'")
    if role != "assistant":
        return 0
    weight = message.get("weight", 1)
    if isinstance(weight, bool) or weight not in (0, 1):
        raise Invalid("invalid_weight", f"{where}.weight must be 0 or 1, got {quote(weight)}")
    if not chat:
        if "weight" in message:
            warnings.append(
                ("weight_ignored", f"{where}.weight has no effect in a preference example")
            )
        return 0
    return int(weight == 1)


def _content(content: Any, where: str, role: str, calls: int) -> None:
    if content is None:
        if role == "assistant" and calls:
            return
        raise Invalid("wrong_type", f"{where}.content must be a string, got null")
    if isinstance(content, list):
        for j, part in enumerate(content):
            kind = part.get("type", "text") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            if kind == "image_url" and role == "user":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else None
                if isinstance(url, str) and url:
                    continue
                raise Invalid(
                    "unsupported_content", f"{where}.content[{j}].image_url needs a 'url'"
                )
            if kind in ("text", None):
                raise Invalid(
                    "wrong_type", f"{where}.content[{j}] must be an object with a string 'text'"
                )
            raise Invalid(
                "unsupported_content",
                f"{where}.content[{j}] is a {quote(kind)} part; fine-tuning takes text parts"
                + (
                    " (and image_url parts in user messages)"
                    if role != "user"
                    else " and image_url parts"
                ),
            )
        empty = not content_text(content).strip() and not has_images(content)
    elif isinstance(content, str):
        empty = not content.strip()
    else:
        raise Invalid("wrong_type", f"{where}.content must be a string, got {_kind(content)}")
    if empty and (role == "user" or (role == "assistant" and not calls)):
        raise Invalid("empty_content", f"{where} ({role}) has empty content")


def _tool_calls(
    message: dict[str, Any],
    where: str,
    names: set[str] | None,
    holder: dict[str, Any],
    warnings: list[tuple[str, str]],
    ids: set[str],
) -> int:
    """Validate an assistant message's `tool_calls` / `function_call`; returns how many."""
    found: list[tuple[Any, Any, str]] = []  # (name, arguments, where)
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list) or not calls:
            raise Invalid("invalid_tool_call", f"{where}.tool_calls must be a non-empty list")
        for k, call in enumerate(calls):
            at = f"{where}.tool_calls[{k}]"
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(call, dict) or not isinstance(fn, dict):
                raise Invalid("invalid_tool_call", f"{at} must be {{'id', 'type', 'function'}}")
            if call.get("type", "function") != "function":
                raise Invalid("invalid_tool_call", f"{at}.type must be 'function'")
            call_id = call.get("id")
            if not isinstance(call_id, str) or not call_id:
                raise Invalid("invalid_tool_call", f"{at}.id must be a non-empty string")
            ids.add(call_id)
            found.append((fn.get("name"), fn.get("arguments"), f"{at}.function"))
    function_call = message.get("function_call")
    if function_call is not None:
        warnings.append(
            ("deprecated_functions", f"{where}.function_call is deprecated; use tool_calls")
        )
        if not isinstance(function_call, dict):
            raise Invalid("invalid_tool_call", f"{where}.function_call must be an object")
        found.append(
            (function_call.get("name"), function_call.get("arguments"), f"{where}.function_call")
        )
    for name, arguments, at in found:
        if not isinstance(name, str) or not name:
            raise Invalid("invalid_tool_call", f"{at}.name must be a non-empty string")
        if not isinstance(arguments, str):
            raise Invalid(
                "invalid_tool_call",
                f"{at}.arguments must be a string holding JSON, got {_kind(arguments)}",
            )
        try:
            json.loads(arguments)
        except ValueError:
            warnings.append(("tool_arguments_not_json", f"{at}.arguments is not valid JSON"))
        if names is not None and name not in names:
            warnings.append(
                ("unknown_tool", f"{at}.name {quote(name)} is not among the declared tools")
            )
    if len(found) > 1 and holder.get("parallel_tool_calls") is False:
        warnings.append(
            (
                "parallel_tool_calls",
                f"{where} makes {len(found)} tool calls but parallel_tool_calls is false",
            )
        )
    return len(found)


# -- lines and files ---------------------------------------------------------------------


def decode_line(raw: bytes) -> Any:
    """The JSON value of one line's bytes (no BOM, newline optional); raises Invalid."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        hint = " (is the file UTF-16? save it as UTF-8)" if raw.count(b"\x00") > 1 else ""
        raise Invalid("nul_byte", f"contains a NUL byte at column {nul + 1}{hint}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(
            "invalid_utf8", f"not valid UTF-8 (byte {exc.start + 1} of the line)"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    except RecursionError:
        raise Invalid("invalid_json", "not valid JSON: nested too deeply") from None
    # The error path only: parse again without the line ending, so the column named is
    # the one on this line (with "\n" kept, "Expecting value" points past it, at 1).
    try:
        json.loads(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        raise Invalid(
            "invalid_json", f"not valid JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}"
        ) from None
    except RecursionError:
        raise Invalid("invalid_json", "not valid JSON: nested too deeply") from None
    raise Invalid("invalid_json", "not valid JSON")  # unreachable: a line ending is whitespace


@dataclass(slots=True)
class LineResult:
    """What the contract says about one line: an example, an error, and warnings.

    `warnings` may name earlier lines (blank lines are reported when the next example
    shows they were not trailing).
    """

    line: int
    example: Parsed | None = None
    error: Finding | None = None
    warnings: list[Finding] = field(default_factory=list)
    more_blank: int = 0  # blank lines before this one beyond those listed in `warnings`


@dataclass
class FileContract:
    """Applies the contract to a file's lines, in order (one instance per file).

    `line()` takes each line's bytes (newline included or not); `finish()` gives the
    file-level findings. The first valid example fixes the file's format.
    """

    max_line_bytes: int = MAX_LINE_BYTES
    format: Format | None = None
    format_line: int = 0
    n_examples: int = 0
    n_lines: int = 0
    n_errors: int = 0
    # Blank lines not yet known to be trailing: their count and the first few numbers
    # (bounded: a file of nothing but newlines must not grow a list per line).
    _blank: list[int] = field(default_factory=list)
    _blank_count: int = 0

    def line(self, number: int, raw: bytes) -> LineResult:
        self.n_lines = number
        result = LineResult(number)
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
            result.warnings.append(Finding("bom", "UTF-8 byte order mark skipped", 1))
        # The line ending stays on (JSON ignores it): no copy of the line on the hot path.
        if not raw or raw.isspace():
            self._blank_count += 1
            if len(self._blank) < MAX_BLANK_LISTED:
                self._blank.append(number)
            return result
        if self._blank_count:
            result.warnings.extend(Finding("blank_lines", "blank line", n) for n in self._blank)
            result.more_blank = self._blank_count - len(self._blank)
            self._blank.clear()
            self._blank_count = 0
        size = len(raw)
        if raw[-1:] == b"\n":
            size -= 2 if raw[-2:] == b"\r\n" else 1
        if size > self.max_line_bytes:
            result.error = self.overlong(number)
            return result
        try:
            parsed = parse_example(decode_line(raw))
        except Invalid as exc:
            self.n_errors += 1
            result.error = Finding(exc.code, exc.detail, number)
            return result
        if self.format is None:
            self.format, self.format_line = parsed.format, number
        elif parsed.format == "reinforcement" and self.format == "chat":
            # In a chat file, a line without an assistant message is a chat example
            # missing its answer, not a reinforcement prompt.
            self.n_errors += 1
            result.error = Finding(
                "missing_assistant",
                "no assistant message: a chat example needs at least one 'assistant' turn "
                f"to learn from (line {self.format_line} is a chat example)",
                number,
            )
            return result
        elif parsed.format != self.format:
            self.n_errors += 1
            result.error = Finding(
                "mixed_format",
                f"this example is in {FORMAT_NAMES[parsed.format]} format but line "
                f"{self.format_line} is in {FORMAT_NAMES[self.format]} format; a file must use one format",
                number,
            )
            return result
        self.n_examples += 1
        result.example = parsed
        if parsed.warnings:
            result.warnings.extend(Finding(c, detail, number) for c, detail in parsed.warnings)
        return result

    def overlong(self, number: int) -> Finding:
        """The finding for a line longer than `max_line_bytes` (the server never holds it)."""
        self.n_lines = number
        self.n_errors += 1
        self._blank.clear()
        self._blank_count = 0
        return Finding(
            "line_too_long",
            f"the line is longer than {self.max_line_bytes} bytes; one example must be shorter",
            number,
        )

    def finish(self) -> list[Finding]:
        """File-level findings once every line was seen (trailing blank lines are fine)."""
        if self.n_examples:
            return []
        if self.n_lines == 0:
            return [
                Finding(
                    "no_examples", "the file is empty: a training file needs at least one example"
                )
            ]
        if self.n_errors == 0:
            return [Finding("no_examples", "the file has no examples (only blank lines)")]
        return [Finding("no_examples", "the file has no valid examples")]
