"""Typed results, shaped like the `openai` SDK's models.

Every model allows extra fields and gives most fields defaults, so responses from
other OpenAI-compatible providers (which add or omit fields) still parse; field
names are the SDK's, so code written against OpenAI's docs reads naturally here.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from fttui.api.errors import APIError

__all__ = [
    "ChatCompletion",
    "ChatCompletionChoice",
    "ChatCompletionMessage",
    "Checkpoint",
    "CheckpointMetrics",
    "Completion",
    "CompletionChoice",
    "CompletionLogprobs",
    "CompletionUsage",
    "EventMetrics",
    "FileDeleted",
    "FileObject",
    "FineTuningJob",
    "Hyperparameters",
    "JobError",
    "JobEvent",
    "LocalFile",
    "LocalJob",
    "Model",
    "ModelDeleted",
    "Page",
    "Usage",
    "FINAL_JOB_STATUSES",
    "parse",
    "raw",
]

FINAL_JOB_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

HyperValue = int | float | Literal["auto"] | None


class _Obj(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)
    # The decoded JSON body this object was parsed from (set by `parse`): what
    # `fttui ... --json` prints, exactly as the backend sent it.
    _raw: Any = PrivateAttr(default=None)

    # What could not be read of this object (set by `parse`); None when all of it fit.
    _unreadable: str | None = PrivateAttr(default=None)

    @property
    def unreadable(self) -> str | None:
        """The fields the server sent that did not fit (`field: why; ...`), or None.

        A list item or an answer to an action that does not fit is kept with what
        could be read, so one odd object never hides the rest; this says what is
        missing so the UI can mark it.
        """
        return self._unreadable


# -- files -------------------------------------------------------------------
class LocalFile(_Obj):
    """The local server's own part of a file object (`fttui`; not in OpenAI's): what
    its check found, such as the format (`chat`, `preference`, ...) and example count."""

    format: str | None = None
    examples: int | None = None


class FileObject(_Obj):
    id: str
    object: str = "file"
    bytes: int = 0
    created_at: int = 0
    filename: str = ""
    purpose: str = ""
    status: str | None = None
    status_details: str | None = None
    expires_at: int | None = None
    # fttui's local server only.
    fttui: LocalFile | None = None


class FileDeleted(_Obj):
    id: str
    object: str = "file"
    deleted: bool


class JobDisk(_Obj):
    """One job's checkpoints and model on the local server's disk (weights once)."""

    id: str
    bytes: int = 0


class Usage(_Obj):
    """Storage use on the local server (`GET /v1/fttui/usage`); the quota bar's data."""

    object: str = "usage"
    used_bytes: int
    limit_bytes: int | None = None
    max_file_bytes: int | None = None
    files: int | None = None
    # Fine-tuned models and checkpoints on the server's disk (not counted by the quota).
    models_bytes: int | None = None
    checkpoints_bytes: int | None = None
    # How many jobs hold checkpoints or a model on disk, and the largest (id, bytes).
    jobs_on_disk: int | None = None
    largest_jobs: list[JobDisk] | None = None

    @property
    def artifact_bytes(self) -> int | None:
        """Models and checkpoints together, or None when the server does not say."""
        if self.models_bytes is None and self.checkpoints_bytes is None:
            return None
        return (self.models_bytes or 0) + (self.checkpoints_bytes or 0)


# -- jobs --------------------------------------------------------------------
class Hyperparameters(_Obj):
    n_epochs: HyperValue = None
    batch_size: HyperValue = None
    learning_rate_multiplier: HyperValue = None


class JobError(_Obj):
    code: str | None = None
    message: str | None = None
    param: str | None = None


class LocalJob(_Obj):
    """The local server's own part of a job (`fttui`; not in OpenAI's object)."""

    base_model: str | None = None
    started_at: int | None = None
    # The legacy guide's options and the trainer's (LoRA, classification, ...) as asked.
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    # Where and how it runs (runner, workers, device, precision, ray_job_id); null
    # until it starts.
    runtime: dict[str, Any] | None = None
    # Paused, with its trainer still saving the checkpoint to resume from.
    pausing: bool = False
    # Its checkpoints and model on the server's disk (shared weights counted once).
    disk_bytes: int | None = None
    # The hyperparameters as asked (`auto` where the server chose).
    requested: dict[str, Any] | None = None
    # Whether the job's seed was asked (False: the server chose it).
    seed_asked: bool | None = None


