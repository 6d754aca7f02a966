"""`fttui try MODEL PROMPT`: ask a model, the answer streamed to the terminal.

Which endpoint (as the TUI's Try model decides): `--chat` or `--completion` say it;
otherwise the model's name does (`fttui.core.models.serves_completions`: OpenAI's
completions models, davinci-002, babbage-002, gpt-3.5-turbo-instruct, the legacy
guide's ada/babbage/curie/davinci, and their fine-tunes use /v1/completions, every
other model chat), except on fttui's local server, which serves both: there a
fine-tuned model's training file says how it was trained (chat or preference
examples: chat; prompt/completion: completions).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fttui.commands._backend import call
from fttui.commands._output import ExitCode, JsonFlag, fail, print_json

if TYPE_CHECKING:
    from fttui.api import Client

__all__ = ["register"]


def _format_of(first_line: str) -> bool | None:
    """Chat (True) or completions (False) for a training file's first example."""
    try:
        example: Any = json.loads(first_line)
    except ValueError:
        return None
    if not isinstance(example, dict):
        return None
    if "messages" in example or "preferred_output" in example:
        return True
    if "prompt" in example:
        return False
    return None


async def _is_chat(client: Client, model: str) -> bool:
    from fttui.core.models import serves_completions

    chat = not serves_completions(model)
    if await client.detect() != "local":
        return chat
    found = await client.models.retrieve(model)  # an unknown model: exit 3 here
    info = (found.model_extra or {}).get("fttui")
    job_id = info.get("job_id") if isinstance(info, dict) else None
    if not isinstance(job_id, str) or not job_id:
        return chat
    job = await client.jobs.retrieve(job_id)
    if not job.training_file:
        return chat
    head = await client.files.head(job.training_file, 65536)
    first = next((t for t in head.decode("utf-8", "replace").splitlines() if t.strip()), "")
    trained = _format_of(first)
    return chat if trained is None else trained


def register(root: typer.Typer) -> None:
    @root.command("try", rich_help_panel="Fine-tuning")
    def try_model(
        ctx: typer.Context,
        model: Annotated[str, typer.Argument(help="the model to ask (base or fine-tuned)")],
        prompt: Annotated[str, typer.Argument(help="the prompt, or - to read it from stdin")],
        chat: Annotated[
            bool | None,
            typer.Option(
                "--chat/--completion",
                help="chat completions or (legacy) completions; default: by the model",
                show_default=False,
            ),
        ] = None,
        max_tokens: Annotated[int, typer.Option(min=1, help="tokens to generate at most")] = 64,
        temperature: Annotated[float, typer.Option(min=0.0, max=2.0, help="sampling")] = 0.0,
        stop: Annotated[
            list[str] | None,
            typer.Option(help="stop sequence (repeatable), e.g. ' END' as in training"),
        ] = None,
        system: Annotated[str | None, typer.Option(help="system message (chat)")] = None,
        stream: Annotated[bool, typer.Option(help="print the answer as it is generated")] = True,
        json_out: JsonFlag = False,
    ) -> None:
        """Ask a model and print its answer as it is generated (legacy: completions.create).

        The prompt is sent as written: format it as in training, separator included
        (in bash, $'...' writes newlines: $'Great product!\\n\\n###\\n\\n').
        --json sends one non-streamed request and prints the answer object.

        Example: [bold]fttui try ft:davinci-002:my-org::abc123 $'Great product!\\n\\n###\\n\\n' --max-tokens 1[/]
        """
        from fttui.api import raw
        from fttui.core.safe_text import safe_text

        text = sys.stdin.read() if prompt == "-" else prompt
        if not text:
            fail("the prompt is empty")
        if system is not None and chat is False:
            fail("--system is for chat; drop it or --completion", ExitCode.BAD_INPUT)

        async def go(client: Client) -> None:
            use_chat = chat if chat is not None else await _is_chat(client, model)
            messages = [{"role": "user", "content": text}]
            if system is not None:
                messages.insert(0, {"role": "system", "content": system})
            common: dict[str, Any] = {
                "model": model,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "stop": stop or None,
            }
            if json_out:
                answer: Any = (
                    await client.chat.completions.create(messages=messages, **common)
                    if use_chat
                    else await client.completions.create(prompt=text, **common)
                )
                print_json(raw(answer))
                return
            if not stream:
                answer = (
                    await client.chat.completions.create(messages=messages, **common)
                    if use_chat
                    else await client.completions.create(prompt=text, **common)
                )
                sys.stdout.write(safe_text(answer.text, multiline=True) + "\n")
                return
            pieces = (
                client.chat.completions.stream(messages=messages, **common)
                if use_chat
                else client.completions.stream(prompt=text, **common)
            )
            try:
                async for piece in pieces:
                    sys.stdout.write(safe_text(piece, multiline=True))
                    sys.stdout.flush()
            finally:
                sys.stdout.write("\n")
                sys.stdout.flush()

        call(ctx, go, timeout=300.0)
