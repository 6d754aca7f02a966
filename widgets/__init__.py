"""Reusable Textual widgets for fttui, each usable and testable alone.

They take plain data (the dataclasses in `widgets.rows`, pandas frames, lists) and
know nothing of HTTP or `fttui.api`: the app converts API objects and feeds them in.

Each name is imported from its module on first use (PEP 562): the main screen
needs five of these widgets to draw, and importing the form, the dialogs and the
progress bar (with the hyperparameter rules behind them) up front made every
start of `fttui` slower.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from widgets._format import human_bytes
    from widgets.compare_table import CompareTable
    from widgets.confirm import ConfirmDialog
    from widgets.event_log import EventLog
    from widgets.file_table import FileTable
    from widgets.hparam_form import HyperparamForm
    from widgets.job_table import JobTable
    from widgets.key_bar import KeyBar
    from widgets.kv_table import KeyValueTable
    from widgets.metric_plot import MetricPlot
    from widgets.metrics_panel import MetricsPanel
    from widgets.path_input import PathInput, PathSuggester
    from widgets.progress import TransferProgress
    from widgets.quota_bar import QuotaBar
    from widgets.rows import EventRow, FileRow, JobRow

_MODULES: dict[str, str] = {
    "CompareTable": "widgets.compare_table",
    "ConfirmDialog": "widgets.confirm",
    "EventLog": "widgets.event_log",
    "EventRow": "widgets.rows",
    "FileRow": "widgets.rows",
    "FileTable": "widgets.file_table",
    "HyperparamForm": "widgets.hparam_form",
    "JobRow": "widgets.rows",
    "JobTable": "widgets.job_table",
    "KeyBar": "widgets.key_bar",
    "KeyValueTable": "widgets.kv_table",
    "MetricPlot": "widgets.metric_plot",
    "MetricsPanel": "widgets.metrics_panel",
    "PathInput": "widgets.path_input",
    "PathSuggester": "widgets.path_input",
    "QuotaBar": "widgets.quota_bar",
    "TransferProgress": "widgets.progress",
    "human_bytes": "widgets._format",
}

__all__ = [
    "CompareTable",
    "ConfirmDialog",
    "EventLog",
    "EventRow",
    "FileRow",
    "FileTable",
    "HyperparamForm",
    "JobRow",
    "JobTable",
    "KeyBar",
    "KeyValueTable",
    "MetricPlot",
    "MetricsPanel",
    "PathInput",
    "PathSuggester",
    "QuotaBar",
    "TransferProgress",
    "human_bytes",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'widgets' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
