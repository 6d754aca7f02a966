"""Small formatting helpers shared by the widgets (sizes, times, durations)."""

from __future__ import annotations

from datetime import datetime

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


def local_time(ts: float | None, with_seconds: bool = False) -> str:
    """A Unix time as local 'YYYY-MM-DD HH:MM' (what a person scanning a list reads)."""
    if ts is None:
        return ""
    fmt = "%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(ts).strftime(fmt)
