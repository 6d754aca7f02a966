"""The training loop: a plain torch loop over padding-free packed batches.

Why not a Trainer class: per step we need the legacy guide's metrics (token and sequence
accuracy on completion tokens), cheap cancellation between steps and exact control
over what is computed. Each batch's examples are packed into one row with
`position_ids` restarting per example and no attention mask; transformers then
builds a block-diagonal mask so examples never attend to each other, and no compute
is spent on padding. Logits are computed only at positions whose next token is a
completion token (`logits_to_keep` with indices), which skips most of the LM head on
prompts.

`prompt_loss_weight` (the legacy fine-tunes API's option, prompt/completion data only):
with a weight w > 0 the positions that predict prompt tokens are kept too and their
cross-entropy counts w times; the loss is the weighted mean over the batch,
sum(w_i * CE_i) / sum(w_i), with w_i = 1 on completion tokens. Validation loss is
weighted the same way, so both curves measure one objective; accuracies (and the
classification metrics) stay on the completion tokens. With w = 0 (the default) the
packing, the kept positions and the loss are exactly those of completion-only training.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from fttui.train.data import IGNORE, Example
from fttui.train.loss import liger_available, liger_loss, linear_cross_entropy
from fttui.train.metrics import classification_metrics, token_and_sequence_accuracy

# Longest packed row per forward pass; bigger batches are split and their
# gradients accumulated, so batch_size never decides peak memory.
MAX_TOKENS_PER_PASS = 8192


@dataclass
class TrainConfig:
    n_epochs: int
    batch_size: int
    learning_rate: float
    seed: int = 0
    method: str = "full"  # "full" or "lora"
    lora_r: int = 16
    lora_alpha: float = 32.0
    lora_dropout: float = 0.0
    warmup_ratio: float = 0.03
    eval_every: int = 0  # steps between validations; 0 = about 10 per run
    max_eval_examples: int = 256
    # bf16 autocast for forward passes (weights, gradients, optimizer state stay
    # float32); run.py sets it from fttui.train.precision.choose.
    bf16: bool = False
    # "chunked", "liger" or "logits" (see choose_loss); run.py chooses per model.
    loss: str = "chunked"
    classification: ClassificationSetup | None = None
    # Weight of the loss on prompt tokens (prompt/completion data); 0 = completion only.
    prompt_loss_weight: float = 0.0
    # AdamW's decoupled weight decay (the job's `weight_decay`); 0 = none.
    weight_decay: float = 0.0


@dataclass
class ClassificationSetup:
    """Class labels mapped to their first token; index of the positive class if binary."""

    labels: list[str]
    token_ids: list[int]
    positive_index: int | None = None
    betas: list[float] = field(default_factory=lambda: [1.0])

    def index_of(self, completion: str) -> int | None:
        key = completion.strip()
        for i, label in enumerate(self.labels):
            if label.strip() == key:
                return i
        return None


@dataclass
class Ranks:
    """This process's place in a data-parallel run (torch.distributed already set up).

    Each rank trains on examples `rank::world_size` of every global batch under torch's
    DistributedDataParallel, whose all-reduce makes every rank apply the same update.
    Only rank 0 evaluates and reports.
    """

    rank: int
    world_size: int

    @property
    def main(self) -> bool:
        return self.rank == 0


def _wrap_ddp(model: Any, device: torch.device) -> torch.nn.parallel.DistributedDataParallel:
    """torch's DistributedDataParallel around `model` (gloo on CPU, NCCL on GPU).

    Construction broadcasts rank 0's weights (LoRA adapters included) to every rank.
    Buffers are not re-broadcast per forward (`broadcast_buffers=False`): the only
    buffers are rotary frequencies every rank computes identically, and a rank runs a
    varying number of forwards per step, so a per-forward collective would deadlock.
    """
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" and device.index is not None else None
    return DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)


def _any_rank(flag: bool, device: torch.device) -> bool:
    import torch.distributed as dist

    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def _sum_ranks(value: float, device: torch.device) -> float:
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item())


def _gather_lists(
    targets: list[list[int]], preds: list[list[int]]
) -> tuple[list[list[int]], list[list[int]]]:
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, (targets, preds))
    all_t: list[list[int]] = []
    all_p: list[list[int]] = []
    for t, p in out:
        all_t += t
        all_p += p
    return all_t, all_p


class Reporter(Protocol):
    """Where the loop sends what happens: the job's run writes the results CSV and
    reports to the server over HTTP (`RunReports`, fttui/train/job/_reports.py).

    A reporter may also have `should_abandon() -> bool`: stop even in the middle of a
    validation pass (a cancel: nothing will be resumed). Without it, `should_stop` is
    used there too.
    """

    def should_stop(self) -> bool:
        """Stop at the next step boundary (cancel or pause): a step whose update was
        applied is completed (validation, row, checkpoint) first; one under way in its
        forward or backward pass is abandoned and redone on resume."""
        ...

    def on_step(self, row: dict[str, Any], total_steps: int) -> None: ...

    def on_epoch_end(
        self,
        epoch: int,
        step: int,
        row: dict[str, Any],
        model: Any,
        training_state: dict[str, Any] | None = None,
    ) -> None:
        """`training_state`: optimizer and schedule state and counters, so a checkpoint
        can resume training exactly (references, not copies: save them, do not keep)."""
        ...


class Objective(Protocol):
    """A training method other than supervised fine-tuning, run by the same loop.

    `train` keeps everything around the step (batch schedule, optimizer and schedule,
    cancel and pause, resume, data-parallel ranks, validation cadence, epoch ends and
    their checkpoints, `training_state`); the objective decides what a step and a
    validation compute: fttui.train.dpo (DPO) and fttui.train.rft (reinforcement);
    supervised fine-tuning is the loop's own.
    """

    def module(self, model: Any) -> torch.nn.Module:
        """What the training forward passes call (DDP wraps this when data-parallel)."""
        ...

    def prepare(
        self,
        model: Any,
        train_examples: Sequence[Any],
        valid_examples: Sequence[Any],
        device: torch.device,
        should_stop: Callable[[], bool],
        ranks: Ranks | None,
    ) -> None:
        """Once, after LoRA is applied and before the first step (also on resume)."""
        ...

    def step(
        self, net: Any, batch: Sequence[Any], ranks: Ranks | None, device: torch.device
    ) -> dict[str, float]:
        """Forward and backward of this rank's share of `batch` (`ranks`: data-parallel);
        the metrics of the whole batch for its results row."""
        ...

    def evaluate(
        self,
        model: Any,
        examples: Sequence[Any],
        device: torch.device,
        *,
        full: bool,
        should_stop: Callable[[], bool],
    ) -> dict[str, float]:
        """Validation metrics (`full`: the whole validation file, at an epoch end)."""
        ...

    def state(self) -> dict[str, Any]:
        """What resuming needs beyond weights and optimizer (saved in `training_state`)."""
        ...


@dataclass
class Outcome:
    steps: int
    total_steps: int
    elapsed_tokens: int
    stopped: bool
    # Training state after `steps` (see `training_state`), for a pause checkpoint.
    state: dict[str, Any] | None = None


@dataclass
class Resume:
    """Where a paused job continues: what its checkpoint saved after step `step`.

    The weights are loaded by the caller (full fine-tuning) or from `adapter_dir`
    after the LoRA wrapping (LoRA); the batch order is a pure function of the job's `seed`,
    so skipping the first `step` batches replays the uninterrupted run exactly.
    """

    step: int
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    elapsed_tokens: int
    elapsed_examples: int
    epoch_losses: list[float]
    rng: dict[str, Any]
    adapter_dir: str | None = None


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [v.tolist() if isinstance(v, np.ndarray) else v for v in np.random.get_state()],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class _Packed:
    input_ids: torch.Tensor
    position_ids: torch.Tensor
    keep: torch.Tensor  # positions whose logits we need
    targets: torch.Tensor  # next-token targets at `keep`
    owner: list[int]  # example index (within the pack) of each completion target
    first_keep: list[int]  # index into `keep` of each example's first completion target
    n_examples: int
    n_tokens: int
    # With a prompt loss weight: each kept position's weight (1 or the prompt weight) and
    # the indices into `keep` of the completion targets; None = all kept are completion.
    weights: torch.Tensor | None = None
    scored: torch.Tensor | None = None

    def loss(self, logits: torch.Tensor) -> torch.Tensor:
        """Summed (weighted) cross-entropy of the kept positions."""
        if self.weights is None:
            return F.cross_entropy(logits, self.targets, reduction="sum")
        return (F.cross_entropy(logits, self.targets, reduction="none") * self.weights).sum()

    @property
    def weight(self) -> float:
        """What `loss` is a sum over: the kept positions, each counted by its weight."""
        if self.weights is None:
            return float(self.targets.numel())
        return float(self.weights.sum())

    def completion(self, preds: torch.Tensor) -> tuple[list[int], list[int]]:
        """(targets, predictions) at the completion targets (what accuracy counts), from
        the predicted tokens at every kept position."""
        targets = self.targets
        if self.scored is not None:
            preds, targets = preds[self.scored], targets[self.scored]
        return targets.tolist(), preds.tolist()


def target_weight(ex: Example, prompt_weight: float = 0.0) -> float:
    """The weight an example's targets add to a batch's loss normaliser."""
    trained = sum(1 for lab in ex.labels[1:] if lab != IGNORE)
    if not prompt_weight:
        return trained
    return trained + prompt_weight * (len(ex.input_ids) - 1 - trained)


def pack(examples: Sequence[Example], device: torch.device, prompt_weight: float = 0.0) -> _Packed:
    """One padding-free row: concatenated ids, per-example positions, shifted targets.
    With `prompt_weight` > 0 the positions predicting prompt tokens are kept as well."""
    if prompt_weight:
        return _pack_weighted(examples, device, prompt_weight)
    ids: list[int] = []
    positions: list[int] = []
    keep: list[int] = []
    targets: list[int] = []
    owner: list[int] = []
    first_keep: list[int] = []
    for k, ex in enumerate(examples):
        offset = len(ids)
        ids.extend(ex.input_ids)
        positions.extend(range(len(ex.input_ids)))
        first_keep.append(len(keep))
        for t in range(len(ex.input_ids) - 1):
            target = ex.labels[t + 1]
            if target != IGNORE:
                keep.append(offset + t)
                targets.append(target)
                owner.append(k)
    return _Packed(
        input_ids=torch.tensor([ids], device=device),
        position_ids=torch.tensor([positions], device=device),
        keep=torch.tensor(keep, device=device),
        targets=torch.tensor(targets, device=device),
        owner=owner,
        first_keep=first_keep,
        n_examples=len(examples),
        n_tokens=len(ids),
    )


def _pack_weighted(
    examples: Sequence[Example], device: torch.device, prompt_weight: float
) -> _Packed:
    ids: list[int] = []
    positions: list[int] = []
    keep: list[int] = []
    targets: list[int] = []
    weights: list[float] = []
    scored: list[int] = []
    owner: list[int] = []
    first_keep: list[int] = []
    for k, ex in enumerate(examples):
        offset = len(ids)
        ids.extend(ex.input_ids)
        positions.extend(range(len(ex.input_ids)))
        first: int | None = None
        for t in range(len(ex.input_ids) - 1):
            target = ex.labels[t + 1]
            if target != IGNORE:
                if first is None:
                    first = len(keep)
                scored.append(len(keep))
                owner.append(k)
                weights.append(1.0)
            else:
                target = ex.input_ids[t + 1]
                weights.append(prompt_weight)
            keep.append(offset + t)
            targets.append(target)
        first_keep.append(len(keep) if first is None else first)
    return _Packed(
        input_ids=torch.tensor([ids], device=device),
        position_ids=torch.tensor([positions], device=device),
        keep=torch.tensor(keep, device=device),
        targets=torch.tensor(targets, device=device),
        owner=owner,
        first_keep=first_keep,
        n_examples=len(examples),
        n_tokens=len(ids),
        weights=torch.tensor(weights, device=device),
        scored=torch.tensor(scored, device=device),
    )


class _Sized(Protocol):
    @property
    def n_tokens(self) -> int: ...


_S = TypeVar("_S", bound=_Sized)


def micro_batches(examples: Sequence[_S], budget: int = MAX_TOKENS_PER_PASS) -> Iterator[list[_S]]:
    """Split a batch into consecutive groups of at most `budget` tokens (at least one
    item; an item, e.g. a DPO pair, is never split)."""
    group: list[_S] = []
    size = 0
    for ex in examples:
        if group and size + ex.n_tokens > budget:
            yield group
            group, size = [], 0
        group.append(ex)
        size += ex.n_tokens
    if group:
        yield group


def _grouped(values: list[int], owner: list[int], n: int) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in range(n)]
    for v, k in zip(values, owner, strict=True):
        out[k].append(v)
    return out


def _autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on `device` when asked (see fttui.train.precision for the choice)."""
    if bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _forward(model: Any, packed: _Packed) -> torch.Tensor:
    """Logits (kept positions x vocab) in float32, through the model's own head."""
    out = model(
        input_ids=packed.input_ids,
        position_ids=packed.position_ids,
        logits_to_keep=packed.keep,
        use_cache=False,
    )
    return out.logits[0].float()


