"""The public surface: a sorted ``__all__`` that resolves, docstrings, and no Jupyter import in the core."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap

import pytest

import ollama_nb

JUPYTER_PREFIXES = ("IPython", "ipywidgets", "ipykernel", "jupyter_ui_poll", "nest_asyncio", "traitlets")


def test_all_is_sorted_and_without_duplicates() -> None:
    assert ollama_nb.__all__ == sorted(ollama_nb.__all__)
    assert len(set(ollama_nb.__all__)) == len(ollama_nb.__all__)


def test_every_name_in_all_resolves() -> None:
    for name in ollama_nb.__all__:
        assert getattr(ollama_nb, name, None) is not None, name


def test_every_public_class_and_function_is_in_all() -> None:
    public = {
        name
        for name, value in vars(ollama_nb).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith("ollama_nb")
    }
    assert public <= set(ollama_nb.__all__), public - set(ollama_nb.__all__)


def _own_docstring(obj: object) -> str:
    if inspect.isclass(obj):
        doc = vars(obj).get("__doc__") or ""
        # a dataclass without a docstring gets its signature as __doc__: not a docstring
        if doc.startswith(f"{obj.__name__}("):
            return ""
        return doc
    return getattr(obj, "__doc__", None) or ""


@pytest.mark.parametrize("name", ollama_nb.__all__)
def test_every_public_name_has_a_docstring(name: str) -> None:
    doc = _own_docstring(getattr(ollama_nb, name))
    assert doc.strip(), f"ollama_nb.{name} has no docstring of its own"


def test_the_package_has_a_docstring_and_a_version() -> None:
    assert ollama_nb.__doc__ and "Example" in ollama_nb.__doc__
    assert isinstance(ollama_nb.__version__, str) and ollama_nb.__version__


def test_importing_the_core_in_a_fresh_interpreter_loads_no_jupyter_module() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        import ollama_nb
        from ollama_nb import AsyncClient, Client, Session, Reply, Timing, get_session
        import ollama_nb.simulator
        Client("127.0.0.1:1")
        Session(model="llama3.2", host="127.0.0.1:1")
        print(json.dumps(sorted(sys.modules)))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(done.stdout)
    jupyter = [m for m in loaded if m.split(".")[0] in JUPYTER_PREFIXES]
    assert jupyter == [], jupyter
    assert "ollama_nb.client._client" in loaded and "httpx" in loaded
