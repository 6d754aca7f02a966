"""Reusable Textual widgets for fttui, each usable and testable alone.

They take plain data (the dataclasses in `widgets.rows`, pandas frames, lists) and
know nothing of HTTP or `fttui.api`: the app converts API objects and feeds them in.
"""

from widgets.confirm import ConfirmDialog
from widgets.event_log import EventLog
from widgets.file_table import FileTable
from widgets.hparam_form import HyperparamForm
from widgets.job_table import JobTable
from widgets.kv_table import KeyValueTable
from widgets.metric_plot import MetricPlot
from widgets.metrics_panel import MetricsPanel
from widgets.path_input import PathInput, PathSuggester
from widgets.progress import TransferProgress
from widgets.quota_bar import QuotaBar
from widgets.rows import EventRow, FileRow, JobRow

__all__ = [
    "ConfirmDialog",
    "EventLog",
    "EventRow",
    "FileRow",
    "FileTable",
    "HyperparamForm",
    "JobRow",
    "JobTable",
    "KeyValueTable",
    "MetricPlot",
    "MetricsPanel",
    "PathInput",
    "PathSuggester",
    "QuotaBar",
    "TransferProgress",
]
