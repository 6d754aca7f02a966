"""Classification metrics set-up: which classes exist and which token stands for each.

The legacy guide's classification metrics assume each class label is a single token; the
first completion token's probability stands for its class. When labels are longer,
or two labels share a first token, the metrics may be wrong, and we say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fttui.train.data import Example
from fttui.train.engine import ClassificationSetup


def classification_setup(
    tokenizer: Any,
    train: Sequence[Example],
    valid: Sequence[Example],
    options: dict[str, Any],
) -> tuple[ClassificationSetup | None, str | None]:
    """(set-up, warning) from the examples' completions; None when there is no class."""
    by_label: dict[str, int] = {}
    multi: list[str] = []
    for ex in [*train, *valid]:
        label = ex.completion.strip()
        if label in by_label:
            continue
        target = ex.labels[ex.first_target]
        by_label[label] = target
        n_label_tokens = len(tokenizer(ex.completion, add_special_tokens=False)["input_ids"])
        if n_label_tokens > 1:
            multi.append(f"{ex.completion!r} ({n_label_tokens} tokens)")
    labels = sorted(by_label)
    warnings: list[str] = []
    if multi:
        warnings.append(
            "class labels are not single tokens: "
            + ", ".join(multi[:5])
            + "; classification metrics use the first token only and may be wrong"
        )
    tokens = [by_label[label] for label in labels]
    if len(set(tokens)) < len(tokens):
        warnings.append(
            "some class labels share their first token; classification metrics may be wrong"
        )
    n_classes = options.get("classification_n_classes")
    if n_classes and int(n_classes) != len(labels):
        warnings.append(
            f"classification_n_classes is {n_classes} but the data has {len(labels)} "
            f"distinct completions ({', '.join(map(repr, labels[:10]))})"
        )
    if len(labels) < 2:
        return None, "classification metrics skipped: the data has fewer than 2 classes"
    positive_index = None
    positive = options.get("classification_positive_class")
    if positive is not None:
        key = str(positive).strip()
        if key not in by_label:
            warnings.append(f"classification_positive_class {positive!r} is not among the labels")
            return None, "; ".join(warnings)
        positive_index = labels.index(key)
    betas = [float(b) for b in options.get("classification_betas") or [1.0]]
    setup = ClassificationSetup(
        labels=labels, token_ids=tokens, positive_index=positive_index, betas=betas
    )
    return setup, "; ".join(warnings) or None
