"""Moved to the job contract, `fttui.core.job_spec` (ranges, defaults, `auto` rules).

This name re-exports what it held so branches written against it still import; new
code imports `fttui.core.job_spec`. `RANGES` here keeps its old shape
(name -> (type, minimum, maximum, inclusive minimum)); job_spec's holds `Param`s.
"""

from __future__ import annotations

from fttui.core.job_spec import (
    AUTO,
    DEFAULT_BETA,
    DEFAULT_GROUP_SIZE,
    EXTRA_HPARAMS,
    METHOD_HPARAMS,
    REASONING_EFFORTS,
    RFT_HPARAMS,
    STANDARD_HPARAMS,
    Resolved,
    check_hyperparameter,
    default_batch_size,
    default_lr_multiplier,
    resolve,
    resolve_beta,
    resolve_reinforcement,
)
from fttui.core.job_spec import RANGES as _PARAMS

RANGES: dict[str, tuple[type, float, float, bool]] = {
    name: (p.kind, p.low, p.high if p.high is not None else float("inf"), not p.low_open)
    for name, p in _PARAMS.items()
}

__all__ = [
    "AUTO",
    "DEFAULT_BETA",
    "DEFAULT_GROUP_SIZE",
    "EXTRA_HPARAMS",
    "METHOD_HPARAMS",
    "RANGES",
    "REASONING_EFFORTS",
    "RFT_HPARAMS",
    "STANDARD_HPARAMS",
    "Resolved",
    "check_hyperparameter",
    "default_batch_size",
    "default_lr_multiplier",
    "resolve",
    "resolve_beta",
    "resolve_reinforcement",
]
