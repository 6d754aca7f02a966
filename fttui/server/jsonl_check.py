"""Line-by-line checks of a fine-tuning JSONL file as its bytes stream in.

Fed chunk by chunk, it never holds more than one line (bounded by `max_line_bytes`),
so a 150 MB upload is checked in constant memory. It reports the first problems with
their line numbers, which is what a user needs to fix the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MAX_REPORTED = 10


@dataclass
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class JsonlChecker:
    """Incremental validator for prompt/completion and chat (`messages`) JSONL."""

    max_line_bytes: int
    problems: list[Problem] = field(default_factory=list)
    n_problems: int = 0
    examples: int = 0
    format: str | None = None
    format_line: int = 0
    _line_no: int = 0
    _buf: bytearray = field(default_factory=bytearray)
    _overlong: bool = False
    _blank_lines: list[int] = field(default_factory=list)
    _total: int = 0

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._total += len(chunk)
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                self._append(chunk[start:])
                return
            self._append(chunk[start:nl])
            self._end_line()
            start = nl + 1

    def finish(self) -> None:
        """Call once after the last chunk: checks the unterminated last line and emptiness."""
        if self._buf or self._overlong:
            self._end_line()
        if self._total == 0:
            self._report(0, "the file is empty: a training file needs at least one example")
        elif self.examples == 0 and not self.problems:
            self._report(0, "the file has no examples (only blank lines)")

    @property
    def ok(self) -> bool:
        return self.n_problems == 0

    def summary(self, limit: int = MAX_REPORTED) -> str:
        shown = "; ".join(str(p) for p in self.problems[:limit])
        more = self.n_problems - min(limit, len(self.problems))
        return shown + (f"; and {more} more problem(s)" if more > 0 else "")

    # -- internals -------------------------------------------------------------
    def _append(self, data: bytes) -> None:
        if self._overlong or not data:
            return
        if len(self._buf) + len(data) > self.max_line_bytes:
            self._overlong = True
            self._buf.clear()
            return
        self._buf += data

    def _report(self, line: int, message: str) -> None:
        self.n_problems += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(Problem(line, message))

    def _end_line(self) -> None:
        self._line_no += 1
        line_no = self._line_no
        raw = bytes(self._buf)
        self._buf.clear()
        if self._overlong:
            self._overlong = False
            self._report(
                line_no,
                f"the line is longer than {self.max_line_bytes} bytes; one example must be shorter",
            )
            return
        if raw.endswith(b"\r"):
            raw = raw[:-1]  # CRLF line endings are fine
        if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
            self._report(
                line_no,
                "the file starts with a UTF-8 byte order mark (BOM); save it as UTF-8 without BOM",
            )
            return
        if not raw.strip():
            # Blank lines at the very end are harmless; one between examples is reported
            # when the next example shows up.
            self._blank_lines.append(line_no)
            return
        for blank in self._blank_lines:
            self._report(blank, "blank line; every line must be one JSON example")
        self._blank_lines.clear()
        nul = raw.find(b"\x00")
        if nul >= 0:
            self._report(line_no, f"contains a NUL byte at column {nul + 1}")
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._report(line_no, f"not valid UTF-8 (byte {exc.start + 1} of the line)")
            return
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            self._report(
                line_no, f"not valid JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}"
            )
            return
        problem = self._check_example(value, line_no)
        if problem:
            self._report(line_no, problem)
        else:
            self.examples += 1

    def _check_example(self, value: Any, line_no: int) -> str | None:
        if not isinstance(value, dict):
            return f"expected a JSON object, got {_kind(value)}"
        has_chat = "messages" in value
        has_pc = "prompt" in value or "completion" in value
        if has_chat and has_pc:
            return "has both 'messages' and 'prompt'/'completion'; use one format"
        if not has_chat and not has_pc:
            keys = ", ".join(sorted(value)[:5]) or "none"
            return f"needs 'prompt' and 'completion', or 'messages' (found keys: {keys})"
        fmt = "chat" if has_chat else "prompt_completion"
        problem = _check_chat(value) if has_chat else _check_prompt_completion(value)
        if problem:
            return problem
        if self.format is None:
            self.format, self.format_line = fmt, line_no
        elif fmt != self.format:
            return (
                f"this example is in {_FORMAT_NAMES[fmt]} format but line {self.format_line} is in "
                f"{_FORMAT_NAMES[self.format]} format; a file must use one format"
            )
        return None


_FORMAT_NAMES = {"chat": "chat ('messages')", "prompt_completion": "prompt/completion"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
    }.get(type(value), type(value).__name__)


def _check_prompt_completion(value: dict[str, Any]) -> str | None:
    for key in ("prompt", "completion"):
        if key not in value:
            return f"missing '{key}'"
        if not isinstance(value[key], str):
            return f"'{key}' must be a string, got {_kind(value[key])}"
    return None


def _check_content(content: Any, where: str, role: str) -> str | None:
    if content is None and role == "assistant":
        return None  # tool-call turns
    if isinstance(content, str):
        return None
    if isinstance(content, list):
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("text"), str):
                return f"{where}.content[{j}] must be an object with a string 'text'"
        return None
    return f"{where}.content must be a string, got {_kind(content)}"


def _check_chat(value: dict[str, Any]) -> str | None:
    messages = value["messages"]
    if not isinstance(messages, list):
        return f"'messages' must be an array, got {_kind(messages)}"
    if not messages:
        return "'messages' is empty"
    has_assistant = False
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            return f"{where} must be an object, got {_kind(msg)}"
        role = msg.get("role")
        if "role" not in msg:
            return f"{where} has no 'role'"
        if not isinstance(role, str) or role not in CHAT_ROLES:
            return f"{where}.role {role!r} is not one of {', '.join(sorted(CHAT_ROLES))}"
        if "content" not in msg and not (role == "assistant" and "tool_calls" in msg):
            return f"{where} has no 'content'"
        problem = _check_content(msg.get("content"), where, role)
        if problem:
            return problem
        if "weight" in msg and msg["weight"] not in (0, 1):
            return f"{where}.weight must be 0 or 1"
        has_assistant = has_assistant or role == "assistant"
    if not has_assistant:
        return (
            "no assistant message: a chat example needs at least one 'assistant' turn to learn from"
        )
    return None
