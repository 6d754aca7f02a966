"""How texts end: detecting the separator (prompts) and stop sequence (completions).

OpenAI's legacy fine-tuning guide wants every prompt to end with one fixed separator that appears nowhere
else in it, and every completion to end with one fixed stop sequence absent
elsewhere in it. Both are found in one streaming pass with small per-text state:

- the exact common suffix of all texts, shrunk as texts arrive;
- how many texts end with each well-known candidate (and the first lines that
  don't), so a separator used by most prompts is found even when a few lack it;
- per text, the longest k (up to REPEAT_CAP) such that its last k characters also
  occur earlier in it. That property is downward closed in k, so after the pass a
  separator of length L appears inside a text ending with it exactly when k >= L:
  one byte per text answers "is the separator inside this prompt" for any
  separator chosen at the end, without keeping the texts.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from fttui.data.report import MAX_LINES

REPEAT_CAP = 64

SEPARATOR_CANDIDATES = (
    "\n\n###\n\n",
    "\n\n===\n\n",
    "\n\n---\n\n",
    "\n###\n",
    "###",
    " ->",
    "->",
    "\n\n",
    "\n",
)
STOP_CANDIDATES = (" END", "END", "\n###\n", "###", "\n\n", "\n", "<|endoftext|>")


def repeat_length(text: str, cap: int = REPEAT_CAP) -> int:
    """Largest k <= cap with text[-k:] occurring inside text[:-k] (0 if none)."""
    lo, hi = 0, min(cap, len(text) // 2)
    find = text.find
    n = len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if find(text[-mid:], 0, n - mid) != -1:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str) -> str:
    if b.endswith(a):
        return a
    i, n = 0, min(len(a), len(b))
    while i < n and a[-1 - i] == b[-1 - i]:
        i += 1
    return a[len(a) - i :] if i else ""


@dataclass
class EndingResult:
    """The ending chosen for a set of texts and which lines break the rules about it."""

    ending: str | None
    missing_lines: list[int] = field(default_factory=list)
    missing_count: int = 0
    inside_lines: list[int] = field(default_factory=list)
    inside_count: int = 0


class EndingTracker:
    """Streaming state for one kind of text (prompts or completions).

    Hot path: almost every text ends with the running common suffix, so which
    candidates it ends with is known from that suffix alone (precomputed when the
    suffix changes); only candidates longer than it are tested per text.
    """

    def __init__(self, candidates: tuple[str, ...]) -> None:
        self.candidates = candidates
        self.common: str | None = None
        self.masks: dict[int, int] = {}  # candidate bitmask -> texts with that mask
        self.missing: list[list[int]] = [[] for _ in candidates]
        self._hungry = (1 << len(candidates)) - 1  # candidates still collecting lines
        self._max_cand = max(map(len, candidates))
        self.lines = array("I")
        self.repeat = array("B")
        self.mask = array("H")
        self.n = 0
        self._suffix_bits = 0
        self._longer: list[tuple[int, str]] = []
        # Which defaults occur anywhere in any text (for picking a fresh one to add).
        self.present: set[str] = set()

    def _set_common(self, common: str) -> None:
        self.common = common
        self._suffix_bits = 0
        self._longer = []
        for i, cand in enumerate(self.candidates):
            if common.endswith(cand):
                self._suffix_bits |= 1 << i
            elif cand.endswith(common):
                self._longer.append((i, cand))

    def add(self, line: int, text: str) -> None:
        self.n += 1
        common = self.common
        if common is None or not text.endswith(common):
            common = text if common is None else _common_suffix(common, text)
            self._set_common(common)
        bits = self._suffix_bits
        for i, cand in self._longer:
            if text.endswith(cand):
                bits |= 1 << i
        self.masks[bits] = self.masks.get(bits, 0) + 1
        unmatched = self._hungry & ~bits
        if unmatched:
            for i in range(len(self.candidates)):
                if unmatched >> i & 1:
                    self.missing[i].append(line)
                    if len(self.missing[i]) >= MAX_LINES:
                        self._hungry &= ~(1 << i)
        self.lines.append(line)
        self.repeat.append(repeat_length(text, min(REPEAT_CAP, max(len(common), self._max_cand))))
        self.mask.append(bits)

    def cover(self, index: int) -> int:
        """How many texts end with candidate `index`."""
        bit = 1 << index
        return sum(count for mask, count in self.masks.items() if mask & bit)

    def note_presence(self, text: str, defaults: tuple[str, ...]) -> None:
        """Remember which default endings occur in `text` (so a fix never adds one of those)."""
        for cand in defaults:
            if cand not in self.present and cand in text:
                self.present.add(cand)

    def result(self) -> EndingResult:
        if not self.n or self.common is None:
            return EndingResult(None)
        cover = [self.cover(i) for i in range(len(self.candidates))]
        majority = [(c, i) for i, c in enumerate(self.candidates) if cover[i] * 2 > self.n]
        common = self.common[-REPEAT_CAP:]
        # A common suffix starting mid-word ("ive" of " positive"/" negative") is no stop.
        common_ok = bool(common) and (not common[0].isalnum() or common in self.candidates)
        ending, index = "", -1
        if majority:
            # The longest well-known ending most texts share: '\n\n###\n\n' rather than
            # the whole common tail ' politely\n\n###\n\n'. A whitespace-only one ('\n')
            # is more likely the end of a custom separator ('\n\nAnswer:\n'), which wins.
            ending, index = max(majority, key=lambda o: len(o[0]))
            if common_ok and ending.isspace() and len(common) > len(ending):
                ending, index = common, -1
        elif common_ok:
            ending = common
        if not ending:
            return EndingResult(None)
        out = EndingResult(ending)
        if index >= 0 and cover[index] < self.n:
            out.missing_lines = list(self.missing[index])
            out.missing_count = self.n - cover[index]
        size = len(ending)
        bit = 1 << index if index >= 0 else 0
        for line, rep, mask in zip(self.lines, self.repeat, self.mask, strict=True):
            if rep >= size and (index < 0 or mask & bit):
                out.inside_count += 1
                if len(out.inside_lines) < MAX_LINES:
                    out.inside_lines.append(line)
        return out
