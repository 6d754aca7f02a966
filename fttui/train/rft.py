"""Reinforcement fine-tuning (OpenAI's `method.type: reinforcement`), GRPO style.

Each step takes `batch_size` prompts; for each, the model samples `group_size`
answers (compute_multiplier x 4, at least 2); the job's grader scores them
(`fttui.train.grading`); each answer's advantage is its reward relative to its own
group's, `(r - mean) / (std + 1e-4)` (Shao et al., 2024, DeepSeekMath's GRPO); the
loss pushes up the log-probability of the better-than-average answers and down the
worse, with a KL term to the reference model (k3 estimator, per token):

    loss = mean over answers of mean over its tokens of
           -A * ratio + beta * (exp(ref - logp) - (ref - logp) - 1)

with ratio = exp(logp - logp.detach()) (one update per sample: on-policy, so the
ratio is 1 and its gradient the policy gradient). A group whose answers all score
the same teaches nothing (all advantages 0).

The reference is the model before training: with LoRA, the same weights with the
adapters switched off (no copy, as `fttui.train.dpo` does); with full fine-tuning, a
frozen copy made once in `prepare` (the only extra memory the method needs).

Everything around the step (schedule, optimizer, pause/resume, cancel, checkpoints,
data parallelism) is the engine's loop (`fttui.train.engine.train`); validation
(every `eval_interval` steps on `eval_samples` prompts, and the whole validation file
at each epoch end) samples one greedy answer per prompt and reports its mean reward.

Metrics (the keys agreed with the TUI; OpenAI's RFT names): `train_reward_mean`,
`valid_reward_mean`, `train_score/<grader>`, `valid_score/<grader>`, `train_kl`,
`train_grader_errors` (share of answers the grader failed on).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from fttui.train.data import PromptExample
from fttui.train.engine import Ranks, _autocast
from fttui.train.grading import Graded, Grading

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_TEMPERATURE",
    "MAX_NEW_TOKENS",
    "RFTObjective",
    "group_advantages",
    "rft_columns",
]

# KL weight (GRPO's paper and TRL's GRPOTrainer default before 0.16).
DEFAULT_BETA = 0.04
# Tokens an answer may have (the local engine's cap; OpenAI's graders read the text).
MAX_NEW_TOKENS = 64
# Sampling temperature of the answers a step trains on (OpenAI has no hyperparameter
# for it). Not 1: at temperature 1 (no top-k/top-p) the default 135M model's answers
# are mostly off the task (measured on benchmarks/rft_task.py: train reward mean
# 0.02-0.05 for sampled answers where its greedy answers score 0.11), so few answers
# of a group score and GRPO has little to go on; at 0.7 the answers stay close to
# what the model would say and differ in what the grader scores.
DEFAULT_TEMPERATURE = 0.7


def group_advantages(rewards: Sequence[float]) -> list[float]:
    """Each reward relative to its group: (r - mean) / (std + 1e-4)."""
    n = len(rewards)
    mean = sum(rewards) / n
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / n)
    return [(r - mean) / (std + 1e-4) for r in rewards]


def rft_columns(keys: Sequence[str], validation: bool) -> list[str]:
    """results.csv columns of a reinforcement job (the metrics events' keys)."""
    cols = [
        "step",
        "elapsed_tokens",
        "elapsed_examples",
        "training_loss",
        "train_reward_mean",
        "train_kl",
        "train_grader_errors",
        *(f"train_score/{k}" for k in keys),
    ]
    if validation:
        cols += ["valid_reward_mean", *(f"valid_score/{k}" for k in keys)]
    return cols


class PolicyLogps(torch.nn.Module):
    """Per-token log-probabilities of each row's tokens after the first (what DDP wraps)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        logps = F.log_softmax(logits[:, :-1].float(), dim=-1)
        return logps.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)


@dataclass
class RFTObjective:
    grading: Grading
    tokenizer: Any
    group_size: int
    beta: float = DEFAULT_BETA
    bf16: bool = False
    max_new_tokens: int = MAX_NEW_TOKENS
    temperature: float = DEFAULT_TEMPERATURE
    seed: int = 0
    # The reference model for full fine-tuning when it is not the model's starting
    # weights (a resumed job: set by the caller); otherwise a copy made in `prepare`.
    reference_model: Any = field(default=None, repr=False)
    _reference: Any = field(default=None, repr=False)
    _model: Any = field(default=None, repr=False)
    _generator: torch.Generator | None = field(default=None, repr=False)
    # Steps completed: each step samples from its own seed (seed, step), so a step
    # interrupted by a pause and redone on resume draws the same answers.
    steps_done: int = 0
    # The grader's errors of the last step (one per failed answer), for the job's events.
    last_errors: list[str] = field(default_factory=list, repr=False)

    def module(self, model: Any) -> torch.nn.Module:
        self._model = model
        return PolicyLogps(model)

    def prepare(
        self,
        model: Any,
        train_examples: Sequence[Any],
        valid_examples: Sequence[Any],
        device: torch.device,
        should_stop: Callable[[], bool],
        ranks: Ranks | None,
    ) -> None:
        self._model = model
        wants_reference = self.beta > 0 or self.grading.needs_judge
        if wants_reference and self.reference_model is not None:
            self._reference = self.reference_model.eval()
            for p in self._reference.parameters():
                p.requires_grad_(False)
        elif wants_reference and not hasattr(model, "disable_adapter"):
            # Full fine-tuning: the reference is a frozen copy of the starting weights.
            self._reference = copy.deepcopy(model).eval()
            for p in self._reference.parameters():
                p.requires_grad_(False)

    def state(self) -> dict[str, Any]:
        return {"rft_steps": self.steps_done}

    # -- sampling and grading ----------------------------------------------------------
    @torch.no_grad()
    def _sample(
        self,
        model: Any,
        prompts: Sequence[PromptExample],
        n: int,
        device: torch.device,
        greedy: bool,
    ) -> list[list[int]]:
        """`n` answers (token ids, up to and with EOS) per prompt, prompt by prompt in order.

        All prompts in one `generate` call, left-padded (a call per prompt costs a
        forward pass per token per prompt)."""
        was_training = model.training
        model.eval()
        width = max(len(ex.prompt_ids) for ex in prompts)
        ids = torch.full((len(prompts), width), self._pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, ex in enumerate(prompts):
            ids[i, width - len(ex.prompt_ids) :] = torch.tensor(ex.prompt_ids)
            mask[i, width - len(ex.prompt_ids) :] = 1
        out: list[list[int]] = []
        try:
            with _autocast(device, self.bf16):
                gen = model.generate(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    do_sample=not greedy,
                    temperature=self.temperature if not greedy else None,
                    top_p=1.0 if not greedy else None,
                    top_k=0 if not greedy else None,
                    num_return_sequences=n,
                    max_new_tokens=self.max_new_tokens,
                    pad_token_id=self._pad,
                )
        finally:
            if was_training:
                model.train()
        eos = self._eos
        for row in gen[:, width:].tolist():
            answer = []
            for tok in row:
                answer.append(tok)
                if tok in eos:
                    break
            out.append(answer)
        return out

    @property
    def _eos(self) -> set[int]:
        eos = self.tokenizer.eos_token_id
        ids = {eos} if isinstance(eos, int) else set(eos or [])
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != self.tokenizer.unk_token_id:
            ids.add(im_end)
        return ids

    def _text(self, answer: list[int]) -> str:
        return str(self.tokenizer.decode(answer, skip_special_tokens=True))

    def _grade(
        self, prompts: Sequence[PromptExample], answers: list[list[int]], per_prompt: int
    ) -> list[Graded]:
        items = [ex.item for ex in prompts for _ in range(per_prompt)]
        return self.grading.grade([self._text(a) for a in answers], items)

    def _means(self, graded: list[Graded], prefix: str) -> dict[str, float]:
        n = len(graded)
        out = {f"{prefix}_reward_mean": sum(g.reward for g in graded) / n}
        for key in self.grading.keys:
            values = [g.scores[key] for g in graded if key in g.scores]
            out[f"{prefix}_score/{key}"] = sum(values) / len(values) if values else math.nan
        return out

    # -- the step ----------------------------------------------------------------------
    def step(
        self, net: Any, batch: Sequence[Any], ranks: Ranks | None, device: torch.device
    ) -> dict[str, float]:
        world = ranks.world_size if ranks is not None else 1
        mine = list(batch[ranks.rank :: world]) if ranks is not None else list(batch)
        k = self.group_size
        # Sampling draws from the step's own seed, not the loop's random state (which a
        # step interrupted mid-way has already advanced).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + self.steps_done) % (2**63))
            answers = self._sample(self._model, mine, k, device, greedy=False)
        graded = self._grade(mine, answers, k)
        rewards = [g.reward for g in graded]
        n_answers = max(1, len(answers))
        loss_sum = kl_sum = 0.0
        for g, ex in enumerate(mine):
            advantages = group_advantages(rewards[g * k : (g + 1) * k])
            group = answers[g * k : (g + 1) * k]
            ids, mask, answer_mask = _padded(ex.prompt_ids, group, self._pad, device)
            sync = (
                contextlib.nullcontext() if ranks is None or g == len(mine) - 1 else net.no_sync()
            )
            with sync:
                with _autocast(device, self.bf16):
                    logps = net(ids, mask)
                ref = self._reference_logps(ids, mask, device) if self.beta > 0 else logps.detach()
                adv = torch.tensor(advantages, device=device, dtype=logps.dtype).unsqueeze(1)
                ratio = torch.exp(logps - logps.detach())
                delta = ref - logps
                kl = torch.exp(delta) - delta - 1
                per_token = -adv * ratio + self.beta * kl
                counts = answer_mask.sum(dim=1).clamp(min=1)
                per_answer = (per_token * answer_mask).sum(dim=1) / counts
                loss = per_answer.sum() / (len(batch) * k) * world
                loss.backward()
            loss_sum += float(per_answer.detach().sum())
            kl_sum += float(((kl.detach() * answer_mask).sum(dim=1) / counts).sum())
        metrics = {
            "training_loss": loss_sum / n_answers,
            "train_kl": kl_sum / n_answers,
            "train_grader_errors": sum(g.error is not None for g in graded) / n_answers,
            **self._means(graded, "train"),
        }
        self.last_errors = [str(g.error) for g in graded if g.error]
        self.steps_done += 1
        return metrics

    @property
    def _pad(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

    @torch.no_grad()
    def _reference_logps(
        self, ids: torch.Tensor, mask: torch.Tensor, device: torch.device
    ) -> torch.Tensor:
        if self._reference is not None:
            model = self._reference
            off: Any = contextlib.nullcontext()
        else:
            model = self._model
            off = model.disable_adapter()
        with off, _autocast(device, self.bf16):
            return PolicyLogps(model)(ids, mask).float()

    @torch.no_grad()
    def judge(self, messages: list[dict[str, str]], max_tokens: int, temperature: float) -> str:
        """A model grader's judge: the job's base model (the reference weights)."""
        if self._reference is not None:
            model, off = self._reference, contextlib.nullcontext()
        else:
            model = self._model
            off = model.disable_adapter()
        device = next(model.parameters()).device
        ids = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=False
        )
        if not isinstance(ids, torch.Tensor):
            ids = torch.tensor([list(ids)])
        ids = ids.to(device)
        was_training = model.training
        model.eval()
        try:
            with off, _autocast(device, self.bf16):
                gen = model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    do_sample=temperature > 0,
                    temperature=temperature if temperature > 0 else None,
                    top_p=None,
                    top_k=None,
                    max_new_tokens=max_tokens,
                    pad_token_id=self._pad,
                )
        finally:
            if was_training:
                model.train()
        return str(self.tokenizer.decode(gen[0, ids.shape[1] :], skip_special_tokens=True))

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
        prompts = list(examples)
        if not prompts or should_stop():
            return {}
        answers = self._sample(model, prompts, 1, device, greedy=True)
        return self._means(self._grade(prompts, answers, 1), "valid")


def _padded(
    prompt: list[int], answers: list[list[int]], pad: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, attention mask, answer-token mask aligned with the shifted log-probs)."""
    width = len(prompt) + max(1, max(len(a) for a in answers))
    ids = torch.full((len(answers), width), pad, dtype=torch.long)
    mask = torch.zeros((len(answers), width), dtype=torch.long)
    answer_mask = torch.zeros((len(answers), width - 1), dtype=torch.float32)
    for i, answer in enumerate(answers):
        row = prompt + answer
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
        # log-prob position j predicts token j + 1: the answer's tokens are predicted
        # at positions len(prompt) - 1 .. len(row) - 2.
        answer_mask[i, len(prompt) - 1 : len(row) - 1] = 1.0
    return ids.to(device), mask.to(device), answer_mask.to(device)
