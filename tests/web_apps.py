"""The example web apps of ``examples/`` served for real, in threads on 127.0.0.1, in front of the simulator.

    with serve("flask", simulator) as base:          # "fastapi", "fastapi-sync" or "flask"
        events = parse_events(httpx.get(base + "/stream", params={"prompt": "hi"}).content)

fastapi, uvicorn and flask come with the ``test`` extra: missing, they fail the import (no skip).
"""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from werkzeug.serving import make_server

from ollama_nb import Client
from ollama_nb.simulator import Simulator

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # connections wait in the backlog until the server accepts: no start-up race
    return sock


@contextmanager
def _uvicorn(app: Any) -> Iterator[str]:
    sock = _listening_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def _werkzeug(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _fastapi_with_blocking_client(host: str, model: str) -> Any:
    """FastAPI with a plain ``def`` endpoint and the blocking Client: ``Reply.sse()`` must do as well."""
    client = Client(host)
    app = FastAPI()

    @app.get("/stream")
    def stream(prompt: str) -> StreamingResponse:
        reply = client.chat(model, [{"role": "user", "content": prompt}])
        return StreamingResponse(reply.sse(), media_type="text/event-stream")

    return app


@contextmanager
def serve(framework: str, simulator: Simulator, model: str = "llama3.2") -> Iterator[str]:
    """The example app of ``framework`` in front of the simulator; yields its base URL.

    ``fastapi-sync`` is FastAPI with the blocking client (no page, only ``/stream``).
    """
    if framework == "fastapi":
        with _uvicorn(_example("fastapi_sse").create_app(simulator.url, model)) as url:
            yield url
    elif framework == "fastapi-sync":
        with _uvicorn(_fastapi_with_blocking_client(simulator.url, model)) as url:
            yield url
    else:
        with _werkzeug(_example("flask_sse").create_app(simulator.url, model)) as url:
            yield url


def parse_events(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Strict reading of the stream: blocks end with a blank line, one ``data:`` line of JSON each."""
    assert body.endswith(b"\n\n"), body[-80:]
    events = []
    for block in body[:-2].split(b"\n\n"):
        lines = block.decode("utf-8").split("\n")
        kind = "message"
        if lines[0].startswith("event: "):
            kind = lines.pop(0)[len("event: ") :]
        assert len(lines) == 1 and lines[0].startswith("data: "), block
        events.append((kind, json.loads(lines[0][len("data: ") :])))
    return events


