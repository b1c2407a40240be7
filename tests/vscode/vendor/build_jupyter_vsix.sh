#!/usr/bin/env bash
# Rebuild the vendored web build of VS Code's Jupyter extension from a pinned vscode-jupyter commit.
#
#   bash tests/vscode/vendor/build_jupyter_vsix.sh SOURCE [OUT.vsix]
#
# SOURCE is a clone (or a git directory) of https://github.com/microsoft/vscode-jupyter holding the pinned commit.
# The extension is on no package registry (npm's @vscode/jupyter-extension is type definitions only), so the project
# vendors this one artefact; everything else the VS Code harness needs comes from npm, PyPI or apt.
# Needs node >= 20 with npm and network access to the npm registry; about 1-2 min on 2 cores.
#
# Steps (the web target needs no zeromq binaries, no Python extension, no tsc):
#   1. npm ci --ignore-scripts, then the web post-install step;
#   2. esbuild production bundle for the web target;
#   3. drop "main", "extensionPack" and "extensionKind" from package.json: with extensionKind ["workspace"] and no
#      "main" the web build would run nowhere in code-server;
#   4. vsce package --no-dependencies.
set -euo pipefail
PINNED_COMMIT=3d24702e0e3a7258a163979a9c8b2585e9f43674
source="${1:?usage: build_jupyter_vsix.sh SOURCE [OUT.vsix]}"
here="$(cd "$(dirname "$0")" && pwd)"
out="${2:-$here/ms-toolsai.jupyter-2026.6.1-web.vsix}"
work="$(mktemp -d -t jupyter-vsix.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Files are written blob by blob (git archive and checkout insist on every blob): the large ipywidgets test
# samples are not needed, and absent from some mirrors, so they are left out.
git_dir="$(git -C "$source" rev-parse --absolute-git-dir 2>/dev/null || echo "$source")"
python3 - "$git_dir" "$PINNED_COMMIT" "$work/src" <<'PY'
import os, subprocess, sys
git_dir, commit, dest = sys.argv[1:]
listing = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "-r", "-z", commit],
                         check=True, capture_output=True).stdout.split(b"\0")
entries = []
for line in filter(None, listing):
    meta, path = line.split(b"\t", 1)
    mode, kind, sha = meta.split()
    if kind == b"blob" and not path.startswith(b"src/test/datascience/ipywidgets/samples/"):
        entries.append((mode, sha, path.decode()))
cat = subprocess.Popen(["git", "--git-dir", git_dir, "cat-file", "--batch"], stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE)
for mode, sha, path in entries:
    cat.stdin.write(sha + b"\n"); cat.stdin.flush()
    size = int(cat.stdout.readline().split()[2])
    data = cat.stdout.read(size); cat.stdout.read(1)
    target = os.path.join(dest, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if mode == b"120000":
        os.symlink(data.decode(), target)
        continue
    with open(target, "wb") as f:
        f.write(data)
    if mode == b"100755":
        os.chmod(target, 0o755)
cat.stdin.close(); cat.wait()
PY
cd "$work/src"
export VSC_VSCE_TARGET=web
npm ci --ignore-scripts --no-audit --no-fund
node build/ci/postInstall.js
npx tsx build/esbuild/build.ts --production
node -e '
const fs = require("fs");
const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
for (const key of ["main", "extensionPack", "extensionKind"]) delete pkg[key];
fs.writeFileSync("package.json", JSON.stringify(pkg, null, 4) + "\n");
'
npx --yes @vscode/vsce@3.9.2 package --no-dependencies --out "$work/jupyter.vsix"
cp "$work/jupyter.vsix" "$out"
echo "built $out from vscode-jupyter $PINNED_COMMIT"
