"""The names of the files a checkpoint and a stored model directory hold.

The trainer writes them and the server reads them (to decide what a job keeps, what a
resume needs, what a download lists); the trainer may not import the server
(docs/architecture.md), so both take the names from here.
"""

from __future__ import annotations

__all__ = ["MANIFEST", "OPTIMIZER_FILE", "RESULTS_FILE", "STATE_FILE"]

# Every stored directory's list of its files with their sizes and sha256 (written
# last, so a directory with one is complete).
MANIFEST = "fttui-manifest.json"
# Step, counters, the schedule's position, random states: kilobytes.
STATE_FILE = "training_state.pt"
# AdamW's two moments per trained weight: twice the weights; only a resume needs it.
OPTIMIZER_FILE = "optimizer.pt"
# The results rows up to the checkpoint's step (a resumed job's file goes on from them).
RESULTS_FILE = "results.csv"
