"""Durable job store shared by the local server and its trainer subprocesses."""

from fttui.store.db import ACTIVE_STATUSES, FINAL_STATUSES, Store, new_id, now

__all__ = ["ACTIVE_STATUSES", "FINAL_STATUSES", "Store", "new_id", "now"]
