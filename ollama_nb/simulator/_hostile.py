"""A hostile server: every field a client may display carries an HTML/Markdown payload.

``Simulator(hostile=True)`` answers as a compromised or malicious Ollama would (``OLLAMA_HOST``
may point at a machine the user does not control): model names and families in ``/api/tags``,
every ``/api/show`` field, ``/api/ps`` entries, ``/api/pull`` status lines and digests, and every
``{"error": ...}`` body (HTTP and in-band) hold :data:`PAYLOAD`, and so does the first thinking
chunk of a reply. What stays untouched is what the protocol needs to work: the ``success`` status,
numbers, and the content of model replies (that carries HTML through the ``[[html]]`` prompt
directive instead).

Each payload that ran in a page would set ``window.__pwned``; a test asserts it stays undefined.

Example:
    >>> hostile_body("/api/tags", {"models": []})["models"][0]["name"].startswith("<img")
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["HOSTILE_MODEL", "MARKERS", "PAYLOAD", "hostile_body", "hostile_call", "hostile_line"]

#: What a hostile field holds: an event handler, a script, a javascript: link, a Markdown image,
#: raw HTML that survives naive Markdown escaping, and characters a table or code span would eat.
PAYLOAD = (
    "<img src=x onerror=\"window.__pwned=(window.__pwned||0)+1\">"
    "<script>window.__pwned=(window.__pwned||0)+1</script>"
    "<svg onload=\"window.__pwned=(window.__pwned||0)+1\"></svg>"
    " [x](javascript:window.__pwned=1) ![i](x\" onerror=\"window.__pwned=1) a|b `c` &amp; <b>bold</b>"
    " $\\href{javascript:window.__pwned=1}{math}$ \\(x\\)"
)
#: Substrings that must never reach a rendered page as live markup.
MARKERS = ("<img", "<script", "<svg", "onerror=", "onload=", "javascript:")
#: A model that only a hostile server lists (its name is a payload).
HOSTILE_MODEL = "<img src=x onerror=\"window.__pwned=1\">:latest"

_KEEP_STATUS = {"success"}


def _details(details: Any) -> dict[str, Any]:
    base = dict(details) if isinstance(details, dict) else {}
    base.update(family=PAYLOAD, families=[PAYLOAD], parameter_size=PAYLOAD, quantization_level=PAYLOAD)
    return base


def _hostile_model(template: dict[str, Any] | None = None) -> dict[str, Any]:
    entry = dict(template or {"size": 1_000_000, "digest": "0" * 64, "modified_at": "2026-01-01T00:00:00Z"})
    entry.update(name=HOSTILE_MODEL, model=HOSTILE_MODEL, digest=PAYLOAD, details=_details(entry.get("details")))
    return entry


def hostile_body(path: str, body: Any) -> Any:
    """The JSON body of ``path`` as a hostile server would send it."""
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if "error" in body:
        body["error"] = f"{body['error']} {PAYLOAD}"
        return body
    if path in ("/api/tags", "/api/ps") and isinstance(body.get("models"), list):
        models = [dict(m, details=_details(m.get("details"))) for m in body["models"]]
        extra = _hostile_model(models[0] if models else None)
        if path == "/api/ps":
            extra.setdefault("size_vram", extra.get("size", 0))
            extra["expires_at"] = PAYLOAD
        body["models"] = [extra, *models]
    elif path == "/api/show":
        body.update(
            license=PAYLOAD, modelfile=PAYLOAD, template=PAYLOAD,
            parameters=f"temperature 0.7\nstop \"{PAYLOAD}\"\nnum_ctx 2048",
            details=_details(body.get("details")),
            capabilities=[*(body.get("capabilities") or []), PAYLOAD],
        )  # fmt: skip
    elif path == "/api/pull" and body.get("status") not in _KEEP_STATUS:
        body["status"] = f"{body.get('status', '')} {PAYLOAD}"
        if "digest" in body:
            body["digest"] = PAYLOAD
    return body


def hostile_line(path: str, line: bytes, *, thinking: bool = False) -> bytes:
    """One NDJSON line: error lines (any endpoint) and pull progress lines get the payload; with
    ``thinking``, so does the thinking text of a chat or generate line."""
    from ._wire import go_json

    try:
        obj = json.loads(line)
    except ValueError:
        return line
    if not isinstance(obj, dict):
        return line
    message = obj.get("message")
    holder: dict[str, Any] = message if isinstance(message, dict) else obj
    if thinking and holder.get("thinking"):
        holder["thinking"] = f"{holder['thinking']} {PAYLOAD} "
    elif not ("error" in obj or path == "/api/pull"):
        return line
    return go_json(hostile_body(path, obj)) + (b"\n" if line.endswith(b"\n") else b"")


@dataclass
class _HostileWriter:
    """Wraps a ResponseWriter: lines written go through :func:`hostile_line`."""

    inner: Any
    path: str
    thought: bool = False

    def _rewrite(self, line: bytes) -> bytes:
        rewritten = hostile_line(self.path, line, thinking=not self.thought)
        self.thought = self.thought or (rewritten is not line and b'"thinking"' in line)
        return rewritten

    def write_line(self, line: bytes, flush: bool = True) -> bool:
        return bool(self.inner.write_line(self._rewrite(line), flush))

    def write_line_split(self, line: bytes, flush: bool = True) -> bool:
        return bool(self.inner.write_line_split(self._rewrite(line), flush))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def hostile_call(call: Any) -> Any:
    """``call`` answering as a hostile server: its JSON bodies and stream lines are rewritten."""
    from dataclasses import replace

    wrapped = replace(call, writer=_HostileWriter(call.writer, call.path))
    plain_send_json, plain_send_error = wrapped.send_json, wrapped.send_error

    def send_json(value: object, status: int = 200) -> None:
        plain_send_json(hostile_body(call.path, value), status)

    def send_error(status: int, message: str, *args: Any, **kwargs: Any) -> None:
        plain_send_error(status, f"{message} {PAYLOAD}", *args, **kwargs)

    object.__setattr__(wrapped, "send_json", send_json)
    object.__setattr__(wrapped, "send_error", send_error)
    return wrapped
