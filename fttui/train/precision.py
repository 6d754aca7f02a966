"""Which number format a job trains in on this machine, and why, in words.

bf16 autocast runs the matrix multiplications in bfloat16 while the master weights,
gradients and optimizer state stay float32. It pays only where the hardware computes
in bf16: on CPU, Intel AMX (AMX-BF16) or AVX512-BF16; on CUDA, GPUs that support it
(compute capability 8.0 and newer). Elsewhere oneDNN emulates it and a step is much
slower than float32 (measured about 20x on an AMD EPYC without AVX512-BF16), so
`auto` picks bf16 only where it is native.

`FTTUI_PRECISION=fp32|bf16|auto` (default `auto`) overrides the choice for every job
the trainer runs; the job's `fttui.runtime.precision` and its training-started event
say what was used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

PRECISION_ENV = "FTTUI_PRECISION"
CHOICES = ("auto", "bf16", "fp32")

# /proc/cpuinfo flag -> the name users know it by.
_CPU_BF16_FLAGS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}


class PrecisionError(ValueError):
    """An unusable FTTUI_PRECISION value or a precision this device cannot run."""


@dataclass(frozen=True)
class Precision:
    """The format a job trains in: `name` is what the job object shows."""

    name: Literal["bf16", "fp32"]
    device_type: str  # "cpu" or "cuda"
    reason: str  # why, in words: "the CPU has AMX-BF16", "FTTUI_PRECISION=fp32", ...

    @property
    def bf16(self) -> bool:
        return self.name == "bf16"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The context a forward pass runs in (bf16 autocast, or nothing for fp32)."""
        if not self.bf16:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(self.device_type, dtype=torch.bfloat16)

    def describe(self) -> str:
        """For the training-started event: what is used and why."""
        if self.bf16:
            what = "bf16 autocast (float32 master weights and optimizer state)"
        else:
            what = "float32"
        return f"precision {what}, because {self.reason}"


def cpu_bf16_features(flags: Iterable[str] | None = None) -> list[str]:
    """The native bf16 instruction sets of this CPU, e.g. ["AMX-BF16", "AVX512-BF16"].

    Reads the kernel's CPU flags (`/proc/cpuinfo`, what the hypervisor really exposes
    to this machine); where there is no such file, asks torch's CPU probe, which is
    what oneDNN dispatches on.
    """
    if flags is None:
        flags = _proc_cpu_flags()
    if flags is not None:
        have = set(flags)
        return [name for flag, name in _CPU_BF16_FLAGS.items() if flag in have]
    return _torch_cpu_features()


def _proc_cpu_flags() -> set[str] | None:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return None


def _torch_cpu_features() -> list[str]:
    import torch

    found = []
    probes = (("_is_amx_tile_supported", "AMX-BF16"), ("_is_avx512_bf16_supported", "AVX512-BF16"))
    for probe, name in probes:
        check = getattr(torch.cpu, probe, None)
        with contextlib.suppress(Exception):
            if check is not None and check():
                found.append(name)
    return found


def requested_precision(environ: dict[str, str] | None = None) -> str:
    """The FTTUI_PRECISION setting (`auto` when unset); PrecisionError when invalid."""
    env = os.environ if environ is None else environ
    value = (env.get(PRECISION_ENV) or "auto").strip().lower()
    if value not in CHOICES:
        raise PrecisionError(
            f"{PRECISION_ENV}={env.get(PRECISION_ENV)!r} is not one of "
            f"{', '.join(CHOICES)}; unset it to let each machine choose"
        )
    return value


def choose(
    device_type: str,
    requested: str | None = None,
    *,
    cpu_features: list[str] | None = None,
    cuda_bf16: bool | None = None,
) -> Precision:
    """The precision for `device_type` ("cpu" or "cuda").

    `requested` defaults to FTTUI_PRECISION. `cpu_features` and `cuda_bf16` stand in
    for the hardware probes (tests use them to state a machine's features).
    """
    wanted = requested_precision() if requested is None else requested
    if wanted not in CHOICES:
        raise PrecisionError(f"precision {wanted!r} is not one of {', '.join(CHOICES)}")
    if device_type == "cuda":
        if cuda_bf16 is None:
            import torch

            cuda_bf16 = bool(torch.cuda.is_bf16_supported(including_emulation=False))
        if wanted == "fp32":
            return Precision("fp32", "cuda", f"{PRECISION_ENV}=fp32")
        if cuda_bf16:
            reason = f"{PRECISION_ENV}=bf16" if wanted == "bf16" else "the GPU supports bf16"
            return Precision("bf16", "cuda", reason)
        if wanted == "bf16":
            raise PrecisionError(
                f"{PRECISION_ENV}=bf16, but this GPU has no bf16 support; use fp32 or auto"
            )
        return Precision("fp32", "cuda", "the GPU has no bf16 support")
    features = cpu_bf16_features() if cpu_features is None else cpu_features
    if wanted == "fp32":
        return Precision("fp32", device_type, f"{PRECISION_ENV}=fp32")
    if wanted == "bf16":
        note = (
            f"the CPU has {' and '.join(features)}"
            if features
            else "this CPU has no native bf16 (AMX or AVX512-BF16), so it is emulated and slow"
        )
        return Precision("bf16", device_type, f"{PRECISION_ENV}=bf16; {note}")
    if features:
        return Precision("bf16", device_type, f"the CPU has {' and '.join(features)}")
    return Precision(
        "fp32", device_type, "the CPU has no native bf16 (neither AMX-BF16 nor AVX512-BF16)"
    )
