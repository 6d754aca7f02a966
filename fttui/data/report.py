"""The check report: issues with line numbers, per-file statistics, JSON and rich views.

`Report.to_json()` is a stable schema (documented in docs/data.md, versioned by its
`schema` field) that the server, the TUI and scripts read; `Report.to_rich()` is the
human view that `fttui prepare` prints and the TUI shows before an upload.

A data file is not trusted: anything quoted from it (file names, labels,
separators, messages that quote content) goes into the rich view as `Text` (never
markup) through `safe_text`, so escape sequences in a dataset are shown, not obeyed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from fttui.core.safe_text import safe_text

SCHEMA = "fttui.prepare/1"
Severity = Literal["error", "warning", "info"]
MAX_LINES = 20  # line numbers kept per issue (the count covers all of them)


@dataclass
class Issue:
    """One finding: `lines` are the first few line numbers (1-based), `count` all of them."""

    code: str
    message: str
    lines: list[int] = field(default_factory=list)
    count: int = 0
    severity: Severity = "warning"
    file: str = "training"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FileStats:
    """What one pass over a file found (apart from its issues)."""

    path: str
    role: str  # "training" or "validation"
    bytes: int = 0
    n_lines: int = 0
    n_examples: int = 0
    format: str | None = None  # "prompt_completion" | "chat" | "preference" | "reinforcement"
    # "classification" | "conditional_generation" | "open_ended_generation" | "chat" |
    # "preference" | "reinforcement"
    task: str | None = None
    separator: str | None = None
    stop_sequence: str | None = None
    # What the separator/stop fixes would add: the detected one, else a default
    # absent from every prompt/completion.
    suggested_separator: str | None = None
    suggested_stop: str | None = None
    classes: dict[str, int] = field(default_factory=dict)
    total_tokens: int = 0
    min_tokens: int = 0
    max_tokens: int = 0
    n_too_long: int = 0
    n_duplicates: int = 0
    # What the prefix fix removes: the text every prompt / completion starts with, when
    # it is long enough to report (the legacy tool's thresholds); else None.
    prompt_prefix: str | None = None
    completion_prefix: str | None = None
    n_key_case: int = 0  # lines the keys fix makes valid ('Prompt' -> 'prompt')
    # Preference (DPO) files: tokens of the inputs and of each kind of output.
    prompt_tokens: int = 0
    preferred_tokens: int = 0
    non_preferred_tokens: int = 0

    @property
    def mean_tokens(self) -> float:
        return self.total_tokens / self.n_examples if self.n_examples else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["mean_tokens"] = round(self.mean_tokens, 2)
        return out


@dataclass
class Report:
    """The result of `check_file`: issues by severity plus statistics."""

    training: FileStats
    validation: FileStats | None
    model: str
    tokenizer: str
    token_limit: int
    n_epochs: int
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def info(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "info"]

    @property
    def n_examples(self) -> int:
        return self.training.n_examples

    @property
    def format(self) -> str | None:
        return self.training.format

    @property
    def task(self) -> str | None:
        return self.training.task

    @property
    def tokens_per_epoch(self) -> int:
        """Tokens trained on per epoch: every training example's tokens."""
        return self.training.total_tokens

    @property
    def billed_tokens(self) -> int:
        """The estimate OpenAI bills: tokens per epoch times n_epochs."""
        return self.tokens_per_epoch * self.n_epochs

    @property
    def exit_code(self) -> int:
        """0 clean, 1 warnings only, 2 errors (as `fttui prepare` exits)."""
        if self.errors:
            return 2
        return 1 if self.warnings else 0

    def issue(self, code: str, file: str = "training") -> Issue | None:
        """The issue with `code` for `file`, if reported."""
        for item in self.issues:
            if item.code == code and item.file == file:
                return item
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "exit_code": self.exit_code,
            "model": {"name": self.model, "tokenizer": self.tokenizer, "limit": self.token_limit},
            "n_epochs": self.n_epochs,
            "summary": {
                "errors": len(self.errors),
                "warnings": len(self.warnings),
                "n_examples": self.n_examples,
                "format": self.format,
                "task": self.task,
                "tokens_per_epoch": self.tokens_per_epoch,
                "billed_tokens": self.billed_tokens,
            },
            "training": self.training.as_dict(),
            "validation": self.validation.as_dict() if self.validation else None,
            "issues": [i.as_dict() for i in self.issues],
        }

    def to_rich(self) -> RenderableType:
        """Tables for a terminal: overview, statistics, then issues by severity."""
        overview = Table(title="Dataset check", show_header=False, expand=False)
        overview.add_column("", style="bold")
        overview.add_column("")
        status = {0: "[green]clean[/]", 1: "[yellow]warnings[/]", 2: "[red]errors[/]"}
        overview.add_row("Result", status[self.exit_code])
        overview.add_row(
            "Model", _plain(f"{self.model} ({self.tokenizer}, limit {self.token_limit:,})")
        )
        overview.add_row("Format", _plain(str(self.format or "-")))
        overview.add_row("Task", _plain(str(self.task or "-")))
        overview.add_row("Tokens per epoch", f"{self.tokens_per_epoch:,}")
        if self.format == "reinforcement":
            # OpenAI bills reinforcement fine-tuning by training time (fttui.core.prices).
            overview.add_row("Billed", "by training time, not tokens (reinforcement)")
        else:
            overview.add_row(
                f"Billed tokens ({self.n_epochs} epochs)", f"{self.billed_tokens:,} (estimate)"
            )

        stats = Table(title="Files", expand=False)
        for column in ("file", "examples", "size", "tokens", "min/mean/max", "too long", "dupes"):
            stats.add_column(column, justify="left" if column == "file" else "right")
        for fs in (self.training, self.validation):
            if fs is None:
                continue
            stats.add_row(
                _plain(f"{fs.role}: {Path(fs.path).name}"),
                f"{fs.n_examples:,}",
                _size(fs.bytes),
                f"{fs.total_tokens:,}",
                f"{fs.min_tokens}/{fs.mean_tokens:.0f}/{fs.max_tokens}",
                str(fs.n_too_long),
                str(fs.n_duplicates),
            )
        parts: list[RenderableType] = [overview, stats]
        if self.training.separator is not None or self.training.stop_sequence is not None:
            parts.append(
                _plain(
                    f"separator {self.training.separator!r}, "
                    f"stop sequence {self.training.stop_sequence!r}",
                    style="dim",
                )
            )
        if self.training.format == "preference":
            fs = self.training
            parts.append(
                _plain(
                    f"preference tokens: inputs {fs.prompt_tokens:,}, preferred outputs "
                    f"{fs.preferred_tokens:,}, non-preferred outputs {fs.non_preferred_tokens:,}",
                    style="dim",
                )
            )
        if self.issues:
            issues = Table(title="Issues", expand=False)
            issues.add_column("", no_wrap=True)
            issues.add_column("file")
            issues.add_column("issue")
            issues.add_column("lines")
            style = {
                "error": "[red]error[/]",
                "warning": "[yellow]warn[/]",
                "info": "[blue]info[/]",
            }
            order = {"error": 0, "warning": 1, "info": 2}
            for item in sorted(self.issues, key=lambda i: order[i.severity]):
                lines = ", ".join(map(str, item.lines))
                if item.lines and item.count > len(item.lines):
                    lines += f" (+{item.count - len(item.lines)} more)"
                issues.add_row(style[item.severity], _plain(item.file), _plain(item.message), lines)
            parts.append(issues)
        else:
            parts.append(Text("No issues found.", style="green"))
        return Group(*parts)


def _plain(text: str, style: str = "") -> Text:
    """Text quoted from a data file, for a rich table: no markup, controls shown."""
    return Text(safe_text(text), style=style)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
