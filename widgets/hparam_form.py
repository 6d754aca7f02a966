"""The create-job form: model, files, method (supervised / DPO), hyperparameters,
suffix, seed, classification.

Every field is checked here with the same pure rules the server uses
(`fttui.core.job_spec`, `fttui.core.naming`), so a bad value is caught next to its field
before anything is sent; the server's own refusal, if any, is shown verbatim on top.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static, TextArea

from fttui.core.graders import GraderError, parse_grader
from fttui.core.job_spec import (
    AUTO,
    LOCAL_PARAMS,
    REASONING_EFFORTS,
    RFT_HPARAMS,
    JobSpec,
    JobSpecError,
    check_hyperparameter,
)
from fttui.core.naming import (
    SUFFIX_MAX,
    fine_tuned_model_name,
    openai_model_name,
    suffix_problem,
)
from fttui.core.safe_text import safe_text
from widgets.form_select import FormSelect

HYPERPARAMETERS = ("n_epochs", "batch_size", "learning_rate_multiplier")
INT_HYPERPARAMETERS = frozenset({"n_epochs", "batch_size"})
SEED_MAX = 2**31 - 1
METHODS = (("full fine-tune", "full"), ("LoRA adapter", "lora"), ("QLoRA (4-bit base)", "qlora"))
#: OpenAI's `method.type`: what the job learns from (its file's format).
METHOD_TYPES = (
    ("supervised", "supervised"),
    ("DPO (preferences)", "dpo"),
    ("reinforcement (grader)", "reinforcement"),
)
#: Reinforcement's hyperparameters besides the three every method has.
RFT_NUMBERS = tuple(n for n in RFT_HPARAMS if n != "reasoning_effort")
INT_RFT = frozenset({"eval_interval", "eval_samples"})
#: The file format each method trains on (the local server's `fttui.format` names).
METHOD_FORMATS: dict[str, tuple[str, ...]] = {
    "supervised": ("prompt_completion", "chat"),
    "dpo": ("preference",),
    "reinforcement": ("reinforcement",),
}
FORMAT_NAMES = {
    "prompt_completion": "prompt/completion",
    "chat": "chat",
    "preference": "preference (input, preferred_output, non_preferred_output)",
    "reinforcement": "reinforcement (messages ending with a user message)",
}

#: The local trainer's options (`fttui.core.job_spec.LOCAL_PARAMS`) the form does not
#: offer: sent from the CLI or the API (tests/contract/test_job_spec.py holds the form
#: to its contract: each option is a field or named here).
OPTIONS_NOT_IN_FORM = (
    "prompt_loss_weight",
    "lora_rank",
    "lora_alpha",
    "lora_dropout",
    "stored_dtype",
)
#: The local trainer's numeric options the form offers (local server only).
LOCAL_NUMBERS = tuple(name for name in LOCAL_PARAMS if name not in OPTIONS_NOT_IN_FORM)

#: Every field `validate()` may report, in the order they appear.
FIELDS = (
    "model",
    "training_file",
    "validation_file",
    "method_type",
    *HYPERPARAMETERS,
    "beta",
    "grader",
    *RFT_HPARAMS,
    "suffix",
    "seed",
    "method",
    *LOCAL_NUMBERS,
    "wandb_project",
    "compute_classification_metrics",
    "classification_n_classes",
    "classification_positive_class",
    "classification_betas",
)


#: What the grader box starts with: OpenAI's string_check example grader.
GRADER_TEMPLATE = json.dumps(
    {
        "type": "string_check",
        "name": "exact match",
        "input": "{{sample.output_text}}",
        "reference": "{{item.label}}",
        "operation": "eq",
    },
    indent=2,
)


def grader_problem(text: str) -> tuple[Any, str | None]:
    """The grader box's JSON as OpenAI's grader object, or the first problem in it,
    naming the line and column (bad JSON) or the field (`grader.input: ...`)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"grader JSON, line {exc.lineno} column {exc.colno}: {exc.msg}"
    try:
        parse_grader(obj, "grader")
    except GraderError as exc:
        return obj, str(exc)
    return obj, None


def parse_number(text: str) -> Any:
    """'' or 'auto' -> 'auto'; '3' -> 3; '0.1' -> 0.1; anything else stays a string
    (so `check_hyperparameter` names it in its message)."""
    value = text.strip()
    if value in ("", AUTO):
        return AUTO
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def parse_betas(text: str) -> tuple[list[float], str | None]:
    """'0.5, 1, 2' -> [0.5, 1.0, 2.0]; the error names the first bad item."""
    betas: list[float] = []
    for index, item in enumerate(text.split(","), start=1):
        item = item.strip()
        if not item:
            continue
        try:
            beta = float(item)
        except ValueError:
            return betas, f"beta {index} ({item!r}) is not a number"
        if not math.isfinite(beta) or beta <= 0:
            return betas, f"beta {index} ({item!r}) must be a positive number"
        betas.append(beta)
    return betas, None


