#!/usr/bin/env bash
# The long fuzz and load profiles of tests/reliability (CI runs the short ones).
#   ./benchmarks/fuzz_long.sh            # 200 schemathesis examples per operation + long load test
#   FTTUI_FUZZ_EXAMPLES=1000 ./benchmarks/fuzz_long.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export FTTUI_FUZZ_EXAMPLES=${FTTUI_FUZZ_EXAMPLES:-200}
pytest tests/reliability/test_fuzz_api.py -q -p no:cacheprovider
pytest tests/reliability -q -m long -p no:cacheprovider
