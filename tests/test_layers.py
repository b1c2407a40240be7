"""The layers hold: walk the imports of every module of the package and check their direction.

core (``ollama_nb/_*.py``) never imports the view or the magics, nor Jupyter or pandas at module
level; the view never imports the magics; the simulator stands alone; nobody imports a private
name (``_x``) from another module of the package. The one sanctioned exception: the package's
``load_ipython_extension``/``unload_ipython_extension`` import the magics inside the function
(that is IPython's extension entry point).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ollama_nb"
JUPYTER_OR_PANDAS = ("IPython", "ipywidgets", "ipykernel", "jupyter_ui_poll", "traitlets", "pandas")


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted module name imported (for "from x import y", x)
    names: tuple[str, ...]
    module_level: bool  # False inside a function body or an ``if TYPE_CHECKING:`` block
    function: str  # the enclosing function's name ("TYPE_CHECKING" there), "" at module level
    line: int


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[Import]:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: list[Import] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                inner = "TYPE_CHECKING"  # for the type checker only: never run
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(name, alias.name, (), not function, function, child.lineno))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                names = tuple(a.name for a in child.names)
                if not child.module:  # "from . import x": x is a module
                    for n in names:
                        found.append(Import(name, f"{target}.{n}", (), not function, function, child.lineno))
                else:
                    found.append(Import(name, target, names, not function, function, child.lineno))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def _layer(module: str) -> str:
    for layer in ("magics", "view", "simulator"):
        if module == f"ollama_nb.{layer}" or module.startswith(f"ollama_nb.{layer}."):
            return layer
    return "core"


ALL_IMPORTS = [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in _imports(path)]


def _where(imp: Import) -> str:
    return f"{imp.importer}:{imp.line} imports {imp.target}"


def test_the_walk_sees_every_layer() -> None:
    layers = {_layer(i.importer) for i in ALL_IMPORTS}
    assert layers == {"core", "view", "magics", "simulator"}
    assert any(i.importer == "ollama_nb.magics._magics" and i.target == "ollama_nb._session" for i in ALL_IMPORTS)


def test_the_core_never_imports_the_view_or_the_magics() -> None:
    entry_points = {"load_ipython_extension", "unload_ipython_extension"}
    bad = [
        _where(i)
        for i in ALL_IMPORTS
        if _layer(i.importer) == "core"
        and _layer(i.target) in ("view", "magics")
        and not (i.importer == "ollama_nb" and i.function in entry_points and _layer(i.target) == "magics")
    ]
    assert bad == []


def test_the_view_never_imports_the_magics() -> None:
    assert [_where(i) for i in ALL_IMPORTS if _layer(i.importer) == "view" and _layer(i.target) == "magics"] == []


def test_the_simulator_stands_alone() -> None:
    bad = [_where(i) for i in ALL_IMPORTS if _layer(i.importer) == "simulator" and i.target.startswith("ollama_nb") and _layer(i.target) != "simulator"]
    assert bad == []


def test_the_core_imports_no_jupyter_or_pandas_at_module_level() -> None:
    bad = [
        _where(i)
        for i in ALL_IMPORTS
        if _layer(i.importer) == "core" and i.module_level and i.target.split(".")[0] in JUPYTER_OR_PANDAS
    ]
    assert bad == []


def test_no_module_imports_a_private_name_of_another_module_of_the_package() -> None:
    bad = [
        f"{_where(i)} ({', '.join(n for n in i.names if n.startswith('_'))})"
        for i in ALL_IMPORTS
        if i.target.startswith("ollama_nb") and any(n.startswith("_") and not n.startswith("__") for n in i.names)
    ]
    assert bad == []


@pytest.mark.parametrize("module", ["ollama_nb._reply", "ollama_nb._reply_state"])
def test_the_reply_never_imports_the_client(module: str) -> None:
    assert [_where(i) for i in ALL_IMPORTS if i.importer == module and i.target == "ollama_nb._client"] == []


def test_every_document_a_docstring_cites_is_in_the_repository() -> None:
    import re

    root = PACKAGE.parent
    cited = {
        (str(path.relative_to(root)), name)
        for path in PACKAGE.rglob("*.py")
        for name in re.findall(r"[\w./-]+\.md\b", path.read_text(encoding="utf-8"))
    }
    assert ("ollama_nb/view/_consume.py", "docs/stopping.md") in cited  # the walk finds citations
    missing = [(where, name) for where, name in cited if not (root / name).exists()]
    assert missing == []