# Config attributes that change logits after the LM head's product (soft-capping,
# scaling): such models keep the "logits" loss, which runs their own head.
_LOGIT_POSTPROCESSING = ("final_logit_softcapping", "logit_scale", "logits_scaling")

LOSS_MODES = ("chunked", "liger", "logits")


def choose_loss(model: Any, requested: str = "auto", device_type: str = "cpu") -> tuple[str, str]:
    """(loss mode, why) for `model`: "chunked", "liger" or "logits".

    `auto`: Liger Kernel's fused loss on CUDA where installed, else the chunked loss
    (fttui.train.loss), both of which need a plain linear LM head; "logits" (the
    model's own head at the trained positions) for models whose head does more.
    """
    config = getattr(model, "config", None)
    extra = [
        name
        for name in _LOGIT_POSTPROCESSING
        if getattr(config, name, None) not in (None, 1, 1.0)
        or getattr(getattr(config, "text_config", None), name, None) not in (None, 1, 1.0)
    ]
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    plain = isinstance(head, torch.nn.Linear) and not extra
    if requested == "logits":
        return "logits", "models.json asks for it"
    if not plain:
        why = f"its head applies {', '.join(extra)}" if extra else "its head is not a plain linear"
        if requested in ("chunked", "liger"):
            raise ValueError(f"loss {requested!r} cannot be used with this model: {why}")
        return "logits", why
    if requested == "liger" or (requested == "auto" and liger_available(device_type)):
        if not liger_available(device_type):
            raise ValueError("loss 'liger' needs a CUDA device and the liger-kernel package")
        return "liger", "Liger Kernel is installed"
    return "chunked", "never materialises the full-vocabulary logits"


