"""`auto` hyperparameters on the local engine: fast on small files, and still learning.

OpenAI's legacy fine-tuning guide sizes the batch at 0.2% of the examples and trains 4
epochs; on OpenAI's servers that is their concern, but on the local engine it makes a
300-example file train 1,200 optimizer steps of batch size 1, about 15-20 minutes on
a 2-core CPU. The local engine's `auto` is ours to choose, so when all three values
are `auto` the trainer resolves them with this rule instead. A user who sets one of
them works in the legacy guide's terms: the others then follow the legacy rule, as
on OpenAI (fttui.core.job_spec.resolve, which jobs on OpenAI always get):

- epochs: enough passes over a small file to learn it, no more on a large one:
  `ceil(600 / examples)`, clamped to 1..4, and on a CPU also no more than fit in
  `CPU_TOKEN_BUDGET` training tokens (never below 1). 100 examples: 4 epochs; 300: 2;
  3,000: 1.
- batch size: about `TARGET_STEPS` optimizer steps over the whole run (a power of two,
  1..32): small files keep small batches (enough updates to learn from), large files
  get larger ones (fewer, better-filled forward passes; a CPU trains more tokens per
  second in a batch of 8 than in 8 batches of 1).
- learning-rate multiplier: grows with the square root of the batch size from 0.1 at
  batch size 4 (a larger batch averages out noise, so a larger step is safe), at most
  0.4.

The job's "Hyperparameters" event says which rule chose each value and from what.
"""

from __future__ import annotations

import math
from typing import Any

from fttui.core.job_spec import AUTO, STANDARD_HPARAMS, Resolved, resolve

EXAMPLE_PASSES = 600  # examples seen over the run, before the caps
MAX_EPOCHS = 4
CPU_TOKEN_BUDGET = 60_000  # training tokens (prompt + completion) on a CPU
TARGET_STEPS = 75
MAX_BATCH = 32


def _power_of_two_at_most(value: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(1.0, value)))))


def lr_multiplier_for(batch_size: int) -> float:
    """0.1 at batch size 4, times sqrt(batch / 4), within [0.05, 0.4]."""
    return round(min(0.4, max(0.05, 0.1 * math.sqrt(batch_size / 4))), 3)


