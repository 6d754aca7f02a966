"""OpenAI's graders run locally: each type's score, and hostile python graders contained.

Grader objects are OpenAI's own examples (tests/core/openai_grader_examples.json, from
its published spec) where the spec has one.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from fttui.train.grading import Grading
from fttui.train.sandbox import Limits, namespaces_available, run_python_grader

SPEC = json.loads((Path(__file__).parents[1] / "core" / "openai_grader_examples.json").read_text())
EX = SPEC["schema_examples"]


def grader(name: str, **change: Any) -> dict[str, Any]:
    return {**copy.deepcopy(EX[name]), **change}


@pytest.mark.parametrize(
    ("operation", "answer", "label", "reward"),
    [
        ("eq", "Paris", "Paris", 1.0),
        ("eq", "paris", "Paris", 0.0),
        ("ne", "Rome", "Paris", 1.0),
        ("like", "It is Paris.", "Paris", 1.0),
        ("like", "It is paris.", "Paris", 0.0),
        ("ilike", "It is PARIS.", "Paris", 1.0),
        ("ilike", "It is Rome.", "Paris", 0.0),
    ],
)
def test_string_check(operation: str, answer: str, label: str, reward: float) -> None:
    grading = Grading(grader("GraderStringCheck", operation=operation))
    (graded,) = grading.grade([answer], [{"label": label}])
    assert graded.reward == reward and graded.error is None


@pytest.mark.parametrize("metric", ["fuzzy_match", "bleu", "rouge_1", "rouge_2", "rouge_l"])
def test_text_similarity_is_1_for_the_same_text_and_lower_for_another(metric: str) -> None:
    grading = Grading(grader("GraderTextSimilarity", evaluation_metric=metric))
    ref = "the quick brown fox jumps over the lazy dog"
    same, near, other = grading.grade(
        [ref, "the quick brown fox jumped over a lazy dog", "completely unrelated words here"],
        [{"label": ref}] * 3,
    )
    assert same.reward == pytest.approx(1.0)
    assert 0 <= other.reward < near.reward < 1.0


def test_fuzzy_match_is_rapidfuzz_ratio() -> None:
    (graded,) = Grading(grader("GraderTextSimilarity")).grade(["kitten"], [{"label": "sitting"}])
    from rapidfuzz import fuzz

    assert graded.reward == pytest.approx(fuzz.ratio("kitten", "sitting") / 100)


def test_openai_python_grader_example() -> None:
    grading = Grading(grader("GraderPython"))
    hit, miss = grading.grade(["yes", "no"], [{"label": "yes"}, {"label": "yes"}])
    assert (hit.reward, miss.reward) == (1.0, 0.0)


def test_multi_grader_combines_scores_by_its_formula() -> None:
    multi = {
        "type": "multi",
        "name": "m",
        "graders": {"exact": grader("GraderStringCheck"), "close": grader("GraderTextSimilarity")},
        "calculate_output": "0.5 * exact + 0.5 * close",
    }
    grading = Grading(multi)
    assert grading.keys == ["exact", "close"]
    (graded,) = grading.grade(["Paris"], [{"label": "Paris"}])
    assert graded.reward == pytest.approx(1.0)
    assert graded.scores == {"exact": 1.0, "close": pytest.approx(1.0)}


def test_a_missing_item_field_is_that_samples_error_not_a_crash() -> None:
    grading = Grading(grader("GraderStringCheck"))
    ok, bad = grading.grade(["a", "a"], [{"label": "a"}, {"other": "a"}])
    assert ok.reward == 1.0 and ok.error is None
    assert bad.reward == 0.0 and bad.error and "invalid_variable_error" in bad.error


def test_model_graders_ask_the_judge() -> None:
    asked: list[list[dict[str, str]]] = []

    def judge(messages: list[dict[str, str]], max_tokens: int, temperature: float) -> str:
        asked.append(messages)
        return "0.7" if "fuzzy" in messages[-1]["content"] else "I cannot say"

    request = SPEC["run_grader_requests"][0]
    grading = Grading(request["grader"], judge=judge)
    good, bad = grading.grade(
        [request["model_sample"], "other"], [request["item"], {"reference_answer": "x"}]
    )
    assert good.reward == pytest.approx(0.7)
    assert "Model answer: fuzzy wuzzy was a bear" in asked[0][0]["content"]
    assert bad.reward == 0.0 and bad.error and "model_grader_parse_error" in bad.error
    label = {
        "type": "multi",
        "name": "m",
        "graders": {"sentiment": EX["GraderLabelModel"]},
        "calculate_output": "sentiment",
    }
    labels = Grading(label, judge=lambda m, n, t: " positive").grade(["x"], [{"response": "ok"}])
    assert labels[0].reward == 1.0


# -- hostile python graders ------------------------------------------------------------

LIMITS = Limits(per_sample_s=1.0, batch_overhead_s=4.0)
PAIRS = [({"output_text": "a"}, {"label": "a"})] * 2


def hostile(body: str, limits: Limits = LIMITS) -> tuple[list[Any], float]:
    source = "import os\n\ndef grade(sample, item):\n" + "".join(
        f"    {line}\n" for line in body.splitlines()
    )
    started = time.monotonic()
    results = run_python_grader(source, list(PAIRS), limits)
    return results, time.monotonic() - started


def test_sandbox_isolation_is_available_here() -> None:
    # Namespaces are what keeps the network and the filesystem out of reach; on this
    # Linux box they must be available (elsewhere the audit hooks still apply).
    assert namespaces_available()


def test_fork_bomb_is_refused_per_sample() -> None:
    results, took = hostile("while True:\n    os.fork()")
    assert all(r.score is None and "os.fork" in (r.error or "") for r in results)
    assert took < 10


def test_infinite_loop_hits_the_time_limit_and_the_batch_goes_on() -> None:
    source = (
        "def grade(sample, item):\n"
        "    if item['label'] == 'spin':\n"
        "        while True:\n"
        "            pass\n"
        "    return 1.0\n"
    )
    pairs = [({"output_text": "a"}, {"label": "spin"}), ({"output_text": "a"}, {"label": "ok"})]
    spin, ok = run_python_grader(source, pairs, LIMITS)
    assert spin.score is None and "time limit" in (spin.error or "")
    assert ok.score == 1.0


def test_a_loop_that_swallows_the_timer_is_killed_at_the_batch_limit() -> None:
    results, took = hostile(
        "while True:\n    try:\n        while True: pass\n    except BaseException: pass"
    )
    assert all(r.score is None for r in results)
    assert took < LIMITS.per_sample_s * 2 + LIMITS.batch_overhead_s + 5


def test_no_network() -> None:
    results, _ = hostile("import socket\nsocket.create_connection(('127.0.0.1', 80))\nreturn 1.0")
    assert all(r.score is None and "socket" in (r.error or "") for r in results)
    # Even through the low-level module, loaded by a path the hook does not know:
    results, _ = hostile("import _socket\nreturn 1.0")
    assert all(r.score is None for r in results)


def test_no_writes_outside_the_scratch_dir(tmp_path: Path) -> None:
    target = tmp_path / "data" / "jobs.db"
    target.parent.mkdir()
    target.write_text("precious")
    for body in (
        f"open({str(target)!r}, 'w').write('x')",
        f"os.remove({str(target)!r})",
        f"os.rename({str(target)!r}, {str(target) + '.x'!r})",
        f"fd = os.open({str(target)!r}, os.O_WRONLY | os.O_TRUNC)",
    ):
        results, _ = hostile(body + "\nreturn 1.0")
        assert all(r.score is None for r in results), (body, results)
    assert target.read_text() == "precious"
    # Its own scratch directory is writable.
    results, _ = hostile(
        "open('notes.txt', 'w').write('ok')\nreturn float(len(open('notes.txt').read()))"
    )
    assert [r.score for r in results] == [2.0, 2.0]


def test_huge_output_is_thrown_away() -> None:
    results, _ = hostile("print('x' * 50_000_000)\nreturn 0.5")
    assert [r.score for r in results] == [0.5, 0.5]


def test_memory_limit() -> None:
    results, _ = hostile("b = bytearray(8 * 1024 ** 3)\nreturn 1.0")
    assert all(r.score is None and "memory" in (r.error or "") for r in results)


def test_no_subprocess_or_signals_to_others() -> None:
    me = os.getpid()
    for body in ("os.system('true')", f"os.kill({me}, 9)", "import subprocess"):
        results, _ = hostile(body + "\nreturn 1.0")
        assert all(r.score is None for r in results), (body, results)
    assert os.getpid() == me  # still alive


def test_a_grader_that_fails_to_load_fails_every_sample_with_why() -> None:
    results = run_python_grader(
        "raise SystemExit(3)\ndef grade(s, i): return 1", list(PAIRS), LIMITS
    )
    assert all("loading the grader raised SystemExit" in (r.error or "") for r in results)
