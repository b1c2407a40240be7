"""A web page that streams a local model's answer as it is written: FastAPI + ollama_nb.

Run it against the simulator (or a real Ollama at OLLAMA_HOST) and open http://127.0.0.1:8000::

    python -m ollama_nb.simulator &                      # stands in for Ollama on 127.0.0.1:11434
    pip install fastapi uvicorn
    python examples/fastapi_sse.py                       # or: uvicorn --factory fastapi_sse:create_app

The endpoint is one line: ``StreamingResponse(reply.sse(), media_type="text/event-stream")``.
The one thing FastAPI needs for "close the page, Ollama stops": an *async* body iterator.
Uvicorn reports the disconnect, Starlette cancels the response, and the cancellation lands in
the iterator's ``await`` on Ollama, which closes the Ollama connection. ``AsyncReply.sse()`` is
an async generator; with the blocking ``Client`` in a ``def`` endpoint, ``Reply.sse()`` works
the same way (it is async-iterable; Starlette would only abandon a plain sync generator).

It listens on 127.0.0.1 only, and answers a request from another site's page (an ``Origin`` that is
not this server) with 403, so a page on the web cannot spend your model. To open it up, listen on
another address and name the pages allowed: ``ALLOWED_ORIGINS="https://my.site" python ...``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse

from ollama_nb import cross_origin, AsyncClient

PAGE = (Path(__file__).with_name("sse_page.html")).read_text(encoding="utf-8")


def create_app(host: str | None = None, model: str | None = None) -> FastAPI:
    """The app: ``/`` is the page, ``/stream?prompt=...`` the event stream."""
    client = AsyncClient(host)
    model_name = model or os.environ.get("OLLAMA_MODEL", "llama3.2")
    app = FastAPI()

    @app.middleware("http")
    async def same_origin_only(request: Request, call_next: Any) -> Response:
        allowed = os.environ.get("ALLOWED_ORIGINS", "").split()
        if cross_origin(request.headers.get("origin"), request.headers.get("host"), allowed):
            return PlainTextResponse("cross-origin requests are refused (see ALLOWED_ORIGINS)", status_code=403)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE

    @app.get("/stream")
    async def stream(prompt: str) -> StreamingResponse:
        reply = await client.chat(model_name, [{"role": "user", "content": prompt}])
        return StreamingResponse(reply.sse(), media_type="text/event-stream")

    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=8000)
