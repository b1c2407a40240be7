"""Every magic and subcommand against a hostile server, a hostile model and a hostile tool: no
``text/markdown`` or ``text/html`` output holds live markup (checked through JupyterLab's own
Markdown pipeline). In a real IPython shell, then in a real kernel (where the streaming view, the
side-by-side columns and the pull progress widgets are used)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from ollama_nb.simulator import Simulator
from ollama_nb.simulator._hostile import HOSTILE_MODEL, PAYLOAD

from untrusted import FAILING, RAW_TAG, TOOL_CALL, bundles_of, hostile_cells, ollama_shell, problems_in

@pytest.fixture
def hostile() -> Iterator[Simulator]:
    with Simulator(hostile=True, pull_seconds=0.0) as sim:
        yield sim


@pytest.fixture
def ip(hostile: Simulator) -> Iterator[InteractiveShell]:
    with ollama_shell(hostile.url) as shell:
        yield shell


def test_every_magic_and_subcommand_in_a_shell_shows_hostile_text_inert(ip: InteractiveShell, tmp_path: Path) -> None:
    save_path = tmp_path / "<img src=x onerror=alert(1)> `a|b`.json"
    bundles: list[dict[str, Any]] = []
    results = {}
    for source in hostile_cells(str(save_path).replace(" ", "\\ ")):
        with capture_output() as captured:
            results[source] = ip.run_cell(source)
        bundles += bundles_of(captured.outputs)
        result = results[source].result
        if hasattr(result, "_repr_html_"):  # %ollama timings: a DataFrame
            bundles.append({"text/html-table": result._repr_html_()})
    failed = [s for s, r in results.items() if not r.success]
    assert failed == FAILING
    shown = "\n".join(b.get("text/plain", "") for b in bundles)
    for hostile_text in (HOSTILE_MODEL, "second | line", TOOL_CALL, "pulling manifest <img"):
        assert hostile_text in shown  # it was shown (as text), not dropped
    assert save_path.exists()
    assert problems_in(bundles) == {}
    tables = [b["text/html-table"] for b in bundles if "text/html-table" in b]
    assert len(tables) == 1 and "&lt;img" in tables[0] and RAW_TAG.findall(tables[0]) == []


# -- in a real kernel ------------------------------------------------------------------------------
#: Each kernel line once (one kernel start each); pandas is installed beside ipykernel 7 only, so
#: ``%ollama timings`` is a DataFrame (an HTML table) there and a list of rows on ipykernel 6.
@pytest.mark.parametrize(("kernel_name", "dataframes"), [("onb-k6", 0), ("onb-k7", 1)])
def test_every_magic_and_subcommand_in_a_kernel_shows_hostile_text_inert(
    hostile: Simulator, tmp_path: Path, kernel_name: str, dataframes: int
) -> None:
    from kernel_client import KernelSession

    save_path = tmp_path / "<img src=x onerror=alert(1)>.json"
    setup = f'%load_ext ollama_nb\n%config OllamaMagics.host = "{hostile.url}"\n%config OllamaMagics.model = "llama3.2"'
    messages = []
    with KernelSession(kernel_name) as kernel:
        kernel.check(setup)
        for source in hostile_cells(str(save_path).replace(" ", "\\ ")):
            messages += kernel.run(source, timeout=60).messages
    kinds = {m["msg_type"] for m in messages}
    assert {"display_data", "update_display_data", "error", "comm_open"} <= kinds
    bundles = [m["content"]["data"] for m in messages if m["msg_type"] in ("display_data", "update_display_data", "execute_result")]
    assert sum(1 for b in bundles if "text/html" in b) >= 1 + dataframes  # side-by-side columns, timings table
    assert problems_in([b for b in bundles if "text/html" not in b or "dataframe" not in b["text/html"]]) == {}
    tables = [b["text/html"] for b in bundles if "dataframe" in b.get("text/html", "")]
    assert len(tables) == dataframes and [t for t in tables if RAW_TAG.search(t)] == []
    # the pull label is an HTML widget (innerHTML): every value it was given is escaped text
    states = [m["content"]["data"].get("state", {}) for m in messages if m["msg_type"] in ("comm_open", "comm_msg")]
    labels = [s["value"] for s in states if isinstance(s.get("value"), str) and s["value"]]
    assert any("&lt;img" in v for v in labels)
    assert [v for v in labels if RAW_TAG.search(v)] == []
    # errors are text outputs (rendered as text): the server's error body is in them, as text
    errors = ["\n".join(m["content"]["traceback"]) for m in messages if m["msg_type"] == "error"]
    assert len(errors) == 2 and all("<img" in e for e in errors)
    assert json.dumps(messages, default=str).count("window.__pwned") > 10  # the payloads did reach the kernel


# -- a record from elsewhere and a hostile server's redirects and sign-in links ---------------------
EVIL = "<img src=x onerror=window.__pwned=1> [link](javascript:alert(1)) | cell"


def test_a_hostile_record_is_shown_inert_by_log_resume_and_export(
    ip: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ollama_nb._record import Record, RecordedTurn
    from ollama_nb._record._store import _RECORDS

    path = tmp_path / "record.db"
    record = Record(path)  # a record file from somewhere else: every field is someone else's text
    record.add(RecordedTurn(host=f"http://{EVIL}", endpoint="chat", model=EVIL, prompt=EVIL, text=EVIL, session="evil",
                            conversation="c", system=EVIL, status="done"))
    record.close()
    monkeypatch.setenv("OLLAMA_NB_DB", str(path))
    magics = ip.magics_manager.registry["OllamaMagics"]
    magics.db = str(path)
    bundles: list[dict[str, Any]] = []
    try:
        cells = ("%ollama log", "%ollama log --search onerror", "%ollama resume evil", "%ollama history --session evil")
        for source in cells:
            with capture_output() as captured:
                assert ip.run_cell(source).success, source
            bundles += bundles_of(captured.outputs)
    finally:
        magics.db = ""
        for opened in list(_RECORDS.values()):
            opened.close()
        _RECORDS.clear()
    assert "window.__pwned" in "\n".join(b.get("text/plain", "") for b in bundles)  # shown, as text
    assert any("host" in b.get("text/markdown", "") for b in bundles)  # the log's host column
    assert problems_in(bundles) == {}


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 302 Found\r\nLocation: javascript:alert(1)//<img src=x onerror=alert(1)>\r\nContent-Length: 0\r\n",
        b'HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 89\r\n\r\n'
        b'{"error": "<b>no</b>", "signin_url": "https://evil.example/<img src=x onerror=alert(1)>"}',
    ],
    ids=["redirect", "signin"],
)
def test_redirect_and_signin_text_from_a_server_is_shown_inert(ip: InteractiveShell, answer: bytes) -> None:
    from hostile_server import HostileServer

    head, _, body = answer.partition(b"\r\n\r\n")
    raw = head + b"\r\nConnection: close\r\n\r\n" + body if body else head + b"Connection: close\r\n\r\n"
    with HostileServer(lambda request, send: send(raw)) as server:
        ip.magics_manager.registry["OllamaMagics"].host = server.url
        with capture_output() as captured:
            result = ip.run_cell("%%ollama\nhi")
    assert not result.success
    bundles = bundles_of(captured.outputs)
    shown = captured.stdout + captured.stderr + "\n".join(b.get("text/plain", "") for b in bundles)
    assert "redirect to" in shown or ("asked to sign in at" in shown and "onerror" in shown)
    assert "open https://evil" not in shown
    assert problems_in(bundles) == {}
