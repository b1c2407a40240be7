"""The tutorial notebooks run top to bottom, headless, against the simulator, with no error output.

Each notebook in notebooks/ runs in a fresh kernel under nbclient (kernelspec ``onb-k7``, which
scripts/test.sh registers; ``python3`` when it is missing). The kernel inherits OLLAMA_HOST, set
here to the ``simulator`` fixture: the notebooks name no host of their own, so the simulator
receiving their requests proves it. The committed copies are checked as they are saved: executed in
order, with no error output, without this checkout's path, and readable on GitHub (stdout in one
piece per cell, as JupyterLab saves it, and no state of widgets that were closed).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from ollama_nb.simulator import Simulator

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DATA = ROOT / "notebooks" / "data"
KERNEL = "onb-k7"
#: Seconds any one cell may take against the full-speed simulator (the slowest waits about 1 s).
CELL_TIMEOUT = 60
#: A code cell that picks its own server instead of OLLAMA_HOST (a host string literal).
HARD_CODED_HOST = re.compile(r"""(Client|Session)\(\s*(host\s*=\s*)?["']|host\s*=\s*["']|OllamaMagics\.host\s*=""")


def _kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else "python3"


def _errors(nb: Any) -> list[str]:
    """One line per error output, or stderr text of a failure (IPython prints a UsageError there)."""
    found = []
    for index, cell in enumerate(nb.cells):
        first_line = (cell.source.strip().splitlines() or [""])[0]
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {index} {first_line[:60]!r}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("name") == "stderr" and re.search(r"UsageError|Traceback", output.get("text", "")):
                found.append(f"cell {index} {first_line[:60]!r}: {output['text'].strip()[:200]}")
    return found


def _code_cells(nb: Any) -> list[Any]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_the_tutorials_are_numbered_from_01_without_gaps() -> None:
    numbers = [int(path.name[:2]) for path in NOTEBOOKS if re.match(r"^\d\d-[a-z0-9-]+\.ipynb$", path.name)]
    assert len(numbers) == len(NOTEBOOKS) >= 4, [path.name for path in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom_against_the_simulator_without_error_output(
    path: Path, simulator: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", simulator.url)  # the kernel inherits this environment
    monkeypatch.setenv("OLLAMA_NB_DB", str(tmp_path.parent / f"{path.stem}-record.db"))  # a record of its own
    if DATA.is_dir():  # the data files shipped beside the notebooks (notebook 5 reads a CSV)
        shutil.copytree(DATA, tmp_path / DATA.name)
    shipped = sorted(tmp_path.rglob("*"))
    nb = nbformat.read(path, as_version=4)
    failed: list[str] = []

    def check_reply(cell: Any, cell_index: int, execute_reply: Any) -> None:
        # A UsageError (bad magic arguments) prints to stderr and leaves no error output,
        # but its execute reply still says "error".
        if execute_reply and execute_reply["content"].get("status") == "error":
            failed.append(f"cell {cell_index} {cell.source.splitlines()[0][:60]!r}: {execute_reply['content'].get('ename')}")

    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=_kernel_name(),
        allow_errors=True,  # collect every failure instead of stopping at the first
        store_widget_state=False,
        on_cell_executed=check_reply,
        resources={"metadata": {"path": str(tmp_path)}},  # files a notebook writes land here
    )
    client.execute()
    assert not _errors(nb), "\n".join(_errors(nb))
    assert not failed, "\n".join(failed)
    unexecuted = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and cell.execution_count is None]
    assert not unexecuted, f"cells {unexecuted} did not run"
    assert any(r.path in ("/api/generate", "/api/chat", "/api/embed") for r in simulator.requests), (
        "the notebook never reached the simulator at OLLAMA_HOST"
    )
    assert sorted(tmp_path.rglob("*")) == shipped, "the notebook left files behind"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_notebook_was_executed_in_order_and_holds_no_error_output(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    counts = [cell.execution_count for cell in _code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), f"run it with scripts/run_notebooks.py; counts: {counts}"
    assert not _errors(nb), "\n".join(_errors(nb))
    assert any(cell.outputs for cell in _code_cells(nb)), "the notebook was saved without outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_notebook_names_no_host_and_no_local_path(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    pinned = [cell.source.splitlines()[0] for cell in _code_cells(nb) if HARD_CODED_HOST.search(cell.source)]
    assert not pinned, f"cells that choose a host instead of OLLAMA_HOST: {pinned}"
    text = json.dumps(nb)
    assert str(ROOT) not in text, "an output shows this checkout's path"
    home = str(Path.home())
    if home not in ("", "/"):
        assert home + "/" not in text, "an output shows a home directory"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_notebook_reads_as_jupyterlab_saves_it(path: Path) -> None:
    # GitHub and nbconvert show every stream output as its own block: a reply printed chunk by
    # chunk would read one token per line. nbclient's coalesce_streams merges them, as JupyterLab
    # does on save; the Stop button's widgets are closed when a reply ends, so no state is kept.
    nb = nbformat.read(path, as_version=4)
    split = [
        (cell.source.splitlines() or [""])[0]
        for cell in _code_cells(nb)
        if len([o for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"]) > 1
    ]
    assert not split, f"stdout in pieces (run with coalesce_streams=True): {split}"
    assert "widgets" not in nb.metadata, "state of closed widgets was saved (run with store_widget_state=False)"