#: The legacy guide's classification options (the local server's only).
CLASSIFICATION = (
    "compute_classification_metrics",
    "classification_n_classes",
    "classification_positive_class",
    "classification_betas",
)


def request_body(values: dict[str, Any]) -> dict[str, Any]:
    """The form's values as a job-creation body, which `JobSpec.from_request` reads.

    The form's full/LoRA choice travels as the local server's
    `hyperparameters.training_method`; "full" is the default and is not sent. A DPO
    or reinforcement job is OpenAI's `method: {"type": ..., "<type>": {...}}` with
    every hyperparameter inside it (where OpenAI's API takes them); a supervised job
    keeps the top-level `hyperparameters` every backend takes. The legacy guide's
    classification options (`extra`) go at the top level, where that guide sent them.
    """
    body = {k: v for k, v in values.items() if v not in (None, {}, "")}
    method = body.pop("method", None)
    method_type = body.pop("method_type", "supervised")
    if isinstance(method, str):
        if method in ("lora", "qlora"):
            body["hyperparameters"] = {**body.get("hyperparameters", {}), "training_method": method}
    elif isinstance(method, dict):
        body["method"] = method
    kept = body.pop("method_extra", None) or {}
    if method_type == "dpo":
        hp = body.pop("hyperparameters", {})
        body["method"] = {"type": "dpo", "dpo": {"hyperparameters": hp}}
    elif method_type == "reinforcement":
        # OpenAI's FineTuneReinforcementMethod: the grader and every hyperparameter inside.
        hp = body.pop("hyperparameters", {})
        inner = {**kept, "grader": body.pop("grader", None), "hyperparameters": hp}
        body["method"] = {"type": "reinforcement", "reinforcement": inner}
    body.pop("grader", None)
    body.update(body.pop("extra", None) or {})
    return body


def spec_values(spec: JobSpec) -> dict[str, Any]:
    """A job spec as `HyperparamForm.load()` takes it (what `values()` gives back).

    Values left "auto" stay empty fields; the local options the form has no field for
    (`OPTIONS_NOT_IN_FORM`) and the metadata are kept by the form and sent again.
    """
    hp = {k: v for k, v in spec.hyperparameters.model_dump().items() if v != AUTO}
    if hp.get("reasoning_effort") == "default":
        del hp["reasoning_effort"]  # the form's "not set"
    options = spec.options.asked()
    # The local options without a field are kept by the form (`load`) and sent again.
    hp.update({name: options[name] for name in LOCAL_PARAMS if name in options})
    values: dict[str, Any] = {
        "model": spec.model,
        "training_file": spec.training_file,
        "validation_file": spec.validation_file,
        "method_type": spec.method,
        "hyperparameters": hp,
        "suffix": spec.suffix,
        "seed": spec.seed,
        "method": spec.training_method,
        "integrations": spec.integrations,
        "metadata": spec.metadata,
        "extra": {name: options[name] for name in CLASSIFICATION if name in options},
    }
    if spec.grader is not None:
        values["grader"] = spec.grader
    return values


