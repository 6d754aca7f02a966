"""What a fine-tuning job costs on OpenAI before it is created.

Supervised and DPO jobs are billed by tokens: the training file's tokens times the
epochs times the model's training price. Reinforcement jobs are billed by the time
the training loop runs, so no figure can be given in advance, only the rate.

The prices ship as data (`openai_prices.json`, with its date and source) and the
config file's `[prices]` table overrides them (model = USD per 1M training tokens):
prices change, and fttui cannot fetch them (no network is assumed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["Price", "cost_line", "price_table", "training_cost", "training_price", "usd"]


@dataclass(frozen=True)
class Price:
    """A model's training price: per 1M tokens, or (reinforcement) per hour."""

    model: str  # the table's entry that matched
    per_million: float | None = None
    per_hour: float | None = None
    source: str = ""  # where the figure comes from: the table (with its date) or config

    def describe(self) -> str:
        if self.per_hour is not None:
            return f"${self.per_hour:,.2f} per hour of training ({self.model})"
        return f"${self.per_million:,.2f} per 1M training tokens ({self.model})"


@cache
def price_table() -> dict[str, Any]:
    """The shipped table: {date, source, note, per_million_training_tokens, per_training_hour}."""
    text = resources.files("fttui.core").joinpath("openai_prices.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _base(model: str) -> str:
    # `ft:gpt-4o-mini-2024-07-18:org:suffix:id` is billed as its base model.
    return model.split(":")[1] if model.startswith("ft:") and model.count(":") >= 1 else model


def _match(name: str, table: dict[str, float]) -> str | None:
    """The entry for `name`: exact, or the family (`gpt-4o-mini` -> its snapshot), or
    the longest entry `name` starts with (a dated snapshot of a listed model)."""
    if name in table:
        return name
    family = [k for k in table if k.startswith(name + "-") and k[len(name) + 1 :][:1].isdigit()]
    if len(family) == 1:
        return family[0]
    prefixed = [k for k in table if name.startswith(k + "-")]
    return max(prefixed, key=len) if prefixed else None


def training_price(model: str, overrides: dict[str, float] | None = None) -> Price | None:
    """The training price of `model` (base, alias of a snapshot, or fine-tuned), or None
    when neither the config's `[prices]` nor the shipped table knows it."""
    name = _base(model)
    table = price_table()
    if overrides:
        key = _match(name, overrides)
        if key is not None:
            return Price(key, per_million=float(overrides[key]), source="config.toml [prices]")
    where = f"fttui's table of OpenAI's prices, recorded {table['date']}"
    key = _match(name, table["per_training_hour"])
    if key is not None:
        return Price(key, per_hour=float(table["per_training_hour"][key]), source=where)
    key = _match(name, table["per_million_training_tokens"])
    if key is not None:
        per_million = float(table["per_million_training_tokens"][key])
        return Price(key, per_million=per_million, source=where)
    return None


def training_cost(tokens_per_epoch: int, n_epochs: int, price: Price) -> float | None:
    """USD for a token-billed job: tokens x epochs x price (None when billed by time)."""
    if price.per_million is None:
        return None
    return tokens_per_epoch * n_epochs * price.per_million / 1_000_000


def usd(amount: float) -> str:
    """`$1,234.50`; under a cent with its first significant digits (`$0.0042`)."""
    return f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.2g}"


def cost_line(
    model: str,
    tokens_per_epoch: int | None,
    n_epochs: Any,
    *,
    method: str = "supervised",
    overrides: dict[str, float] | None = None,
) -> str:
    """What creating the job will cost on OpenAI, in one line for the form and the
    upload check: tokens x epochs x price, or the rate where billing is by time."""
    price = training_price(model, overrides)
    if price is None:
        return (
            f"Cost: no training price known for {model}; add it under [prices] in "
            "config.toml (model = USD per 1M training tokens)"
        )
    if method == "reinforcement" or price.per_hour is not None:
        rate = price.describe() if price.per_hour is not None else "by the hour"
        return (
            f"Cost: reinforcement fine-tuning is billed by training time, not tokens: {rate}, "
            f"plus model graders' tokens at inference rates; no figure before it runs "
            f"({price.source})"
        )
    if tokens_per_epoch is None:
        return f"Cost: training tokens × epochs × {price.describe()} ({price.source})"
    if isinstance(n_epochs, int) and not isinstance(n_epochs, bool):
        total = training_cost(tokens_per_epoch, n_epochs, price) or 0.0
        return (
            f"Cost ≈ {usd(total)}: {tokens_per_epoch:,} tokens × {n_epochs} epochs × "
            f"{price.describe()} ({price.source})"
        )
    per_epoch = training_cost(tokens_per_epoch, 1, price) or 0.0
    return (
        f"Cost ≈ {usd(per_epoch)} per epoch: {tokens_per_epoch:,} tokens × {price.describe()}; "
        f"n_epochs auto: OpenAI picks the number of epochs ({price.source})"
    )
