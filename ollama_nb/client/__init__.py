"""Talking to an Ollama server: the clients, the requests they send and the streaming replies.

No Jupyter and no pandas at import; everything above the client (session, record, batch, view,
magics) imports it from here.

Module map (read in this order):

- ``_client``      :class:`Client` and :class:`AsyncClient`, twins: ``reply(request)`` returns a
  lazy reply; the model endpoints (list, show, ps, pull, version, embed); retries.
- ``_request``     :class:`Request`, :class:`ChatRequest`, :class:`GenerateRequest`: what is asked,
  its wire body built in one place.
- ``_reply``       :class:`Reply` and :class:`AsyncReply`: the stream's IO (reading, stopping from
  another thread); ``_reply_state`` holds what the two share (:class:`Chunk`, :class:`BaseReply`);
  ``_rounds`` is the tool-round loop a chat reply runs (:class:`ToolRounds`).
- ``_release``     releasing a blocking reply's connection, also from a finaliser.
- ``_protocol``    the HTTP contract: which failures are retried, status codes to errors.
- ``_body``, ``_ndjson``  reading a body under a bound; NDJSON lines to JSON objects.
- ``_sse``         a reply re-streamed as Server-Sent Events for a web page.
- ``_transport``   which HTTP transport a client reads with; ``_aiohttp`` and ``_urllib3`` are
  the two under httpx, imported only when chosen.
- ``_host``        where Ollama lives (``OLLAMA_HOST``) and the API key rules.
- ``_catalog``     what the model endpoints answer; ``_embed`` what ``/api/embed`` answers.

The one exception tree stays at the top, in ``ollama_nb._errors``: everything imports it.

Example:
    >>> from ollama_nb.client import Client, ChatRequest
    >>> reply = Client().reply(ChatRequest(model="llama3.2", messages=[]))   # doctest: +SKIP
"""

from __future__ import annotations

from ._catalog import ModelDetails, ModelSummary, PullProgress, RunningModel
from ._client import AsyncClient, Client
from ._embed import Embeddings
from ._host import resolve_host
from ._reply import AsyncOpener, AsyncReply, BeforeSend, Opener, Reply, running_loop
from ._reply_state import BaseReply, Chunk
from ._request import ChatRequest, GenerateRequest, Request
from ._sse import cross_origin

__all__ = [
    "AsyncClient",
    "AsyncOpener",
    "AsyncReply",
    "BaseReply",
    "BeforeSend",
    "ChatRequest",
    "Chunk",
    "Client",
    "Embeddings",
    "GenerateRequest",
    "ModelDetails",
    "ModelSummary",
    "Opener",
    "PullProgress",
    "Reply",
    "Request",
    "RunningModel",
    "cross_origin",
    "resolve_host",
    "running_loop",
]
