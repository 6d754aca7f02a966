"""Scores of one model's answers against a file's references.

Classification follows OpenAI's legacy fine-tuning guide (accuracy, weighted F1,
per-class precision and recall, AUROC and AUPRC for binary tasks from the positive
class's probability); the arithmetic is scikit-learn's. Generation uses exact match
and SQuAD-style token F1 (lower-cased words, bag of words overlap).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any


def _sklearn() -> Any:
    try:
        import sklearn.metrics as metrics
    except ImportError:  # pragma: no cover - the local extra ships it
        raise RuntimeError(
            "classification metrics need scikit-learn: pip install 'fttui[local]' "
            "or pip install scikit-learn"
        ) from None
    return metrics


def classification(
    labels: list[str],
    predictions: list[str],
    positive_probability: list[float] | None = None,
    positive: str | None = None,
) -> dict[str, Any]:
    """Accuracy, weighted F1, per-class precision/recall, confusion matrix, and for two
    classes AUROC/AUPRC from `positive_probability` (None where not available)."""
    m = _sklearn()
    classes = sorted(set(labels))
    shown = classes + sorted(set(predictions) - set(classes))  # wrong labels get a column
    precision, recall, f1, support = m.precision_recall_fscore_support(
        labels, predictions, labels=classes, zero_division=0
    )
    out: dict[str, Any] = {
        "examples": len(labels),
        "accuracy": float(m.accuracy_score(labels, predictions)),
        "weighted_f1": float(
            m.f1_score(labels, predictions, labels=classes, average="weighted", zero_division=0)
        ),
        "per_class": {
            c: {
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
        },
        "confusion": {
            "labels": shown,
            "matrix": m.confusion_matrix(labels, predictions, labels=shown).tolist(),
        },
    }
    if len(classes) == 2 and positive_probability is not None:
        pos = positive if positive in classes else classes[1]
        y = [int(label == pos) for label in labels]
        out["positive_class"] = pos
        out["auroc"] = float(m.roc_auc_score(y, positive_probability))
        out["auprc"] = float(m.average_precision_score(y, positive_probability))
    return out


def _words(text: str) -> list[str]:
    return text.lower().split()


def token_f1(prediction: str, reference: str) -> float:
    """Bag-of-words F1 between two answers (1.0 when both are empty)."""
    pred, ref = _words(prediction), _words(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    p, r = common / len(pred), common / len(ref)
    return 2 * p * r / (p + r)


def generation(
    references: list[str], predictions: list[str], prompts: list[str], worst: int = 5
) -> dict[str, Any]:
    """Exact match (after trimming whitespace), token F1, lengths, the worst answers."""
    f1s = [token_f1(p, r) for p, r in zip(predictions, references, strict=True)]
    exact = [p.strip() == r.strip() for p, r in zip(predictions, references, strict=True)]
    order = sorted(range(len(f1s)), key=lambda i: (f1s[i], i))
    return {
        "examples": len(references),
        "exact_match": sum(exact) / max(1, len(exact)),
        "token_f1": sum(f1s) / max(1, len(f1s)),
        "mean_words": sum(len(_words(p)) for p in predictions) / max(1, len(predictions)),
        "reference_mean_words": sum(len(_words(r)) for r in references) / max(1, len(references)),
        "worst": [
            {
                "index": i,
                "prompt": prompts[i],
                "reference": references[i],
                "answer": predictions[i],
                "token_f1": f1s[i],
            }
            for i in order[:worst]
            if not exact[i]
        ],
    }


def preference(chosen: list[float], rejected: list[float]) -> dict[str, Any]:
    """Share of pairs whose preferred answer the model gives the higher log-probability."""
    wins = [c > r for c, r in zip(chosen, rejected, strict=True)]
    margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
    return {
        "examples": len(wins),
        "prefers_chosen": sum(wins) / max(1, len(wins)),
        "mean_margin": sum(margins) / max(1, len(margins)),
    }


def reward(
    rewards: list[float],
    errors: list[str | None],
    prompts: list[str],
    predictions: list[str],
    worst: int = 5,
) -> dict[str, Any]:
    """A grader's rewards: their mean (OpenAI's `valid_reward_mean` for a reinforcement
    job), the share of full marks, the answers the grader failed on, the worst answers."""
    n = max(1, len(rewards))
    order = sorted(range(len(rewards)), key=lambda i: (rewards[i], i))
    return {
        "examples": len(rewards),
        "mean_reward": sum(rewards) / n,
        "full_reward": sum(r >= 1.0 for r in rewards) / n,
        "grader_errors": sum(e is not None for e in errors),
        "rewards": rewards,
        "worst": [
            {
                "index": i,
                "prompt": prompts[i],
                "answer": predictions[i],
                "reward": rewards[i],
                **({"error": errors[i]} if errors[i] else {}),
            }
            for i in order[:worst]
            if rewards[i] < 1.0
        ],
    }


def probability(logprob: float | None) -> float:
    return 0.0 if logprob is None else math.exp(logprob)
