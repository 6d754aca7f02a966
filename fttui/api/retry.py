"""When and how long to retry a failed request (built on tenacity).

What is retried:

- 429 always: the server refused the request without acting on it, so even a job
  create or an upload is safe to send again.
- 500/502/503/504, timeouts and dropped connections only for *idempotent* requests
  (GET, DELETE, and POSTs whose repetition changes nothing: cancel, pause, resume,
  completions). A job create or a file upload whose body was sent may have been
  acted on before the connection broke or the proxy answered 5xx; sending it again
  could start a second paid job or store the file twice. OpenAI's fine-tuning API
  has no idempotency key to make that safe, so those errors surface to the user,
  who can look at the job/file list and decide.
- Connection failures *before* anything was sent (refused, DNS, connect timeout):
  always, since the server never saw the request.
- Never when the server says `x-should-retry: false` (as OpenAI's SDKs honour it).

How long: `Retry-After` / `retry-after-ms` when the server gives one (capped at
`retry_after_cap`), otherwise exponential backoff with full jitter.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from fttui.api.errors import APIConnectionError, APIError, APIStatusError, RateLimitError

__all__ = ["RETRY_STATUSES", "RetryPolicy"]

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to wait; one per Client."""

    max_retries: int = 4
    initial_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 60.0

    def should_retry(self, exc: BaseException, idempotent: bool) -> bool:
        # The server knows best: `x-should-retry: false` on a 503 that no wait will mend
        # (e.g. an engine that is not installed), as OpenAI's SDKs honour it.
        if isinstance(exc, APIStatusError) and exc.should_retry is False:
            return False
        if isinstance(exc, RateLimitError):
            return True
        if isinstance(exc, APIStatusError):
            return idempotent and exc.status_code in RETRY_STATUSES
        if isinstance(exc, APIConnectionError):
            return idempotent or not exc.request_sent
        return False

    def delay(self, exc: BaseException | None, attempt: int) -> float:
        """Seconds to sleep before retry number `attempt` (1-based)."""
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float):
            return min(float(retry_after), self.retry_after_cap)
        base = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        # Jitter: anywhere in [base/2, base], so clients that failed together spread out.
        return random.uniform(base / 2, base)

    async def run(self, fn: Callable[[], Awaitable[R]], *, idempotent: bool) -> R:
        """Await `fn()` until it succeeds, a non-retryable error occurs, or retries run out."""

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return self.delay(exc, state.attempt_number)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info("retrying after %s (attempt %d)", exc, state.attempt_number)

        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            retry=tenacity.retry_if_exception(
                lambda exc: isinstance(exc, APIError) and self.should_retry(exc, idempotent)
            ),
            wait=wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        return await retrying(fn)
