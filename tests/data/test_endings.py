"""The streaming separator/stop detection agrees with the obvious whole-file computation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fttui.data.endings import SEPARATOR_CANDIDATES, EndingTracker, repeat_length

SEP = "\n\n###\n\n"
texts = st.text(alphabet="ab#\n ", max_size=24)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab#\n", max_size=40), st.integers(1, 64))
def test_repeat_length_is_the_longest_suffix_found_earlier(text: str, cap: int) -> None:
    brute = max((k for k in range(1, min(cap, len(text)) + 1) if text[-k:] in text[:-k]), default=0)
    assert repeat_length(text, cap) == brute


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(texts, st.booleans()), min_size=1, max_size=30))
def test_separator_lines_match_a_whole_file_scan(rows: list[tuple[str, bool]]) -> None:
    """Most prompts end with the separator; the tracker finds exactly the lines that lack
    it and those where it also occurs before the end."""
    prompts = [body + SEP if with_sep else body for body, with_sep in rows]
    tracker = EndingTracker(SEPARATOR_CANDIDATES)
    for line, prompt in enumerate(prompts, 1):
        tracker.add(line, prompt)
    result = tracker.result()
    if sum(p.endswith(SEP) for p in prompts) * 2 <= len(prompts):
        return  # no majority: another rule applies
    assert result.ending == SEP
    missing = [i for i, p in enumerate(prompts, 1) if not p.endswith(SEP)]
    inside = [i for i, p in enumerate(prompts, 1) if p.endswith(SEP) and SEP in p[: -len(SEP)]]
    assert (result.missing_lines, result.missing_count) == (missing[:20], len(missing))
    assert (result.inside_lines, result.inside_count) == (inside[:20], len(inside))
