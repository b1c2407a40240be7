#!/usr/bin/env bash
# Build the widget preload extension for the VS Code harness from npm packages only.
#
#   bash tests/vscode/preload/build.sh OUT-DIR      # writes OUT-DIR/onb-widget-preloads.vsix
#
# VS Code's Jupyter extension renders ipywidgets through preload scripts that the marketplace extension
# ms-toolsai.jupyter-renderers normally ships. The same scripts are published on npm
# (@vscode/jupyter-ipywidgets7/8, MIT); with RequireJS and jQuery as globals in a third preload they render widgets as
# that extension does. The packages are fetched with `npm pack` (their tarballs only, no dependency tree).
# The Jupyter extension still asks once per window, in a modal dialog, to install ms-toolsai.jupyter-renderers when
# the first widget shows (its check only sees extensions of its own web worker host; a web entry point here made the
# preloads fail): the tests answer Cancel (tests/vscode/code_server.py).
set -euo pipefail
out="${1:?usage: build.sh OUT-DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
inputs="$(cat "$here/package.json" "$here/build.sh" "$here/make_vsix.py" | sha256sum | cut -c1-16)"
if [ -f "$out/onb-widget-preloads.vsix" ] && [ "$(cat "$out/built-from" 2>/dev/null)" = "$inputs" ]; then
    exit 0
fi
work="$(mktemp -d -t onb-preload.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
mapfile -t sources < <(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["onbSources"]))' \
    "$here/package.json")
for source in "${sources[@]}"; do
    tarball="$(npm pack --silent "$source")"
    mkdir -p "unpacked/${source%@*}"
    tar -xzf "$tarball" -C "unpacked/${source%@*}" --strip-components=1
done
mkdir -p ext/out
cp "$here/package.json" ext/package.json
cp unpacked/@vscode/jupyter-ipywidgets7/LICENSE ext/LICENSE.txt
cp unpacked/@vscode/jupyter-ipywidgets7/dist/ipywidgets.js ext/out/w7.js
cp unpacked/@vscode/jupyter-ipywidgets8/dist/ipywidgets.js ext/out/w8.js
{
    # RequireJS binds to `this`, which is undefined in an ES module preload: bind it to globalThis instead.
    sed 's/}(this,/}(globalThis,/' unpacked/requirejs/require.js
    cat unpacked/jquery/dist/jquery.js
    printf '\nglobalThis.$ = globalThis.jQuery;\nglobalThis.requirejs = requirejs;\nglobalThis.require = requirejs;\n'
    # RequireJS's define is global only while a widget script's load() registers its modules with it. A global
    # define is called by any UMD bundle loaded later into the same webview: VS Code's built-in Mermaid renderer
    # (mermaid-markdown-features, loaded with the first Markdown output) calls it anonymously, and the next widget
    # class RequireJS loads fails with "Mismatched anonymous define() module" (the widget never renders and the
    # widget manager stops; Mermaid breaks too: microsoft/vscode-jupyter#17528).
    # The widget scripts are loaded from here, after RequireJS: as preloads of their own they load in parallel
    # with this one, and one that ran first registered its modules nowhere ("Error loading @jupyter-widgets/base").
    printf '%s\n' 'const amdDefine = define;' \
        'function withDefine(load) {' \
        '  return function (...args) {' \
        '    globalThis.define = amdDefine;' \
        '    try { return load.apply(this, args); } finally { delete globalThis.define; }' \
        '  };' \
        '}' \
        'export async function activate(context) {' \
        '  for (const [name, loader] of [["./w7.js", "vscIPyWidgets7"], ["./w8.js", "vscIPyWidgets8"]]) {' \
        '    const widgets = await import(new URL(name, import.meta.url).href);' \
        '    await widgets.activate(context);' \
        '    globalThis[loader].load = withDefine(globalThis[loader].load);' \
        '  }' \
        '}'
} > ext/out/preload.js
# vsce would pull 40 MB of npm packages to zip three files: make_vsix.py writes the same layout.
python3 "$here/make_vsix.py" ext "$out/onb-widget-preloads.vsix"
printf '%s\n' "$inputs" > "$out/built-from"
echo "built $out/onb-widget-preloads.vsix" >&2
