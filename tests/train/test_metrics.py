"""The legacy guide's accuracy definitions and the classification metrics, checked by hand and
against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from fttui.train.metrics import classification_metrics, token_and_sequence_accuracy


def test_seed_example_token_and_sequence_accuracy() -> None:
    targets = [[1, 2], [0, 5], [4, 2]]
    predictions = [[1, 1], [0, 5], [4, 2]]
    token, sequence = token_and_sequence_accuracy(targets, predictions)
    assert token == pytest.approx(5 / 6)
    assert round(token, 2) == 0.83
    assert sequence == pytest.approx(2 / 3)
    assert round(sequence, 2) == 0.67


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="as many tokens"):
        token_and_sequence_accuracy([[1, 2]], [[1]])


PROBS = np.array(
    [
        [0.70, 0.20, 0.10],
        [0.10, 0.60, 0.30],
        [0.20, 0.30, 0.50],
        [0.50, 0.40, 0.10],
        [0.30, 0.30, 0.40],
        [0.05, 0.90, 0.05],
    ]
)
TRUTH = [0, 1, 2, 1, 0, 1]


def test_multiclass_metrics_match_scikit_learn() -> None:
    got = classification_metrics(TRUTH, PROBS)
    predicted = PROBS.argmax(axis=1)
    assert got == {
        "classification/accuracy": pytest.approx(skm.accuracy_score(TRUTH, predicted)),
        "classification/weighted_f1_score": pytest.approx(
            skm.f1_score(TRUTH, predicted, average="weighted")
        ),
    }
    assert got["classification/accuracy"] == pytest.approx(4 / 6)


def test_binary_metrics_match_scikit_learn() -> None:
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55], [0.8, 0.2]])
    truth = [0, 1, 1, 1, 0, 0]  # positive class is index 1
    got = classification_metrics(truth, probs, positive_index=1, betas=[1.0, 0.5])
    score = probs[:, 1]
    predicted = (score >= 0.5).astype(int)
    assert got["classification/accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted))
    assert got["classification/precision"] == pytest.approx(skm.precision_score(truth, predicted))
    assert got["classification/recall"] == pytest.approx(skm.recall_score(truth, predicted))
    assert got["classification/f1.0"] == pytest.approx(skm.f1_score(truth, predicted))
    assert got["classification/f0.5"] == pytest.approx(skm.fbeta_score(truth, predicted, beta=0.5))
    assert got["classification/auroc"] == pytest.approx(skm.roc_auc_score(truth, score))
    assert got["classification/auprc"] == pytest.approx(skm.average_precision_score(truth, score))
    # By hand: 4 of 6 right, 2 of 3 predicted positives are positive.
    assert got["classification/accuracy"] == pytest.approx(4 / 6)
    assert got["classification/precision"] == pytest.approx(2 / 3)