class FineTuningJob(_Obj):
    id: str
    object: str = "fine_tuning.job"
    created_at: int = 0
    model: str = ""
    status: str = "queued"
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    # OpenAI: "only returned when running supervised jobs"; null for DPO/reinforcement
    # (whose hyperparameters are under `method`).
    hyperparameters: Hyperparameters | None = None
    organization_id: str | None = None
    result_files: list[str] = Field(default_factory=list)
    trained_tokens: int | None = None
    training_file: str | None = None
    validation_file: str | None = None
    error: JobError | None = None
    seed: int | None = None
    estimated_finish: int | None = None
    suffix: str | None = None
    # Today's API names the user's suffix here (`suffix` in older objects).
    user_provided_suffix: str | None = None
    method: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    integrations: list[Any] | None = None
    # fttui's local server only.
    fttui: LocalJob | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_error(cls, data: Any) -> Any:
        # OpenAI sends `"error": {}` on healthy jobs; treat it as no error.
        if isinstance(data, dict) and data.get("error") in ({}, ""):
            data = {**data, "error": None}
        return data

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_JOB_STATUSES

    @property
    def given_suffix(self) -> str | None:
        """The suffix the user gave: `user_provided_suffix`, or `suffix` where an older
        object or the legacy API says it."""
        return self.user_provided_suffix or self.suffix or None

    @property
    def method_type(self) -> str:
        """OpenAI's `method.type` (`supervised` when the backend gives none)."""
        kind = (self.method or {}).get("type")
        return str(kind) if kind else "supervised"

    @property
    def method_config(self) -> dict[str, Any]:
        """The method's own object (`method.<type>`: its hyperparameters, a
        reinforcement job's grader); empty when the backend gives none."""
        inner = (self.method or {}).get(self.method_type)
        return inner if isinstance(inner, dict) else {}

    @property
    def local(self) -> LocalJob:
        """The local server's part of the job (empty from any other backend)."""
        return self.fttui or LocalJob()

    @property
    def method_hyperparameters(self) -> Hyperparameters:
        """The job's hyperparameters wherever the backend put them: the top-level
        field (supervised) or its method's (`method.<type>.hyperparameters`, where
        OpenAI keeps DPO's and reinforcement's), the top level winning."""
        method = self.method or {}
        inner = method.get(str(method.get("type"))) if isinstance(method, dict) else None
        values = inner.get("hyperparameters") if isinstance(inner, dict) else None
        merged = dict(values) if isinstance(values, dict) else {}
        if self.hyperparameters is not None:
            merged.update(self.hyperparameters.model_dump(exclude_unset=True))
        try:
            return Hyperparameters.model_validate(merged)
        except ValidationError:
            return self.hyperparameters or Hyperparameters()


class EventMetrics(BaseModel):
    """A metrics event's values under one naming, whichever scheme the backend used.

    OpenAI names them `train_loss`, `train_mean_token_accuracy`, `valid_loss`, ...;
    OpenAI's legacy fine-tuning guide (and the local server) `training_loss`, `training_token_accuracy`,
    `validation_loss`, ... Values the event lacks are None; `extra` keeps anything
    else (e.g. `classification/accuracy`).
    """

    step: int | None = None
    total_steps: int | None = None
    train_loss: float | None = None
    train_token_accuracy: float | None = None
    train_sequence_accuracy: float | None = None
    valid_loss: float | None = None
    valid_token_accuracy: float | None = None
    valid_sequence_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_token_accuracy: float | None = None
    elapsed_tokens: int | None = None
    elapsed_examples: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


# normalised name -> source keys, first present wins
_METRIC_KEYS: dict[str, tuple[str, ...]] = {
    "step": ("step",),
    "total_steps": ("total_steps",),
    "train_loss": ("train_loss", "training_loss"),
    "train_token_accuracy": (
        "train_mean_token_accuracy",
        "training_token_accuracy",
        "train_accuracy",
    ),
    "train_sequence_accuracy": ("training_sequence_accuracy", "train_sequence_accuracy"),
    "valid_loss": ("valid_loss", "validation_loss"),
    "valid_token_accuracy": ("valid_mean_token_accuracy", "validation_token_accuracy"),
    "valid_sequence_accuracy": ("validation_sequence_accuracy", "valid_sequence_accuracy"),
    "full_valid_loss": ("full_valid_loss",),
    "full_valid_token_accuracy": ("full_valid_mean_token_accuracy",),
    "elapsed_tokens": ("elapsed_tokens",),
    "elapsed_examples": ("elapsed_examples",),
}
_KNOWN_METRIC_KEYS = frozenset(k for keys in _METRIC_KEYS.values() for k in keys)


