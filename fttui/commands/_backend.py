"""Which backend a command talks to, and the one way a command calls it.

`fttui [--profile P] [--base-url U] [--api-key K] [--data-dir D] <command>` picks
the backend exactly as the TUI does (`fttui.config.resolve_profile`); the four
options may also follow the command (`fttui jobs list --profile openai`), see
`hoist_global_options`. `call(ctx, fn)` resolves the profile, opens one
`fttui.api.Client`, awaits `fn(client)` and turns every failure into one line and
an `ExitCode`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from fttui.commands._output import CommandError, ExitCode

if TYPE_CHECKING:
    from fttui.api import Client
    from fttui.config import Profile

__all__ = ["GLOBAL_OPTIONS", "Backend", "call", "exit_code_for", "hoist_global_options"]

T = TypeVar("T")

#: Options of the root command that may also be written after a subcommand.
GLOBAL_OPTIONS = ("--profile", "--base-url", "--api-key", "--data-dir")
#: Commands with options of their own under those names (the server's key and data).
_OWN_GLOBAL_NAMES = frozenset({"serve"})


@dataclass
class Backend:
    """The root options, stored on the click context as `ctx.obj`."""

    profile: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    data_dir: str | None = None

    def resolve(self) -> Profile:
        from fttui.config import resolve_profile

        try:
            return resolve_profile(
                name=self.profile,
                base_url=self.base_url,
                api_key=self.api_key,
                data_dir=self.data_dir,
            )
        except ValueError as exc:  # ConfigError: names the file, profile or variable
            raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc


def backend(ctx: typer.Context) -> Backend:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Backend) else Backend()


def hoist_global_options(args: Sequence[str], commands: frozenset[str]) -> list[str]:
    """Move the global options written after the command in front of it.

    `fttui jobs list --profile openai` reads as `fttui --profile openai jobs list`,
    which is what click understands. Stops at `--`; leaves `serve` alone (its
    `--api-key` and `--data-dir` are the server's own).
    """
    args = list(args)
    index = 0
    while index < len(args):  # find the command word, skipping root options
        token = args[index]
        if token == "--":
            return args
        if token in GLOBAL_OPTIONS:
            index += 2
            continue
        if token.startswith("-"):
            index += 1
            continue
        break
    if index >= len(args) or args[index] not in commands or args[index] in _OWN_GLOBAL_NAMES:
        return args
    front, rest = args[: index + 1], args[index + 1 :]
    hoisted: list[str] = []
    kept: list[str] = []
    position = 0
    while position < len(rest):
        token = rest[position]
        if token == "--":
            kept += rest[position:]
            break
        name = token.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            if "=" in token:
                hoisted.append(token)
                position += 1
            else:
                hoisted += rest[position : position + 2]
                position += 2
            continue
        kept.append(token)
        position += 1
    return [*hoisted, *front, *kept] if hoisted else args


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an `fttui.api` error."""
    from fttui.api import (
        APIConnectionError,
        APIStatusError,
        AuthenticationError,
        BadRequestError,
        NotFoundError,
        PayloadTooLargeError,
        PermissionDeniedError,
        UnprocessableEntityError,
    )

    if isinstance(exc, APIConnectionError):
        return ExitCode.UNREACHABLE
    if isinstance(exc, NotFoundError):
        return ExitCode.NOT_FOUND
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return ExitCode.AUTH
    if isinstance(exc, BadRequestError | UnprocessableEntityError | PayloadTooLargeError):
        return ExitCode.BAD_INPUT
    if isinstance(exc, APIStatusError):
        return ExitCode.FAILURE
    return ExitCode.FAILURE


# How often Ctrl-C's cancel is sent again while the command has not ended.
_CANCEL_AGAIN_S = 0.5


def run_interruptible(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coro)`, where one Ctrl-C always ends it with KeyboardInterrupt.

    asyncio.run answers the first Ctrl-C by cancelling the task once. A cancel that
    lands inside the HTTP stack's own cancel scopes can be absorbed there: twice in CI
    `fttui jobs follow` went on polling for a minute after Ctrl-C, its main thread
    waiting in the event loop (faulthandler's stack). So the cancel is sent again
    every half second until the task has ended."""
    interrupted = False

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def cancel() -> None:
            if not task.done():
                task.cancel()
                loop.call_later(_CANCEL_AGAIN_S, cancel)

        def on_sigint() -> None:
            nonlocal interrupted
            if interrupted:  # a second Ctrl-C: stop waiting for a clean end
                raise KeyboardInterrupt
            interrupted = True
            cancel()

        # Not the main thread, or no signal support: asyncio.run's own handling stays.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            return await coro
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGINT)

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise


def call(
    ctx: typer.Context,
    fn: Callable[[Client], Awaitable[T]],
    *,
    max_retries: int = 2,
    timeout: float = 30.0,
) -> T:
    """Run `fn(client)` against the chosen backend; API errors become `CommandError`.

    A backend that cannot be reached fails after `max_retries` quick retries (a
    script should not hang for a minute on a typo in --base-url).
    """
    from fttui.api import APIConnectionError, APIError, Client

    profile = backend(ctx).resolve()

    async def main() -> T:
        async with Client.from_profile(
            profile, max_retries=max_retries, timeout=timeout, retry_max_delay=2.0
        ) as client:
            return await fn(client)

    try:
        return run_interruptible(main())
    except APIConnectionError as exc:
        raise CommandError(f"{exc} (backend: {profile.label})", exit_code_for(exc)) from exc
    except APIError as exc:
        raise CommandError(str(exc), exit_code_for(exc)) from exc


def other_profile(where: str, value: str, api_key: str | None = None) -> Profile:
    """A second backend named on the command line (`migrate --from/--to`, `eval
    --against-profile/--against-base-url`): a profile name or a base URL, with its key."""
    from dataclasses import replace

    from fttui.config import resolve_profile

    try:
        if value.startswith(("http://", "https://")):
            return resolve_profile(base_url=value, api_key=api_key)
        profile = resolve_profile(name=value)
        return replace(profile, api_key=api_key) if api_key else profile
    except ValueError as exc:
        raise CommandError(f"{where} {value!r}: {exc}", ExitCode.BAD_INPUT) from exc


def parse_pairs(values: Sequence[str], option: str) -> dict[str, Any]:
    """`k=v` strings (a repeatable option) as a dict; a malformed one is bad input."""
    out: dict[str, Any] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise CommandError(f"{option} {value!r}: expected KEY=VALUE", ExitCode.BAD_INPUT)
        out[key] = val
    return out
