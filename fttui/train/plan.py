"""How a job trains on this device: precision, attention, loss, 4-bit base, checkpointing.

Each choice is automatic and can be pinned per model in models.json (see
fttui.core.models); the training-started event lists what was chosen and why.

- precision: fttui.train.precision (bf16 autocast where the hardware has it).
- attention: flash-attention 2 on CUDA in bf16 where the `flash-attn` package is
  installed (packed rows then run as variable-length sequences); on CUDA without it,
  fttui.train.attention's "fttui_varlen" (PyTorch's own variable-length flash
  attention, or one causal SDPA call per packed example), so a packed row never pays
  for a row x row masked attention; on CPU PyTorch's SDPA, transformers' default.
- loss: the chunked linear cross-entropy (fttui.train.loss), Liger Kernel's on CUDA
  where installed; the model's own head for models that soft-cap or scale logits.
- 4-bit base (QLoRA): `training_method` "qlora", or models.json `"quantization":
  "4bit"` with LoRA, or `auto` with LoRA on CUDA when the model's bf16 weights would
  take more than half of the GPU's memory and bitsandbytes is installed. NF4 with
  double quantisation, bf16 compute; the adapters stay float32.
- frozen base dtype under LoRA: bf16 on CUDA in bf16 precision (only the adapters
  train, so no float32 master copy is needed); float32 otherwise.
- gradient checkpointing: `auto` turns it on when the estimated activations of the
  longest forward pass would not fit in the memory left after weights, gradients and
  optimizer state (free GPU memory on CUDA, available RAM on CPU); it trades about a
  third more compute for activations of one layer at a time.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fttui.core.models import BaseModelSpec
from fttui.train.precision import Precision
from fttui.train.precision import choose as choose_precision

# Share of free memory a plan may count on (allocator slack, fragmentation, eval).
MEMORY_HEADROOM = 0.85


class PlanError(ValueError):
    """A requested training path this machine cannot run (the message says why)."""


@dataclass
class TrainingPlan:
    """What was chosen for one job; `notes` say why, for the training-started event."""

    device_type: str
    precision: Precision
    method: str  # "full", "lora" or "qlora" (LoRA on a 4-bit base)
    attn_implementation: str | None = None  # None: transformers' default (SDPA)
    base_dtype: str = "float32"
    quantize_4bit: bool = False
    loss: str = "chunked"
    gradient_checkpointing: bool = False
    notes: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        parts = [self.precision.describe()]
        parts.append(f"attention {self.attn_implementation or 'sdpa'}")
        if self.quantize_4bit:
            parts.append("4-bit NF4 base weights (QLoRA)")
        parts.append(f"loss {self.loss} ({self.notes.get('loss', '')})")
        gc = "on" if self.gradient_checkpointing else "off"
        parts.append(f"gradient checkpointing {gc} ({self.notes.get('checkpointing', 'auto')})")
        return ", ".join(parts)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def weights_bytes(location: str) -> int:
    """Bytes of a local model's weight files (what loading it in their dtype takes)."""
    path = Path(location)
    if not path.is_dir():
        return 0
    files = list(path.glob("*.safetensors")) or list(path.glob("*.bin"))
    return sum(f.stat().st_size for f in files)


# Model types whose attention has learned sinks (a per-head logit added to the
# softmax), which neither flash-attention 2 nor fttui_varlen compute: they keep
# transformers' own attention for that model.
_SINK_ATTENTION = ("gpt_oss",)


