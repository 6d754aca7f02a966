"""The streaming JSONL checker behind `fttui prepare` and the TUI's pre-upload report.

One pass per file with a plain line loop: each line goes through the data contract
(`fttui.data.contract`, the same rules the server's upload check and the trainer
apply, so their verdicts agree), then is reduced to a few numbers (token counts, a
hash for duplicates, one byte per text for separator/stop checks, see endings.py);
nothing keeps the texts, so memory stays bounded however large the file is. Token
counting is batched; for a local model it tokenises exactly as the trainer does.
On top of the contract it gives the advice of OpenAI's legacy fine-tuning guide and
of the legacy `prepare_data` tool (separators, stop sequences, classes, prefixes...).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fttui.core.models import ModelInfo, model_info
from fttui.data.contract import INVALID_LINE_CODES as CONTRACT_INVALID_LINES
from fttui.data.contract import (
    RULES,
    FileContract,
    Parsed,
    content_text,
    example_key,
    method_problem,
    quote,
)
from fttui.data.convert import header_notes, source_kind
from fttui.data.endings import (
    SEPARATOR_CANDIDATES,
    STOP_CANDIDATES,
    EndingTracker,
    repeat_length,
)
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
# The legacy `prepare_data` tool's thresholds: a prefix all prompts share longer than
# 12 characters (5 for completions), a common ending longer than 10, and texts whose
# letters are more than a third uppercase.
PROMPT_PREFIX_MIN = 13
COMPLETION_PREFIX_MIN = 5
LONG_ENDING = 10
BATCH = 512
DEFAULT_SEPARATORS = ("\n\n###\n\n", "\n\n===\n\n", "\n\n---\n\n", "\n\n@@@\n\n")
DEFAULT_STOPS = ("\n", " END", "###", " STOP")

# Lines that are not usable examples (what the drop-invalid fix removes): the contract's.
INVALID_LINE_CODES = CONTRACT_INVALID_LINES

# code -> (severity, what it means); the first occurrence's detail is appended. The
# contract's codes (what is valid at all) come from its RULES; these are the advice.
ISSUES: dict[str, tuple[Severity, str]] = {
    **{code: (rule.severity, rule.title) for code, rule in RULES.items()},
    "file_too_large": ("error", "file is larger than the per-file limit"),
    "not_jsonl": ("error", "the file is not JSONL"),
    "no_separator": ("warning", "prompts share no common separator at their end"),
    "separator_missing": ("warning", "prompts do not end with the separator"),
    "separator_inside": ("warning", "prompts contain the separator before their end"),
    "long_separator": ("info", "prompts all end with a long common text"),
    "no_leading_space": ("warning", "completions do not start with a whitespace"),
    "no_stop": ("warning", "completions share no common stop sequence at their end"),
    "stop_missing": ("warning", "completions do not end with the stop sequence"),
    "stop_inside": ("warning", "completions contain the stop sequence before their end"),
    "long_stop": ("info", "completions all end with a long common text"),
    "prompt_prefix": ("warning", "prompts all start with the same text"),
    "completion_prefix": ("warning", "completions all start with the same text"),
    "uppercase_prompts": ("warning", "prompts are mostly uppercase"),
    "uppercase_completions": ("warning", "completions are mostly uppercase"),
    "identical_prompts": ("warning", "prompts are all identical"),
    "identical_completions": ("warning", "completions are all identical"),
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
# Issues about the whole file (their message is the title and detail, without a count).
FILE_LEVEL = frozenset(
    {
        "file_too_large",
        "not_jsonl",
        "no_examples",
        "tokenizer",
        "task",
        "no_separator",
        "no_stop",
        "long_separator",
        "long_stop",
        "prompt_prefix",
        "completion_prefix",
        "uppercase_prompts",
        "uppercase_completions",
        "identical_prompts",
        "identical_completions",
        "format_mismatch",
        "method_mismatch",
        "class_imbalance",
    }
)


@dataclass
class _Acc:
    code: str
    lines: list[int] = field(default_factory=list)
    count: int = 0
    detail: str = ""
    per_line: bool = False  # detail describes the first line (else the whole file)


@dataclass(slots=True)
class Example:
    """One valid example (any format) with its line number; a prompt/completion
    example's two texts are kept as attributes (read several times per example)."""

    line: int
    format: str
    obj: dict[str, Any]
    prompt: str = ""
    completion: str = ""

    @classmethod
    def of(cls, line: int, fmt: str, obj: dict[str, Any]) -> Example:
        if fmt == "prompt_completion":
            return cls(line, fmt, obj, obj["prompt"], obj["completion"])
        return cls(line, fmt, obj)

    @property
    def messages(self) -> Messages | None:
        if self.format in ("chat", "reinforcement"):
            return list(self.obj["messages"])
        return None

    @property
    def label(self) -> str:
        """What a classifier would predict: the completion, or the last assistant reply."""
        if self.format == "prompt_completion":
            return self.completion
        if self.format == "chat":
            for message in reversed(self.obj["messages"]):
                if message.get("role") == "assistant":
                    return content_text(message.get("content"))
        return ""

    def key(self) -> int:
        """A 64-bit hash identifying the example (duplicates, train/validation overlap)."""
        if self.format == "prompt_completion":  # the hot path, as contract.example_key
            return hash((self.prompt, self.completion))
        return example_key(Parsed(self.format, self.obj))  # type: ignore[arg-type]


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) for each line, streamed."""
    with path.open("rb") as handle:
        yield from enumerate(handle, 1)


# ASCII letters -> U (upper) or l (lower), everything else -> "."
_CASE = bytes(85 if 65 <= b <= 90 else 108 if 97 <= b <= 122 else 46 for b in range(256))


def case_counts(text: str) -> tuple[int, int]:
    """(uppercase, lowercase) letters in `text`; ASCII texts are counted in C."""
    if text.isascii():
        marks = text.encode("ascii").translate(_CASE)
        return marks.count(b"U"), marks.count(b"l")
    return sum(1 for c in text if c.isupper()), sum(1 for c in text if c.islower())


class _Column:
    """Legacy-tool statistics of one text column (prompts or completions), streamed:
    the common prefix, whether all texts are equal, and the letter case."""

    def __init__(self) -> None:
        self.prefix: str | None = None
        self.first: str | None = None
        self.identical = True
        self.upper = 0
        self.lower = 0

    def add(self, texts: list[str]) -> None:
        """Fold in a batch of texts (in C: commonprefix's min/max, list.count)."""
        if not texts:
            return
        if self.prefix is None:
            self.prefix = self.first = texts[0]
        self.prefix = os.path.commonprefix([self.prefix, *texts])
        if self.identical and texts.count(self.first) != len(texts):  # type: ignore[arg-type]
            self.identical = False

    def count_case(self, texts: str) -> None:
        """Add the letters of a batch of texts (joined: one pass in C for a whole batch)."""
        upper, lower = case_counts(texts)
        self.upper += upper
        self.lower += lower

    @property
    def mostly_upper(self) -> bool:
        return self.upper * 2 > self.lower  # the legacy tool's rule: over a third uppercase


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
        self.prompt_column = _Column()
        self.completion_column = _Column()
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
            if acc.code in FILE_LEVEL:
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
        kind = source_kind(self.path)
        if kind in ("CSV", "TSV", "text", "Excel"):
            self._not_jsonl(kind)  # its lines are no JSON: one clear error, not one per line
            self.finish()
            return self
        contract = FileContract()
        for line, raw in iter_lines(self.path):
            result = contract.line(line, raw)
            for warning in result.warnings:
                self.flag(warning.code, warning.line, warning.detail)
            if result.more_blank:
                self.accs["blank_lines"].count += result.more_blank
            if result.error is not None:
                self.flag(result.error.code, line, result.error.detail)
                if "case-sensitive" in result.error.detail:
                    self.stats.n_key_case += 1
            elif result.example is not None:
                obj = result.example.obj
                if result.example.format == "prompt_completion":  # inlined Example.of
                    ex = Example(line, "prompt_completion", obj, obj["prompt"], obj["completion"])
                else:
                    ex = Example(line, result.example.format, obj)
                self.add(ex)
        self.flush()
        self.stats.n_lines = contract.n_lines
        for finding in contract.finish():
            self.flag_many(finding.code, [], 1, finding.detail)
        if kind == "JSON" and self.stats.n_examples == 0:
            self._not_jsonl(kind)
        self.finish()
        return self

    def _not_jsonl(self, kind: str) -> None:
        how = (
            "save the sheet as CSV, then convert it with --fix to-jsonl"
            if kind == "Excel"
            else "convert it with --fix to-jsonl"
        )
        notes = header_notes(self.path)
        self.flag_many(
            "not_jsonl",
            [],
            1,
            f"it is {kind} (by its name); fine-tuning files are JSONL, one JSON object per "
            f"line: {how}" + (f" ({'; '.join(notes)})" if notes else ""),
        )

    def add(self, ex: Example) -> None:
        fmt = ex.format
        if self.stats.format is None:
            self.stats.format = fmt
            if self.train_format is not None and fmt != self.train_format:
                self.flag_many(
                    "format_mismatch", [ex.line], 1, f"{fmt} here, {self.train_format} in training"
                )
        self.stats.n_examples += 1
        key = ex.key()
        if key in self.keys:
            self.flag("duplicates", ex.line)
            self.stats.n_duplicates += 1
        else:
            self.keys.add(key)
        if self.train_keys is not None and key in self.train_keys:
            self.flag("train_valid_overlap", ex.line)
        if fmt == "prompt_completion":
            self._add_prompt_completion(ex)
        if self.labels is not None:
            label = ex.label
            entry = self.labels.get(label)
            if entry is not None:
                entry[0] += 1
            elif len(self.labels) < MAX_CLASSES and fmt != "preference":
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
        if batch[0].format == "prompt_completion" and self.role == "training":
            # One string per batch (NUL never occurs in an ending, so no false match
            # spans two texts): a few scans in C instead of several calls per text.
            prompt_list = [ex.prompt for ex in batch]
            completion_list = [ex.completion for ex in batch]
            self.prompt_column.add(prompt_list)
            self.completion_column.add(completion_list)
            prompts = "\x00".join(prompt_list)
            completions = "\x00".join(completion_list)
            self.prompts.note_presence(prompts, DEFAULT_SEPARATORS)
            self.completions.note_presence(completions, DEFAULT_STOPS)
            # Every letter is counted (as the legacy tool does): a file near its
            # one-third threshold gets the same verdict from both.
            self.prompt_column.count_case(prompts)
            self.completion_column.count_case(completions)
        measures = self.counter.measure(batch[0].format, [ex.obj for ex in batch])
        stats, limit = self.stats, self.limit
        for ex, m in zip(batch, measures, strict=True):
            if m.error is not None:
                # The model cannot take it at all (its chat template fails): not an example.
                self.flag(m.error[0], ex.line, m.error[1])
                stats.n_examples -= 1
                continue
            total = m.total
            stats.total_tokens += total
            stats.prompt_tokens += m.prompt
            stats.preferred_tokens += m.preferred
            stats.non_preferred_tokens += m.non_preferred
            if total > stats.max_tokens:
                stats.max_tokens = total
            if self.min_tokens is None or total < self.min_tokens:
                self.min_tokens = total
            if m.longest > limit:
                stats.n_too_long += 1
                what = "input + longer output" if ex.format == "preference" else "tokens"
                self.flag("too_long", ex.line, f"{m.longest} {what} > {limit}")

    # -- after the pass ---------------------------------------------------------
    def finish(self) -> None:
        stats = self.stats
        stats.min_tokens = self.min_tokens or 0
        if stats.n_examples == 0:
            if "no_examples" not in self.accs and "not_jsonl" not in self.accs:
                self.flag_many("no_examples", [], 1, "the file has no valid examples")
            return
        empty = self.accs.get("empty_prompt")
        open_ended = empty is not None and empty.count == stats.n_examples
        if open_ended:
            del self.accs["empty_prompt"]  # every prompt empty: open-ended generation
        if stats.format == "prompt_completion" and self.role == "training":
            if not open_ended:
                self._finish_endings()
            self._finish_columns(open_ended)
        elif stats.format == "prompt_completion":
            stats.separator, stats.stop_sequence = self.expect_separator, self.expect_stop
        if self.role == "training":
            self._finish_task(open_ended)

    def _finish_columns(self, open_ended: bool) -> None:
        """The legacy `prepare_data` tool's column checks (its thresholds)."""
        n = self.stats.n_examples
        prompts, completions = self.prompt_column, self.completion_column
        if n > 1 and prompts.identical and not open_ended:
            self.flag_many(
                "identical_prompts",
                [],
                1,
                f"{quote(prompts.first, 80)}; leave prompts empty for open-ended generation, otherwise "
                "make them differ",
            )
        if n > 1 and completions.identical:
            self.flag_many(
                "identical_completions",
                [],
                1,
                f"{quote(completions.first, 80)}; the model would only learn to repeat it",
            )
        if not prompts.identical and prompts.prefix and len(prompts.prefix) >= PROMPT_PREFIX_MIN:
            self.stats.prompt_prefix = prompts.prefix
            self.flag_many(
                "prompt_prefix",
                [],
                1,
                f"{quote(prompts.prefix, 80)}; fine-tuning needs no instruction repeated in every "
                "prompt (fix: prefix)",
            )
        if (
            not completions.identical
            and completions.prefix
            and len(completions.prefix) >= COMPLETION_PREFIX_MIN
        ):
            self.stats.completion_prefix = completions.prefix
            self.flag_many(
                "completion_prefix",
                [],
                1,
                f"{quote(completions.prefix, 80)}; put only the output in completions (fix: prefix)",
            )
        for code, column, what in (
            ("uppercase_prompts", prompts, "prompts"),
            ("uppercase_completions", completions, "completions"),
        ):
            if column.upper and column.mostly_upper:
                share = column.upper / (column.upper + column.lower)
                self.flag_many(
                    code,
                    [],
                    1,
                    f"{share:.0%} of the letters in {what} are uppercase; uppercase text tends to "
                    "train worse than mixed case (fix: lowercase)",
                )
        for code, tracker, chosen in (
            ("long_separator", self.prompts, self.stats.separator),
            ("long_stop", self.completions, self.stats.stop_sequence),
        ):
            common = tracker.common or ""
            if len(common) > LONG_ENDING and not (
                prompts.identical if tracker is self.prompts else completions.identical
            ):
                short = chosen if chosen and len(chosen) <= LONG_ENDING else None
                self.flag_many(
                    code,
                    [],
                    1,
                    f"{common[-40:]!r} ({len(common)} characters)"
                    + (f"; {short!r} alone is enough" if short else "; a shorter one is enough"),
                )

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

    def _finish_task(self, open_ended: bool = False) -> None:
        stats = self.stats
        n = stats.n_examples
        classes = self.class_labels()
        if stats.format == "preference":
            stats.task = "preference"
        elif stats.format == "reinforcement":
            # Prompts without answers (the model writes them, a grader scores them):
            # no labels to count as classes, no legacy-guide generation advice.
            stats.task = "reinforcement"
        elif open_ended:
            stats.task = "open_ended_generation"
            if n < MIN_GENERATION:
                self.flag_many(
                    "few_examples",
                    [],
                    1,
                    f"{n} examples; OpenAI's legacy fine-tuning guide advises at least ~500",
                )
        elif classes is not None and len(classes) * CLASSIFICATION_RATIO < n:
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
    method: str | None = None,
) -> Report:
    """Check a training file (and optionally its validation file) for `model`.

    Streams each file once; raises OSError only when a file cannot be read at all.
    `data_dir` locates the local server's models.json (for local model names);
    `max_file_bytes` is the per-file limit (OpenAI's 150 MB unless a server says less);
    `method` ("supervised" or "dpo"), when given, must fit the file's format.
    """
    info: ModelInfo = model_info(model, data_dir)
    counter, notes = counter_for(info, data_dir)
    limit = min(info.limit, counter.limit or info.limit)
    train = FileScan(Path(path), "training", counter, limit, max_file_bytes=max_file_bytes).run()
    for note in notes:
        train.flag_many("tokenizer", [], 1, note)
    problem = method_problem(train.stats.format, method) if method else None
    if problem:
        train.flag_many("method_mismatch", [], 1, problem)
    valid = None
    if validation is not None:
        valid = FileScan(
            Path(validation),
            "validation",
            counter,
            limit,
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
        token_limit=limit,
        n_epochs=n_epochs,
        issues=issues,
    )
