"""Per-step accuracies and per-epoch classification metrics.

Pure functions over plain arrays, so the legacy guide's hand-computed example and
scikit-learn can check them without a model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def token_and_sequence_accuracy(
    targets: Sequence[Sequence[int]], predictions: Sequence[Sequence[int]]
) -> tuple[float, float]:
    """(token accuracy, sequence accuracy) over completions, as OpenAI's legacy fine-tuning guide defines them.

    Token accuracy is the share of completion tokens predicted right; sequence
    accuracy the share of completions whose tokens are all right. The legacy guide's
    example, targets [[1,2],[0,5],[4,2]] vs predictions [[1,1],[0,5],[4,2]], gives
    5/6 and 2/3.
    """
    if len(targets) != len(predictions):
        raise ValueError(f"{len(targets)} target sequences but {len(predictions)} predictions")
    right_tokens = total_tokens = right_sequences = 0
    for target, predicted in zip(targets, predictions, strict=True):
        if len(target) != len(predicted):
            raise ValueError("each prediction must have as many tokens as its target")
        hits = sum(int(t == p) for t, p in zip(target, predicted, strict=True))
        right_tokens += hits
        total_tokens += len(target)
        right_sequences += int(hits == len(target))
    if total_tokens == 0:
        return 0.0, 0.0
    return right_tokens / total_tokens, right_sequences / len(targets)


def classification_metrics(
    y_true: Sequence[int],
    probabilities: np.ndarray,
    *,
    positive_index: int | None = None,
    betas: Sequence[float] = (1.0,),
) -> dict[str, float]:
    """The legacy guide's classification columns from class probabilities (rows = examples).

    Without `positive_index` the metrics are multiclass (accuracy and weighted F1 of
    the argmax class); with it, binary: the positive class is predicted when its
    probability (renormalised over the classes) is at least 0.5, and AUROC/AUPRC use
    that probability as the score.
    """
    # Imported here: only classification jobs need scikit-learn, and the engine (which
    # imports this module) then loads without it, e.g. on a GPU machine where only
    # torch and transformers are installed (benchmarks/gpu_bench.py).
    from sklearn import metrics as skm

    probs = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(y_true)
    if positive_index is None:
        predicted = probs.argmax(axis=1)
        return {
            "classification/accuracy": float(skm.accuracy_score(truth, predicted)),
            "classification/weighted_f1_score": float(
                skm.f1_score(truth, predicted, average="weighted", zero_division=0)
            ),
        }
    score = probs[:, positive_index] / np.clip(probs.sum(axis=1), 1e-12, None)
    actual = (truth == positive_index).astype(int)
    predicted_pos = (score >= 0.5).astype(int)
    out = {
        "classification/accuracy": float(skm.accuracy_score(actual, predicted_pos)),
        "classification/precision": float(
            skm.precision_score(actual, predicted_pos, zero_division=0)
        ),
        "classification/recall": float(skm.recall_score(actual, predicted_pos, zero_division=0)),
    }
    for beta in betas:
        out[f"classification/f{float(beta)}"] = float(
            skm.fbeta_score(actual, predicted_pos, beta=beta, zero_division=0)
        )
    both_present = 0 < actual.sum() < len(actual)
    out["classification/auroc"] = (
        float(skm.roc_auc_score(actual, score)) if both_present else float("nan")
    )
    out["classification/auprc"] = (
        float(skm.average_precision_score(actual, score)) if both_present else float("nan")
    )
    return out
