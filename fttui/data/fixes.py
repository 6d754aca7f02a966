"""Opt-in fixes for a checked file, written to new files (the input is never modified).

`plan_fixes` turns the requested fix names and a `Report` into a list saying what
each fix will change (shown before anything is written); `apply_fixes` streams the
input once more, applies the plan line by line and, for a split, streams the
result into train/validation files. The split is stratified by class for
classification, exact per class, reproducible from its seed, and keeps identical
examples on one side so the two files never overlap.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fttui.data.check import (
    DEFAULT_SEPARATORS,
    DEFAULT_STOPS,
    INVALID_LINE_CODES,
    Example,
    iter_lines,
)
from fttui.data.contract import (
    FileContract,
    Invalid,
    Parsed,
    decode_line,
    detect_format,
    example_key,
    is_reinforcement,
    parse_example,
)
from fttui.data.endings import SEPARATOR_CANDIDATES, STOP_CANDIDATES
from fttui.data.report import Report
from fttui.data.tokens import TokenCounter

FIXES: dict[str, str] = {
    "to-jsonl": "convert a CSV, TSV, JSON-array or text file to JSONL (as the legacy tool did)",
    "keys": "lower-case misnamed keys ('Prompt' -> 'prompt') and drop keys the format ignores",
    "prefix": "remove the text all prompts (or all completions) start with",
    "separator": "add the separator to the end of prompts that lack it",
    "leading-space": "add a leading space to completions that do not start with whitespace",
    "stop": "add the stop sequence to the end of completions that lack it",
    "dedupe": "drop examples that repeat an earlier one",
    "drop-long": "drop examples longer than the model's token limit",
    "drop-invalid": "drop lines that are not valid examples (and blank lines)",
    "split": "split into training and validation files",
    "to-chat": "convert prompt/completion to chat messages (user/assistant)",
    "lowercase": "lower-case mostly uppercase prompts and/or completions",
}
# `all`: the safe, mechanical fixes. keys, prefix, lowercase, split and to-chat change
# what the data says or how it is laid out, so each must be asked for by name.
ALL = ("separator", "leading-space", "stop", "dedupe", "drop-long", "drop-invalid")
ORDER = tuple(FIXES)
DEFAULT_SPLIT = 0.2


class FixError(ValueError):
    """A fix request that cannot be honoured (unknown name, bad split, unsafe output)."""


@dataclass(frozen=True)
class PlannedFix:
    name: str
    description: str
    affected: int  # examples (or lines) the fix changes, drops or moves

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_fix_names(names: Iterable[str], split: float | None) -> list[str]:
    """Requested fixes in application order; `all` expands, `--split` implies `split`."""
    wanted: set[str] = set()
    for raw in names:
        for name in raw.split(","):
            name = name.strip().lower().replace("_", "-")
            if not name:
                continue
            if name == "all":
                wanted.update(ALL)
            elif name in FIXES:
                wanted.add(name)
            else:
                raise FixError(f"unknown fix {name!r}; choose from {', '.join([*FIXES, 'all'])}")
    if split is not None:
        if not 0 < split < 1:
            raise FixError(f"--split must be between 0 and 1 (exclusive), got {split}")
        wanted.add("split")
    return [name for name in ORDER if name in wanted]


def _count(report: Report, code: str) -> int:
    issue = report.issue(code)
    return issue.count if issue else 0


def plan_fixes(report: Report, names: list[str], split: float | None = None) -> list[PlannedFix]:
    """What each requested fix will do to this file, before it is applied."""
    stats = report.training
    n = stats.n_examples
    pc = stats.format == "prompt_completion"
    plan: list[PlannedFix] = []
    for name in names:
        desc, affected = FIXES[name], 0
        if name == "separator":
            sep = stats.suggested_separator
            affected = n if report.issue("no_separator") else _count(report, "separator_missing")
            desc = f"add separator {sep!r} to prompts that lack it"
            if not pc or sep is None:
                desc, affected = "separator: not applicable to this file", 0
        elif name == "leading-space":
            affected = _count(report, "no_leading_space")
            if not pc:
                desc = "leading-space: not applicable to chat files"
        elif name == "stop":
            stop = stats.suggested_stop
            affected = n if report.issue("no_stop") else _count(report, "stop_missing")
            desc = f"add stop sequence {stop!r} to completions that lack it"
            if not pc or stop is None:
                desc, affected = "stop: not applicable to this file", 0
        elif name == "dedupe":
            affected = _count(report, "duplicates")
        elif name == "drop-long":
            affected = stats.n_too_long
            desc = f"drop examples over {report.token_limit} tokens (counted after the other fixes)"
        elif name == "drop-invalid":
            affected = sum(
                i.count
                for i in report.errors
                if i.file == "training" and i.code in INVALID_LINE_CODES
            )
            affected += _count(report, "blank_lines")
        elif name == "split":
            share = split if split is not None else DEFAULT_SPLIT
            kind = "stratified by class" if stats.task == "classification" else "at random"
            kept = n - sum(p.affected for p in plan if p.name in ("dedupe", "drop-long"))
            affected = round(kept * share)
            desc = f"move {share:.0%} of examples to a validation file, {kind}"
        elif name == "to-chat":
            affected = n if pc else 0
            if not pc:
                desc = "to-chat: the file is not in prompt/completion format"
        elif name == "keys":
            affected = stats.n_key_case + _count(report, "extra_keys")
        elif name == "prefix":
            parts = []
            if stats.prompt_prefix:
                parts.append(f"{stats.prompt_prefix!r} from prompts")
            if stats.completion_prefix:
                parts.append(f"{stats.completion_prefix!r} from completions")
            affected = n if parts else 0
            desc = "remove " + " and ".join(parts) if parts else "prefix: no common prefix"
        elif name == "lowercase":
            cols = [
                what
                for what, code in (
                    ("prompts", "uppercase_prompts"),
                    ("completions", "uppercase_completions"),
                )
                if report.issue(code)
            ]
            affected = n if cols and pc else 0
            desc = (
                f"lower-case {' and '.join(cols)} (the separator and stop sequence kept)"
                if affected
                else "lowercase: no mostly uppercase prompts or completions"
            )
        plan.append(PlannedFix(name, desc, affected))
    return plan


def output_paths(source: Path, prefix: str | None, split: bool) -> list[Path]:
    """`<prefix>.jsonl`, or `<prefix>_train.jsonl` and `<prefix>_valid.jsonl` for a split."""
    base = prefix.removesuffix(".jsonl") if prefix else str(source.with_suffix("")) + "_prepared"
    if split:
        return [Path(f"{base}_train.jsonl"), Path(f"{base}_valid.jsonl")]
    return [Path(f"{base}.jsonl")]


_KEPT_ENDINGS = frozenset(
    (*SEPARATOR_CANDIDATES, *STOP_CANDIDATES, *DEFAULT_SEPARATORS, *DEFAULT_STOPS)
)
_KEYS = {
    "prompt_completion": ("prompt", "completion"),
    "chat": ("messages", "tools", "parallel_tool_calls", "functions"),
    "preference": ("input", "preferred_output", "non_preferred_output"),
}


def _fix_keys(obj: dict[str, Any]) -> dict[str, Any]:
    """Rename keys that differ from the format's only in case; drop the others."""
    renamed: dict[str, Any] = {}
    wanted = {k for keys in _KEYS.values() for k in keys}
    for key, value in obj.items():
        name = key if key in wanted else str(key).lower()
        if name in wanted and name not in renamed:
            renamed[name] = value
    try:
        fmt = detect_format(renamed)
    except Invalid:
        return obj
    if fmt == "chat" and is_reinforcement(renamed):
        return obj  # a reinforcement prompt: its other keys are the grader's fields
    return {k: v for k, v in renamed.items() if k in _KEYS[fmt]}