class JobEvent(_Obj):
    id: str
    object: str = "fine_tuning.job.event"
    created_at: int = 0
    level: str = "info"
    message: str = ""
    type: str | None = "message"
    data: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _data_must_be_mapping(cls, data: Any) -> Any:
        if isinstance(data, dict) and "data" in data and not isinstance(data["data"], dict | None):
            data = {**data, "data": {"value": data["data"]}}
        return data

    @property
    def metrics(self) -> EventMetrics | None:
        """Normalised metrics for a `metrics` event (or any event whose data has a step)."""
        if not self.data or (self.type != "metrics" and "step" not in self.data):
            return None
        values: dict[str, Any] = {}
        for name, keys in _METRIC_KEYS.items():
            for key in keys:
                if self.data.get(key) is not None:
                    values[name] = self.data[key]
                    break
        extra = {k: v for k, v in self.data.items() if k not in _KNOWN_METRIC_KEYS}
        return EventMetrics(**values, extra=extra)


class CheckpointMetrics(_Obj):
    step: float | None = None
    train_loss: float | None = None
    train_mean_token_accuracy: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_mean_token_accuracy: float | None = None


class Checkpoint(_Obj):
    id: str
    object: str = "fine_tuning.job.checkpoint"
    created_at: int = 0
    fine_tuned_model_checkpoint: str = ""
    fine_tuning_job_id: str | None = None
    metrics: CheckpointMetrics = Field(default_factory=CheckpointMetrics)
    step_number: int = 0


# -- models and inference ----------------------------------------------------
class Model(_Obj):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = ""


class ModelDeleted(_Obj):
    id: str
    object: str = "model"
    deleted: bool


class CompletionUsage(_Obj):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class CompletionLogprobs(_Obj):
    text_offset: list[int] | None = None
    token_logprobs: list[float | None] | None = None
    tokens: list[str] | None = None
    top_logprobs: list[dict[str, float] | None] | None = None


class CompletionChoice(_Obj):
    index: int = 0
    text: str = ""
    finish_reason: str | None = None
    logprobs: CompletionLogprobs | None = None


class Completion(_Obj):
    id: str = ""
    object: str = "text_completion"
    created: int = 0
    model: str = ""
    choices: list[CompletionChoice] = Field(default_factory=list)
    usage: CompletionUsage | None = None

    @property
    def text(self) -> str:
        """The first choice's text (what "try a model" shows)."""
        return self.choices[0].text if self.choices else ""


class ChatCompletionMessage(_Obj):
    role: str = "assistant"
    content: str | None = None
    refusal: str | None = None


class ChatCompletionChoice(_Obj):
    index: int = 0
    message: ChatCompletionMessage = Field(default_factory=ChatCompletionMessage)
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletion(_Obj):
    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[ChatCompletionChoice] = Field(default_factory=list)
    usage: CompletionUsage | None = None

    @property
    def text(self) -> str:
        """The first choice's message content ("" when absent)."""
        return (self.choices[0].message.content or "") if self.choices else ""


# -- pages -------------------------------------------------------------------
T = TypeVar("T", bound=BaseModel)