def model_type(location: str) -> str:
    """`model_type` from a local model's config.json ('' when unknown)."""
    import json

    try:
        return str(json.loads((Path(location) / "config.json").read_text()).get("model_type", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def plan_loading(
    spec: BaseModelSpec | None,
    device_type: str,
    method: str,
    location: str,
    *,
    precision: Precision | None = None,
    gpu_total_bytes: int | None = None,
) -> TrainingPlan:
    """The choices made before the model is loaded (everything but checkpointing)."""
    precision = precision or choose_precision(device_type)
    plan = TrainingPlan(device_type=device_type, precision=precision, method=method)
    attn = spec.attn_implementation if spec else "auto"
    if attn == "auto" and model_type(location) in _SINK_ATTENTION:
        plan.attn_implementation = "eager"  # what transformers runs gpt-oss with (no SDPA)
    elif attn == "auto":
        if device_type == "cuda" and precision.bf16 and _installed("flash_attn"):
            plan.attn_implementation = "flash_attention_2"
        elif device_type == "cuda":
            from fttui.train.attention import NAME

            plan.attn_implementation = NAME
    else:
        if attn == "flash_attention_2" and (device_type != "cuda" or not _installed("flash_attn")):
            raise PlanError(
                "models.json asks for flash_attention_2, which needs a CUDA GPU and the "
                "flash-attn package"
            )
        plan.attn_implementation = attn
    quant = spec.quantization if spec else "auto"
    if method == "qlora" or (method == "lora" and quant == "4bit"):
        plan.quantize_4bit = True
        why = "training_method qlora" if method == "qlora" else "models.json asks for 4bit"
    elif (
        method == "lora"
        and quant == "auto"
        and device_type == "cuda"
        and _installed("bitsandbytes")
    ):
        if gpu_total_bytes is None:
            import torch

            gpu_total_bytes = torch.cuda.get_device_properties(0).total_memory
        stored = weights_bytes(location)
        # float32 files hold 4 bytes per weight, bf16 ones 2: count bf16 size.
        plan.quantize_4bit = stored > 0 and stored / 2 > 0.5 * gpu_total_bytes
        why = "the bf16 weights would take more than half of the GPU's memory"
    if plan.quantize_4bit:
        if device_type != "cuda" or not _installed("bitsandbytes"):
            raise PlanError(
                f"QLoRA ({why}) needs a CUDA GPU and bitsandbytes "
                "(pip install 'fttui[qlora]'); use training_method 'lora' here"
            )
        plan.method = "qlora"
        plan.notes["quantization"] = why
    if plan.method in ("lora", "qlora") and device_type == "cuda" and precision.bf16:
        plan.base_dtype = "bfloat16"
    return plan


def load_model(
    location: str, plan: TrainingPlan, device: Any, *, weights: str | None = None
) -> tuple[Any, Any]:
    """(model on `device` as the plan says, tokenizer).

    `weights`: another directory to take the model from (a full fine-tune's checkpoint
    to resume, which holds no tokenizer); the tokenizer still comes from `location`.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(location)
    kwargs: dict[str, Any] = {"dtype": getattr(torch, plan.base_dtype)}
    if plan.attn_implementation == "fttui_varlen":
        from fttui.train.attention import register

        register()  # transformers looks the name up in its registry
    if plan.attn_implementation:
        kwargs["attn_implementation"] = plan.attn_implementation
    if plan.quantize_4bit:
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if plan.precision.bf16 else torch.float32
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
        kwargs["dtype"] = compute
        kwargs["device_map"] = {"": device}
        model = AutoModelForCausalLM.from_pretrained(weights or location, **kwargs)
        from peft import prepare_model_for_kbit_training

        # Norms and the head in float32, inputs that carry gradients into the adapters.
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        return model, tokenizer
    model = AutoModelForCausalLM.from_pretrained(weights or location, **kwargs)
    if plan.method in ("lora", "qlora"):
        for p in model.parameters():  # frozen base: no gradients are ever kept for it
            p.requires_grad_(False)
    return model.to(device), tokenizer


def activation_bytes_per_token(config: Any, bf16: bool) -> int:
    """Rough bytes a decoder keeps for the backward pass per token, all layers.

    Per layer: the residual stream and norm inputs (float32), the attention's q, k, v
    and output and the MLP's gate, up, activation and product (compute dtype): about
    22 hidden-size + 8 intermediate-size values' worth of bytes with bf16 autocast,
    twice that in float32. SDPA and flash-attention keep no sequence x sequence matrix.
    A mixture of experts (gpt-oss): the MLP width is that of the experts a token goes
    through (`num_experts_per_tok` x their intermediate size).
    """
    cfg = getattr(config, "text_config", None) or config
    h = int(getattr(cfg, "hidden_size", 0) or 0)
    i = int(getattr(cfg, "intermediate_size", 0) or 4 * h)
    i *= int(getattr(cfg, "num_experts_per_tok", 0) or 1)
    layers = int(getattr(cfg, "num_hidden_layers", 0) or 0)
    per_layer = 22 * h + 8 * i
    return per_layer * layers * (1 if bf16 else 2)


def _available_bytes(device: Any) -> int:
    import torch

    if getattr(device, "type", device) == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def plan_checkpointing(
    model: Any,
    plan: TrainingPlan,
    device: Any,
    longest_pass_tokens: int,
    requested: str = "auto",
    available_bytes: int | None = None,
) -> None:
    """Decide gradient checkpointing for the longest forward pass and apply it."""
    if requested in ("on", "off"):
        plan.gradient_checkpointing = requested == "on"
        plan.notes["checkpointing"] = "models.json"
    else:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        # Gradient + AdamW's two moments, float32, not yet allocated.
        state = 12 * trainable
        acts = activation_bytes_per_token(model.config, plan.precision.bf16) * longest_pass_tokens
        free = _available_bytes(device) if available_bytes is None else available_bytes
        budget = MEMORY_HEADROOM * free - state
        plan.gradient_checkpointing = acts > budget
        gib = 1024**3
        plan.notes["checkpointing"] = (
            f"~{acts / gib:.1f} GiB of activations for {longest_pass_tokens} tokens, "
            f"{max(0.0, budget) / gib:.1f} GiB to spare"
        )
    if plan.gradient_checkpointing:
        # Non-reentrant: works with a frozen base (LoRA) without input-gradient tricks.
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        model.config.use_cache = False


def longest_pass(lengths: list[int], batch_size: int, budget: int) -> int:
    """Upper bound on one forward pass's tokens: a micro-batch holds up to `budget`
    tokens, or one longer example (fttui.train.engine.micro_batches)."""
    if not lengths:
        return 0
    biggest = sorted(lengths, reverse=True)
    return max(biggest[0], min(budget, sum(biggest[:batch_size])))


def finish_plan(
    model: Any,
    plan: TrainingPlan,
    spec: BaseModelSpec | None,
    device: Any,
    lengths: list[int],
    batch_size: int,
) -> None:
    """The choices made once model and data are loaded: loss and checkpointing."""
    from fttui.train.engine import MAX_TOKENS_PER_PASS, choose_loss

    try:
        plan.loss, plan.notes["loss"] = choose_loss(
            model, spec.loss if spec else "auto", plan.device_type
        )
    except ValueError as exc:
        raise PlanError(str(exc)) from exc
    tokens = longest_pass(lengths, batch_size, MAX_TOKENS_PER_PASS)
    plan_checkpointing(model, plan, device, tokens, spec.gradient_checkpointing if spec else "auto")


def model_to_save(model: Any, plan: TrainingPlan, location: str) -> Any:
    """The model to write as the fine-tuned result: LoRA adapters merged into the base.

    On a 4-bit base the adapters are merged into a bf16 copy of the original weights
    (merging into NF4 would save quantised weights that need bitsandbytes to load).
    """
    if not hasattr(model, "merge_and_unload"):
        return model
    if not plan.quantize_4bit:
        return model.merge_and_unload()
    import torch
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    from transformers import AutoModelForCausalLM

    adapter = {k: v.detach().to("cpu") for k, v in get_peft_model_state_dict(model).items()}
    config = model.peft_config["default"]
    base = AutoModelForCausalLM.from_pretrained(location, dtype=torch.bfloat16)
    merged = get_peft_model(base, config)
    set_peft_model_state_dict(merged, adapter)
    return merged.merge_and_unload()
