"""Routes and the small endpoints: /, /api/version, /api/tags, /api/ps, /api/status, /api/show, /api/pull.

/api/chat and /api/generate live in ``_generation``; /api/embed and /api/embeddings in
``_embed``. Unknown paths answer gin's
``404 page not found``; a known path with the wrong method ``405 method not allowed``.

Example:
    >>> sorted(ROUTES["/api/tags"])
    ['GET', 'HEAD']
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ._binding import RequestError, bind
from ._cloud import status_body
from ._embed import embed, embeddings
from ._exchange import JSON, Call
from ._generation import chat, generate
from ._wire import go_json

__all__ = ["ROUTES", "Call", "handle"]

# The Ollama release whose behaviour the simulator copies (the wire fixtures were read at v0.33.0-rc2); the
# X-Ollama-Simulator header on every answer says it is the simulator. A "0.0.0-…" version failed any
# minimum-version check a client makes (ollama_nb's logprobs view needs 0.12.11+).
VERSION = "0.33.0"
TEXT = "text/plain; charset=utf-8"


def _root(call: Call) -> None:
    call.writer.send_body(200, b"Ollama is running", TEXT, call.head_only)


def _version(call: Call) -> None:
    call.send_json({"version": VERSION})


def _tags(call: Call) -> None:
    call.send_json(call.state.shelf.tags())


def _ps(call: Call) -> None:
    call.send_json(call.state.shelf.ps())


def _status(call: Call) -> None:
    call.send_json(status_body(call.state.gate.cloud_disabled))


def _show(call: Call) -> None:
    body = bind(call.raw, "ShowRequest")
    name = body.get("model") or body.get("name") or ""
    if not name:
        raise RequestError(400, "model is required")
    call.state.gate.check_cloud(name, stream=False, show=True)
    if not call.state.shelf.exists(name):
        raise RequestError(404, f"model '{name}' not found")
    call.send_json(call.state.shelf.show(name))


def _pull_lines(call: Call, name: str) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = [{"status": "pulling manifest"}]
    for index, (digest, total) in enumerate(call.state.shelf.layer_digests(name)):
        status = "pulling " + digest[7:19]
        lines.append({"status": status, "digest": digest, "total": total})
        steps = 24 if index == 0 else 1
        for step in range(1, steps + 1):
            done = total if step == steps else min(total, (total * step // steps) // 1048576 * 1048576 or 1048576)
            lines.append({"status": status, "digest": digest, "total": total, "completed": done})
    lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
    return lines


def _pull(call: Call) -> None:
    body = bind(call.raw, "PullRequest")
    name = body.get("model") or body.get("name") or ""
    if not name:
        raise RequestError(400, "invalid model name")
    stream = body.get("stream") is not False
    writer = call.writer
    if not call.state.shelf.exists(name):
        missing = "pull model manifest: file does not exist"
        if not stream:
            raise RequestError(500, missing)
        writer.start_stream()
        if writer.write_line(b'{"status":"pulling manifest"}\n') and writer.write_line(
            go_json({"error": missing}) + b"\n"
        ):
            writer.end_stream()
        return
    lines = _pull_lines(call, name)
    delay = max(call.state.pull_seconds, 0.0) / max(len(lines) - 1, 1)
    if stream:
        writer.start_stream()
    deadline = time.monotonic()
    for index, line in enumerate(lines):
        if index and delay:
            deadline += delay
            if not writer.pause_until(deadline):
                return
        if stream and not writer.write_line(go_json(line) + b"\n"):
            return
    call.state.shelf.add_pulled(name)
    if stream:
        writer.end_stream()
    else:
        call.send_json({"status": "success"})


ROUTES: dict[str, dict[str, Callable[[Call], None]]] = {
    "/": {"GET": _root, "HEAD": _root},
    "/api/version": {"GET": _version, "HEAD": _version},
    "/api/tags": {"GET": _tags, "HEAD": _tags},
    "/api/ps": {"GET": _ps},
    "/api/status": {"GET": _status},
    "/api/show": {"POST": _show},
    "/api/pull": {"POST": _pull},
    "/api/chat": {"POST": chat},
    "/api/generate": {"POST": generate},
    "/api/embed": {"POST": embed},
    "/api/embeddings": {"POST": embeddings},
}


def handle(call: Call) -> None:
    """Answer one request: route it, turn RequestError into an error body."""
    methods = ROUTES.get(call.path)
    if methods is None:
        call.writer.send_body(404, b"404 page not found", "text/plain", call.head_only)
        return
    endpoint = methods.get(call.method)
    if endpoint is None:
        call.writer.send_body(405, b"405 method not allowed", "text/plain", call.head_only)
        return
    if getattr(call.state, "hostile", False):  # Simulator(hostile=True): see _hostile
        from ._hostile import hostile_call

        call = hostile_call(call)
    try:
        call.state.gate.check_key(call.path, call.authorization)
        endpoint(call)
    except RequestError as exc:
        call.send_error(exc.status, exc.message, exc.extra, exc.content_type or JSON)
