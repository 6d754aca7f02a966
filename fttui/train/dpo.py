"""DPO (direct preference optimisation), run by the engine's own training loop.

A preference pair is an input with a preferred and a non-preferred output. DPO's
sigmoid loss (Rafailov et al., 2023) raises the log-probability the trained model
(the policy) gives the preferred output relative to a frozen reference model, and
lowers it for the non-preferred one:

    loss = -log sigmoid(beta * ((pc - rc) - (pr - rr)))

with pc/pr the policy's and rc/rr the reference's summed log-probabilities of the
preferred / non-preferred output's tokens given the input. The implicit rewards are
beta * (pc - rc) and beta * (pr - rr); a pair counts towards the reward accuracy when
the preferred output's reward is the larger, and the reward margin is their
difference.

Everything around a step is the supervised loop's (`fttui.train.engine.train`, with
this module's `DPOObjective`): the batch schedule, AdamW and its schedule, cancel,
LoRA or full fine-tuning, data parallelism under DDP, validation cadence, epoch-end
checkpoints with their `training_state`. Each micro-batch packs both sequences of
its pairs into one padding-free row with the engine's `pack`.

The reference: the model as it is before the first step (the base model, or the
fine-tuned model a job continues from). Its log-probabilities never change, so they
are computed once per pair before training and kept (two floats a pair, saved in each
checkpoint's training state for resuming): no second copy of the weights in memory,
for full fine-tuning as for LoRA (the adapters are disabled for that pass, and they
start at zero anyway), and one forward pass per pair instead of one per pair per
epoch (tests/train/test_dpo_memory.py measures the peak memory against a frozen copy).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from fttui.train.data import IGNORE, Example, PreferenceExample
from fttui.train.engine import (
    _LOGIT_POSTPROCESSING,
    MAX_TOKENS_PER_PASS,
    Interrupted,
    Ranks,
    _autocast,
    _forward,
    _Packed,
    micro_batches,
    pack,
)

__all__ = [
    "DPOObjective",
    "Pair",
    "after_training",
    "dpo_loss",
    "pairs_from",
    "preference_share",
    "sequence_logps",
    "step0_event",
]

# Tokens in one no-gradient pass (reference log-probabilities, validation) on CPU. A
# packed row attends within each sequence, but CPU attention runs over the whole row
# under a block-diagonal mask, so its cost grows with the row's length squared:
# benchmarks/dpo_reference_bench.py measured 2,048 at 0.56-0.84x the time of 8,192
# on SmolLM2 (docs/training.md).
CPU_NO_GRAD_TOKENS_PER_PASS = 2048
# Positions x vocabulary of one chunk's float32 logits (64 MiB): the head's output
# is never held for every trained position at once.
CHUNK_ELEMENTS = 1 << 24


@dataclass
class Pair:
    """One preference pair as the loop trains it: input + preferred output and input +
    non-preferred output as two sequences (loss positions on the outputs only), and
    the reference model's summed log-probabilities of each output."""

    line: int
    chosen: Example
    rejected: Example
    ref_chosen: float = math.nan
    ref_rejected: float = math.nan

    @property
    def n_tokens(self) -> int:
        """Tokens the model reads for this pair (both sequences)."""
        return self.chosen.n_tokens + self.rejected.n_tokens


def pairs_from(examples: Sequence[PreferenceExample]) -> list[Pair]:
    """The trainer's pairs from the tokenised preference examples."""
    pairs = []
    for ex in examples:
        masked = [IGNORE] * len(ex.prompt_ids)
        chosen = Example(ex.line, ex.prompt_ids + ex.chosen_ids, masked + ex.chosen_ids, "")
        rejected = Example(ex.line, ex.prompt_ids + ex.rejected_ids, masked + ex.rejected_ids, "")
        pairs.append(Pair(ex.line, chosen, rejected))
    return pairs


def _plain_head(model: Any) -> Any:
    """The LM head when it is a plain linear layer we can apply chunk by chunk, else None."""
    config = getattr(model, "config", None)
    for holder in (config, getattr(config, "text_config", None)):
        if any(getattr(holder, name, None) not in (None, 1, 1.0) for name in _LOGIT_POSTPROCESSING):
            return None
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if not isinstance(head, torch.nn.Linear) or not hasattr(model, "get_decoder"):
        return None
    return head


