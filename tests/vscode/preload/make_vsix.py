"""Zip an extension folder into a .vsix that ``code-server --install-extension`` accepts.

    python3 make_vsix.py EXTENSION-DIR OUT.vsix

A .vsix is a zip holding ``extension/`` (the folder, with its package.json), an
``extension.vsixmanifest`` and ``[Content_Types].xml``; vsce writes the same, but needs 40 MB of npm packages.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

CONTENT_TYPES = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension=".json" ContentType="application/json"/><Default Extension=".js" ContentType="application/javascript"/>
<Default Extension=".txt" ContentType="text/plain"/><Default Extension=".vsixmanifest" ContentType="text/xml"/>
</Types>
"""


def manifest(package: dict[str, str]) -> str:
    """The minimal extension.vsixmanifest for ``package`` (package.json's fields)."""
    field = {key: escape(str(package.get(key, ""))) for key in ("name", "publisher", "version", "displayName",
                                                               "description")}
    return f"""<?xml version="1.0" encoding="utf-8"?>
<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011">
<Metadata><Identity Language="en-US" Id="{field['name']}" Version="{field['version']}" Publisher="{field['publisher']}"/>
<DisplayName>{field['displayName']}</DisplayName><Description>{field['description']}</Description>
<Properties><Property Id="Microsoft.VisualStudio.Code.Engine" Value="^1.90.0"/></Properties></Metadata>
<Installation><InstallationTarget Id="Microsoft.VisualStudio.Code"/></Installation><Dependencies/>
<Assets><Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json" Addressable="true"/></Assets>
</PackageManifest>
"""


def main(folder: Path, out: Path) -> None:
    package = json.loads((folder / "package.json").read_text())
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as vsix:
        vsix.writestr("[Content_Types].xml", CONTENT_TYPES)
        vsix.writestr("extension.vsixmanifest", manifest(package))
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                vsix.write(path, f"extension/{path.relative_to(folder).as_posix()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
