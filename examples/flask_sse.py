"""A web page that streams a local model's answer as it is written: Flask + ollama_nb.

Run it against the simulator (or a real Ollama at OLLAMA_HOST) and open http://127.0.0.1:5000::

    python -m ollama_nb.simulator &                      # stands in for Ollama on 127.0.0.1:11434
    pip install flask
    python examples/flask_sse.py

The endpoint is one line: ``Response(reply.sse(), mimetype="text/event-stream")``.
The one thing Flask needs for "close the page, Ollama stops": nothing but a server that streams
(werkzeug's, gunicorn's): when writing to the gone page fails it calls the generator's
``close()``, whose ``finally`` closes the Ollama connection. A write fails at the next event
or the one after, so while Ollama is silent (loading the model) it is noticed at the first token.
Run it threaded (the default of ``app.run``): each open stream holds a worker.

It listens on 127.0.0.1 only, and answers a request from another site's page (an ``Origin`` that is
not this server) with 403, so a page on the web cannot spend your model. To open it up, listen on
another address and name the pages allowed: ``ALLOWED_ORIGINS="https://my.site" python ...``.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, abort, request

from ollama_nb import cross_origin, Client

PAGE = (Path(__file__).with_name("sse_page.html")).read_text(encoding="utf-8")


def create_app(host: str | None = None, model: str | None = None) -> Flask:
    """The app: ``/`` is the page, ``/stream?prompt=...`` the event stream."""
    client = Client(host)
    model_name = model or os.environ.get("OLLAMA_MODEL", "llama3.2")
    app = Flask(__name__)

    @app.before_request
    def same_origin_only() -> None:
        allowed = os.environ.get("ALLOWED_ORIGINS", "").split()
        if cross_origin(request.headers.get("Origin"), request.headers.get("Host"), allowed):
            abort(403)

    @app.get("/")
    def page() -> str:
        return PAGE

    @app.get("/stream")
    def stream() -> Response:
        reply = client.chat(model_name, [{"role": "user", "content": request.args.get("prompt", "")}])
        return Response(reply.sse(), mimetype="text/event-stream")

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=5000, threaded=True)
