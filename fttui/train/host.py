"""Process-wide settings of a training process for the machine it runs on.

`configure_process()` runs first thing in a trainer process, before torch loads.

OpenMP threads wait passively. torch runs each operation's loop on a team of OpenMP
threads; by default GNU OpenMP's threads spin at the end of each loop waiting for the
next one. When another process holds one of the cores (a busy machine, or the server
the trainer runs below at a lower priority), a loop cannot finish until the
descheduled thread runs again, and the spinning thread burns the other core while it
waits: measured on this 2-core machine at load average ~10, the tiny test model's
forward pass took 62 ms of CPU with the default policy and 3 ms with passive waiting
(or one thread). `OMP_WAIT_POLICY=PASSIVE` makes waiting threads sleep instead; an
explicit setting in the environment is kept.

glibc hands every large freed block back to the kernel (blocks over its mmap
threshold, at most 32 MiB, and whatever exceeds the trim threshold at the top of the
heap). A training step frees and re-allocates the same buffers every time (gradients,
activations, the tied embedding's 113 MB gradient for the default model), so each step
faulted them in again page by page: about 85,000 page faults (~330 MB) per step for the
default model at batch size 1, which on a virtual machine costs a good part of a
small step. With mmap off for heap blocks and no trimming, freed blocks are reused and
a step makes no page faults after the first (measured with `benchmarks/step_bench.py`).
The process's peak memory is the same; it is just not returned between steps.
"""

from __future__ import annotations

import ctypes
import os
import sys

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Make glibc reuse freed memory instead of returning it; True if it took effect.

    Call it at the start of a trainer process, before the model is loaded. Does
    nothing (False) off Linux or with a libc without `mallopt` (musl accepts and
    ignores it).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def configure_process() -> list[str]:
    """Apply the trainer's process settings; returns what was applied, in words.

    Must run before torch is imported (OpenMP reads its environment when it loads).
    """
    done = []
    if "torch" not in sys.modules and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        done.append("OpenMP threads wait passively")
    if keep_freed_memory():
        done.append("freed memory is reused, not returned to the kernel")
    return done
