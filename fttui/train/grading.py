"""Run OpenAI's graders on sampled answers: the reward of reinforcement fine-tuning.

`Grading(grader_obj, judge)` grades a batch of (answer text, item) pairs and returns
one `Graded` per pair: the reward, each sub-grader's score (a multi grader's keys;
otherwise the grader's name) and, when a sample could not be graded, why. A sample
whose grading fails gets reward 0 and its error (OpenAI's RunGraderResponse
`metadata.errors` kinds), never a crashed job.

- `string_check`: eq, ne (1.0 when the check holds), like / ilike (1.0 when `reference`
  occurs in `input`; ilike ignoring case).
- `text_similarity`: fuzzy_match = RapidFuzz's normalised Indel similarity
  (`fuzz.ratio` / 100); bleu = sacrebleu's sentence BLEU / 100; rouge_1..rouge_5 and
  rouge_l = Google's rouge-score F-measure. In [0, 1].
- `python`: `grade(sample, item)` in the sandbox (`fttui.train.sandbox`), one process
  per batch.
- `score_model` / `label_model`: the judge (a callable that answers a chat) reads the
  rendered messages; a score model's answer must contain a number (clamped to its
  `range`), a label model's answer one of its labels (1.0 when it is a passing label).
- `multi`: each grader's score, combined by `calculate_output`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fttui.core.graders import (
    InputText,
    LabelModelGrader,
    MultiGrader,
    OutputText,
    PythonGrader,
    Sample,
    ScoreModelGrader,
    StringCheckGrader,
    SubGrader,
    TemplateError,
    TextSimilarityGrader,
    parse_grader,
    render,
)
from fttui.train.sandbox import Limits, run_python_grader

__all__ = ["Graded", "Grading", "Judge", "text_similarity"]

# A judge: (chat messages, max new tokens, temperature) -> its answer's text.
Judge = Callable[[list[dict[str, str]], int, float], str]
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass
class Graded:
    reward: float
    scores: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def text_similarity(metric: str, text: str, reference: str) -> float:
    """OpenAI's text_similarity metrics that run locally, in [0, 1]."""
    if metric == "fuzzy_match":
        from rapidfuzz import fuzz

        return float(fuzz.ratio(text, reference)) / 100.0
    if metric == "bleu":
        import sacrebleu

        return float(sacrebleu.sentence_bleu(text, [reference]).score) / 100.0
    if metric.startswith("rouge_"):
        key = "rougeL" if metric == "rouge_l" else "rouge" + metric.split("_")[1]
        return float(_rouge(key).score(reference, text)[key].fmeasure)
    raise ValueError(f"evaluation_metric {metric!r} does not run locally")


_SCORERS: dict[str, Any] = {}


def _rouge(key: str) -> Any:
    if key not in _SCORERS:
        from rouge_score import rouge_scorer

        _SCORERS[key] = rouge_scorer.RougeScorer([key])
    return _SCORERS[key]


def _string_check(grader: StringCheckGrader, text: str, reference: str) -> float:
    op = grader.operation
    if op == "eq":
        return float(text == reference)
    if op == "ne":
        return float(text != reference)
    if op == "like":
        return float(reference in text)
    return float(reference.lower() in text.lower())


