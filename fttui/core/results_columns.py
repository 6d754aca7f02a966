"""The legacy guide's results CSV columns: one list for the trainer that writes them and the
app that reads them (`fttui.train.results`, `fttui.results`).

A module of its own, with no imports, so the app can read results without loading
the trainer (torch) and the trainer can write them without the app (pandas).
"""

from __future__ import annotations

__all__ = [
    "DPO_TRAIN_COLUMNS",
    "OPENAI_COLUMNS",
    "DPO_VALIDATION_COLUMNS",
    "FULL_VALIDATION_COLUMNS",
    "KNOWN_COLUMNS",
    "REWARD_COLUMNS",
    "TRAIN_COLUMNS",
    "VALIDATION_COLUMNS",
]

TRAIN_COLUMNS: tuple[str, ...] = (
    "step",
    "elapsed_tokens",
    "elapsed_examples",
    "training_loss",
    "training_sequence_accuracy",
    "training_token_accuracy",
)
VALIDATION_COLUMNS: tuple[str, ...] = (
    "validation_loss",
    "validation_sequence_accuracy",
    "validation_token_accuracy",
)
# Written by OpenAI at the end of a job (the local trainer does not have them).
FULL_VALIDATION_COLUMNS: tuple[str, ...] = (
    "full_validation_loss",
    "full_validation_token_accuracy",
)
# DPO jobs (fttui.train.dpo): the loss is DPO's sigmoid loss; no token accuracies
# (nothing is predicted token by token); the implicit rewards' accuracy (share of pairs
# whose preferred output gets the larger reward) and margin (preferred minus
# non-preferred reward, mean over the pairs) instead.
DPO_TRAIN_COLUMNS: tuple[str, ...] = (
    "step",
    "elapsed_tokens",
    "elapsed_examples",
    "training_loss",
    "training_reward_accuracy",
    "training_reward_margin",
)
DPO_VALIDATION_COLUMNS: tuple[str, ...] = (
    "validation_loss",
    "validation_reward_accuracy",
    "validation_reward_margin",
)
REWARD_COLUMNS: tuple[str, ...] = (
    "training_reward_accuracy",
    "validation_reward_accuracy",
    "training_reward_margin",
    "validation_reward_margin",
)
# Every non-classification column, in the order the plots and frames show them.
KNOWN_COLUMNS: tuple[str, ...] = (
    TRAIN_COLUMNS + VALIDATION_COLUMNS + FULL_VALIDATION_COLUMNS + REWARD_COLUMNS
)

# OpenAI's results file for a job of today's API starts with these columns, in this
# order (its published example: `step,train_loss,train_accuracy,valid_loss,
# valid_mean_token_accuracy`); each maps to the legacy guide's column it holds. The local
# server writes them first for a `/v1/fine_tuning/jobs` job, so code written against
# OpenAI's file (e.g. `results["train_accuracy"]`) reads fttui's unchanged; the legacy
# guide's and the classification columns follow. A legacy `/v1/fine-tunes` job keeps the
# legacy guide's file exactly.
OPENAI_COLUMNS: tuple[tuple[str, str], ...] = (
    ("train_loss", "training_loss"),
    ("train_accuracy", "training_token_accuracy"),
    ("valid_loss", "validation_loss"),
    ("valid_mean_token_accuracy", "validation_token_accuracy"),
)
