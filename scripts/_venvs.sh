# Shared helpers for scripts/test.sh and scripts/quickstart.sh (sourced, not run).
# Every step is idempotent and cheap when already done: an install is skipped while a stamp
# (hash of the inputs that decide what is installed) matches the one left by the last install.

ONB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

onb_say() { printf '%s\n' "$*" >&2; }

# pip, quiet, with the machine's harmless "Location ... is ignored" index warnings filtered out.
# Errors still reach stderr, and pip's exit status is kept.
onb_pip() {
    local python="$1"; shift
    "$python" -m pip --disable-pip-version-check install -q --progress-bar off "$@" \
        2> >(grep -v -e "is ignored: it is neither a file nor a directory" >&2)
}

onb_base_python() {
    local py="${PYTHON:-python3}"
    if ! command -v "$py" >/dev/null 2>&1; then
        onb_say "error: $py not found; install Python >= 3.10 or set PYTHON=/path/to/python3"
        return 1
    fi
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
        onb_say "error: $("$py" -V 2>&1) is too old; ollama_nb needs Python >= 3.10 (set PYTHON=...)"
        return 1
    fi
    printf '%s\n' "$py"
}

# onb_ensure_venv DIR: create a virtual environment at DIR unless it already has a python.
onb_ensure_venv() {
    local dir="$1" py
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c 'import pip' >/dev/null 2>&1; then
        return 0
    fi
    py="$(onb_base_python)" || return 1
    onb_say "creating $dir ($("$py" -V 2>&1))"
    "$py" -m venv "$dir"
}

# onb_stamp NAME FILE...: a hash of the files, the arguments and the repository location.
onb_stamp() {
    local name="$1"; shift
    {
        printf '%s\n' "$name" "$ONB_ROOT"
        cat "$@"
    } | sha256sum | cut -c1-16
}

# onb_install_if_changed VENV NAME STAMP PIP-ARGS...: install unless VENV/.onb-NAME holds STAMP.
onb_install_if_changed() {
    local venv="$1" name="$2" stamp="$3"; shift 3
    local file="$venv/.onb-$name"
    if [ -f "$file" ] && [ "$(cat "$file")" = "$stamp" ]; then
        return 0
    fi
    onb_say "installing into $venv: $*"
    rm -f "$file"
    local started=$SECONDS
    onb_pip "$venv/bin/python" "$@"
    printf '%s\n' "$stamp" > "$file"
    onb_say "installed into $venv in $((SECONDS - started)) s"
}

# onb_stamp_is_current VENV NAME STAMP
onb_stamp_is_current() {
    [ -f "$1/.onb-$2" ] && [ "$(cat "$1/.onb-$2")" = "$3" ]
}

# onb_apt_get PACKAGE...: apt-get install the Debian packages (as root or with sudo). Status 2 (nothing said) when
# this machine cannot: neither root nor sudo, or no apt-get; status 1 when apt-get failed (the tail of its log said).
onb_apt_get() {
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || return 2
        sudo="sudo"
    fi
    command -v apt-get >/dev/null 2>&1 || return 2
    local log
    log="$(mktemp -t onb-apt.XXXXXX.log)"
    onb_say "installing Debian $* with apt-get (log: $log)"
    if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q \
           && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        onb_say "error: apt-get install $* failed (full log: $log)"
        return 1
    fi
}

# onb_apt_install COMMAND PACKAGE: apt-get install PACKAGE (as root or with sudo) unless COMMAND exists.
onb_apt_install() {
    local command="$1" package="$2" status=0
    if command -v "$command" >/dev/null 2>&1; then
        return 0
    fi
    onb_apt_get "$package" || status=$?
    if [ "$status" = 2 ]; then
        onb_say "warning: $command is missing and $package cannot be installed here (apt-get as root or with sudo);" \
            "the tests that need it will skip (or fail under CI=true)"
        return 0
    fi
    return "$status"
}

# onb_ensure_chromium: Debian's chromium for the browser tests (Playwright cannot download one here).
onb_ensure_chromium() { onb_apt_install chromium chromium; }

# onb_ensure_nodejs: Debian's nodejs, for tests/test_markdown.py (escaping checked through
# JupyterLab's own Markdown pipeline, which those tests run with node).
onb_ensure_nodejs() { onb_apt_install node nodejs; }
