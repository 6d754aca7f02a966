"""`fttui` starts fast because the first screen imports only what it draws.

Pandas, plotext, the data checker, the trainer and the server load when a screen
or a command needs them; these would each add tens to hundreds of milliseconds to
every start (see docs/tui.md, Performance).
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "pandas",
    "plotext",
    "torch",
    "transformers",
    "fastapi",
    "uvicorn",
    "tiktoken",
    "click",  # httpx's command-line tool
    "pygments",
    "fttui.train",
    "fttui.data",
    "fttui.server",
    "widgets.hparam_form",
    "widgets.confirm",
)


def test_importing_the_app_and_main_screen_leaves_heavy_modules_unloaded() -> None:
    code = (
        "import json, sys\n"
        "import fttui.app, fttui.screens.main\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []
