"""Shared pytest fixtures.

``simulator``: a running Ollama-protocol simulator on 127.0.0.1 (random port), full speed.

Example:
    def test_version(simulator):
        assert httpx.get(simulator.url + "/api/version").json()["version"]
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ollama_nb.simulator import Simulator


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """A fresh simulator per test: port 0, no token delay; stopped afterwards."""
    with Simulator(port=0) as sim:
        yield sim


# --- fixtures added by other modules' owners go below this line -----------------------

# -- the record: off for every test unless a test points OLLAMA_NB_DB at its own file.
# Set at import, so kernels that module-scoped fixtures start inherit it too. ONB_TEST_DB=PATH runs
# the suite with recording on (only tests that count /api/tags requests then differ).
import os  # noqa: E402

os.environ["OLLAMA_NB_DB"] = os.environ.get("ONB_TEST_DB", "off")


@pytest.fixture
def record_db(tmp_path, monkeypatch) -> Iterator[object]:
    """A fresh record file for this test (``OLLAMA_NB_DB`` points at it); yields its path."""
    path = tmp_path / "record.db"
    monkeypatch.setenv("OLLAMA_NB_DB", str(path))
    yield path
    from ollama_nb._record._store import _RECORDS

    for record in list(_RECORDS.values()):
        record.close()
    _RECORDS.clear()


# -- the HTTP transport under AsyncClient: transport-sensitive tests run on each one.
@pytest.fixture(params=["aiohttp", "h11"])
def async_transport(request, monkeypatch) -> str:
    """Every AsyncClient made in the test (sessions, batches, web apps too) reads with this transport."""
    monkeypatch.setenv("OLLAMA_NB_TRANSPORT", request.param)
    return request.param


@pytest.fixture(params=["urllib3", "h11"])
def sync_transport(request, monkeypatch) -> str:
    """Every blocking Client made in the test reads with this transport."""
    monkeypatch.setenv("OLLAMA_NB_TRANSPORT", request.param)
    return request.param
# -- the `slow` marker: `-m "not slow"` runs the core (real sockets, a real IPython shell) quickly.
# Whole files that start real kernels, browsers, terminals or other processes are slow; a test
# elsewhere may also be marked `@pytest.mark.slow` itself.
SLOW_FILES = frozenset({
    "test_kernel.py", "test_kernel_batch.py", "test_kernel_interrupts.py", "test_kernel_outputs.py",
    "test_record_kernel.py", "test_record_concurrency.py", "test_notebooks.py", "test_terminal.py",
    "test_terminal_output.py", "test_kernel_hostile.py", "test_kernel_live.py", "test_kernel_embed.py",
    "test_experiment_kernel.py", "test_conformance.py",
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_FILES or "browser" in item.path.parts:
            item.add_marker(pytest.mark.slow)


# -- IPython and kernels set up for the magics: one place, so every test file starts the same way.
def magics_setup(simulator: Simulator, model: str = "llama3.2") -> str:
    """The code a kernel runs to use ollama_nb against ``simulator`` (a fresh default session)."""
    return (
        "%load_ext ollama_nb\nfrom ollama_nb._session import forget_sessions\n"
        f'%config OllamaMagics.host = "{simulator.url}"\n'
        f'%config OllamaMagics.model = "{model}"\n'
        "forget_sessions()"
    )


@pytest.fixture
def magics_shell(simulator: Simulator) -> Iterator[object]:
    """An IPython shell with ollama_nb loaded, talking to ``simulator`` with model llama3.2, no
    system prompt, options or named sessions left from another test (forgotten before and after)."""
    from IPython.core.interactiveshell import InteractiveShell

    from ollama_nb._session import forget_sessions

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "ollama_nb")
    magics = shell.magics_manager.registry["OllamaMagics"]
    magics.host, magics.model, magics.system, magics.options = simulator.url, "llama3.2", "", {}
    magics.db, magics.cache, magics.hosts = "", False, ""
    forget_sessions()
    yield shell
    shell.user_ns.pop("__session__", None)
    shell.run_line_magic("unload_ext", "ollama_nb")
    forget_sessions()
