"""OpenAI's grader endpoints (`client.graders`, the SDK's `client.fine_tuning.alpha.graders`).

`run` scores one model sample with a reinforcement grader: what a reinforcement job's
evaluation uses to score a model's answers to its validation file with the job's own
grader (fttui.evaluate). Side-effect free, so retried like a GET.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fttui.api._http import HTTP

__all__ = ["Graders"]


class Graders:
    """`client.graders`."""

    def __init__(self, http: HTTP) -> None:
        self._http = http

    async def run(
        self,
        grader: Mapping[str, Any],
        model_sample: str,
        item: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """OpenAI's RunGraderResponse: `reward`, `metadata` (`errors`, `scores`),
        `sub_rewards`."""
        body = {"grader": dict(grader), "model_sample": model_sample, "item": dict(item or {})}
        out = await self._http.request(
            "POST", "/fine_tuning/alpha/graders/run", json=body, idempotent=True
        )
        return dict(out)