class LossStep(torch.nn.Module):
    """The model and its loss in one forward pass: what each micro-batch calls.

    Returns (summed cross-entropy over the kept positions, weighted where the pack has
    prompt-token weights; predicted tokens at every kept position; logits at `first`
    positions or None). Under DDP this module is what is wrapped, so the
    gradient all-reduce sees one forward per micro-batch whatever the loss mode.
    """

    def __init__(self, model: Any, mode: str = "logits") -> None:
        super().__init__()
        if mode not in LOSS_MODES:
            raise ValueError(f"loss mode {mode!r} is not one of {', '.join(LOSS_MODES)}")
        self.model = model
        self.mode = mode

    def forward(
        self, packed: _Packed, first: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if self.mode == "logits":
            logits = _forward(self.model, packed)
            loss = packed.loss(logits)
            return loss, logits.detach().argmax(-1), None if first is None else logits[first]
        out = self.model.get_decoder()(
            input_ids=packed.input_ids, position_ids=packed.position_ids, use_cache=False
        )
        hidden = out[0][0, packed.keep]
        head = self.model.get_output_embeddings()
        if self.mode == "liger" and packed.weights is None:
            loss, preds = liger_loss(hidden, head.weight, packed.targets, head.bias)
        else:  # the chunked loss; also Liger's stand-in for per-token (prompt) weights
            loss, preds = linear_cross_entropy(
                hidden, head.weight, packed.targets, head.bias, weights=packed.weights
            )
        first_logits = None
        if first is not None:
            first_logits = head(hidden[first]).float()
        return loss, preds, first_logits


MAX_GRAD_NORM = 1.0


def _clip_in_step(optimizer: torch.optim.Optimizer, params: Sequence[torch.nn.Parameter]) -> None:
    """Clip the gradients' global norm to MAX_GRAD_NORM inside the fused AdamW step.

    `clip_grad_norm_` reads and rewrites every gradient once more before AdamW reads
    them again. The fused kernel divides each gradient by the optimizer's `grad_scale`
    as it reads it (that is how GradScaler unscales), so handing it the clipping factor
    gives the same update (to float rounding) with one pass over the gradients less
    per step.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    norm = torch.nn.utils.get_total_norm(grads)
    # clip_grad_norm_ multiplies by min(1, max_norm / (norm + 1e-6)); this divides.
    optimizer.grad_scale = torch.clamp((norm + 1e-6) / MAX_GRAD_NORM, min=1.0)  # type: ignore[attr-defined]


def batch_schedule(n_examples: int, n_epochs: int, batch_size: int, seed: int) -> list[list[int]]:
    """Every epoch's shuffled order, concatenated and cut into batches of batch_size.

    A batch may straddle two epochs, so every step sees exactly batch_size examples
    (the legacy guide's elapsed_examples grows by batch_size) and no example is dropped.
    """
    rng = random.Random(seed)
    stream: list[int] = []
    for _ in range(n_epochs):
        order = list(range(n_examples))
        rng.shuffle(order)
        stream.extend(order)
    return [stream[i : i + batch_size] for i in range(0, len(stream), batch_size)]


def apply_lora(model: Any, config: TrainConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,  # type: ignore[arg-type]  # used as alpha / r: floats work
        lora_dropout=config.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


@torch.no_grad()
def evaluate(
    model: Any,
    examples: Sequence[Example],
    device: torch.device,
    bf16: bool,
    classification: ClassificationSetup | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    prompt_weight: float = 0.0,
    loss: str = "logits",
) -> dict[str, float]:
    """Validation loss (weighted like training's) and accuracies, plus classification
    metrics when set up."""
    was_training = model.training
    model.eval()
    loss_sum = 0.0
    n_targets = 0.0
    targets_all: list[list[int]] = []
    preds_all: list[list[int]] = []
    class_probs: list[np.ndarray] = []
    truth: list[int] = []
    step = LossStep(model, loss)
    for group in micro_batches(examples):
        if should_stop():
            break
        packed = pack(group, device, prompt_weight)
        first = None
        if classification is not None:
            first = torch.tensor(packed.first_keep, device=device)
        with _autocast(device, bf16):
            loss_sum_t, preds_t, first_logits = step(packed, first)
        loss_sum += float(loss_sum_t)
        n_targets += packed.weight
        targets, preds = packed.completion(preds_t)
        targets_all += _grouped(targets, packed.owner, packed.n_examples)
        preds_all += _grouped(preds, packed.owner, packed.n_examples)
        if classification is not None and first_logits is not None:
            probs = torch.softmax(first_logits, dim=-1)[:, classification.token_ids]
            for ex, row in zip(group, probs.cpu().numpy(), strict=True):
                label = classification.index_of(ex.completion)
                if label is not None:
                    truth.append(label)
                    class_probs.append(row)
    if was_training:
        model.train()
    if n_targets == 0:
        return {}
    token_acc, seq_acc = token_and_sequence_accuracy(targets_all, preds_all)
    result = {
        "validation_loss": loss_sum / n_targets,
        "validation_token_accuracy": token_acc,
        "validation_sequence_accuracy": seq_acc,
    }
    if classification is not None and truth:
        result.update(
            classification_metrics(
                truth,
                np.stack(class_probs),
                positive_index=classification.positive_index,
                betas=classification.betas,
            )
        )
    return result


class Interrupted(Exception):
    """Raised from inside a forward pass when cancel (or pause) was requested."""


@dataclass
class _Gate:
    """Which stop request may interrupt the forward pass under way."""

    training: bool = False


@contextlib.contextmanager
def _interruptible(
    model: Any, should_stop: Callable[[], bool], should_abandon: Callable[[], bool]
) -> Iterator[_Gate]:
    """Check for a stop before every decoder layer, so a long step stops within one layer.

    A step of a real model on CPU can take many seconds; the server kills the
    trainer 5 s after asking it to stop, and we want to finish cleanly before that.
    A training pass is interrupted by any stop (its update is not applied yet: the
    step is redone on resume); a validation pass after the update only by a cancel,
    so a pause completes the step's row and checkpoint first.
    """
    gate = _Gate()

    def hook(module: Any, args: Any) -> None:
        if should_stop() if gate.training else should_abandon():
            raise Interrupted

    layers = [m for m in model.modules() if type(m).__name__.endswith("DecoderLayer")]
    handles = [layer.register_forward_pre_hook(hook) for layer in layers]
    try:
        yield gate
    finally:
        for handle in handles:
            handle.remove()


def training_state(
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    *,
    step: int,
    total_steps: int,
    elapsed_examples: int,
    elapsed_tokens: int,
    epoch_losses: Sequence[float],
    seed: int,
) -> dict[str, Any]:
    """What resuming after `step` needs beyond the weights (references, not copies:
    save them before training goes on). `optimizer` is AdamW's state (twice the
    trained weights); the rest is a few kilobytes."""
    return {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "total_steps": total_steps,
        "elapsed_examples": elapsed_examples,
        "elapsed_tokens": elapsed_tokens,
        "epoch_losses": list(epoch_losses),
        "seed": seed,
        "rng": _rng_state(),
    }


def load_lora(model: Any, adapter_dir: str) -> Any:
    """A LoRA model whose adapters continue from a checkpoint's (trainable)."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, adapter_dir, is_trainable=True)


def _supervised_step(
    net: Any,
    batch: Sequence[Example],
    ranks: Ranks | None,
    device: torch.device,
    config: TrainConfig,
) -> dict[str, float]:
    """One supervised step's forward and backward passes (this rank's share of `batch`
    when `ranks` is given: data-parallel); the batch's loss and accuracies."""
    # Normalised by the whole batch's targets on every rank, times the world
    # size because DDP averages the ranks' gradients: the average is then
    # the single-process gradient.
    plw = config.prompt_loss_weight
    n_targets = sum(target_weight(ex, plw) for ex in batch)
    world = ranks.world_size if ranks is not None else 1
    mine = batch[ranks.rank :: world] if ranks is not None else batch
    # A rank with no example this step (batch smaller than the world) still
    # takes part in the all-reduce, with a zero-weighted pass.
    groups = list(micro_batches(mine)) or [[batch[0]]]
    weight = world / max(1, n_targets) if mine else 0.0
    loss_sum = 0.0
    targets_all: list[list[int]] = []
    preds_all: list[list[int]] = []
    for i, group in enumerate(groups):
        packed = pack(group, device, plw)
        # Gradients accumulate locally over micro-batches; DDP all-reduces
        # once, in the backward of the last one.
        last = i == len(groups) - 1
        sync = contextlib.nullcontext() if ranks is None or last else net.no_sync()
        with sync:
            with _autocast(device, config.bf16):
                loss, preds_t, _ = net(packed)
            (loss * weight).backward()
        if not mine:
            continue
        loss_sum += float(loss.detach())
        targets, preds = packed.completion(preds_t)
        targets_all += _grouped(targets, packed.owner, packed.n_examples)
        preds_all += _grouped(preds, packed.owner, packed.n_examples)
    if ranks is not None:
        loss_sum = _sum_ranks(loss_sum, device)
        targets_all, preds_all = _gather_lists(targets_all, preds_all)
    token_acc, seq_acc = token_and_sequence_accuracy(targets_all, preds_all)
    return {
        "training_loss": loss_sum / max(1, n_targets),
        "training_sequence_accuracy": seq_acc,
        "training_token_accuracy": token_acc,
    }


def train(
    model: Any,
    train_examples: Sequence[Any],
    valid_examples: Sequence[Any],
    config: TrainConfig,
    reporter: Reporter,
    device: torch.device,
    ranks: Ranks | None = None,
    resume: Resume | None = None,
    objective: Objective | None = None,
) -> tuple[Any, Outcome]:
    """Fine-tune `model` in place; returns the (possibly LoRA-wrapped) model and totals.

    With `ranks` (world size > 1) this process trains its share of each batch and
    only rank 0 evaluates and calls `reporter.on_step` / `on_epoch_end`. With
    `resume`, training continues after `resume.step` with the optimizer, schedule,
    counters and random state it saved. Without an `objective` this is supervised
    fine-tuning of `Example`s; with one (DPO), the examples are whatever it trains on
    (each with an `n_tokens`), and its `state()` goes into every `training_state`.
    """
    dp = ranks is not None and ranks.world_size > 1
    main = ranks is None or ranks.main
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    np.random.seed(config.seed % (2**32))
    if config.method == "lora":
        if resume is not None and resume.adapter_dir:
            model = load_lora(model, resume.adapter_dir)
        else:
            model = apply_lora(model, config)
    # `net` runs the training forward passes: the DDP wrapper when data-parallel (its
    # backward all-reduces the gradients); `model` stays the plain module that is
    # evaluated, checkpointed and returned.
    step_fn = objective.module(model) if objective is not None else LossStep(model, config.loss)
    net: Any = _wrap_ddp(step_fn, device) if dp else step_fn
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    # The fused kernel does the whole update in one pass over memory (faster on CPU too).
    optimizer = torch.optim.AdamW(
        params, lr=config.learning_rate, weight_decay=config.weight_decay, fused=True
    )
    batches = batch_schedule(len(train_examples), config.n_epochs, config.batch_size, config.seed)
    total_steps = len(batches)
    warmup = max(1, math.ceil(total_steps * config.warmup_ratio))

    def lr_factor(step: int) -> float:  # step counts from 0
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    eval_every = config.eval_every or max(1, total_steps // 10)
    n = len(train_examples)
    eval_set = list(valid_examples[: config.max_eval_examples])
    elapsed_tokens = elapsed_examples = 0
    epoch_losses: list[float] = []
    done = 0  # steps whose update is applied
    abandon: Callable[[], bool] = getattr(reporter, "should_abandon", reporter.should_stop)
    if resume is not None:
        optimizer.load_state_dict(resume.optimizer)
        scheduler.load_state_dict(resume.scheduler)
        done = resume.step
        elapsed_tokens, elapsed_examples = resume.elapsed_tokens, resume.elapsed_examples
        epoch_losses = list(resume.epoch_losses)
        _set_rng_state(resume.rng)

    def stopped() -> Outcome:
        optimizer.zero_grad(set_to_none=True)
        state = training_state(
            optimizer,
            scheduler,
            step=done,
            total_steps=total_steps,
            elapsed_examples=elapsed_examples,
            elapsed_tokens=elapsed_tokens,
            epoch_losses=epoch_losses,
            seed=config.seed,
        )
        if objective is not None:
            state.update(objective.state())
        return Outcome(done, total_steps, elapsed_tokens, stopped=True, state=state)

    try:
        # Data-parallel ranks must stop at the same step (a rank stopping inside a
        # forward pass would leave the others waiting in the gradient all-reduce), so
        # they agree between steps instead of checking before every layer.
        hook: contextlib.AbstractContextManager[_Gate | None] = (
            contextlib.nullcontext() if dp else _interruptible(model, reporter.should_stop, abandon)
        )
        with hook as gate:
            if objective is not None:
                objective.prepare(
                    model,
                    train_examples,
                    valid_examples,
                    device,
                    abandon,
                    ranks if dp else None,
                )
            for step, batch_idx in enumerate(batches, start=1):
                if step <= done:
                    continue  # resumed: these steps were trained before the pause
                stop = reporter.should_stop()
                if dp:
                    stop = _any_rank(stop, device)
                if stop:
                    return model, stopped()
                if gate is not None:
                    gate.training = True
                batch = [train_examples[i] for i in batch_idx]
                if objective is not None:
                    metrics = objective.step(net, batch, ranks if dp else None, device)
                else:
                    metrics = _supervised_step(net, batch, ranks if dp else None, device, config)
                if gate is not None:
                    gate.training = False
                _clip_in_step(optimizer, params)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                done = step
                elapsed_tokens += sum(ex.n_tokens for ex in batch)
                elapsed_examples += len(batch)
                row: dict[str, Any] = {
                    "step": step,
                    "elapsed_tokens": elapsed_tokens,
                    "elapsed_examples": elapsed_examples,
                    **metrics,
                }
                epoch_losses.append(row["training_loss"])
                epoch_done = elapsed_examples // n > (elapsed_examples - len(batch)) // n
                if not main:
                    continue
                if eval_set and (epoch_done or step % eval_every == 0 or step == total_steps):
                    examples = eval_set if not epoch_done else valid_examples
                    if objective is not None:
                        row.update(
                            objective.evaluate(
                                model, examples, device, full=epoch_done, should_stop=abandon
                            )
                        )
                    else:
                        row.update(
                            evaluate(
                                model,
                                examples,
                                device,
                                config.bf16,
                                config.classification if epoch_done else None,
                                abandon,
                                config.prompt_loss_weight,
                                config.loss,
                            )
                        )
                reporter.on_step(row, total_steps)
                if epoch_done:
                    epoch = elapsed_examples // n
                    reporter.on_epoch_end(
                        epoch,
                        step,
                        {**row, "epoch_training_loss": sum(epoch_losses) / len(epoch_losses)},
                        model,
                        training_state={
                            **training_state(
                                optimizer,
                                scheduler,
                                step=step,
                                total_steps=total_steps,
                                elapsed_examples=elapsed_examples,
                                elapsed_tokens=elapsed_tokens,
                                epoch_losses=[],
                                seed=config.seed,
                            ),
                            **(objective.state() if objective is not None else {}),
                        },
                    )
                    epoch_losses = []
    except Interrupted:
        # In a training pass (its update not applied: the step is redone on resume),
        # or, for a cancel, in a validation pass.
        return model, stopped()
    return model, Outcome(done, total_steps, elapsed_tokens, stopped=False)
