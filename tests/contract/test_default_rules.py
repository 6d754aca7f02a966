"""The legacy guide's `auto` rules at their boundaries (fttui.core.job_spec.resolve).

OpenAI's legacy fine-tuning guide: 4 epochs; a batch of about 0.2% of the training
examples, at least 1 and at most 256; a learning-rate multiplier of 0.05, 0.1 or 0.2
by the final batch size. The server resolves every job's `auto` with these (the
job's `resolved` and its first event), and reinforcement jobs train with them. Each
case sits on or next to an edge, so changing a rule (2% instead of 0.2%, a cap of
512, another threshold) fails a test here.
"""

from __future__ import annotations

import pytest

from fttui.core.job_spec import (
    DEFAULT_N_EPOCHS,
    default_batch_size,
    default_lr_multiplier,
    resolve,
)


@pytest.mark.parametrize(
    ("n_examples", "batch_size"),
    [
        (1, 1),  # at least 1
        (499, 1),  # 0.998 rounds to 1
        (500, 1),  # exactly 0.2%
        (749, 1),  # 1.498 rounds down
        (751, 2),  # 1.502 rounds up
        (1_000, 2),
        (5_000, 10),
        (127_999, 256),  # 255.998 rounds to 256
        (128_000, 256),  # the cap reached exactly
        (200_000, 256),  # 400 capped at 256
    ],
)
def test_default_batch_size_is_two_per_mille_at_least_1_at_most_256(
    n_examples: int, batch_size: int
) -> None:
    assert default_batch_size(n_examples) == batch_size
    assert resolve({}, n_examples).batch_size == batch_size


@pytest.mark.parametrize("n_examples", [1, 2, 3, 7, 100])
def test_a_batch_is_never_larger_than_the_file(n_examples: int) -> None:
    asked = resolve({"batch_size": 128}, n_examples)
    assert asked.batch_size == n_examples
    assert resolve({"batch_size": "auto"}, n_examples).batch_size <= n_examples


@pytest.mark.parametrize(
    ("batch_size", "multiplier"),
    [(1, 0.05), (7, 0.05), (8, 0.1), (63, 0.1), (64, 0.2), (256, 0.2)],
)
def test_lr_multiplier_at_each_branch(batch_size: int, multiplier: float) -> None:
    assert default_lr_multiplier(batch_size) == multiplier
    # resolve() picks it from the final batch size, whichever way that was chosen
    assert resolve({"batch_size": batch_size}, 10_000).learning_rate_multiplier == multiplier


@pytest.mark.parametrize(
    ("n_examples", "batch_size", "multiplier"),
    [(1_000, 2, 0.05), (4_000, 8, 0.1), (31_999, 64, 0.2), (200_000, 256, 0.2)],
)
def test_all_auto_resolves_the_guide_rules_together(
    n_examples: int, batch_size: int, multiplier: float
) -> None:
    resolved = resolve({"n_epochs": "auto", "batch_size": "auto"}, n_examples)
    assert resolved.as_dict() == {
        "n_epochs": 4,
        "batch_size": batch_size,
        "learning_rate_multiplier": multiplier,
    }


def test_values_the_user_set_win() -> None:
    assert DEFAULT_N_EPOCHS == 4
    resolved = resolve({"n_epochs": 2, "batch_size": 3, "learning_rate_multiplier": 0.7}, 1_000)
    assert resolved.as_dict() == {"n_epochs": 2, "batch_size": 3, "learning_rate_multiplier": 0.7}