class HyperparamForm(Widget):
    """The job form's fields; the screen around it owns the submit/cancel buttons.

    `validate()` shows each problem in the Label under its field and returns them
    (field -> message; empty when the form is fine); `spec()` gives the job the
    fields describe as the job contract (`JobSpec`) reads it, and `load_spec()` fills
    the fields from one (clone); `values()`/`load()` are the fields as they stand,
    valid or not (an unsent form's draft); `show_server_error()` shows a refusal.
    The suffix field shows a live `n/40` count and the resulting model name.

    Model ids, file names and a cloned job's values come from a backend: choices
    show them as plain text with control characters made visible (`safe_text`)
    while their values stay exactly what the server sent; text pre-filled into
    an input is made safe first (it is what will be sent back).
    """

    DEFAULT_CSS = """
    HyperparamForm {
        layout: vertical;
        height: auto;
        padding: 0 1;
    }
    HyperparamForm #server-error {
        display: none;
        color: $error;
        border: round $error;
        padding: 0 1;
        height: auto;
    }
    HyperparamForm #server-error.-shown { display: block; }
    HyperparamForm #dropped {
        display: none;
        color: $warning;
        border: round $warning;
        padding: 0 1;
        height: auto;
        width: 100%;
    }
    HyperparamForm #dropped.-shown { display: block; }
    HyperparamForm .field { height: auto; width: 1fr; }
    HyperparamForm .row { height: auto; }
    /* A label longer than its field wraps (never cut at 80 columns). */
    HyperparamForm .field-label { color: $foreground-muted; margin-top: 1; width: 100%; }
    HyperparamForm .field-error { color: $error; height: auto; width: 100%; display: none; }
    HyperparamForm .field-error.-shown { display: block; }
    HyperparamForm #suffix-counter { width: auto; margin-left: 1; color: $foreground-muted; }
    HyperparamForm #suffix-counter.-over { color: $error; text-style: bold; }
    HyperparamForm #model-preview { color: $accent; height: auto; width: 100%; }
    HyperparamForm #cost { color: $warning; height: auto; width: 100%; margin-top: 1; }
    HyperparamForm #cost.-empty { display: none; }
    HyperparamForm #compute_classification_metrics { margin-top: 1; max-width: 100%; }
    HyperparamForm #classification-options { height: auto; display: none; }
    HyperparamForm #classification-options.-shown { display: block; }
    HyperparamForm #beta-field { display: none; }
    HyperparamForm.-dpo #beta-field { display: block; }
    HyperparamForm #rft-fields { display: none; height: auto; }
    HyperparamForm.-rft #rft-fields { display: block; }
    HyperparamForm #grader { height: 10; }
    HyperparamForm Select { width: 1fr; }
    HyperparamForm Input { width: 1fr; }
    """

    org: reactive[str] = reactive("local")
    #: Whether the backend is fttui's own server (it resolves "auto" to its own
    #: numbers, trains LoRA adapters and names models as the legacy guide did);
    #: any other backend gets OpenAI's names and plain "auto".
    local: reactive[bool] = reactive(True)

    #: Short enough for three side by side at 80 columns; errors use the API names.
    LABELS: ClassVar[dict[str, str]] = {
        "n_epochs": "n_epochs",
        "batch_size": "batch_size",
        "learning_rate_multiplier": "lr multiplier",
    }

    #: The local server's "auto" numbers, shown next to "auto" there only.
    LOCAL_AUTO: ClassVar[dict[str, str]] = {"n_epochs": "auto (4)", "beta": "auto (0.1)"}

    def __init__(
        self,
        *,
        preview_time: datetime | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        #: Fixed time for the model-name preview (tests, screenshots); None = now.
        self.preview_time = preview_time
        self._models: list[str] = []
        self._files: list[tuple[str, str]] = []
        #: file id -> format, where the backend says (the local server does).
        self._formats: dict[str, str] = {}
        self._wandb_kept: dict[str, Any] = {}
        #: Options of a loaded job (a clone, a draft) the form has no field for (the
        #: local options in OPTIONS_NOT_IN_FORM, `metadata`): sent again as they were
        #: where the backend takes them, and named in `#dropped` where it does not.
        self._kept: dict[str, Any] = {}
        #: ((training id, validation id), what they share), from `set_overlap`.
        self._overlap: tuple[tuple[str | None, str | None], str] | None = None
        #: A loaded spec's reinforcement `response_format` (no field; sent back as is).
        self._response_format: dict[str, Any] | None = None

    # -- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="server-error", markup=False)
        # What is set (typed, loaded from a clone or a draft) that this backend does not
        # take: said here, before anything is sent, and left out of what is sent.
        yield Static("", id="dropped", markup=False)
        yield from self._field(
            "model",
            "Model (base, or a fine-tuned model to continue from)",
            FormSelect([], prompt="choose a model", id="model"),
        )
        with Horizontal(classes="row"):
            yield from self._field(
                "training_file",
                "Training file",
                FormSelect([], prompt="choose a file", id="training_file"),
            )
            yield from self._field(
                "validation_file",
                "Validation file (optional)",
                FormSelect([], prompt="none", id="validation_file"),
            )
        with Horizontal(classes="row"):
            yield from self._field(
                "method_type",
                "Method",
                FormSelect(METHOD_TYPES, value="supervised", allow_blank=False, id="method_type"),
            )
            # DPO only: how far the model may move from the reference (larger: less far).
            yield from self._field("beta", "beta (DPO)", Input(placeholder=AUTO, id="beta"))
        # Reinforcement: OpenAI's grader object, as JSON, and its own hyperparameters.
        with Vertical(id="rft-fields"):
            yield from self._field(
                "grader",
                "Grader (JSON: string_check, text_similarity, score_model, python, multi)",
                TextArea(GRADER_TEMPLATE, id="grader", language=None),
            )
            # Two a row: four side by side at 80 columns ran their labels together
            # ("reasoning efforteval interval") and cut "compute multiplier".
            with Horizontal(classes="row"):
                for name in ("eval_interval", "eval_samples"):
                    yield from self._field(
                        name, name.replace("_", " "), Input(placeholder=AUTO, id=name)
                    )
            with Horizontal(classes="row"):
                yield from self._field(
                    "compute_multiplier",
                    "compute multiplier",
                    Input(placeholder=AUTO, id="compute_multiplier"),
                )
                yield from self._field(
                    "reasoning_effort",
                    "reasoning effort",
                    FormSelect(
                        [(e, e) for e in REASONING_EFFORTS], prompt="not set", id="reasoning_effort"
                    ),
                )
        with Horizontal(classes="row"):
            for name in HYPERPARAMETERS:
                yield from self._field(name, self.LABELS[name], Input(placeholder=AUTO, id=name))
        # What the job will cost (set by the screen against OpenAI; empty elsewhere).
        yield Label("", id="cost", markup=False)
        with Vertical(classes="field"):
            yield Label(f"Suffix (up to {SUFFIX_MAX} characters)", classes="field-label")
            with Horizontal(classes="row"):
                yield Input(placeholder="e.g. custom model name", id="suffix")
                yield Label(f"0/{SUFFIX_MAX}", id="suffix-counter")
            yield Label("", id="suffix-error", classes="field-error", markup=False)
            yield Label("", id="model-preview", markup=False)
        with Horizontal(classes="row"):
            yield from self._field(
                "seed", "Seed (optional)", Input(placeholder="random", id="seed")
            )
            yield from self._field(
                "method",
                "Weights trained",
                FormSelect(METHODS, value="full", allow_blank=False, id="method"),
            )
            for name in LOCAL_NUMBERS:
                label = name.replace("_", " ")
                yield from self._field(name, label, Input(placeholder="none", id=name))
        # OpenAI's Weights & Biases integration (the local server has none).
        with Horizontal(classes="row", id="wandb-row"):
            yield from self._field(
                "wandb_project", "W&B project", Input(placeholder="none", id="wandb_project")
            )
            yield from self._field(
                "wandb_name", "W&B run name", Input(placeholder="job id", id="wandb_name")
            )
            yield from self._field(
                "wandb_tags", "W&B tags (comma list)", Input(placeholder="", id="wandb_tags")
            )
        with Vertical(classes="field", id="classification-field"):
            yield Checkbox(
                "Classification metrics (needs a validation file)",
                id="compute_classification_metrics",
            )
            yield Label(
                "", id="compute_classification_metrics-error", classes="field-error", markup=False
            )
        with Vertical(id="classification-options"), Horizontal(classes="row"):
            yield from self._field(
                "classification_n_classes",
                "Number of classes",
                Input(placeholder="e.g. 2", id="classification_n_classes"),
            )
            yield from self._field(
                "classification_positive_class",
                "Positive class (binary)",
                Input(placeholder="e.g. ' positive'", id="classification_positive_class"),
            )
            yield from self._field(
                "classification_betas",
                "F-betas (comma list)",
                Input(placeholder="e.g. 0.5, 1, 2", id="classification_betas"),
            )

    def _field(self, name: str, label: str, control: Widget) -> ComposeResult:
        with Vertical(classes="field", id=f"{name}-field"):
            yield Label(label, classes="field-label")
            yield control
            yield Label("", id=f"{name}-error", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self.show_cost("")
        self._show_backend()

    def _show_backend(self) -> None:
        """What only the local server has is shown on it only (see `local`)."""
        local = self.local
        for name in (*HYPERPARAMETERS, "beta"):
            placeholder = self.LOCAL_AUTO.get(name, AUTO) if local else AUTO
            self.query_one(f"#{name}", Input).placeholder = placeholder
        self.query_one("#method-field").display = local
        for name in LOCAL_NUMBERS:
            self.query_one(f"#{name}-field").display = local
        # The legacy guide's classification metrics: computed by the local server only.
        self.query_one("#classification-field").display = local
        self.query_one("#wandb-row").display = not local
        # A choice the backend does not take stays as it was (not sent, said in
        # #dropped): switching back to the local server gets it back.
        self._show_classification(self.query_one("#compute_classification_metrics", Checkbox).value)
        self._update_suffix()
        self._show_dropped()

    def watch_local(self) -> None:
        if self.is_mounted:
            self._show_backend()

    # -- choices --------------------------------------------------------------------
    def set_models(self, models: list[str]) -> None:
        """The models to choose from (base models and fine-tuned ones)."""
        self._models = list(dict.fromkeys(models))
        self._set_options(self.query_one("#model", Select), [(m, m) for m in self._models])
        self._update_suffix()

    def set_files(
        self, files: list[tuple[str, str]], formats: dict[str, str] | None = None
    ) -> None:
        """Uploaded files as (label, file id), offered for training and validation;
        `formats`: file id -> format where known, so a file that does not fit the
        chosen method is named before anything is sent."""
        self._files = list(files)
        if formats is not None:
            self._formats = dict(formats)
        for select_id in ("#training_file", "#validation_file"):
            self._set_options(self.query_one(select_id, Select), self._files)

    @staticmethod
    def _set_options(select: Select[str], options: Iterable[tuple[str, str]]) -> None:
        """Replace options, keeping the current choice when it is still offered."""
        options = list(options)
        current = select.value
        # Prompts as Text: a string prompt would be read as markup.
        select.set_options([(Text(safe_text(str(prompt))), value) for prompt, value in options])
        if current != Select.NULL and any(value == current for _, value in options):
            select.value = current

    def _choose(self, select_id: str, value: str | None) -> None:
        """Select `value`, adding it as an option when not offered (a cloned job's
        model or file may no longer be listed, and the user should still see it)."""
        select = self.query_one(f"#{select_id}", Select)
        if not value:
            select.clear()
            return
        if select_id == "model":
            if value not in self._models:
                self.set_models([*self._models, value])
        elif all(v != value for _, v in self._files):
            self.set_files([*self._files, (value, value)])
        select.value = value

    # -- reading --------------------------------------------------------------------
    def _input(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value

    def _select(self, name: str) -> str | None:
        value = self.query_one(f"#{name}", Select).value
        return None if value == Select.NULL else str(value)

    @property
    def classification_on(self) -> bool:
        """Classification metrics asked for, on a backend that computes them (the local
        server); ticked elsewhere (a loaded job), they are named in `#dropped`."""
        return self.local and self.query_one("#compute_classification_metrics", Checkbox).value

    def dropped(self) -> list[str]:
        """What the form holds that this backend does not take (not sent; said in
        `#dropped` before the job is sent). The backend's identity (`local`, from
        what the backend answers) decides, never its URL."""
        out: list[str] = []
        if self.local:
            if self._input("wandb_project").strip():
                out.append("W&B integration (wandb_project): OpenAI's; the local server has none")
            return out
        local_only = "fttui's local server only"
        if self.query_one("#compute_classification_metrics", Checkbox).value:
            out.append(
                "classification metrics (compute_classification_metrics and its options): "
                f"computed by {local_only}"
            )
        if (self._select("method") or "full") != "full":
            out.append(f"training_method {self._select('method')}: trained by {local_only}")
        for name in LOCAL_NUMBERS:
            if self._input(name).strip():
                out.append(f"{name}: an option of {local_only}")
        for name in sorted(self._kept):
            if name != "metadata":
                out.append(f"{name} (from the loaded job): an option of {local_only}")
        return out

    def set_overlap(self, training: str, validation: str, problem: str | None) -> None:
        """What the two files share, as the screen found it (None: nothing): an error
        under the validation file while that pair is chosen (the legacy guide wants
        them mutually exclusive; the local server fails such a job)."""
        self._overlap = None if problem is None else ((training, validation), problem)
        self._show_error("validation_file", self._check("validation_file"))

    def _show_dropped(self) -> None:
        lines = self.dropped()
        box = self.query_one("#dropped", Static)
        text = ""
        if lines:
            text = "Not sent to this backend:\n" + "\n".join(f"- {line}" for line in lines)
        box.update(safe_text(text, multiline=True))
        box.set_class(bool(lines), "-shown")

    @property
    def method_type(self) -> str:
        """OpenAI's `method.type` chosen: `supervised` or `dpo`."""
        return self._select("method_type") or "supervised"

    def _format_problem(self, name: str) -> str | None:
        """A chosen file whose known format the chosen method cannot train on."""
        file_id = self._select(name)
        fmt = self._formats.get(file_id or "")
        method = self.method_type
        if not file_id or fmt is None or fmt in METHOD_FORMATS[method]:
            return None
        names = {"supervised": "supervised", "dpo": "DPO", "reinforcement": "reinforcement"}
        fits = [names[m] for m, fmts in METHOD_FORMATS.items() if fmt in fmts]
        wanted = " or ".join(FORMAT_NAMES[f] for f in METHOD_FORMATS[method])
        return (
            f"this file is in the {FORMAT_NAMES.get(fmt, fmt)} format; a "
            f"{names[method]} job needs a {wanted} file"
            + (f" (or choose method {fits[0]})" if fits else "")
        )

    def _check(self, name: str) -> str | None:
        """The problem with one field, or None."""
        if name == "model":
            return None if self._select("model") else "choose a model"
        if name == "training_file":
            if not self._select("training_file"):
                return "choose a training file"
            return self._format_problem("training_file")
        if name == "validation_file":
            validation = self._select("validation_file")
            if validation and validation == self._select("training_file"):
                return "the validation file must differ from the training file"
            pair = (self._select("training_file"), validation)
            if validation and self._overlap is not None and self._overlap[0] == pair:
                return self._overlap[1]
            return self._format_problem("validation_file")
        if name == "method_type":
            return (
                None
                if self._select("method_type") in dict(METHOD_TYPES).values()
                else ("choose supervised, DPO or reinforcement")
            )
        if name == "grader":
            if self.method_type != "reinforcement":
                return None
            return grader_problem(self.query_one("#grader", TextArea).text)[1]
        if name in RFT_HPARAMS:
            if self.method_type != "reinforcement" or name == "reasoning_effort":
                return None
            return check_hyperparameter(name, parse_number(self._input(name)))
        if name in HYPERPARAMETERS:
            return check_hyperparameter(name, parse_number(self._input(name)))
        if name == "beta":
            if self.method_type != "dpo":
                return None
            return check_hyperparameter("beta", parse_number(self._input("beta")))
        if name == "suffix":
            return suffix_problem(self._input("suffix"))
        if name == "seed":
            text = self._input("seed").strip()
            if not text:
                return None
            try:
                seed = int(text)
            except ValueError:
                return f"seed must be a whole number, got {text!r}"
            return None if 0 <= seed <= SEED_MAX else f"seed must be in [0, {SEED_MAX}], got {seed}"
        if name == "method":
            return (
                None
                if self._select("method") in ("full", "lora", "qlora")
                else "choose full, lora or qlora"
            )
        if name in LOCAL_NUMBERS:
            text = self._input(name).strip()
            param = LOCAL_PARAMS[name]
            if not text:
                return None
            if self.method_type not in param.methods:
                return f"{name} applies to {' or '.join(param.methods)} jobs only: clear it"
            return param.problem(parse_number(text), auto=False)
        if name == "wandb_project":
            if self.local or self._input("wandb_project").strip():
                return None
            if self._input("wandb_name").strip() or self._wandb_tags():
                return "a W&B run name or tags need the W&B project they go to"
            return None
        if not self.classification_on:
            return None
        if name == "compute_classification_metrics":
            if self.method_type != "supervised":
                # As the server refuses them: said here, before anything is sent.
                return "classification metrics apply to supervised jobs only: untick them"
            if not self._select("validation_file"):
                return "classification metrics need a validation file: choose one above"
            return None
        if name == "classification_n_classes":
            text = self._input("classification_n_classes").strip()
            try:
                n_classes = int(text)
            except ValueError:
                return f"number of classes must be a whole number of at least 2, got {text!r}"
            return (
                None if n_classes >= 2 else f"number of classes must be at least 2, got {n_classes}"
            )
        if name == "classification_positive_class":
            text = self._input("classification_n_classes").strip()
            binary = text == "2"
            if binary and not self._input("classification_positive_class"):
                return "binary classification needs the positive class (the label's exact text)"
            return None
        if name == "classification_betas":
            return parse_betas(self._input("classification_betas"))[1]
        return None

    def _wandb_tags(self) -> list[str]:
        return [t.strip() for t in self._input("wandb_tags").split(",") if t.strip()]

    def _integrations(self) -> list[dict[str, Any]] | None:
        """OpenAI's `integrations` for the W&B fields (None when no project is set)."""
        project = self._input("wandb_project").strip()
        if self.local or not project:
            return None
        # Kept from a cloned job: W&B's other settings (entity); its run_id is the
        # old job's and OpenAI gives the new job its own.
        wandb: dict[str, Any] = {**self._wandb_kept, "project": project}
        if name := self._input("wandb_name").strip():
            wandb["name"] = name
        if tags := self._wandb_tags():
            wandb["tags"] = tags
        return [{"type": "wandb", "wandb": wandb}]

    def _show_error(self, name: str, message: str | None) -> None:
        label = self.query_one(f"#{name}-error", Label)
        label.update(safe_text(message or "", multiline=True))
        if label.has_class("-shown") != bool(message):
            label.set_class(bool(message), "-shown")
            # The fields below moved: keep the one being typed into in view.
            self.call_after_refresh(self._focused_into_view)

    def _focused_into_view(self) -> None:
        focused = self.screen.focused if self.is_mounted else None
        if focused is not None and self in focused.ancestors:
            focused.scroll_visible(animate=False)

    def validate(self) -> dict[str, str]:
        """Check every field, show each problem under its field, return them."""
        errors: dict[str, str] = {}
        for name in FIELDS:
            message = self._check(name)
            self._show_error(name, message)
            if message:
                errors[name] = message
        return errors

    def values(self) -> dict[str, Any]:
        """The request pieces (call `validate()` first; bad values pass through raw)."""
        hyperparameters: dict[str, Any] = {}
        for name in HYPERPARAMETERS:
            value = parse_number(self._input(name))
            if name in INT_HYPERPARAMETERS and isinstance(value, float) and value.is_integer():
                value = int(value)
            elif name == "learning_rate_multiplier" and isinstance(value, int):
                value = float(value)
            hyperparameters[name] = value
        seed_text = self._input("seed").strip()
        seed: int | None = None
        if seed_text:
            try:
                seed = int(seed_text)
            except ValueError:
                seed = None
        extra: dict[str, Any] = {}
        if self.classification_on:
            extra["compute_classification_metrics"] = True
            n_text = self._input("classification_n_classes").strip()
            extra["classification_n_classes"] = int(n_text) if n_text.isdigit() else n_text
            positive = self._input("classification_positive_class")
            if positive:
                extra["classification_positive_class"] = positive
            betas = parse_betas(self._input("classification_betas"))[0]
            if betas:
                extra["classification_betas"] = betas
        if self.method_type == "dpo":
            beta = parse_number(self._input("beta"))
            hyperparameters["beta"] = float(beta) if isinstance(beta, int) else beta
        for name in LOCAL_NUMBERS:
            if self.local and (text := self._input(name).strip()):
                number = parse_number(text)
                hyperparameters[name] = float(number) if isinstance(number, int) else number
        if self.local:
            hyperparameters.update({k: v for k, v in self._kept.items() if k != "metadata"})
        grader: Any = None
        if self.method_type == "reinforcement":
            grader = grader_problem(self.query_one("#grader", TextArea).text)[0]
            for name in RFT_NUMBERS:
                value = parse_number(self._input(name))
                if name in INT_RFT and isinstance(value, float) and value.is_integer():
                    value = int(value)
                elif name == "compute_multiplier" and isinstance(value, int):
                    value = float(value)
                hyperparameters[name] = value
            if effort := self._select("reasoning_effort"):
                hyperparameters["reasoning_effort"] = effort
        values: dict[str, Any] = {
            "model": self._select("model"),
            "training_file": self._select("training_file"),
            "validation_file": self._select("validation_file"),
            "method_type": self.method_type,
            "hyperparameters": hyperparameters,
            "suffix": self._input("suffix") or None,
            "seed": seed,
            # Full weights or a LoRA adapter: a choice of the local server only.
            "method": (self._select("method") or "full") if self.local else "full",
            "extra": extra,
        }
        if grader is not None:
            values["grader"] = grader
        if self._kept.get("metadata"):
            values["metadata"] = self._kept["metadata"]
        # OpenAI's W&B integration, when set (the key is absent otherwise).
        if integrations := self._integrations():
            values["integrations"] = integrations
        return values

    def spec(self) -> JobSpec:
        """The job the fields describe, read by the job contract every part of fttui
        shares (call `validate()` first). JobSpecError names the first field the
        contract refuses (`show_contract_error` shows it under its field)."""
        values = self.values()
        if self._response_format is not None and values["method_type"] == "reinforcement":
            values["method_extra"] = {"response_format": self._response_format}
        return JobSpec.from_request(request_body(values))

    def show_contract_error(self, error: JobSpecError) -> str:
        """Show a refusal of the contract under the field it names (the top box when
        the form has no such field); returns the field's name or "" (the top box)."""
        path = error.param.split(".")
        name = next((part for part in reversed(path) if part in FIELDS), "")
        if path[-1] == "training_method":
            name = "method"
        if name:
            self._show_error(name, error.message)
            self.query_one(f"#{name}-error", Label).scroll_visible()
        else:
            self.show_server_error(f"{error.param}: {error.message}")
        return name

    # -- writing --------------------------------------------------------------------
    def load_spec(self, spec: JobSpec) -> None:
        """Fill the fields from a job spec (a cloned job as the contract reads it)."""
        self.load(spec_values(spec))
        self._response_format = spec.response_format

    def load(self, values: dict[str, Any]) -> None:
        """Pre-fill from `values` as `values()` returns them (flat classification keys
        and `hyperparameters` holding them are accepted too)."""
        self._response_format = None
        self._choose("model", values.get("model"))
        self._choose("training_file", values.get("training_file"))
        self._choose("validation_file", values.get("validation_file"))
        hyperparameters = dict(values.get("hyperparameters") or {})
        method_type = values.get("method_type") or "supervised"
        self.query_one("#method_type", Select).value = (
            method_type if method_type in dict(METHOD_TYPES).values() else "supervised"
        )
        if values.get("grader") is not None:
            self.query_one("#grader", TextArea).text = json.dumps(values["grader"], indent=2)
        for name in RFT_NUMBERS:
            value = hyperparameters.get(name, AUTO)
            self.query_one(f"#{name}", Input).value = (
                "" if value in (None, AUTO) else safe_text(str(value))
            )
        effort = hyperparameters.get("reasoning_effort")
        effort_box = self.query_one("#reasoning_effort", Select)
        if effort in REASONING_EFFORTS:
            effort_box.value = effort
        else:
            effort_box.clear()
        beta = hyperparameters.get("beta", AUTO)
        self.query_one("#beta", Input).value = "" if beta in (None, AUTO) else safe_text(str(beta))
        self._show_method()
        for name in HYPERPARAMETERS:
            value = hyperparameters.get(name, AUTO)
            self.query_one(f"#{name}", Input).value = (
                "" if value in (None, AUTO) else safe_text(str(value))
            )
        self.query_one("#suffix", Input).value = safe_text(str(values.get("suffix") or ""))
        seed = values.get("seed")
        self.query_one("#seed", Input).value = "" if seed is None else safe_text(str(seed))
        method = values.get("method") or "full"
        self.query_one("#method", Select).value = (
            method if method in ("full", "lora", "qlora") else "full"
        )
        extra = {**hyperparameters, **values, **(values.get("extra") or {})}
        for name in LOCAL_NUMBERS:
            value = extra.get(name)
            self.query_one(f"#{name}", Input).value = (
                ""
                if value is None
                else safe_text(f"{value:g}" if isinstance(value, float) else str(value))
            )
        on = bool(extra.get("compute_classification_metrics"))
        self.query_one("#compute_classification_metrics", Checkbox).value = on
        n_classes = extra.get("classification_n_classes")
        self.query_one("#classification_n_classes", Input).value = (
            "" if n_classes is None else safe_text(str(n_classes))
        )
        self.query_one("#classification_positive_class", Input).value = safe_text(
            str(extra.get("classification_positive_class") or "")
        )
        betas = extra.get("classification_betas") or []
        self.query_one("#classification_betas", Input).value = ", ".join(
            f"{b:g}" if isinstance(b, (int, float)) else safe_text(str(b)) for b in betas
        )
        wandb: dict[str, Any] = {}
        for item in values.get("integrations") or []:
            if isinstance(item, dict) and item.get("type") == "wandb":
                wandb = item.get("wandb") or {}
        self._wandb_kept = {
            k: v
            for k, v in wandb.items()
            if k not in ("project", "name", "tags", "run_id") and v is not None
        }
        self.query_one("#wandb_project", Input).value = safe_text(str(wandb.get("project") or ""))
        self.query_one("#wandb_name", Input).value = safe_text(str(wandb.get("name") or ""))
        tags = wandb.get("tags") or []
        self.query_one("#wandb_tags", Input).value = ", ".join(safe_text(str(t)) for t in tags)
        # What has no field here is kept as it came and sent again (`values()`).
        self._kept = {
            name: hyperparameters[name]
            for name in OPTIONS_NOT_IN_FORM
            if hyperparameters.get(name) is not None
        }
        if values.get("metadata"):
            self._kept["metadata"] = dict(values["metadata"])
        self._update_suffix()
        self._show_classification(on)
        self._show_dropped()

    def show_cost(self, text: str) -> None:
        """The job's cost before it is created (one line; empty hides it). A line
        counted after the form closed (its tokens are counted in a worker) is dropped."""
        for label in self.query("#cost").results(Label):
            label.update(safe_text(text))
            label.set_class(not text, "-empty")

    @property
    def cost_text(self) -> str:
        return str(self.query_one("#cost", Label).render())

    def show_server_error(self, message: str) -> None:
        """Show the server's refusal at the top, as plain text with control characters
        shown (`safe_text`); empty clears it."""
        box = self.query_one("#server-error", Static)
        box.update(safe_text(message, multiline=True))
        box.set_class(bool(message), "-shown")
        if message:
            box.scroll_visible(top=True)

    def clear_server_error(self) -> None:
        self.show_server_error("")

    @property
    def model_preview(self) -> str:
        """The fine-tuned model name the current choices would produce."""
        model = self._select("model") or "<model>"
        if not self.local:
            return openai_model_name(model, self.org, self._input("suffix"))
        return fine_tuned_model_name(model, self.org, self._input("suffix"), self.preview_time)

    # -- live updates ---------------------------------------------------------------
    def _update_suffix(self) -> None:
        suffix = self._input("suffix")
        counter = self.query_one("#suffix-counter", Label)
        counter.update(f"{len(suffix)}/{SUFFIX_MAX}")
        counter.set_class(len(suffix) > SUFFIX_MAX, "-over")
        self.query_one("#model-preview", Label).update(safe_text(f"→ {self.model_preview}"))

    def _show_method(self) -> None:
        """`beta` is shown for DPO only; the files are checked against the method."""
        self.set_class(self.method_type == "dpo", "-dpo")
        self.set_class(self.method_type == "reinforcement", "-rft")
        for name in ("training_file", "validation_file", "beta", "grader"):
            if name in ("beta", "grader") or self._select(name):
                self._show_error(name, self._check(name))
        if self.classification_on:
            self._show_error(
                "compute_classification_metrics", self._check("compute_classification_metrics")
            )
        self.call_after_refresh(self._focused_into_view)

    def _show_classification(self, on: bool) -> None:
        self.query_one("#classification-options").set_class(on and self.local, "-shown")
        self.call_after_refresh(self._focused_into_view)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if event.text_area.id == "grader":
            self._show_error("grader", self._check("grader"))

    def on_input_changed(self, event: Input.Changed) -> None:
        name = event.input.id or ""
        if name == "suffix":
            self._update_suffix()
        if name in FIELDS:
            self._show_error(name, self._check(name))
        if name in ("wandb_name", "wandb_tags"):
            self._show_error("wandb_project", self._check("wandb_project"))
        if name == "classification_n_classes":
            self._show_error(
                "classification_positive_class", self._check("classification_positive_class")
            )
        if name in LOCAL_NUMBERS or name == "wandb_project":
            self._show_dropped()

    def on_select_changed(self, event: Select.Changed) -> None:
        name = event.select.id or ""
        if name == "method":
            self._show_dropped()
        if name == "model":
            self._update_suffix()
        if name == "method_type":
            self._show_method()
        if name in ("model", "training_file", "validation_file") and event.value != Select.NULL:
            self._show_error(name, self._check(name))
        if name in ("training_file", "validation_file"):
            self._show_error("validation_file", self._check("validation_file"))
            self._show_error(
                "compute_classification_metrics", self._check("compute_classification_metrics")
            )

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self._show_classification(event.value)
        self._show_dropped()
        if not event.value:
            for name in FIELDS[FIELDS.index("compute_classification_metrics") :]:
                self._show_error(name, None)
        else:
            self._show_error(
                "compute_classification_metrics", self._check("compute_classification_metrics")
            )

    def watch_org(self) -> None:
        if self.is_mounted:
            self._update_suffix()