class Page(BaseModel, Generic[T]):
    """One page of a list endpoint; `last_id` is the cursor for the next page."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    _raw: Any = PrivateAttr(default=None)

    object: str = "list"
    data: list[T] = Field(default_factory=list)
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None

    @model_validator(mode="after")
    def _fill_cursors(self) -> Page[T]:
        if self.data:
            ids = [getattr(item, "id", None) for item in self.data]
            if self.first_id is None and isinstance(ids[0], str):
                self.first_id = ids[0]
            if isinstance(ids[-1], str):
                # The server's last_id may be absent (jobs/events lists); data wins.
                self.last_id = ids[-1]
        return self


M = TypeVar("M", bound=BaseModel)

_MAX_DROPS = 50


def _where(err: Any) -> str:
    return ".".join(str(p) for p in err.get("loc", ())) or "body"


def _readable_error(model: type[BaseModel], exc: ValidationError) -> APIError:
    first = exc.errors()[0]
    name = getattr(model, "__name__", "object")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return APIError(
        f"unexpected response from the server: {name} field {_where(first)!r}: {first['msg']}{more}"
    )


def _tolerant(model: type[M], body: Any, fill: dict[str, Any] | None = None) -> M:
    """`model` from `body`, leaving out each top-level field whose value does not fit.

    A required field that is absent is taken from `fill` when given there (e.g. the
    id a list position or a request implies); otherwise the object is unreadable and
    the first error is raised as an APIError. The fields left out are named in the
    result's `unreadable`.
    """
    if not isinstance(body, dict):
        raise APIError(
            f"unexpected response from the server: {getattr(model, '__name__', 'object')} "
            f"is not an object: {body!r:.80}"
        )
    data = dict(body)
    problems: list[str] = []
    for _ in range(_MAX_DROPS):
        try:
            obj = model.model_validate(data)
        except ValidationError as exc:
            dropped = False
            for err in exc.errors():
                loc = err.get("loc", ())
                key = loc[0] if loc else None
                if not isinstance(key, str):
                    continue
                if key in data and (err["type"] != "missing" or len(loc) > 1):
                    problems.append(f"{_where(err)}: {err['msg']}")
                    data.pop(key)
                    dropped = True
                elif fill and key in fill and key not in data:
                    problems.append(f"{key}: absent")
                    data[key] = fill[key]
                    dropped = True
            if not dropped:
                raise _readable_error(model, exc) from exc
            continue
        if problems and isinstance(obj, _Obj):
            obj._unreadable = "; ".join(dict.fromkeys(problems))
        return obj
    raise APIError(f"unexpected response from the server: {getattr(model, '__name__', '')}")


def _item_type(model: type[BaseModel]) -> type[BaseModel] | None:
    field = model.model_fields.get("data")
    args = get_args(field.annotation) if field is not None else ()
    item = args[0] if args else None
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def _item(model: type[BaseModel], raw: Any, n: int) -> BaseModel:
    """List item `n`: what could be read of it, or a placeholder saying why nothing could."""
    placeholder = f"(item {n + 1}, no id)"
    try:
        return _tolerant(model, raw, {"id": placeholder})
    except APIError as exc:
        fields: dict[str, Any] = {"id": placeholder}
        if "status" in model.model_fields:
            fields["status"] = "unreadable"
        obj = model.model_construct(None, **fields)
        if isinstance(obj, _Obj):
            obj._unreadable = str(exc).removeprefix("unexpected response from the server: ")
        return obj


def parse(model: type[M], body: Any, *, fill: dict[str, Any] | None = None) -> M:
    """Validate a response body, reading what fits and naming what does not.

    A field the backend sent in a shape fttui does not expect is left out of the
    object (named in its `unreadable`) rather than failing the whole answer; in a
    list page each item is read on its own, so one odd item never empties the
    list. Only an answer that is not an object, or lacks a field nothing can stand
    in for (an object's id), is an APIError naming the object and the field, never
    a pydantic traceback.
    """
    try:
        result = model.model_validate(body)
    except ValidationError as exc:
        item = _item_type(model) if issubclass(model, Page) else None
        if item is None or not isinstance(body, dict) or not isinstance(body.get("data"), list):
            if issubclass(model, Page):
                raise _readable_error(model, exc) from exc
            result = _tolerant(model, body, fill)
        else:
            items = [_item(item, entry, n) for n, entry in enumerate(body["data"])]
            result = _tolerant(model, {**body, "data": []})
            result.data = items  # type: ignore[attr-defined]
            result._fill_cursors()  # type: ignore[attr-defined]
    if isinstance(result, _Obj | Page):
        result._raw = body
    if isinstance(result, Page) and isinstance(body, dict):
        bodies = body.get("data")
        if isinstance(bodies, list) and len(bodies) == len(result.data):
            for obj, item_body in zip(result.data, bodies, strict=True):
                if isinstance(obj, _Obj):
                    obj._raw = item_body
    return result


def raw(obj: BaseModel) -> Any:
    """The JSON body `obj` was parsed from, exactly as the backend sent it.

    An item of a parsed page has its own part of the page's body. Objects not made
    by `parse` (built in code) have none; their own JSON form stands in.
    """
    body = getattr(obj, "_raw", None)
    return body if body is not None else obj.model_dump(mode="json")
