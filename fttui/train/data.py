"""Training data: a job's JSONL files -> token ids, checked with the model's tokenizer.

What a valid line is comes from the data contract (`fttui.data.contract`); how each
format is tokenised for a local model is `fttui.data.encode` (shared with the checker
behind `fttui prepare`, so its token counts are the trainer's). This module reads whole
files with both: the server's `validating_files` step runs exactly this code
(`check_job_files`, with the tokenizer only, before the job is queued) and the trainer
runs it again (`check_job_files(..., keep=True)` in run.py), so a file that cannot train fails in
validation, with line numbers, and never after a model load.

Examples longer than the model's context are refused with their line numbers;
nothing is ever truncated silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fttui.core.graders import GraderError, Reference, item_references, parse_grader
from fttui.data.contract import FileContract, example_key, method_problem, reference_problem
from fttui.data.encode import (
    IGNORE,
    Example,
    ExampleError,
    PreferenceExample,
    PromptExample,
    encode,
)

__all__ = [
    "IGNORE",
    "DataError",
    "Example",
    "FileSummary",
    "PreferenceExample",
    "PromptExample",
    "check_job_files",
    "load_examples",
    "read_file",
]

MAX_LISTED = 10  # invalid lines listed in an error message
MAX_LONG_LISTED = 20  # over-long lines listed


class DataError(ValueError):
    """Bad training data; the message names the file and line numbers."""

    def __init__(self, message: str, param: str = "training_file", code: str = "") -> None:
        super().__init__(message)
        self.param = param
        self.code = code or "invalid_training_file"


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
    references: list[Reference] | None = None,
) -> FileSummary:
    """Apply the contract and the model to every line of `path`; raise DataError listing
    each line that cannot train. With `train` (the training file's summary) this is the
    validation file: it must have the same format and share no example with it.
    `references`: a reinforcement job's grader's `{{item...}}` references, which every
    example must have (`missing_reference`)."""
    summary = FileSummary(param)
    contract = FileContract()
    problems: list[str] = []
    too_long: list[str] = []
    overlap: list[int] = []
    missing: list[str] = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            result = contract.line(number, raw)
            for finding in result.warnings:
                summary.note(finding.code, finding.line)
            if result.more_blank:
                count, lines = summary.warnings["blank_lines"]
                summary.warnings["blank_lines"] = (count + result.more_blank, lines)
            if result.error is not None:
                problems.append(str(result.error))
                continue
            parsed = result.example
            if parsed is None:
                continue
            if summary.format is None:
                summary.format = parsed.format
                _check_format(summary, method, train)
            if references and parsed.format == "reinforcement":
                lacks = reference_problem(parsed.obj, references)
                if lacks:
                    missing.append(f"line {number}: {lacks}")
                    continue
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
    if missing:
        messages.append(
            f"{param}: examples lack a field the grader reads: {_listed(missing, MAX_LISTED)}"
        )
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
        code = "missing_reference" if missing and not problems and not too_long else ""
        raise DataError(". ".join(messages), param, code)
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


def _numbered(example: Any, line: int) -> Any:
    if isinstance(example, PromptExample):
        return PromptExample(line, example.prompt_ids, example.item)
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
    grader: dict[str, Any] | None = None,
) -> tuple[FileSummary, FileSummary | None]:
    """Validate a job's files as training will read them; raise DataError naming the
    file and lines. `keep=False` (the server's validation) holds no token ids.
    `grader`: a reinforcement job's grader object (its item references are checked)."""
    refs: list[Reference] | None = None
    if grader is not None:
        try:
            refs = item_references(parse_grader(grader, "method.reinforcement.grader"))
        except GraderError as exc:  # checked at creation; a stored row could predate that
            raise DataError(str(exc), exc.path, "invalid_grader") from None
    train = read_file(training, tokenizer, max_tokens, method=method, keep=keep, references=refs)
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
            references=refs,
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
