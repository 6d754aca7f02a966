"""The local server's durable job store: the server's alone (the trainer reaches it
only through the server's internal HTTP API, fttui/server/trainer_service.py)."""

from fttui.store.db import ACTIVE_STATUSES, FINAL_STATUSES, Store, new_id, now

__all__ = ["ACTIVE_STATUSES", "FINAL_STATUSES", "Store", "new_id", "now"]
