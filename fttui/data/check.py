"""The streaming JSONL checker behind `fttui prepare`, the server's upload check and the
TUI's pre-upload report.

One pass per file with a plain line loop: each line is parsed, validated and
reduced to a few numbers (token counts, a hash for duplicates, one byte per text
for separator/stop checks, see endings.py); nothing keeps the texts, so memory
stays bounded however large the file is. Token counting is batched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fttui.data.endings import (
    SEPARATOR_CANDIDATES,
    STOP_CANDIDATES,
    EndingTracker,
    repeat_length,
)
from fttui.data.models import ModelInfo, resolve
from fttui.data.report import MAX_LINES, FileStats, Issue, Report, Severity
from fttui.data.tokens import Messages, TokenCounter, counter_for

MAX_FILE_BYTES = 150_000_000  # OpenAI's per-file limit, 150 MB (as the local server)
MAX_CLASSES = 1000  # more distinct completions than this is never "classification"
CLASSIFICATION_RATIO = 3  # legacy tool: classification when classes < examples / 3
MIN_PER_CLASS = 100  # OpenAI's legacy fine-tuning guide: about 100 examples per class at least
MIN_GENERATION = (
    500  # OpenAI's legacy fine-tuning guide: at least ~500 examples for conditional generation
)
IMBALANCE_RATIO = 5  # warn when the largest class is over 5x the smallest
BATCH = 512
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
DEFAULT_SEPARATORS = ("\n\n###\n\n", "\n\n===\n\n", "\n\n---\n\n", "\n\n@@@\n\n")
DEFAULT_STOPS = ("\n", " END", "###", " STOP")

# Codes of lines that are not usable examples (what the drop-invalid fix removes).
INVALID_LINE_CODES = frozenset(
    {
        "invalid_utf8",
        "invalid_json",
        "not_an_object",
        "missing_keys",
        "wrong_type",
        "empty_prompt",
        "empty_completion",
        "mixed_format",
        "invalid_messages",
        "unknown_role",
        "empty_content",
        "missing_assistant",
    }
)

# code -> (severity, what it means); the first occurrence's detail is appended.
ISSUES: dict[str, tuple[Severity, str]] = {
    "file_too_large": ("error", "file is larger than the per-file limit"),
    "no_examples": ("error", "file has no valid examples"),
    "invalid_utf8": ("error", "lines are not valid UTF-8"),
    "invalid_json": ("error", "lines are not valid JSON"),
    "not_an_object": ("error", "lines are not JSON objects"),
    "missing_keys": ("error", "lines lack required keys"),
    "wrong_type": ("error", "lines have a field of the wrong type"),
    "empty_prompt": ("error", "prompts are empty"),
    "empty_completion": ("error", "completions are empty"),
    "mixed_format": ("error", "lines use a different format from the first example"),
    "invalid_messages": ("error", "'messages' is not a non-empty list of message objects"),
    "unknown_role": ("error", "messages have an unknown role"),
    "empty_content": ("error", "messages have empty content"),
    "missing_assistant": ("error", "conversations have no assistant message to learn from"),
    "too_long": ("error", "examples exceed the model's token limit"),
    "format_mismatch": ("error", "validation file's format differs from the training file's"),
    "train_valid_overlap": ("error", "validation examples also appear in the training file"),
    "blank_lines": ("warning", "blank lines (skipped)"),
    "extra_keys": ("warning", "lines have keys other than prompt/completion (ignored)"),
    "no_separator": ("warning", "prompts share no common separator at their end"),
    "separator_missing": ("warning", "prompts do not end with the separator"),
    "separator_inside": ("warning", "prompts contain the separator before their end"),
    "no_leading_space": ("warning", "completions do not start with a whitespace"),
    "no_stop": ("warning", "completions share no common stop sequence at their end"),
    "stop_missing": ("warning", "completions do not end with the stop sequence"),
    "stop_inside": ("warning", "completions contain the stop sequence before their end"),
    "duplicates": ("warning", "examples repeat an earlier example"),
    "multi_token_classes": ("warning", "classes are more than one token"),
    "few_examples_per_class": ("warning", "classes have fewer than ~100 examples"),
    "few_examples": (
        "warning",
        "fewer examples than OpenAI's legacy fine-tuning guide advises for generation",
    ),
    "class_imbalance": ("warning", "classes are imbalanced"),
    "tokenizer": ("warning", "tokenizer fallback"),
    "task": ("info", "task"),
}


@dataclass
class _Acc:
    code: str
    lines: list[int] = field(default_factory=list)
    count: int = 0
    detail: str = ""
    per_line: bool = False  # detail describes the first line (else the whole file)


@dataclass
class Example:
    """One valid example: prompt/completion or a chat conversation."""

    line: int
    prompt: str = ""
    completion: str = ""
    messages: Messages | None = None
    obj: dict[str, Any] = field(default_factory=dict)  # the whole line, other keys included

    @property
    def label(self) -> str:
        """What a classifier would predict: the completion, or the last assistant reply."""
        if self.messages is None:
            return self.completion
        for message in reversed(self.messages):
            if message.get("role") == "assistant":
                return _content_text(message.get("content"))
        return ""

    def key(self) -> int:
        """A 64-bit hash identifying the example (duplicates, train/validation overlap)."""
        if self.messages is None:
            return hash((self.prompt, self.completion))
        return hash(json.dumps(self.messages, sort_keys=True, ensure_ascii=False))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) for each line, streamed."""
    with path.open("rb") as handle:
        yield from enumerate(handle, 1)