def _lower(text: str, keep: str | None) -> str:
    """Lower-cased, except a well-known separator or stop sequence (' END') at its end."""
    if keep and keep in _KEPT_ENDINGS and text.endswith(keep):
        return text[: -len(keep)].lower() + keep
    return text.lower()


def _transform(ex: Example, names: list[str], report: Report) -> dict[str, Any]:
    stats = report.training
    obj = dict(ex.obj)
    if "keys" in names:
        obj = _fix_keys(obj)
    if ex.format != "prompt_completion":
        return obj
    prompt, completion = ex.prompt, ex.completion
    sep, stop = stats.suggested_separator, stats.suggested_stop
    if "prefix" in names:
        if stats.prompt_prefix and prompt.startswith(stats.prompt_prefix):
            prompt = prompt[len(stats.prompt_prefix) :]
        cut = stats.completion_prefix
        if cut and completion.startswith(cut):
            # As the legacy tool: a prefix that began with a space leaves that one space.
            completion = (" " if cut[0] == " " else "") + completion[len(cut) :]
    if "separator" in names and sep and not prompt.endswith(sep):
        prompt += sep
    if "leading-space" in names and not completion[:1].isspace():
        completion = " " + completion
    if "stop" in names and stop and not completion.endswith(stop):
        completion += stop
    if "lowercase" in names:
        if report.issue("uppercase_prompts"):
            prompt = _lower(prompt, sep if "separator" in names else stats.separator)
        if report.issue("uppercase_completions"):
            completion = _lower(completion, stop if "stop" in names else stats.stop_sequence)
    if "to-chat" in names:
        if sep and prompt.endswith(sep):
            prompt = prompt[: -len(sep)]
        if stop and completion.endswith(stop):
            completion = completion[: -len(stop)]
        others = {k: v for k, v in obj.items() if k not in ("prompt", "completion")}
        return {
            "messages": [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": completion.strip()},
            ],
            **others,
        }
    obj["prompt"], obj["completion"] = prompt, completion
    return obj