def resolve_local(
    requested: dict[str, Any] | None,
    n_examples: int,
    n_tokens: int,
    device_type: str,
) -> tuple[Resolved, str]:
    """(values, why) for a local job of `n_examples` examples holding `n_tokens`
    tokens in all, on `device_type` ("cpu" or "cuda"). Values the user set win."""
    req = requested or {}
    n = max(1, n_examples)

    def given(name: str) -> Any:
        value = req.get(name)
        return None if value in (None, AUTO) else value

    inputs = f"{n} examples, {n_tokens:,} tokens, device {device_type}"
    chosen = [name for name in STANDARD_HPARAMS if given(name) is not None]
    if chosen:
        legacy = resolve(req, n)
        return legacy, (
            f"Hyperparameters ({inputs}): {', '.join(chosen)} set, so the rest follow "
            f"OpenAI's legacy fine-tuning guide: n_epochs {legacy.n_epochs}, batch_size "
            f"{legacy.batch_size}, learning_rate_multiplier {legacy.learning_rate_multiplier:g}"
        )
    notes: list[str] = []
    epochs = given("n_epochs")
    if epochs is None:
        epochs = min(MAX_EPOCHS, max(1, math.ceil(EXAMPLE_PASSES / n)))
        why = f"ceil({EXAMPLE_PASSES} / {n} examples) within 1..{MAX_EPOCHS}"
        if device_type == "cpu" and n_tokens > 0:
            fit = max(1, CPU_TOKEN_BUDGET // n_tokens)
            if fit < epochs:
                epochs = fit
                why += f", cut to fit {CPU_TOKEN_BUDGET:,} tokens on CPU ({n_tokens:,} an epoch)"
        notes.append(f"n_epochs {epochs} (local rule: {why})")
    else:
        epochs = int(epochs)
        notes.append(f"n_epochs {epochs} (set)")
    batch = given("batch_size")
    if batch is None:
        batch = min(MAX_BATCH, _power_of_two_at_most(n * epochs / TARGET_STEPS))
        batch = max(1, min(batch, n))
        steps = math.ceil(n / batch) * epochs
        notes.append(
            f"batch_size {batch} (local rule: about {TARGET_STEPS} steps in all, {steps} here)"
        )
    else:
        batch = max(1, min(int(batch), n))
        notes.append(f"batch_size {batch} (set)")
    lr = given("learning_rate_multiplier")
    if lr is None:
        lr = lr_multiplier_for(batch)
        notes.append(f"learning_rate_multiplier {lr:g} (local rule: 0.1 x sqrt(batch / 4))")
    else:
        lr = float(lr)
        notes.append(f"learning_rate_multiplier {lr:g} (set)")
    resolved = Resolved(n_epochs=epochs, batch_size=batch, learning_rate_multiplier=lr)
    return resolved, f"Hyperparameters for the local engine ({inputs}): " + "; ".join(notes)


# Reinforcement fine-tuning: every step samples `batch_size x group` answers, so a step
# costs about as much as its answers are long, however few prompts it has. A batch
# of RFT_BATCH prompts (16 answers at compute_multiplier 1) is decoded together
# (one forward pass per token for all of them, not one per prompt), and about
# RFT_TARGET_STEPS updates of it learn a new answer format on the default model.
RFT_BATCH = 4
RFT_TARGET_STEPS = 64
RFT_LR_MULTIPLIER = 0.05


def resolve_local_rft(requested: dict[str, Any] | None, n_prompts: int) -> tuple[Resolved, str]:
    """(values, why) for a local reinforcement job of `n_prompts` training prompts.

    `auto` here is fttui's rule, not the legacy guide's 0.2%-of-the-file batch, which
    on a small RFT file means a step per prompt: a CPU then decodes 4 answers at a
    time instead of 16 and the run takes about 3 times as long. Values the user set
    win; the rest keep this rule (unlike supervised jobs, there is no legacy-guide
    rule for reinforcement to fall back on).
    - batch_size: RFT_BATCH prompts (at most the file);
    - n_epochs: about RFT_TARGET_STEPS steps, `ceil(steps x batch / prompts)` within
      1..MAX_EPOCHS;
    - learning_rate_multiplier: RFT_LR_MULTIPLIER.
    """
    req = requested or {}
    n = max(1, n_prompts)

    def given(name: str) -> Any:
        value = req.get(name)
        return None if value in (None, AUTO) else value

    notes: list[str] = []
    batch = given("batch_size")
    if batch is None:
        batch = min(RFT_BATCH, n)
        notes.append(f"batch_size {batch} (local rule: {RFT_BATCH} prompts a step)")
    else:
        batch = max(1, min(int(batch), n))
        notes.append(f"batch_size {batch} (set)")
    epochs = given("n_epochs")
    if epochs is None:
        epochs = min(MAX_EPOCHS, max(1, math.ceil(RFT_TARGET_STEPS * batch / n)))
        steps = math.ceil(n / batch) * epochs
        notes.append(
            f"n_epochs {epochs} (local rule: about {RFT_TARGET_STEPS} steps within "
            f"1..{MAX_EPOCHS} epochs, {steps} here)"
        )
    else:
        epochs = int(epochs)
        notes.append(f"n_epochs {epochs} (set)")
    lr = given("learning_rate_multiplier")
    if lr is None:
        lr = RFT_LR_MULTIPLIER
        notes.append(f"learning_rate_multiplier {lr:g} (local rule)")
    else:
        lr = float(lr)
        notes.append(f"learning_rate_multiplier {lr:g} (set)")
    resolved = Resolved(n_epochs=epochs, batch_size=batch, learning_rate_multiplier=lr)
    return resolved, f"Hyperparameters for the local engine ({n} prompts): " + "; ".join(notes)
