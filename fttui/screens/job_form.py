"""`n` / `y`: the create-job form as a modal screen.

The widget checks every field locally (nothing is sent while a field is wrong);
the server may still refuse (an unknown model, a file that is not ready), and then
its 4xx message is shown verbatim at the top of the form, which stays open.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from fttui._keys import HOLD_MAX_S
from fttui.api import APIError, APIStatusError, FineTuningJob
from fttui.backend import Backend, describe_error
from fttui.core.job_spec import EXTRA_HPARAMS, JobSpec, JobSpecError
from fttui.core.safe_text import safe_text
from fttui.panes.convert import job_suffix
from widgets import HyperparamForm
from widgets.hparam_form import LOCAL_NUMBERS, OPTIONS_NOT_IN_FORM, request_body

#: The methods the form builds (OpenAI's `method.type`).
FORM_METHODS = ("supervised", "dpo", "reinforcement")
#: Hyperparameters the form has a field for, per method.
FORM_HPARAMS = frozenset(
    {
        "n_epochs",
        "batch_size",
        "learning_rate_multiplier",
        "beta",
        "reasoning_effort",
        "compute_multiplier",
        "eval_interval",
        "eval_samples",
    }
)


def values_from_job(job: FineTuningJob) -> dict[str, Any]:
    """A job as the form's `load()` takes it (clone: same files, model, settings).

    OpenAI's `method` holds the method's hyperparameters (and a reinforcement job's
    grader, kept exactly). To continue from the job's fine-tuned model instead, pick
    it in the model list: fine-tuned models are listed there next to the base models.
    """
    method_type = job.method_type if job.method_type in FORM_METHODS else "supervised"
    inner = job.method_config if job.method_type in FORM_METHODS else {}
    top = job.hyperparameters.model_dump(exclude_none=True) if job.hyperparameters else {}
    inner_hp = inner.get("hyperparameters")
    # The local server reports its legacy-only options under the job's `fttui` key.
    hp = {**(inner_hp if isinstance(inner_hp, dict) else {}), **top, **job.local.hyperparameters}
    # The local server also says what was asked: a value left `auto` is cloned as
    # `auto` (the new job's files decide it), not pinned to what the server chose.
    requested = job.local.requested
    if isinstance(requested, dict):
        hp.update({k: None for k, v in requested.items() if v in (None, "auto")})
    extra = {k: v for k, v in hp.items() if k.startswith(("compute_", "classification_"))}
    extra.pop("compute_multiplier", None)  # reinforcement's, a field of the form
    # The local options the form has no field for are kept by the form and sent again.
    base = {
        k: v
        for k, v in hp.items()
        if k in FORM_HPARAMS or k in LOCAL_NUMBERS or k in OPTIONS_NOT_IN_FORM
    }
    values: dict[str, Any] = {
        "model": job.model,
        "training_file": job.training_file,
        "validation_file": job.validation_file,
        "method_type": method_type,
        "hyperparameters": base,
        "suffix": job_suffix(job),
        # A seed the local server chose is not pinned by the clone (OpenAI's jobs do
        # not say whether theirs was asked: kept).
        "seed": None if job.local.seed_asked is False else job.seed,
        "method": hp.get("training_method") or "full",
        "integrations": _plain_list(job.integrations),
        "metadata": job.metadata or None,
        "extra": extra,
    }
    if method_type == "reinforcement" and inner.get("grader") is not None:
        values["grader"] = inner["grader"]
    # Anything else the method carried (reinforcement's response_format), sent back as is.
    kept = {
        k: v for k, v in inner.items() if k not in ("hyperparameters", "grader") and v is not None
    }
    if kept:
        values["method_extra"] = kept
    return values


def clone_losses(job: FineTuningJob) -> list[str]:
    """What a clone of `job` on this backend cannot keep, said before it is submitted."""
    notes: list[str] = []
    if job.method and job.method_type not in FORM_METHODS:
        notes.append(
            f"method {job.method_type!r} is not one the form makes: the clone is supervised"
        )
    hp = job.method_config.get("hyperparameters")
    # The local server's options are loaded into the form, which keeps them or names
    # them as not sent to this backend (its `#dropped` line), like the W&B fields.
    for name in sorted(set(hp if isinstance(hp, dict) else {}) - FORM_HPARAMS - set(EXTRA_HPARAMS)):
        notes.append(f"hyperparameter {name} has no field in the form: not sent")
    return notes


def _plain_list(value: list[Any] | None) -> list[Any] | None:
    if value is None:
        return None
    return [v.model_dump() if isinstance(v, BaseModel) else v for v in value]


def spec_from_job(job: FineTuningJob) -> JobSpec:
    """What the form can clone of `job`, read by the job contract (`JobSpec`).

    JobSpecError names the first value the contract refuses (a job made elsewhere
    may hold one: a seed out of range, a file that is gone); the form then shows
    the job as it is, with that field to fix.
    """
    return JobSpec.from_request(request_body(values_from_job(job)))


class JobFormScreen(ModalScreen[FineTuningJob | None]):
    """Returns the new job (the API object), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel"),
        Binding("ctrl+s", "submit", "Create job"),
        Binding("ctrl+l", "run_local", "Run on the local server", show=False),
    ]

    def __init__(self, backend: Backend, *, clone_from: FineTuningJob | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.client = backend.client
        self.clone_from = clone_from
        self._token_counts: dict[tuple[str, str], int] = {}
        self._files_by_id: dict[str, Any] = {}
        self._overlaps: dict[tuple[str, str], str | None] = {}
        # The body the backend refused with OpenAI's `training_not_available` (ctrl+l).
        self._refused: dict[str, Any] | None = None
        #: The form's values once loaded: Escape asks before closing a changed form.
        self._initial: dict[str, Any] | None = None
        #: Keys typed ahead wait until the model and file lists (and a clone's or a
        #: draft's values) are in: `n Enter tiny Enter` chooses from the loaded list,
        #: and nothing typed is overwritten by the values loaded after it.
        self.holds_keys_until = time.monotonic() + HOLD_MAX_S

    def compose(self) -> ComposeResult:
        title = f"Clone job {self.clone_from.id}" if self.clone_from is not None else "New job"
        with Vertical(classes="modal-box", id="job-form-box"):
            # The id is the backend's: plain text, controls shown (`safe_text`).
            yield Label(safe_text(title), classes="modal-title", markup=False)
            with VerticalScroll(id="job-form-scroll", classes="modal-body"):
                yield HyperparamForm(id="job-form")
            with Horizontal(classes="modal-buttons"):
                yield Label("ctrl+s creates · Esc cancels", classes="modal-hint button-hint")
                yield Button("Cancel", id="form-cancel")
                yield Button("Create (ctrl+s)", id="form-submit", variant="primary")

    def on_mount(self) -> None:
        form = self.form
        form.org = self.backend.org
        frozen = self.backend.frozen_now
        if frozen is not None:  # screenshots and snapshots: a reproducible preview
            form.preview_time = datetime.fromtimestamp(frozen, UTC)
        # Keyboard first: the form opens with its first field ready for input.
        form.query_one("#model").focus()
        self.load_choices()

    @work(group="form-load")
    async def load_choices(self) -> None:
        """Models (base and fine-tuned, for continue-from) and fine-tune files."""
        try:
            await self._load_choices()
        finally:
            self.holds_keys_until = 0.0  # the keys typed meanwhile go on now

    async def _load_choices(self) -> None:
        form = self.form
        # What the form offers depends on the backend (LoRA, "auto" numbers, names).
        await self.client.detect()
        form.local = self.client.is_local
        if form.local:
            # fttui's server names every model `...:ft-local:...` (its one organisation),
            # whatever the profile says (also reached through OPENAI_BASE_URL).
            form.org = "local"
        elif self.backend.org in ("default org", "local"):
            form.org = ""  # OpenAI names the org itself: the preview says <org>
        try:
            models = await self.client.models.list()
            files = [f async for f in self.client.files.iter()]
        except APIError as exc:
            if form.is_attached:
                form.show_server_error(describe_error("models and files", exc).text)
            return
        if not form.is_attached:
            return  # closed while the lists were asked for: nothing to fill
        form.set_models(sorted(m.id for m in models))
        tuning = [f for f in files if f.purpose == "fine-tune"]
        self._files_by_id = {f.id: f for f in tuning}
        # The local server says each file's format (`fttui.format`): the form names a
        # file that does not fit the chosen method before anything is sent.
        formats = {f.id: f.fttui.format for f in tuning if f.fttui and f.fttui.format}
        form.set_files([(f"{f.filename} ({f.id})", f.id) for f in tuning], formats)
        if self.clone_from is not None:
            # Said before anything is sent: what this clone cannot keep here.
            losses = clone_losses(self.clone_from)
            try:
                form.load_spec(spec_from_job(self.clone_from))
            except JobSpecError as exc:
                # Shown as the job was, that value under its field to fix.
                form.load(values_from_job(self.clone_from))
                form.show_contract_error(exc)
                said = exc.message if exc.param in exc.message else f"{exc.param}: {exc.message}"
                losses.append(said)
            if losses:
                form.show_server_error(
                    "This clone cannot keep everything:\n" + "\n".join(f"- {n}" for n in losses)
                )
        elif self.backend.draft:
            form.load(self.backend.draft)
            self.notify("your unsent job is back (its draft)", title="new job", timeout=4)
        self._initial = form.values()

    # -- train/validation overlap, before the job exists ------------------------------
    @on(Select.Changed, "#training_file")
    @on(Select.Changed, "#validation_file")
    def _files_changed(self) -> None:
        self.check_overlap()

    @work(exclusive=True, group="form-overlap")
    async def check_overlap(self) -> None:
        """Examples the chosen training and validation files share: counted and named
        by line under the validation file (both files downloaded once per pair, each up
        to OVERLAP_MAX_BYTES)."""
        form = self.form
        train, valid = form._select("training_file"), form._select("validation_file")
        if not train or not valid or train == valid:
            return
        key = (train, valid)
        if key not in self._overlaps:
            self._overlaps[key] = await self._overlap(train, valid)
        if form.is_attached:  # the form may have closed meanwhile (sent, Escape)
            form.set_overlap(train, valid, self._overlaps[key])

    async def _overlap(self, train: str, valid: str) -> str | None:
        import asyncio
        import tempfile

        from fttui.data.overlap import OVERLAP_MAX_BYTES, find_overlap

        for file_id in (train, valid):
            size = getattr(self._files_by_id.get(file_id), "bytes", None)
            if size is None or size > OVERLAP_MAX_BYTES:
                return None  # not fetched here: the server's validation still checks
        with tempfile.TemporaryDirectory(prefix="fttui-") as tmp:
            paths = [Path(tmp) / "train.jsonl", Path(tmp) / "valid.jsonl"]
            try:
                for file_id, path in zip((train, valid), paths, strict=True):
                    await self.client.files.download(file_id, path)
                found = await asyncio.to_thread(find_overlap, *paths)
            except (APIError, OSError):
                return None
        if not found.count:
            return None
        names = [str(getattr(self._files_by_id[f], "filename", None) or f) for f in (train, valid)]
        return (
            f"{found.count} example{'s' if found.count != 1 else ''} of the validation file "
            f"{'are' if found.count != 1 else 'is'} also in the training file: "
            f"{found.lines_text(names[0], names[1])}; the two must share none "
            "(remove them from one file)"
        )

    # -- money before create (OpenAI bills tokens x epochs x price) -----------------
    @on(Select.Changed)
    @on(Input.Changed, "#n_epochs")
    def _cost_inputs_changed(self) -> None:
        self.update_cost()

    @work(exclusive=True, group="form-cost")
    async def update_cost(self) -> None:
        """The cost line: against OpenAI (and other non-local backends) only; the
        training file's tokens are counted with the chosen model's tokenizer."""
        from fttui.core.prices import cost_line
        from widgets.hparam_form import parse_number

        form = self.form
        model = form._select("model")
        if self.client.is_local or not model:
            form.show_cost("")
            return
        file_id = form._select("training_file")
        # Read before the tokens are counted: the form may close meanwhile (submitted),
        # and then the line is dropped (`show_cost`).
        epochs = parse_number(form.query_one("#n_epochs", Input).value)
        method = form.method_type
        tokens = await self._tokens(file_id, model) if file_id else None
        form.show_cost(
            cost_line(model, tokens, epochs, method=method, overrides=self.backend.prices)
        )

    async def _tokens(self, file_id: str, model: str) -> int | None:
        """Tokens per epoch of a training file for `model` (downloaded once, counted
        in a thread; None when it cannot be read or is too large to fetch here)."""
        import asyncio
        import tempfile
        from pathlib import Path

        from fttui.data import check_file

        key = (file_id, model)
        if key in self._token_counts:
            return self._token_counts[key]
        with tempfile.TemporaryDirectory(prefix="fttui-") as tmp:
            path = Path(tmp) / "train.jsonl"
            try:
                await self.client.files.download(file_id, path)
                report = await asyncio.to_thread(check_file, path, model=model, n_epochs=1)
            except (APIError, OSError, ValueError):
                return None
        self._token_counts[key] = report.tokens_per_epoch
        return report.tokens_per_epoch

    def action_run_local(self) -> None:
        if self._refused is not None:
            self.run_local(self._refused)

    @work(exclusive=True, group="form-submit")
    async def run_local(self, body: dict[str, Any]) -> None:
        """The refused job on the local profile's server, through `fttui.migrate`: the
        same body, the files found among the user's copies and uploaded there."""
        from fttui import migrate
        from fttui.api import Client
        from fttui.config import resolve_profile
        from fttui.launcher import LauncherError, ensure_local_server
        from fttui.paths import config_dir

        form = self.form
        form.show_server_error("Starting the job on the local server ...")
        try:
            profile = resolve_profile(name="local")
            await ensure_local_server(profile)
            async with Client.from_profile(profile, max_retries=1) as local:
                await local.detect()
                state = config_dir() / "migrate"
                job = {**body, "id": "form", "status": "refused"}
                plan = await migrate.plan_job(
                    self.client, local, job, data_dir=Path.cwd(), state_dir=state, estimate=False
                )
                plan.body.get("metadata", {}).pop(migrate.MIGRATED_FROM, None)
                if not plan.body.get("metadata"):
                    plan.body.pop("metadata", None)
                if plan.status == "blocked":
                    form.show_server_error(
                        "Not started on the local server:\n"
                        + "\n".join(f"- {p}" for p in plan.problems)
                    )
                    return
                await migrate.run([plan], local, state_dir=state)
        except (APIError, LauncherError, ValueError, OSError) as exc:
            text = (
                describe_error("run locally", exc).text if isinstance(exc, APIError) else str(exc)
            )
            form.show_server_error(f"Not started on the local server: {text}")
            return
        created = (plan.target_job or {}).get("id", "")
        self.notify(
            f"created {created} on the local server ({profile.base_url}): "
            "watch it with fttui --profile local",
            title="Running on the local server",
        )
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "form-submit":
            self.action_submit()
        elif event.button.id == "form-cancel":
            self.action_close()

    def action_close(self) -> None:
        """Escape: a form with nothing typed closes; a changed one asks first. What a
        new job's form held is kept as its draft (`n` opens it again)."""
        values = self.form.values()
        if self._initial is None or values == self._initial:
            self.dismiss(None)
            return
        from widgets import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                if self.clone_from is None:
                    self.backend.draft = values
                self.dismiss(None)

        body = (
            "What you typed is kept: n opens it again."
            if self.clone_from is None
            else "What you changed in this clone is lost (y clones it again)."
        )
        self.app.push_screen(ConfirmDialog("Close the form?", body), answered)

    @property
    def form(self) -> HyperparamForm:
        return self.query_one(HyperparamForm)

    def action_submit(self) -> None:
        form = self.form
        errors = form.validate()
        if errors:
            first = next(iter(errors))
            self.notify(
                f"{len(errors)} field(s) need fixing: {first}: {errors[first]}",
                severity="warning",
            )
            return
        try:
            spec = form.spec()
        except JobSpecError as exc:
            # The job contract refuses what the form's own checks let through: said
            # under the field it names, nothing sent.
            field = form.show_contract_error(exc)
            self.notify(f"{field or exc.param}: {exc.message}", severity="warning")
            return
        self.create(spec)

    @work(exclusive=True, group="form-submit")
    async def create(self, spec: JobSpec) -> None:
        form = self.form
        try:
            job = await self.client.jobs.submit(spec)
        except APIStatusError as exc:
            # The server's refusal verbatim: it names the field and the rule.
            if exc.status_code == 403 and exc.code == "training_not_available":
                # OpenAI's wind-down: offer the same job on the local server, form kept.
                self._refused = spec.to_request()
                form.show_server_error(
                    f"{exc.message}\n\nctrl+l: run this job on the local server instead "
                    f"(these settings kept; your copies of its files found by name and size "
                    f"under {Path.cwd()})"
                )
                return
            form.show_server_error(exc.message)
            return
        except APIError as exc:
            form.show_server_error(describe_error("create job", exc).text)
            return
        for notice in self.client.jobs.last_notices:
            # The form named what it would not send; anything the client still left
            # out is said too, never only in a log.
            self.notify(notice, title="not sent", severity="warning", timeout=10)
        if self.clone_from is None:
            self.backend.draft = None  # sent: nothing left to reopen
        self.dismiss(job)