def _key(obj: dict[str, Any]) -> int:
    """The same example identity the checker uses (other keys do not count)."""
    try:
        return example_key(Parsed(detect_format(obj), obj))
    except (Invalid, KeyError):
        return hash(json.dumps(obj, sort_keys=True, ensure_ascii=False))


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def _label(obj: dict[str, Any], stop: str | None) -> str:
    if "messages" in obj:
        for message in reversed(obj["messages"]):
            if message.get("role") == "assistant" and isinstance(message.get("content"), str):
                return str(message["content"])
        return ""
    label = str(obj.get("completion", ""))
    return label[: -len(stop)] if stop and label.endswith(stop) else label


def apply_fixes(
    source: Path,
    report: Report,
    names: list[str],
    counter: TokenCounter,
    *,
    prefix: str | None = None,
    split: float | None = None,
    seed: int = 0,
) -> list[Path]:
    """Write the fixed file(s); returns their paths. Raises FixError before writing
    anything when an output would overwrite the input."""
    outputs = output_paths(source, prefix, "split" in names)
    resolved = source.resolve()
    for out in outputs:
        if out.resolve() == resolved:
            raise FixError(f"output {out} would overwrite the input; choose another -o prefix")
    for out in outputs:
        out.parent.mkdir(parents=True, exist_ok=True)
    stage = outputs[0] if len(outputs) == 1 else outputs[0].with_name(outputs[0].name + ".tmp")
    seen: set[int] = set()
    labels: dict[str, int] = {}
    limit = report.token_limit
    stratified = report.training.task == "classification"
    stop = report.training.suggested_stop if "stop" in names else report.training.stop_sequence
    if "to-chat" in names:
        stop = None
    contract = FileContract()
    fmt = report.training.format
    with stage.open("w", encoding="utf-8") as sink:
        for line, raw in iter_lines(source):
            result = contract.line(line, raw)
            parsed = result.example
            if result.error is not None and "keys" in names:
                parsed = _rekeyed(raw, line, fmt)
                # A file whose every line had misnamed keys gets its format from the fix.
                fmt = fmt or (parsed.format if parsed else None)
            if parsed is None or parsed.format != fmt:
                if "drop-invalid" not in names:
                    if result.error is None:
                        sink.write(raw.decode("utf-8", "replace"))  # a blank line
                    else:
                        sink.write(raw.decode("utf-8", "replace").rstrip("\r\n") + "\n")
                continue
            obj = _transform(Example.of(line, parsed.format, parsed.obj), names, report)
            if "dedupe" in names:
                key = _key(obj)
                if key in seen:
                    continue
                seen.add(key)
            if "drop-long" in names and _tokens(obj, counter) > limit:
                continue
            sink.write(_dump(obj))
            if "split" in names:
                # Only classification keeps labels (few, short); otherwise one group.
                label = _label(obj, stop) if stratified else ""
                labels[label] = labels.get(label, 0) + 1
    if "split" in names:
        _split(stage, outputs[0], outputs[1], labels, report, split or DEFAULT_SPLIT, seed, stop)
        stage.unlink()
    return outputs


def _rekeyed(raw: bytes, line: int, fmt: str | None) -> Parsed | None:
    """An invalid line that the keys fix makes valid (in the file's format, when it has
    one), else None."""
    try:
        obj = decode_line(
            (raw[3:] if line == 1 and raw.startswith(b"\xef\xbb\xbf") else raw).strip()
        )
        if not isinstance(obj, dict):
            return None
        parsed = parse_example(_fix_keys(obj))
    except Invalid:
        return None
    return parsed if fmt is None or parsed.format == fmt else None


def _tokens(obj: dict[str, Any], counter: TokenCounter) -> int:
    measure = counter.measure(detect_format(obj), [obj])[0]
    return measure.longest if measure.error is None else 0


def _split(
    stage: Path,
    train_out: Path,
    valid_out: Path,
    labels: dict[str, int],
    report: Report,
    share: float,
    seed: int,
    stop: str | None,
) -> None:
    """Exact per-class validation counts, chosen by a seeded RNG; duplicates follow the
    first copy so no example lands on both sides."""
    stratified = report.training.task == "classification"
    groups = labels
    rng = random.Random(seed)
    chosen: dict[str, set[int]] = {}
    for name in sorted(groups):
        size = groups[name]
        take = round(size * share)
        if size >= 2:
            take = min(max(take, 1), size - 1)
        chosen[name] = set(rng.sample(range(size), take))
    ordinal: dict[str, int] = {}
    side_of: dict[int, bool] = {}  # one small entry per example: keeps duplicates together
    with (
        stage.open(encoding="utf-8") as src,
        train_out.open("w", encoding="utf-8") as train,
        valid_out.open("w", encoding="utf-8") as valid,
    ):
        for text in src:
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                train.write(text)  # kept invalid lines (no drop-invalid) stay in training
                continue
            if not isinstance(obj, dict):
                train.write(text)
                continue
            key = _key(obj)
            to_valid = side_of.get(key)
            group = _label(obj, stop) if stratified else ""
            index = ordinal.get(group, 0)
            ordinal[group] = index + 1
            if to_valid is None:
                to_valid = index in chosen.get(group, set())
                side_of[key] = to_valid
            (valid if to_valid else train).write(text)
