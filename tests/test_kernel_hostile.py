"""A hostile server in a real kernel (ipykernel 6 and 7): the cell shows the answer so far, the footer
says *error*, the error is one short line with no traceback, no Stop button is left behind, the turn
is recorded as ``error`` — and the kernel goes on. The server is a raw socket on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from hostile_server import HostileServer, Request, chunked, headers, ndjson
from kernel_client import WIDGET_VIEW, KernelSession
from test_kernel import assert_short_error, footer_of, kernel, kernel_name, running_kernel, shown_text  # noqa: F401

HELLO = {"model": "llama3.2", "response": "Hello so far", "done": False}  # %%ollama asks /api/generate

Send = Callable[[bytes], None]


def json_answer(send: Send, obj: Any) -> None:
    send(headers(content_type="application/json"))
    send(chunked(json.dumps(obj).encode()))
    send(chunked(b""))


def hostile(answer_body: Callable[[Send], None]) -> Callable[[Request, Send], None]:
    """A server that answers the model endpoints plainly and ``/api/generate`` with ``answer_body``."""

    def script(request: Request, send: Send) -> None:
        if request.path == "/api/generate":
            send(headers())
            answer_body(send)
            send(chunked(b""))
        elif request.path == "/api/tags":
            json_answer(send, {"models": [{"name": "llama3.2:latest", "digest": "ab" * 32}]})
        elif request.path == "/api/version":
            json_answer(send, {"version": "0.13.0"})
        else:
            json_answer(send, {})

    return script


def wrong_type(send: Send) -> None:
    send(chunked(ndjson(HELLO, {"model": "llama3.2", "response": ["not", "a", "string"], "done": False})))


def html_page(send: Send) -> None:
    for line in [b"<!DOCTYPE html>\n"] + [b"<p>a proxy's error page</p>\n"] * 2000:
        send(chunked(line))


def endless_line(send: Send) -> None:
    send(chunked(ndjson(HELLO)))
    piece = b"x" * (1 << 20)
    for _ in range(20):
        send(chunked(piece))


CASES = {
    "wrong type": (wrong_type, "MalformedReplyError", True),
    "html page": (html_page, "MalformedReplyError", False),
    "line too long": (endless_line, "LineTooLongError", True),
}


@pytest.fixture
def record(kernel: KernelSession, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "record.db"
    # the suite runs with OLLAMA_NB_DB=off, which wins over the setting; the setting makes the session look again
    kernel.check(f"import os\nos.environ['OLLAMA_NB_DB'] = {str(path)!r}\n%config OllamaMagics.db = {str(path)!r}")
    yield path
    kernel.check("import os\nos.environ['OLLAMA_NB_DB'] = 'off'\n%config OllamaMagics.db = ''")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("case", list(CASES))
def test_an_odd_server_fails_the_cell_with_one_short_error_and_keeps_the_text(
    kernel: KernelSession, record: Path, case: str
) -> None:
    body, ename, has_text = CASES[case]
    with HostileServer(hostile(body)) as server:
        run = kernel.run(f"%%ollama --host {server.url}\nhi", timeout=60)
        url = server.url
    error = assert_short_error(run, ename)
    if case == "html page":
        assert url in "\n".join(error["traceback"])  # names the host
        assert "MalformedLineWarning" not in run.stdout + json.dumps(run.outputs)  # one error, no warning per line
    if has_text:
        assert "Hello so far" in shown_text(run.outputs)
    assert footer_of(run.outputs)["metadata"]["ollama_nb"]["error"]
    assert not [o for o in run.outputs if WIDGET_VIEW in o.get("data", {}) and "text/markdown" not in o["data"]]
    statuses = [row[0] for row in sqlite3.connect(record).execute("SELECT status FROM turns")]
    assert statuses == ["error"]
    assert kernel.check('print("next ran")').stdout == "next ran\n"


@pytest.mark.timeout(60)
def test_non_finite_statistics_show_no_nan_in_the_footer(kernel: KernelSession) -> None:
    def nan_stats(send: Send) -> None:
        send(chunked(ndjson(HELLO)))
        send(chunked(b'{"model":"llama3.2","response":"","done":true,'
                     b'"done_reason":"stop","eval_count":NaN,"eval_duration":Infinity,"prompt_eval_count":1e999}\n'))

    with HostileServer(hostile(nan_stats)) as server:
        run = kernel.run(f"%%ollama --host {server.url}\nhi", timeout=30)
    assert run.reply["status"] == "ok", run.reply
    footer = footer_of(run.outputs)
    shown = json.dumps(footer).lower()
    assert "nan" not in shown.replace("ollama_nb", "") and "infinity" not in shown
