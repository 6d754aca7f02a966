"""The upload check: the data contract applied to a file's bytes as they stream in.

Fed chunk by chunk, it never holds more than one line (bounded by `max_line_bytes`),
so a 150 MB upload is checked in constant memory. Each complete line goes through
`fttui.data.contract.FileContract`, the same rules `fttui prepare`, the TUI's check
and the trainer apply, so an upload is refused exactly when they call the file
unusable. Errors (with their line numbers) refuse the upload; warnings do not.
What needs the model (token lengths, the chat template) is checked when a job is
created, in its `validating_files` step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fttui.core.safe_text import safe_text
from fttui.data.contract import MAX_LINE_BYTES, FileContract, Finding

MAX_REPORTED = 10


@dataclass
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class JsonlChecker:
    """Incremental validator: `feed()` chunks, then `finish()` once."""

    max_line_bytes: int = MAX_LINE_BYTES
    problems: list[Problem] = field(default_factory=list)
    n_problems: int = 0
    n_warnings: int = 0
    _contract: FileContract = field(init=False)
    _line_no: int = 0
    _buf: bytearray = field(default_factory=bytearray)
    _overlong: bool = False
    _total: int = 0

    def __post_init__(self) -> None:
        self._contract = FileContract(max_line_bytes=self.max_line_bytes)

    @property
    def examples(self) -> int:
        return self._contract.n_examples

    @property
    def format(self) -> str | None:
        return self._contract.format

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
        if not self.n_problems:  # "no valid examples" adds nothing to a list of bad lines
            for finding in self._contract.finish():
                self._report(finding)

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
        # +1: a CRLF line's "\r" is not part of the example.
        if len(self._buf) + len(data) > self.max_line_bytes + 1:
            self._overlong = True
            self._buf.clear()
            return
        self._buf += data

    def _report(self, finding: Finding) -> None:
        self.n_problems += 1
        if len(self.problems) < MAX_REPORTED:
            # The detail may echo the file's own text (its keys, a role name): one rule
            # for data-file text in any message (the contract quotes it already).
            self.problems.append(Problem(finding.line, safe_text(finding.detail)))

    def _end_line(self) -> None:
        self._line_no += 1
        if self._overlong:
            self._overlong = False
            self._report(self._contract.overlong(self._line_no))
            return
        result = self._contract.line(self._line_no, bytes(self._buf))
        self._buf.clear()
        self.n_warnings += len(result.warnings)
        if result.error is not None:
            self._report(result.error)
