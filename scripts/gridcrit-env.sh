#!/usr/bin/env bash
# Sets up (once) and uses the project's virtual environment, then runs one job:
#   bash scripts/gridcrit-env.sh demo   -> synthetic twin demo (gridcrit demo)
#   bash scripts/gridcrit-env.sh test   -> the test suite, 2 processes (fast tests; add -m slow for the slow ones)
#   bash scripts/gridcrit-env.sh CMD... -> any command inside the environment
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null 2>&1 || py=python3
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
stamp=.venv/.gridcrit-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  # torch is pinned to the CPU wheel available on this machine kind (see pyproject.toml).
  .venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v -E '^(WARNING: Location|  )' || true
  .venv/bin/python -c "import gridcrit, torch, duckdb" # fail loudly if the install did not work
  touch "$stamp"
fi
# 2 cores: pin threads deliberately (oversubscription slows torch/BLAS 10-100x).
export GRIDCRIT_THREADS="${GRIDCRIT_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" \
  MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" \
  OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
job="${1:-demo}"
shift || true
case "$job" in
  demo) exec .venv/bin/gridcrit demo "$@" ;;
  # two test processes (pytest-xdist, idle one takes queued tests from the other), one thread each:
  # the 2 cores busy without oversubscription;
  # GRIDCRIT_TEST_WORKERS=0 (or -n 0 after the command) runs them in this process, one at a time
  test) exec .venv/bin/python -m pytest -n "${GRIDCRIT_TEST_WORKERS:-2}" --dist worksteal "$@" ;;
  *) exec "$job" "$@" ;;
esac