class ParseError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def parse_line(raw: bytes, line: int) -> tuple[Example, list[str]]:
    """Validate one line; returns the example and warning codes, or raises ParseError."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ParseError("invalid_utf8", f"byte {exc.start + 1} is not valid UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise ParseError(
            "invalid_json", f"{exc.msg.removesuffix(' at')} at column {exc.colno}"
        ) from exc
    if not isinstance(obj, dict):
        raise ParseError("not_an_object", f"found {type(obj).__name__}, expected an object")
    if "messages" in obj:
        example = _parse_chat(obj, line)
        example.obj = obj
        return example, []
    missing = [k for k in ("prompt", "completion") if k not in obj]
    if missing:
        found = ", ".join(map(repr, obj)) or "none"
        raise ParseError(
            "missing_keys",
            f"missing {' and '.join(map(repr, missing))} (expected prompt and completion, "
            f"or messages; found {found})",
        )
    prompt, completion = obj["prompt"], obj["completion"]
    for key, value in (("prompt", prompt), ("completion", completion)):
        if not isinstance(value, str):
            raise ParseError("wrong_type", f"{key!r} must be a string, got {type(value).__name__}")
    if not prompt.strip():
        raise ParseError("empty_prompt", "'prompt' is empty")
    if not completion.strip():
        raise ParseError("empty_completion", "'completion' is empty")
    warnings = ["extra_keys"] if len(obj) > 2 else []
    return Example(line, prompt=prompt, completion=completion, obj=obj), warnings


def _parse_chat(obj: dict[str, Any], line: int) -> Example:
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        raise ParseError("invalid_messages", "'messages' must be a non-empty list")
    has_assistant = False
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise ParseError("invalid_messages", f"{where} is not an object")
        role = message.get("role")
        if not isinstance(role, str):
            raise ParseError("wrong_type", f"{where}.role must be a string")
        if role not in ROLES:
            raise ParseError(
                "unknown_role", f"{where}.role is {role!r}; expected one of {sorted(ROLES)}"
            )
        content = message.get("content")
        calls = message.get("tool_calls") or message.get("function_call")
        if content is None and not (role == "assistant" and calls):
            raise ParseError("wrong_type", f"{where}.content is missing")
        if content is not None and not isinstance(content, str | list):
            raise ParseError(
                "wrong_type", f"{where}.content must be a string, got {type(content).__name__}"
            )
        empty = content is not None and not _content_text(content).strip()
        if empty and role != "system" and not calls:
            raise ParseError("empty_content", f"{where} ({role}) has empty content")
        weight = message.get("weight")
        if weight is not None and weight not in (0, 1):
            raise ParseError("wrong_type", f"{where}.weight must be 0 or 1")
        if role == "assistant":
            has_assistant = True
    if not has_assistant:
        raise ParseError("missing_assistant", "no message with role 'assistant'")
    return Example(line, messages=messages)


class FileScan:
    """One streaming pass over a file: issues plus statistics."""

    def __init__(
        self,
        path: Path,
        role: str,
        counter: TokenCounter,
        limit: int,
        *,
        train_keys: set[int] | None = None,
        train_format: str | None = None,
        expect_separator: str | None = None,
        expect_stop: str | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        self.path = path
        self.max_file_bytes = max_file_bytes
        self.role = role
        self.counter = counter
        self.limit = limit
        self.train_keys = train_keys
        self.train_format = train_format
        self.expect_separator = expect_separator
        self.expect_stop = expect_stop
        self.stats = FileStats(path=str(path), role=role)
        self.accs: dict[str, _Acc] = {}
        self.keys: set[int] = set()
        self.prompts = EndingTracker(SEPARATOR_CANDIDATES)
        self.completions = EndingTracker(STOP_CANDIDATES)
        self.labels: dict[str, list[int]] | None = {}  # label -> [count, first line]
        self.pending: list[Example] = []
        self.min_tokens: int | None = None

    # -- issues ---------------------------------------------------------------
    def flag(self, code: str, line: int, detail: str = "") -> None:
        acc = self.accs.get(code)
        if acc is None:
            acc = self.accs[code] = _Acc(code, detail=detail, per_line=True)
        acc.count += 1
        if len(acc.lines) < MAX_LINES:
            acc.lines.append(line)

    def flag_many(self, code: str, lines: list[int], count: int, detail: str = "") -> None:
        if count:
            self.accs[code] = _Acc(code, list(lines[:MAX_LINES]), count, detail)

    def issues(self) -> list[Issue]:
        out = []
        for acc in self.accs.values():
            severity, title = ISSUES[acc.code]
            what = f"{acc.count} {title}" if acc.lines else title
            if acc.code in ("file_too_large", "no_examples", "tokenizer", "task"):
                what = title
            if acc.detail and acc.per_line:
                message = f"{what}; line {acc.lines[0]}: {acc.detail}"
            else:
                message = f"{what}: {acc.detail}" if acc.detail else what
            out.append(Issue(acc.code, message, acc.lines, acc.count, severity, self.role))
        return out

    # -- the pass -------------------------------------------------------------
    def run(self) -> FileScan:
        size = self.path.stat().st_size
        self.stats.bytes = size
        if size > self.max_file_bytes:
            self.flag_many(
                "file_too_large", [], 1, f"{size:,} bytes > {self.max_file_bytes:,} bytes"
            )
        n_lines = 0
        for line, raw in iter_lines(self.path):
            n_lines = line
            if raw.isspace() or not raw:
                self.flag("blank_lines", line)
                continue
            try:
                example, warnings = parse_line(raw, line)
            except ParseError as exc:
                self.flag(exc.code, line, exc.detail)
                continue
            for code in warnings:
                self.flag(code, line)
            self.add(example)
        self.flush()
        self.stats.n_lines = n_lines
        self.finish()
        return self

    def add(self, ex: Example) -> None:
        fmt = "chat" if ex.messages is not None else "prompt_completion"
        if self.stats.format is None:
            self.stats.format = fmt
            if self.train_format is not None and fmt != self.train_format:
                self.flag_many(
                    "format_mismatch", [ex.line], 1, f"{fmt} here, {self.train_format} in training"
                )
        elif fmt != self.stats.format:
            self.flag("mixed_format", ex.line, f"{fmt} here, {self.stats.format} first")
            return
        self.stats.n_examples += 1
        key = ex.key()
        if key in self.keys:
            self.flag("duplicates", ex.line)
            self.stats.n_duplicates += 1
        else:
            self.keys.add(key)
        if self.train_keys is not None and key in self.train_keys:
            self.flag("train_valid_overlap", ex.line)
        if ex.messages is None:
            self._add_prompt_completion(ex)
        if self.labels is not None:
            label = ex.label
            entry = self.labels.get(label)
            if entry is not None:
                entry[0] += 1
            elif len(self.labels) < MAX_CLASSES:
                self.labels[label] = [1, ex.line]
            else:
                self.labels = None
        self.pending.append(ex)
        if len(self.pending) >= BATCH:
            self.flush()

    def _add_prompt_completion(self, ex: Example) -> None:
        prompt, completion = ex.prompt, ex.completion
        if not completion[0].isspace():
            self.flag("no_leading_space", ex.line)
        if self.role == "training":
            self.prompts.add(ex.line, prompt)
            self.completions.add(ex.line, completion)
            self.prompts.note_presence(prompt, DEFAULT_SEPARATORS)
            self.completions.note_presence(completion, DEFAULT_STOPS)
            return
        sep, stop = self.expect_separator, self.expect_stop
        if sep:
            if not prompt.endswith(sep):
                self.flag("separator_missing", ex.line, f"expected {sep!r} as in training")
            elif repeat_length(prompt) >= len(sep):
                self.flag("separator_inside", ex.line, f"{sep!r}")
        if stop:
            if not completion.endswith(stop):
                self.flag("stop_missing", ex.line, f"expected {stop!r} as in training")
            elif repeat_length(completion) >= len(stop):
                self.flag("stop_inside", ex.line, f"{stop!r}")

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        if batch[0].messages is not None:
            totals = self.counter.count_chat([ex.messages or [] for ex in batch])
        else:
            counts = self.counter.count(
                [ex.prompt for ex in batch] + [ex.completion for ex in batch]
            )
            n = len(batch)
            totals = [counts[i] + counts[n + i] for i in range(n)]
        stats, limit = self.stats, self.limit
        for ex, total in zip(batch, totals, strict=True):
            stats.total_tokens += total
            if total > stats.max_tokens:
                stats.max_tokens = total
            if self.min_tokens is None or total < self.min_tokens:
                self.min_tokens = total
            if total > limit:
                stats.n_too_long += 1
                self.flag("too_long", ex.line, f"{total} tokens > {limit}")

    # -- after the pass ---------------------------------------------------------
    def finish(self) -> None:
        stats = self.stats
        stats.min_tokens = self.min_tokens or 0
        if stats.n_examples == 0:
            self.flag_many("no_examples", [], 1)
            return
        if stats.format == "prompt_completion" and self.role == "training":
            self._finish_endings()
        elif stats.format == "prompt_completion":
            stats.separator, stats.stop_sequence = self.expect_separator, self.expect_stop
        if self.role == "training":
            self._finish_task()

    def _finish_endings(self) -> None:
        sep = self.prompts.result()
        self.stats.separator = sep.ending
        self.stats.suggested_separator = sep.ending or next(
            (s for s in DEFAULT_SEPARATORS if s not in self.prompts.present), None
        )
        if sep.ending is None:
            self.flag_many(
                "no_separator",
                [],
                1,
                "end every prompt with a fixed separator such as '\\n\\n###\\n\\n' "
                "(fix: separator)",
            )
        else:
            self.flag_many(
                "separator_missing", sep.missing_lines, sep.missing_count, repr(sep.ending)
            )
            self.flag_many("separator_inside", sep.inside_lines, sep.inside_count, repr(sep.ending))
        stop = self.completions.result()
        self.stats.stop_sequence = stop.ending
        self.stats.suggested_stop = stop.ending or next(
            (s for s in DEFAULT_STOPS if s not in self.completions.present), None
        )
        if stop.ending is None:
            self.flag_many(
                "no_stop",
                [],
                1,
                "end every completion with a fixed stop sequence such as '\\n' or ' END' "
                "(fix: stop)",
            )
        else:
            self.flag_many(
                "stop_missing", stop.missing_lines, stop.missing_count, repr(stop.ending)
            )
            self.flag_many("stop_inside", stop.inside_lines, stop.inside_count, repr(stop.ending))

    def class_labels(self) -> dict[str, list[int]] | None:
        """Classes with [count, first line], the stop sequence removed from each label."""
        if self.labels is None:
            return None
        stop = self.stats.stop_sequence or ""
        merged: dict[str, list[int]] = {}
        for label, (count, first) in self.labels.items():
            name = label[: -len(stop)] if stop and label.endswith(stop) else label
            entry = merged.setdefault(name, [0, first])
            entry[0] += count
            entry[1] = min(entry[1], first)
        return merged

    def _finish_task(self) -> None:
        stats = self.stats
        n = stats.n_examples
        classes = self.class_labels()
        if classes is not None and len(classes) * CLASSIFICATION_RATIO < n:
            stats.task = "classification"
            stats.classes = {k: v[0] for k, v in sorted(classes.items(), key=lambda kv: -kv[1][0])}
            self._classification_advice(classes)
        else:
            stats.task = "chat" if stats.format == "chat" else "conditional_generation"
            if n < MIN_GENERATION:
                self.flag_many(
                    "few_examples",
                    [],
                    1,
                    f"{n} examples; OpenAI's legacy fine-tuning guide advises at least ~500",
                )
        self.flag_many("task", [], 1, _task_detail(stats))

    def _classification_advice(self, classes: dict[str, list[int]]) -> None:
        names = list(classes)
        counts = self.counter.count(names)
        multi = [(classes[k][1], k, c) for k, c in zip(names, counts, strict=True) if c > 1]
        if multi:
            multi.sort()
            self.flag_many(
                "multi_token_classes",
                [m[0] for m in multi],
                len(multi),
                ", ".join(f"{k!r} = {c} tokens" for _, k, c in multi[:10])
                + " (choose labels that are one token each, e.g. with a leading space)",
            )
        few = sorted((v[1], k, v[0]) for k, v in classes.items() if v[0] < MIN_PER_CLASS)
        if few:
            self.flag_many(
                "few_examples_per_class",
                [f[0] for f in few],
                len(few),
                ", ".join(f"{k!r}: {c}" for _, k, c in few[:10])
                + f" (OpenAI's legacy fine-tuning guide advises about {MIN_PER_CLASS} per class)",
            )
        sizes = [v[0] for v in classes.values()]
        if len(sizes) > 1 and max(sizes) > IMBALANCE_RATIO * min(sizes):
            big = max(classes, key=lambda k: classes[k][0])
            small = min(classes, key=lambda k: classes[k][0])
            self.flag_many(
                "class_imbalance",
                [],
                1,
                f"{big!r} has {classes[big][0]} examples, {small!r} only {classes[small][0]}",
            )


def _task_detail(stats: FileStats) -> str:
    if stats.task == "classification":
        return f"classification with {len(stats.classes)} classes"
    return str(stats.task).replace("_", " ")


def check_file(
    path: str | os.PathLike[str],
    *,
    validation: str | os.PathLike[str] | None = None,
    model: str = "davinci-002",
    n_epochs: int = 4,
    data_dir: str | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> Report:
    """Check a training file (and optionally its validation file) for `model`.

    Streams each file once; raises OSError only when a file cannot be read at all.
    `data_dir` locates the local server's models.json (for local model names);
    `max_file_bytes` is the per-file limit (OpenAI's 150 MB unless a server says less).
    """
    info: ModelInfo = resolve(model, data_dir)
    counter, notes = counter_for(info, data_dir)
    train = FileScan(
        Path(path), "training", counter, info.limit, max_file_bytes=max_file_bytes
    ).run()
    for note in notes:
        train.flag_many("tokenizer", [], 1, note)
    valid = None
    if validation is not None:
        valid = FileScan(
            Path(validation),
            "validation",
            counter,
            info.limit,
            train_keys=train.keys,
            train_format=train.stats.format,
            expect_separator=train.stats.separator,
            expect_stop=train.stats.stop_sequence,
            max_file_bytes=max_file_bytes,
        ).run()
    order = {"error": 0, "warning": 1, "info": 2}
    issues = sorted(
        train.issues() + (valid.issues() if valid else []),
        key=lambda i: (order[i.severity], i.file != "training", i.lines[:1] or [0], i.code),
    )
    return Report(
        training=train.stats,
        validation=valid.stats if valid else None,
        model=model,
        tokenizer=counter.name,
        token_limit=info.limit,
        n_epochs=n_epochs,
        issues=issues,
    )
