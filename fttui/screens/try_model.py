"""`t`: try a model on a prompt, formatted exactly as its training data was.

The legacy guide's rule: at inference the prompt ends with the training separator and
the completion is cut at the training stop sequence. Both are taken from the
training file's check report (the file is fetched with a ranged read and
checked in a thread) and stay editable, written with backslash escapes.
For a classification file (few distinct completions) max tokens defaults to 1, as
the guide says, and the top five log-probabilities are shown as probability bars.

The endpoint follows the model: OpenAI serves its completions models (davinci-002,
babbage-002, gpt-3.5-turbo-instruct and their fine-tunes) on `/v1/completions` and
every other model on `/v1/chat/completions` only; on the local server, which serves
both, a model trained on a chat, preference or reinforcement file is asked as a chat
model. A chat model gets the prompt as one user message (no separator appended).
ctrl+r takes a prompt from the job's validation file (its training file when it has none).

The model id, the completion, its tokens and any error come from a backend: they
are drawn as plain text with control characters made visible (`safe_text`).
"""

from __future__ import annotations

import asyncio
import codecs
import math
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from fttui._keys import HOLD_MAX_S
from fttui.api import APIError, ChatCompletion, Client, Completion
from fttui.backend import describe_error
from fttui.core.models import serves_completions
from fttui.core.safe_text import safe_text
from fttui.messages import BackendFailed

if TYPE_CHECKING:
    from fttui.data.report import Report

HEAD_BYTES = 262144
DEFAULT_MAX_TOKENS = "32"
BAR_WIDTH = 30


def escape(text: str) -> str:
    """`\\n\\n###\\n\\n` style, so whitespace separators can be seen and edited."""
    return text.encode("unicode_escape").decode("ascii")


def unescape(text: str) -> str:
    return codecs.decode(text.encode("latin-1", "backslashreplace"), "unicode_escape")


def is_classification(report: Report) -> bool:
    """Whether the check report found a classification dataset (few distinct labels)."""
    return report.training.task == "classification"


def example_prompt(line: dict[str, Any], separator: str | None) -> str | None:
    """The prompt of one training/validation example, as a user would type it: a
    chat's (or preference pair's) last user message, or a prompt without its
    separator; None when the line holds neither."""
    messages = line.get("messages")
    if not isinstance(messages, list):
        inner = line.get("input")
        messages = inner.get("messages") if isinstance(inner, dict) else None
    if isinstance(messages, list):
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        content = users[-1].get("content") if users else None
        if isinstance(content, list):  # content parts: the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content if isinstance(content, str) and content else None
    prompt = line.get("prompt")
    if isinstance(prompt, str) and prompt:
        return prompt.removesuffix(separator) if separator else prompt
    return None


def dataset_markers(report: Report) -> tuple[str | None, str | None]:
    """(separator, stop sequence) the check report detected in the training file."""
    return (report.training.separator or None), (report.training.stop_sequence or None)


class TryModelScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "send", "Send"),
        Binding("ctrl+r", "example_prompt", "Prompt from validation file"),
    ]

    def __init__(
        self,
        client: Client,
        model: str,
        *,
        training_file: str | None = None,
        validation_file: str | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.model = model
        self.training_file = training_file
        self.validation_file = validation_file
        self.last_completion: Completion | ChatCompletion | None = None
        #: Whether the model is asked on chat completions (else completions).
        self.chat = not serves_completions(model)
        self._examples: list[str] = []
        self._next_example = 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="try-box"):
            yield Label("Try a model", classes="modal-title")
            with VerticalScroll(classes="modal-body", id="try-body"):
                yield Label("model", classes="modal-hint")
                # Shown safe; sent as the backend named it unless the user edits it.
                yield Input(value=safe_text(self.model), id="try-model")
                with Horizontal(id="try-markers"):
                    with Vertical(id="try-separator-field"):
                        yield Label("separator", classes="modal-hint")
                        yield Input(id="try-separator", placeholder="e.g. \\n\\n###\\n\\n")
                    with Vertical():
                        yield Label("stop sequence", classes="modal-hint")
                        yield Input(id="try-stop", placeholder="e.g. \\n or  END")
                    with Vertical():
                        yield Label("max tokens", classes="modal-hint")
                        yield Input(value=DEFAULT_MAX_TOKENS, id="try-max-tokens", type="integer")
                yield Label("", id="try-mode", classes="modal-hint")
                yield Label("", id="try-endpoint", classes="modal-hint")
                yield Label("prompt (ctrl+s sends)", classes="modal-hint")
                yield TextArea(id="try-prompt")
                yield Static("", id="try-output")
            with Horizontal(classes="modal-buttons"):
                yield Button("Close", id="try-close")
                yield Button("Send (ctrl+s)", id="try-send", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#try-prompt", TextArea).focus()
        self.query_one("#try-mode", Label).display = False
        self._show_endpoint()
        if self.training_file:
            # Keys typed ahead (a prompt and ctrl+s) wait for the separator, the stop
            # and the endpoint the training file decides: else the first prompt of a
            # burst is sent without its separator (fttui._keys, `holds_keys_until`).
            self.holds_keys_until = time.monotonic() + HOLD_MAX_S
            self.detect_markers(self.training_file)

    @work(exclusive=True, group="markers")
    async def detect_markers(self, file_id: str) -> None:
        """Separator and stop from the training file's check report; typed-ahead keys
        are let through once they are in (or once that failed)."""
        try:
            await self._detect_markers(file_id)
        finally:
            self.holds_keys_until = 0.0

    def _show_endpoint(self) -> None:
        # A chat model's prompt is a user message: no separator is appended to it.
        self.query_one("#try-separator-field").display = not self.chat
        self.query_one("#try-endpoint", Label).update(
            "chat model: asked on /v1/chat/completions, the prompt as a user message"
            if self.chat
            else "completions model: asked on /v1/completions (prompt + separator)"
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "try-send":
            self.action_send()
        else:
            self.action_close()

    def action_close(self) -> None:
        self.dismiss(None)

    async def _detect_markers(self, file_id: str) -> None:
        from fttui.data import check_file

        try:
            head = await self.client.files.head(file_id, max_bytes=HEAD_BYTES)
        except APIError as exc:
            self.post_message(BackendFailed("training file", exc))
            return
        lines = head.split(b"\n")
        if len(head) >= HEAD_BYTES:
            lines = lines[:-1]  # the last line may be cut short by the ranged read
        with tempfile.TemporaryDirectory(prefix="fttui-") as tmp:
            path = Path(tmp) / "head.jsonl"
            path.write_bytes(b"\n".join(lines) + b"\n")
            try:
                report = await asyncio.to_thread(check_file, path)
            except (OSError, ValueError) as exc:
                self.notify(f"could not check the training file: {exc}", severity="warning")
                return
        await self.client.detect()
        fmt = report.training.format
        if self.client.is_local and fmt:
            # The local server serves both: the data says how the model was trained
            # (a reinforcement file's prompts are chats ending with a user message).
            self.chat = fmt in ("chat", "preference", "reinforcement")
            self._show_endpoint()
        separator, stop = dataset_markers(report)
        sep_box = self.query_one("#try-separator", Input)
        stop_box = self.query_one("#try-stop", Input)
        if separator and not sep_box.value:
            sep_box.value = escape(separator)
        if stop and not stop_box.value:
            stop_box.value = escape(stop)
        tokens = self.query_one("#try-max-tokens", Input)
        if is_classification(report) and tokens.value == DEFAULT_MAX_TOKENS:
            # The legacy guide: a classifier answers with one token, and the top
            # log-probabilities show how sure it is of each class.
            tokens.value = "1"
            mode = self.query_one("#try-mode", Label)
            mode.update("classification file: 1 token, with the top 5 classes' probabilities")
            mode.display = True

    def action_send(self) -> None:
        prompt = self.query_one("#try-prompt", TextArea).text
        if not prompt.strip():
            self.notify("write a prompt first", severity="warning")
            return
        try:
            max_tokens = int(self.query_one("#try-max-tokens", Input).value or DEFAULT_MAX_TOKENS)
        except ValueError:
            self.notify("max tokens must be a whole number", severity="error")
            return
        if not 1 <= max_tokens <= 2048:
            self.notify("max tokens must be between 1 and 2048", severity="error")
            return
        self.send(prompt, max_tokens)

    @work(exclusive=True, group="send")
    async def send(self, prompt: str, max_tokens: int) -> None:
        output = self.query_one("#try-output", Static)
        model = self.query_one("#try-model", Input).value.strip()
        if model == safe_text(self.model).strip():
            model = self.model
        separator = unescape(self.query_one("#try-separator", Input).value)
        stop = unescape(self.query_one("#try-stop", Input).value)
        classify = max_tokens == 1
        output.update(Text(f"asking {safe_text(model)} …", style="dim"))
        completion: Completion | ChatCompletion
        try:
            if self.chat:
                completion = await self.client.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": prompt}],
                    max_tokens=max_tokens,
                    temperature=0.0,
                    stop=[stop] if stop else None,
                    **({"logprobs": True, "top_logprobs": 5} if classify else {}),
                )
            else:
                completion = await self.client.completions.create(
                    model=model,
                    prompt=prompt + separator,
                    max_tokens=max_tokens,
                    temperature=0.0,
                    stop=[stop] if stop else None,
                    logprobs=5 if classify else None,
                )
        except APIError as exc:
            problem = describe_error("completion", exc).text
            output.update(Text(safe_text(problem, multiline=True), style="red"))
            self._show_output()
            return
        self.last_completion = completion
        output.update(render_completion(completion))
        self._show_output()

    def action_example_prompt(self) -> None:
        self.example_prompt()

    @work(exclusive=True, group="example")
    async def example_prompt(self) -> None:
        """The next example's prompt from the validation file (else the training file)."""
        import json

        file_id = self.validation_file or self.training_file
        if not file_id:
            self.notify("this job has no validation or training file", severity="warning")
            return
        if not self._examples:
            try:
                head = await self.client.files.head(file_id, max_bytes=HEAD_BYTES)
            except APIError as exc:
                self.post_message(BackendFailed("validation file", exc))
                return
            separator = unescape(self.query_one("#try-separator", Input).value) or None
            for raw in head.split(b"\n"):
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue  # blank, or cut short by the ranged read
                prompt = example_prompt(line, separator) if isinstance(line, dict) else None
                if prompt:
                    self._examples.append(prompt)
            if not self._examples:
                self.notify(f"no prompt found in {file_id}", severity="warning")
                return
        prompt = self._examples[self._next_example % len(self._examples)]
        self._next_example += 1
        self.query_one("#try-prompt", TextArea).text = prompt

    def _show_output(self) -> None:
        """The answer is below the prompt: scroll it into view once it is laid out."""
        output = self.query_one("#try-output", Static)
        self.call_after_refresh(output.scroll_visible, animate=False)


def probability_bar(p: float, width: int = BAR_WIDTH) -> str:
    """A bar `width` cells long at 100%, in eighths of a cell: 0.42 -> '████████████▋'."""
    eighths = round(max(0.0, min(1.0, p)) * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (" ▏▎▍▌▋▊▉"[rest] if rest else "")


def _chat_top(logprobs: dict[str, Any] | None) -> list[dict[str, float]] | None:
    """Chat logprobs (`content[i].top_logprobs: [{token, logprob}]`) as the
    completions endpoint's `top_logprobs: [{token: logprob}]`."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content:
        return None
    out: list[dict[str, float]] = []
    for position in content:
        tops = position.get("top_logprobs") if isinstance(position, dict) else None
        out.append(
            {
                str(t.get("token")): float(t["logprob"])
                for t in tops or []
                if isinstance(t, dict) and isinstance(t.get("logprob"), int | float)
            }
        )
    return out


def render_completion(completion: Completion | ChatCompletion) -> RenderableType:
    """The completion text, then (when asked for) the top tokens with probabilities."""
    if not completion.choices:
        return Text("the backend answered with no choices", style="red")
    chat = isinstance(completion, ChatCompletion)
    text = Text()
    text.append("reply: " if chat else "completion: ", style="bold")
    top: list[dict[str, float] | None] | None
    if isinstance(completion, ChatCompletion):
        reply = completion.choices[0]
        answer, finish = reply.message.content or "", reply.finish_reason
        top = list(_chat_top(reply.logprobs) or [])
    else:
        choice = completion.choices[0]
        answer, finish = choice.text, choice.finish_reason
        top = choice.logprobs.top_logprobs if choice.logprobs is not None else None
    # repr() shows whitespace; safe_text also covers what repr leaves (nothing today).
    text.append(safe_text(repr(answer)))
    text.append(f"   ({safe_text(str(finish))})", style="dim")
    if not top:
        return text
    table = Table(title="top tokens (first position)", box=None, expand=False)
    table.add_column("token")
    table.add_column("probability")
    table.add_column("", justify="right")
    table.add_column("logprob", justify="right", style="dim")
    first = top[0] or {}
    for token, logprob in sorted(first.items(), key=lambda kv: -kv[1]):
        p = math.exp(logprob)
        # Text, not str: a table cell string would be read as markup.
        table.add_row(
            Text(safe_text(repr(token))),
            Text(probability_bar(p), style="green"),
            f"{p:.1%}",
            f"{logprob:.3f}",
        )
    from rich.console import Group

    return Group(text, table)
