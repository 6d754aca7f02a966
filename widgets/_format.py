"""Small formatting helpers shared by the widgets (sizes, times, durations)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def human_bytes(n: float) -> str:
    """Decimal units as the quota is stated ("1 GB" = 10**9 bytes): 12345678 -> '12.3 MB'."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def human_duration(seconds: float) -> str:
    """Compact duration: 59 -> '59s', 61 -> '1m01s', 3700 -> '1h01m', 90000 -> '1d01h'."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def short_time(ts: float | None) -> str:
    """A Unix time as local 'MM-DD HH:MM' (a list's column; the year is in the detail)."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts).strftime("%m-%d %H:%M")


def local_time(ts: float | None, with_seconds: bool = False) -> str:
    """A Unix time as local 'YYYY-MM-DD HH:MM' (what a person scanning a list reads)."""
    if ts is None:
        return ""
    if with_seconds:
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    return _local_minute(int(ts // 60))


def clock_time(ts: float) -> str:
    """A Unix time as local 'HH:MM:SS' (event log lines)."""
    t = int(ts)
    return f"{_local_minute(t // 60)[11:]}:{t % 60:02d}"


@lru_cache(maxsize=4096)
def _local_minute(minute: int) -> str:
    """'YYYY-MM-DD HH:MM' of a minute since the epoch.

    Cached: lists show thousands of rows and logs tens of thousands of lines from a
    few minutes, and formatting each through strftime showed in frame times. Time
    zone offsets are whole minutes, so the seconds never depend on the zone.
    """
    return datetime.fromtimestamp(minute * 60).strftime("%Y-%m-%d %H:%M")
