"""`e`: evaluate a fine-tuned model against its base on a validation file, in place.

Opened on a succeeded job: the model is the job's fine-tuned model, the one it is
measured against is the job's base model, and the file is the job's validation file
(its training file when it has none). Each field can be changed: any model of the
backend, no base (one model alone), another file id of the backend or a JSONL file
on this machine. ctrl+s runs: the file is fetched through `fttui.api`, both models
are asked every question at temperature 0 (`fttui.evaluate.compare`, the code behind
`fttui eval`), and the report shows the metrics side by side, the per-class table
and confusion matrix (classification) or the worst answers (generation); ctrl+e
shows every example's answers. On OpenAI the cost is estimated first and a second
ctrl+s starts the run. Each run is kept with the model's history, as `fttui eval`
keeps it: opened again, the screen shows the last one (and `fttui eval MODEL --last`
shows the same).

Model ids, answers and file contents come from a backend or a file: drawn as plain
text with control characters made visible (`safe_text`, and Rich tables, never
markup, for the report).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static

from fttui.api import APIError, Client
from fttui.backend import describe_error
from fttui.core.safe_text import safe_text
from widgets import PathInput

#: Cells of the per-example table are cut to this many characters (the JSON/CSV
#: export of `fttui eval -o` keeps them whole).
CELL = 60


class EvalScreen(ModalScreen[None]):
    """The evaluation of one model (and its base) on one file; `report` is the last
    report shown (None before one)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "run", "Run the evaluation"),
        # Priority: a text field would take ctrl+e (end of line; End does that too).
        Binding("ctrl+e", "examples", "Show every example's answers", priority=True),
    ]

    def __init__(
        self,
        client: Client,
        model: str,
        *,
        against: str | None = None,
        file: str | None = None,
        grader: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.model = model
        self.against = against
        self.file = file
        # A reinforcement job's grader: scores the answers to a reinforcement file.
        self.grader = grader
        self.report: dict[str, Any] | None = None
        #: The run whose cost the user was shown: a second ctrl+s starts it.
        self._costed: tuple[str, str, str] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="eval-box"):
            yield Label("Evaluate a model", classes="modal-title")
            with VerticalScroll(classes="modal-body", id="eval-body"):
                yield Label("model", classes="modal-hint")
                yield Input(value=safe_text(self.model), id="eval-model")
                yield Label("against (its base; empty: the model alone)", classes="modal-hint")
                yield Input(value=safe_text(self.against or ""), id="eval-against")
                yield Label(
                    "file: a file id of the backend, or a JSONL file on this machine",
                    classes="modal-hint",
                )
                yield PathInput(value=safe_text(self.file or ""), id="eval-file")
                yield Label("", id="eval-status", classes="modal-hint")
                yield Static("", id="eval-report")
                yield DataTable(id="eval-examples", zebra_stripes=True)
            with Horizontal(classes="modal-buttons"):
                yield Button("Close", id="eval-close")
                yield Button("Examples (ctrl+e)", id="eval-toggle")
                yield Button("Run (ctrl+s)", id="eval-run", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#eval-examples", DataTable).display = False
        self.query_one("#eval-run", Button).focus()
        self._status(f"ctrl+s runs the evaluation{self._scored_by()}")
        self.show_last()

    def _scored_by(self) -> str:
        """Said before a run: a reinforcement job's answers get its grader's rewards
        (not an exact match with a reference); empty without a grader."""
        if self.grader is None:
            return ""
        kind = self.grader.get("type", "?")
        name = self.grader.get("name", "")
        return f"; the answers are scored by the job's grader ({kind} {json.dumps(name)})"

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#eval-status", Label).update(Text(safe_text(text), style=style))

    def _field(self, name: str, original: str | None) -> str:
        """A field's value; the original (unsanitised) name when it was not edited."""
        value = self.query_one(f"#eval-{name}", Input).value.strip()
        if original is not None and value == safe_text(original).strip():
            return original
        return value

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "eval-run":
            self.action_run()
        elif event.button.id == "eval-toggle":
            self.action_examples()
        else:
            self.action_close()

    def action_close(self) -> None:
        self.dismiss(None)

    # -- the last run kept ----------------------------------------------------------
    @work(exclusive=True, group="eval-history")
    async def show_last(self) -> None:
        """The model's last evaluation on this backend, if one was kept."""
        import fttui.evaluate as ev

        runs = await asyncio.to_thread(ev.history, self.client.base_url, self.model)
        if not runs or self.report is not None:
            return
        last = runs[-1]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(last.get("saved_at", 0)))
        self.show_report(last["report"])
        self._status(f"last evaluation, {when}; ctrl+s runs it again{self._scored_by()}")

    # -- a run ------------------------------------------------------------------------
    def action_run(self) -> None:
        model = self._field("model", self.model)
        if not model:
            self._status("name the model to evaluate", "red")
            return
        self.evaluate(model, self._field("against", self.against), self._field("file", self.file))

    @work(exclusive=True, group="eval-run")
    async def evaluate(self, model: str, against: str, source: str) -> None:
        import fttui.evaluate as ev

        if not source:
            self._status("name a file: a file id of the backend or a JSONL path", "red")
            return
        with tempfile.TemporaryDirectory(prefix="fttui-eval-") as tmp:
            path = await self._fetch(source, Path(tmp))
            if path is None:
                return
            try:
                data = await asyncio.to_thread(ev.read, path, grader=self.grader)
            except ev.EvalFileError as exc:
                self._status(str(exc), "red")
                return
        await self.client.detect()
        if self.client.kind == "openai" and self._costed != (model, against, source):
            models = [m for m in (against, model) if m]
            cost, tokens_in, tokens_out = await asyncio.to_thread(ev.estimate_cost, data, models)
            said = f"${cost:.4f}" if cost is not None else "unknown (no price known for it)"
            self._costed = (model, against, source)
            self._status(
                f"{len(data.items)} examples with {len(models)} model(s): about "
                f"{tokens_in:,} input and at most {tokens_out:,} output tokens, cost {said}. "
                "ctrl+s again starts it.",
                "yellow",
            )
            return
        self._costed = None
        asking = {"model": against or model}

        def progress(done: int, total: int) -> None:
            self._status(f"asking {asking['model']}: {done}/{total}")

        try:
            # The app's client fails fast (a refresh timer retries); a run waits for
            # long answers and honours rate limits as `fttui eval` does.
            async with self.client.with_options(timeout=600.0, max_retries=6) as client:
                report = await ev.compare(
                    client,
                    model,
                    data,
                    against=against or None,
                    progress=_Tracker(progress, asking, [m for m in (against, model) if m]),
                )
        except APIError as exc:
            self._status(describe_error("evaluation", exc).text, "red")
            return
        report["file"] = source
        try:
            await asyncio.to_thread(
                ev.save,
                self.client.base_url,
                {"model": model, "against": against or None, "report": report},
            )
        except OSError as exc:
            self.notify(f"the report could not be kept: {exc}", severity="warning")
        self.show_report(report)
        seconds = sum(r.get("seconds", 0) for r in report["runs"])
        self._status(f"done in {seconds:.1f} s; ctrl+e shows every example")

    async def _fetch(self, source: str, tmp: Path) -> Path | None:
        """A local file as is; otherwise the backend's file of that id, downloaded."""
        local = Path(source).expanduser()
        if local.is_file():
            return local
        if "/" in source or source.endswith(".jsonl"):
            self._status(f"{source}: no such file", "red")
            return None
        self._status(f"fetching {source} …")
        target = tmp / f"{source}.jsonl"
        try:
            return await self.client.files.download(source, target)
        except APIError as exc:
            self._status(describe_error(f"file {source}", exc).text, "red")
        except OSError as exc:
            self._status(f"{source}: {exc.strerror or exc}", "red")
        return None

    # -- the report -----------------------------------------------------------------
    def show_report(self, report: dict[str, Any]) -> None:
        import fttui.evaluate as ev

        self.report = report
        self.query_one("#eval-report", Static).update(Group(*ev.render(report)))
        table = self.query_one("#eval-examples", DataTable)
        table.clear(columns=True)
        runs = report["runs"]
        table.add_columns(
            *(Text(h) for h in ("#", "prompt", "reference", *(safe_text(r["model"]) for r in runs)))
        )
        for k, (prompt, reference) in enumerate(
            zip(report["prompts"], report["references"], strict=True)
        ):
            answers = [r["answers"][k] if k < len(r["answers"]) else "" for r in runs]
            # A grader's full marks where there is one, else the reference's words.
            cells = [
                _cell(a, right=_right(run, k, a, reference))
                for run, a in zip(runs, answers, strict=True)
            ]
            table.add_row(Text(str(k)), _cell(prompt[-CELL:]), _cell(reference), *cells)

    def action_examples(self) -> None:
        table = self.query_one("#eval-examples", DataTable)
        if self.report is None:
            self.notify("run the evaluation first (ctrl+s)", severity="warning")
            return
        if self.report.get("task") == "preference":
            self.notify("a preference file is scored, not answered", severity="warning")
            return
        table.display = not table.display
        if table.display:
            table.focus()
            self.call_after_refresh(table.scroll_visible, animate=False)


class _Tracker:
    """Progress of the models in turn (compare asks the base first, then the model)."""

    def __init__(self, say: Any, asking: dict[str, str], models: list[str]) -> None:
        self.say = say
        self.asking = asking
        self.models = models
        self.turn = 0

    def __call__(self, done: int, total: int) -> None:
        self.asking["model"] = self.models[min(self.turn, len(self.models) - 1)]
        self.say(done, total)
        if done >= total:
            self.turn += 1


def _right(run: dict[str, Any], k: int, answer: str, reference: str) -> bool:
    rewards = run["metrics"].get("rewards")
    if isinstance(rewards, list) and k < len(rewards):
        return bool(rewards[k] >= 1.0)
    return answer.strip() == reference.strip()


def _cell(text: str, right: bool | None = None) -> Text:
    """One cell, plain text, one line; an answer green when it is the reference."""
    shown = safe_text(text.strip().replace("\n", " ⏎ "))[:CELL]
    style = "" if right is None else "green" if right else "red"
    return Text(shown, style=style)