def _chunk_logps(
    hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, targets: torch.Tensor
) -> torch.Tensor:
    logits = F.linear(hidden, weight, bias).float()
    return logits.log_softmax(-1).gather(1, targets[:, None]).squeeze(1)


def token_logps(model: Any, packed: _Packed) -> torch.Tensor:
    """log p(target) at every kept position of the packed row, in float32.

    With a plain linear head the decoder's hidden states go through the head a chunk
    of positions at a time, each chunk under activation checkpointing, so neither the
    forward nor the backward pass holds the logits of all trained positions (DPO
    outputs are often long: 4,800 positions x 49,152 SmolLM2 tokens would be ~1 GB,
    twice). Other heads: the model's own forward at the kept positions.
    """
    head = _plain_head(model)
    if head is None:
        logits = _forward(model, packed)
        return logits.log_softmax(-1).gather(1, packed.targets[:, None]).squeeze(1)
    out = model.get_decoder()(
        input_ids=packed.input_ids, position_ids=packed.position_ids, use_cache=False
    )
    hidden = out[0][0, packed.keep]
    rows = max(16, CHUNK_ELEMENTS // max(1, head.weight.shape[0]))
    parts = []
    for start in range(0, hidden.shape[0], rows):
        args = (
            hidden[start : start + rows],
            head.weight,
            head.bias,
            packed.targets[start : start + rows],
        )
        if torch.is_grad_enabled():
            parts.append(checkpoint(_chunk_logps, *args, use_reentrant=False))
        else:
            parts.append(_chunk_logps(*args))
    return torch.cat(parts) if parts else hidden.new_zeros(0, dtype=torch.float32)


def sequence_logps(model: Any, packed: _Packed) -> torch.Tensor:
    """Each packed sequence's summed log-probability of its trained tokens."""
    lp = token_logps(model, packed)
    owner = torch.tensor(packed.owner, device=lp.device, dtype=torch.long)
    return lp.new_zeros(packed.n_examples).index_add(0, owner, lp)


class PreferenceStep(torch.nn.Module):
    """The model and its sequence log-probabilities in one forward pass: what each
    micro-batch calls, and what DDP wraps (its gradient all-reduce needs the forward
    to go through the wrapper)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, packed: _Packed) -> torch.Tensor:
        return sequence_logps(self.model, packed)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-pair sigmoid loss, preferred reward, non-preferred reward)."""
    chosen_reward = beta * (policy_chosen - ref_chosen)
    rejected_reward = beta * (policy_rejected - ref_rejected)
    losses = -F.logsigmoid(chosen_reward - rejected_reward)
    return losses, chosen_reward.detach(), rejected_reward.detach()


def preference_share(chosen: Sequence[float], rejected: Sequence[float]) -> float:
    """Share of pairs whose preferred output has the higher log-probability."""
    if not chosen:
        return math.nan
    return sum(c > r for c, r in zip(chosen, rejected, strict=True)) / len(chosen)


def _no_grad_groups(pairs: Sequence[Pair], device: torch.device) -> Iterator[list[Pair]]:
    """Pairs grouped for a forward pass without gradients (see CPU_NO_GRAD_TOKENS_PER_PASS)."""
    budget = CPU_NO_GRAD_TOKENS_PER_PASS if device.type == "cpu" else MAX_TOKENS_PER_PASS
    return micro_batches(pairs, budget)


def _pack_pairs(group: Sequence[Pair], device: torch.device) -> _Packed:
    """Preferred and non-preferred sequence of each pair, alternating, in one row."""
    return pack([seq for p in group for seq in (p.chosen, p.rejected)], device)


def _sum_over_ranks(values: list[float], device: torch.device) -> list[float]:
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return [float(v) for v in t.tolist()]


@dataclass
class DPOObjective:
    """DPO for `fttui.train.engine.train` (see the module docstring).

    `reference`: saved reference log-probabilities (`state()` of an earlier run of the
    same job, from a checkpoint's training state) to use instead of computing them.
    `on_ready` is called (rank 0) once they are computed, before the first step
    (not when restored).
    After `evaluate(full=True)` on the validation file, `preferred_share` holds the
    share of its pairs whose preferred output the model gives the higher
    log-probability; `reference_share` the same for the reference model.
    """

    beta: float
    bf16: bool = False
    reference: dict[str, Any] | None = None
    on_ready: Callable[[DPOObjective], None] | None = None
    preferred_share: float = math.nan
    reference_share: float = math.nan
    _train: list[Pair] = field(default_factory=list, repr=False)
    _valid: list[Pair] = field(default_factory=list, repr=False)

    def module(self, model: Any) -> torch.nn.Module:
        return PreferenceStep(model)

    # -- the reference model's log-probabilities -----------------------------------
    def _reference_pass(
        self,
        model: Any,
        pairs: Sequence[Pair],
        device: torch.device,
        should_stop: Callable[[], bool],
    ) -> None:
        for group in _no_grad_groups(pairs, device):
            if should_stop():
                raise Interrupted
            with _autocast(device, self.bf16):
                logps = sequence_logps(model, _pack_pairs(group, device)).tolist()
            for k, pair in enumerate(group):
                pair.ref_chosen, pair.ref_rejected = logps[2 * k], logps[2 * k + 1]

    def prepare(
        self,
        model: Any,
        train_examples: Sequence[Any],
        valid_examples: Sequence[Any],
        device: torch.device,
        should_stop: Callable[[], bool],
        ranks: Ranks | None,
    ) -> None:
        """Compute (or restore) the reference log-probabilities of every pair.

        Data-parallel: each rank computes its share of the training pairs and they
        exchange them; only rank 0 evaluates, so it alone does the validation pairs.
        """
        self._train = list(train_examples)
        self._valid = list(valid_examples)
        restored = self.reference is not None
        if self.reference is not None:
            self._restore(self.reference)
        else:
            self._reference_passes(model, device, should_stop, ranks)
        self.reference_share = preference_share(
            [p.ref_chosen for p in self._valid], [p.ref_rejected for p in self._valid]
        )
        if self.on_ready is not None and not restored and (ranks is None or ranks.main):
            self.on_ready(self)

    @property
    def has_validation(self) -> bool:
        return bool(self._valid)

    def _reference_passes(
        self,
        model: Any,
        device: torch.device,
        should_stop: Callable[[], bool],
        ranks: Ranks | None,
    ) -> None:
        was_training = model.training
        model.eval()
        # LoRA: the base model is the model with its adapters switched off.
        off = model.disable_adapter() if hasattr(model, "disable_adapter") else None
        try:
            with torch.no_grad(), off if off is not None else contextlib.nullcontext():
                if ranks is None or ranks.world_size == 1:
                    self._reference_pass(model, self._train, device, should_stop)
                else:
                    mine = self._train[ranks.rank :: ranks.world_size]
                    self._reference_pass(model, mine, device, should_stop)
                    self._exchange(ranks)
                if ranks is None or ranks.main:
                    self._reference_pass(model, self._valid, device, should_stop)
        finally:
            if was_training:
                model.train()

    def _exchange(self, ranks: Ranks) -> None:
        import torch.distributed as dist

        mine = [(p.ref_chosen, p.ref_rejected) for p in self._train[ranks.rank :: ranks.world_size]]
        gathered: list[Any] = [None] * ranks.world_size
        dist.all_gather_object(gathered, mine)
        for r, values in enumerate(gathered):
            for pair, (c, rej) in zip(self._train[r :: ranks.world_size], values, strict=True):
                pair.ref_chosen, pair.ref_rejected = c, rej

    def state(self) -> dict[str, Any]:
        """The reference log-probabilities, in file order (resuming must not recompute
        them from weights that have trained since)."""
        return {
            "dpo_reference": {
                "train": [v for p in self._train for v in (p.ref_chosen, p.ref_rejected)],
                "valid": [v for p in self._valid for v in (p.ref_chosen, p.ref_rejected)],
            }
        }

    def _restore(self, saved: dict[str, Any]) -> None:
        saved = saved.get("dpo_reference", saved)
        for name, pairs in (("train", self._train), ("valid", self._valid)):
            values = list(saved.get(name) or [])
            if len(values) != 2 * len(pairs):
                raise ValueError(
                    f"saved reference log-probabilities cover {len(values) // 2} {name} pairs, "
                    f"the file has {len(pairs)}"
                )
            for k, pair in enumerate(pairs):
                pair.ref_chosen, pair.ref_rejected = values[2 * k], values[2 * k + 1]

    # -- training and validation -----------------------------------------------------
    def _pair_terms(
        self, logps: torch.Tensor, group: Sequence[Pair], device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        refs = torch.tensor(
            [[p.ref_chosen, p.ref_rejected] for p in group], dtype=torch.float32, device=device
        )
        return dpo_loss(logps[0::2], logps[1::2], refs[:, 0], refs[:, 1], self.beta)

    def step(
        self, net: Any, batch: Sequence[Any], ranks: Ranks | None, device: torch.device
    ) -> dict[str, float]:
        """This rank's pairs of `batch`, micro-batch by micro-batch; the loss is the mean
        over the whole batch's pairs (times the world size: DDP averages the ranks')."""
        world = ranks.world_size if ranks is not None else 1
        mine = list(batch[ranks.rank :: world]) if ranks is not None else list(batch)
        # A rank with no pair this step still joins the all-reduce, zero-weighted.
        # A pair is never split: its loss needs both outputs' log-probabilities in one graph.
        groups = list(micro_batches(mine)) or [[batch[0]]]
        weight = world / len(batch) if mine else 0.0
        sums = [0.0, 0.0, 0.0]  # loss, pairs ranked right, margin
        for i, group in enumerate(groups):
            packed = _pack_pairs(group, device)
            last = i == len(groups) - 1
            sync = contextlib.nullcontext() if ranks is None or last else net.no_sync()
            with sync:
                with _autocast(device, self.bf16):
                    logps = net(packed)
                losses, chosen, rejected = self._pair_terms(logps, group, device)
                (losses.sum() * weight).backward()
            if not mine:
                continue
            sums[0] += float(losses.detach().sum())
            sums[1] += float((chosen > rejected).sum())
            sums[2] += float((chosen - rejected).sum())
        if ranks is not None:
            sums = _sum_over_ranks(sums, device)
        n = len(batch)
        return {
            "training_loss": sums[0] / n,
            "training_reward_accuracy": sums[1] / n,
            "training_reward_margin": sums[2] / n,
        }

    @torch.no_grad()
    def evaluate(
        self,
        model: Any,
        examples: Sequence[Any],
        device: torch.device,
        *,
        full: bool,
        should_stop: Callable[[], bool],
    ) -> dict[str, float]:
        was_training = model.training
        model.eval()
        sums = [0.0, 0.0, 0.0]
        chosen_lp: list[float] = []
        rejected_lp: list[float] = []
        n = 0
        try:
            for group in _no_grad_groups(examples, device):
                if should_stop():
                    break
                with _autocast(device, self.bf16):
                    logps = sequence_logps(model, _pack_pairs(group, device))
                losses, chosen, rejected = self._pair_terms(logps, group, device)
                sums[0] += float(losses.sum())
                sums[1] += float((chosen > rejected).sum())
                sums[2] += float((chosen - rejected).sum())
                chosen_lp += logps[0::2].tolist()
                rejected_lp += logps[1::2].tolist()
                n += len(group)
        finally:
            if was_training:
                model.train()
        if n == 0:
            return {}
        if full and n == len(self._valid):
            self.preferred_share = preference_share(chosen_lp, rejected_lp)
        return {
            "validation_loss": sums[0] / n,
            "validation_reward_accuracy": sums[1] / n,
            "validation_reward_margin": sums[2] / n,
        }


def step0_event(objective: DPOObjective) -> tuple[str, dict[str, Any]]:
    """Step 0 of a DPO job with a validation file, as an event (message, data).

    Before the first step the model is its own reference: every implicit reward is 0,
    so the loss is log 2, the reward accuracy 0 and the margin 0, by definition. What
    the reference pass measured is how often the model already gives the preferred
    output the higher log-probability.
    """
    share = objective.reference_share
    data = {
        "step": 0,
        "validation_loss": math.log(2),
        "validation_reward_accuracy": 0.0,
        "validation_reward_margin": 0.0,
        "validation_preferred_share": share,
    }
    message = (
        f"Before training (step 0): validation loss={math.log(2):.4f}, reward accuracy=0.00, "
        f"reward margin=0.0000 (the model is its own reference); the model gives the "
        f"preferred output the higher log-probability on {share:.0%} of the validation pairs"
    )
    return message, data


def after_training(objective: DPOObjective, n_valid: int) -> str:
    """The held-out preference after training, next to the reference's (an event)."""
    return (
        f"After training: the model gives the preferred output the higher log-probability "
        f"on {objective.preferred_share:.0%} of the {n_valid} validation pairs "
        f"(before training: {objective.reference_share:.0%})"
    )
