"""Binary classification through the engine's evaluation: the legacy guide's binary columns,
computed from first-token class probabilities, and the single-token warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from sklearn import metrics as skm

from fttui.train.data import load_examples
from fttui.train.engine import evaluate
from fttui.train.models import load_for_training
from fttui.train.results import classification_columns
from fttui.train.setup import classification_setup


def _examples(tmp_path: Path, tok: Any, labels: list[str]) -> list[Any]:
    path = tmp_path / "cls.jsonl"
    rows = [
        {"prompt": f"item {i}\n\n###\n\n", "completion": label} for i, label in enumerate(labels)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return load_examples(path, tok, 256)


def test_binary_metrics_columns_and_values(tiny_model_dir: Path, tmp_path: Path) -> None:
    model, tok = load_for_training(str(tiny_model_dir), torch.device("cpu"))
    examples = _examples(tmp_path, tok, [" yes", " no", " yes", " no", " no", " yes"])
    options = {"classification_positive_class": " yes", "classification_betas": [1, 2]}
    setup, warning = classification_setup(tok, examples, examples, options)
    assert setup is not None and warning is None
    assert setup.labels[setup.positive_index or 0] == "yes"
    assert classification_columns(setup) == [
        "classification/accuracy",
        "classification/precision",
        "classification/recall",
        "classification/f1.0",
        "classification/f2.0",
        "classification/auroc",
        "classification/auprc",
    ]
    result = evaluate(model, examples, torch.device("cpu"), False, setup)
    assert set(classification_columns(setup)) <= set(result)

    # The same predictions computed independently: one plain forward pass per example
    # (no packing), the class tokens' probabilities at the first completion token, the
    # positive class's share as the score; then scikit-learn's own metrics on them.
    model.eval()
    scores, truth = [], []
    with torch.no_grad():
        for ex in examples:
            logits = model(input_ids=torch.tensor([ex.input_ids])).logits[0]
            probs = torch.softmax(logits[ex.first_target - 1].float(), dim=-1)[setup.token_ids]
            scores.append(float(probs[setup.positive_index] / probs.sum()))
            truth.append(int(ex.completion.strip() == "yes"))
    # a score at the 0.5 threshold would make the comparison depend on float noise
    assert min(abs(s - 0.5) for s in scores) > 1e-4, scores
    predicted = [int(s >= 0.5) for s in scores]
    assert 0 < sum(predicted) < len(predicted), "predictions all alike: a weak comparison"
    expected = {
        "classification/accuracy": skm.accuracy_score(truth, predicted),
        "classification/precision": skm.precision_score(truth, predicted, zero_division=0),
        "classification/recall": skm.recall_score(truth, predicted, zero_division=0),
        "classification/f1.0": skm.fbeta_score(truth, predicted, beta=1, zero_division=0),
        "classification/f2.0": skm.fbeta_score(truth, predicted, beta=2, zero_division=0),
        "classification/auroc": skm.roc_auc_score(truth, scores),
        "classification/auprc": skm.average_precision_score(truth, scores),
    }
    got = {name: result[name] for name in expected}
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_multi_token_labels_get_a_warning(tiny_model_dir: Path, tmp_path: Path) -> None:
    _, tok = load_for_training(str(tiny_model_dir), torch.device("cpu"))
    examples = _examples(tmp_path, tok, [" zebra crossing", " meow", " zebra crossing", " meow"])
    setup, warning = classification_setup(tok, examples, examples, {})
    assert setup is not None
    assert warning is not None and "not single tokens" in warning and "zebra crossing" in warning
