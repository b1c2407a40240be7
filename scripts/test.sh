#!/usr/bin/env bash
# The test job: set up everything the tests need, then run pytest with the given arguments.
#
#   bash scripts/test.sh                      # all tests
#   bash scripts/test.sh tests/browser -x     # any pytest arguments
#
# Sets up (each step skipped when already done):
#   - Debian chromium (apt-get, as root or with sudo) for tests/browser
#   - Debian nodejs (apt-get, as root or with sudo) for tests/test_markdown.py (JupyterLab's marked)
#   - .venv     : the package editable with [test,bench], JupyterLab 4, Notebook 7, ipykernel 7
#   - .venv-k6  : ipykernel 6.29.5 + ipywidgets + jupyter-ui-poll + the package editable
#   - kernelspecs "onb-k7" (.venv) and "onb-k6" (.venv-k6), registered into .venv
#   - .venv-vscode: Node 24 + code-server from npm and the extensions, for tests/vscode (only when the
#                   run includes tests/vscode; see scripts/_vscode.sh)
# Versions are pinned in scripts/requirements-test.txt and scripts/requirements-k6.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/_venvs.sh
source scripts/_venvs.sh
# shellcheck source=scripts/_vscode.sh
source scripts/_vscode.sh

onb_ensure_chromium
onb_ensure_nodejs

# Set-ups that do not depend on each other run in the background while .venv is installed:
# .venv-k6 and the VS Code harness (npm compiles code-server's native modules: about 2 minutes).
background_pids=()
stop_background() {
    local pid
    for pid in "${background_pids[@]}"; do
        pkill -P "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
    done
}
trap stop_background EXIT
wait_background() {  # PID LOG WHAT: wait for a background set-up, show its log, fail with its status
    local status=0
    wait "$1" || status=$?
    cat "$2" >&2
    rm -f "$2"
    if [ "$status" -ne 0 ]; then
        onb_say "error: $3 failed (status $status)"
        exit "$status"
    fi
}

vscode_pid=""
if onb_vscode_wanted "$@"; then
    vscode_log="$(mktemp -t onb-vscode.XXXXXX.log)"
    onb_ensure_vscode >"$vscode_log" 2>&1 &
    vscode_pid=$!
    background_pids+=("$vscode_pid")
fi

main_args=(-r scripts/requirements-test.txt -e ".[test,bench,ray]")  # ray: tests/test_ray*.py run in CI too
main_stamp="$(onb_stamp "test ${main_args[*]}" pyproject.toml scripts/requirements-test.txt)"
k6_args=(-r scripts/requirements-k6.txt -e .)
k6_stamp="$(onb_stamp "k6 ${k6_args[*]}" pyproject.toml scripts/requirements-k6.txt)"

# The two environments are independent: on a fresh machine set up .venv-k6 in the background.
k6_pid=""
if ! onb_stamp_is_current .venv-k6 k6 "$k6_stamp"; then
    k6_log="$(mktemp -t onb-venv-k6.XXXXXX.log)"
    ( onb_ensure_venv .venv-k6 && onb_install_if_changed .venv-k6 k6 "$k6_stamp" "${k6_args[@]}" ) \
        >"$k6_log" 2>&1 &
    k6_pid=$!
    background_pids+=("$k6_pid")
fi

onb_ensure_venv .venv
onb_install_if_changed .venv test "$main_stamp" "${main_args[@]}"

if [ -n "$k6_pid" ]; then
    wait_background "$k6_pid" "$k6_log" "setting up .venv-k6"
fi
if [ -n "$vscode_pid" ]; then
    wait_background "$vscode_pid" "$vscode_log" "setting up the VS Code harness"
fi
background_pids=()

# Kernelspecs live in .venv/share/jupyter/kernels, where .venv's jupyter and nbclient find them.
register_kernel() {  # NAME PYTHON DISPLAY-NAME
    local spec=".venv/share/jupyter/kernels/$1/kernel.json" python
    python="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
    if [ -f "$spec" ] && grep -qF "\"$python\"" "$spec"; then
        return 0
    fi
    local out
    # (its warning that .venv is not on .venv-k6's own kernel path is expected: .venv's jupyter reads it)
    if ! out="$("$2" -m ipykernel install --prefix .venv --name "$1" --display-name "$3" 2>&1)"; then
        printf '%s\n' "$out" >&2
        return 1
    fi
    onb_say "registered kernelspec $1 -> $python"
}
register_kernel onb-k6 .venv-k6/bin/python "ollama_nb (ipykernel 6)"
register_kernel onb-k7 .venv/bin/python "ollama_nb (ipykernel 7)"

# The code's contract before the tests: ruff (lint, lines <= 120) and mypy over ollama_nb/, configured in
# pyproject.toml. Each prints one line when it fails (the findings above it); ONB_LINT=0 skips both.
if [ "${ONB_LINT:-1}" != "0" ]; then
    if ! .venv/bin/python -m ruff check --quiet ollama_nb; then
        onb_say "error: ruff found the problems above (.venv/bin/python -m ruff check ollama_nb)"
        exit 1
    fi
    if ! .venv/bin/python -m mypy --no-error-summary ollama_nb; then
        onb_say "error: mypy found the type errors above (.venv/bin/python -m mypy ollama_nb)"
        exit 1
    fi
fi

exec .venv/bin/python -m pytest "$@"