class Grading:
    """A reinforcement job's grader, ready to score batches of answers."""

    def __init__(
        self,
        grader: Mapping[str, Any],
        judge: Judge | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.grader = parse_grader(dict(grader), "method.reinforcement.grader")
        self.judge = judge
        self.limits = limits or Limits()
        if isinstance(self.grader, MultiGrader):
            self.parts: dict[str, SubGrader] = dict(self.grader.graders)
        else:
            self.parts = {self.grader.name: self.grader}

    @property
    def needs_judge(self) -> bool:
        return any(isinstance(p, (ScoreModelGrader, LabelModelGrader)) for p in self.parts.values())

    @property
    def keys(self) -> list[str]:
        """The sub-score names (`train_score/<key>` in metrics)."""
        return list(self.parts)

    def grade(self, answers: Sequence[str], items: Sequence[Mapping[str, Any]]) -> list[Graded]:
        samples = [Sample.from_text(a) for a in answers]
        per_part: dict[str, list[tuple[float | None, str | None]]] = {
            key: self._grade_part(part, samples, items) for key, part in self.parts.items()
        }
        out = []
        for i in range(len(samples)):
            scores: dict[str, float] = {}
            errors = []
            for key, results in per_part.items():
                score, error = results[i]
                if error is not None or score is None:
                    errors.append(f"{key}: {error}")
                else:
                    scores[key] = score
            if errors:
                out.append(Graded(0.0, scores, "; ".join(errors)))
                continue
            if isinstance(self.grader, MultiGrader):
                try:
                    reward = self.grader.formula.evaluate(scores)
                except (ArithmeticError, ValueError) as exc:
                    out.append(Graded(0.0, scores, f"calculate_output: {exc}"))
                    continue
                if not math.isfinite(reward):
                    out.append(Graded(0.0, scores, f"calculate_output gave {reward}"))
                    continue
            else:
                reward = next(iter(scores.values()))
            out.append(Graded(float(reward), scores))
        return out

    def _grade_part(
        self, part: SubGrader, samples: list[Sample], items: Sequence[Mapping[str, Any]]
    ) -> list[tuple[float | None, str | None]]:
        if isinstance(part, PythonGrader):
            pairs = [(s.as_dict(), dict(item)) for s, item in zip(samples, items, strict=True)]
            return [(r.score, r.error) for r in run_python_grader(part.source, pairs, self.limits)]
        out: list[tuple[float | None, str | None]] = []
        for sample, item in zip(samples, items, strict=True):
            try:
                out.append((self._one(part, sample, item), None))
            except TemplateError as exc:
                out.append((None, f"invalid_variable_error: {exc}"))
            except _ParseError as exc:
                out.append((None, f"model_grader_parse_error: {exc}"))
        return out

    def _one(self, part: SubGrader, sample: Sample, item: Mapping[str, Any]) -> float:
        if isinstance(part, StringCheckGrader):
            text, ref = render(part.input, sample, item), render(part.reference, sample, item)
            return _string_check(part, text, ref)
        if isinstance(part, TextSimilarityGrader):
            text, ref = render(part.input, sample, item), render(part.reference, sample, item)
            return text_similarity(part.evaluation_metric, text, ref)
        assert isinstance(part, (ScoreModelGrader, LabelModelGrader))
        if self.judge is None:
            raise _ParseError("no judge model is loaded")
        messages = [
            {"role": m.role, "content": _text_of(m.parts(), sample, item)} for m in part.input
        ]
        if isinstance(part, ScoreModelGrader):
            params = part.sampling_params
            answer = self.judge(
                messages,
                (params.max_completions_tokens if params else None) or 16,
                (params.temperature if params else None) or 0.0,
            )
            match = _NUMBER.search(answer)
            if match is None:
                raise _ParseError(f"the judge's answer has no number: {answer[:80]!r}")
            low, high = part.bounds
            return min(high, max(low, float(match.group())))
        answer = self.judge(messages, 16, 0.0).strip()
        label = _label(answer, part.labels)
        if label is None:
            raise _ParseError(f"the judge's answer names none of the labels: {answer[:80]!r}")
        return float(label in part.passing_labels)


class _ParseError(ValueError):
    pass


def _text_of(parts: list[Any], sample: Sample, item: Mapping[str, Any]) -> str:
    texts = []
    for part in parts:
        if isinstance(part, str):
            texts.append(render(part, sample, item))
        elif isinstance(part, (InputText, OutputText)):
            texts.append(render(part.text, sample, item))
    return "\n".join(texts)


def _label(answer: str, labels: list[str]) -> str | None:
    """The label the judge answered: an exact answer, else the first label it names."""
    if answer in labels:
        return answer
    lowered = answer.lower()
    found = [(lowered.find(lab.lower()), lab) for lab in labels if lab.lower() in lowered]
    return min(found)[1] if found else None
