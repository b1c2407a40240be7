#!/usr/bin/env bash
# Run the quickstart notebook headless and save it with its outputs to out/01-quickstart.ipynb.
#
#   bash scripts/quickstart.sh
#
# Uses the Ollama at $OLLAMA_HOST (default http://127.0.0.1:11434) when it answers, otherwise the
# bundled simulator (python -m ollama_nb.simulator); one line says which.
# Creates .venv with the package editable and [test] when missing; fast when already set up.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/_venvs.sh
source scripts/_venvs.sh

onb_ensure_venv .venv
# scripts/test.sh installs a superset ([test,bench] + pins); accept its stamp too.
test_args=(-r scripts/requirements-test.txt -e ".[test,bench]")
test_stamp="$(onb_stamp "test ${test_args[*]}" pyproject.toml scripts/requirements-test.txt)"
quick_args=(-c scripts/requirements-test.txt -e ".[test]")
quick_stamp="$(onb_stamp "quickstart ${quick_args[*]}" pyproject.toml scripts/requirements-test.txt)"
if ! onb_stamp_is_current .venv test "$test_stamp"; then
    onb_install_if_changed .venv quickstart "$quick_stamp" "${quick_args[@]}"
fi

exec .venv/bin/python scripts/run_notebooks.py notebooks/01-quickstart.ipynb --out out/
