"""Which HTTP transport a client reads with: the ``transport=`` setting and ``OLLAMA_NB_TRANSPORT``.

httpx is the API of both clients; the transport under it is chosen here:

- ``"aiohttp"`` (:class:`~ollama_nb.AsyncClient`'s default): aiohttp's C HTTP parser under httpx
  (:mod:`ollama_nb.client._aiohttp`), about half the CPU per token of h11 on a token-by-token stream;
- ``"urllib3"`` (:class:`~ollama_nb.Client`'s default): urllib3 and ``http.client`` under httpx
  (:mod:`ollama_nb.client._urllib3`), the wire ``requests`` reads with, likewise about half of h11's CPU;
- ``"h11"``: httpx's own transport (httpcore + h11, pure Python), for both clients, and the
  fallback when the faster one is not installed;
- ``"auto"``: the fastest one available for that client;
- any ``httpx.BaseTransport`` / ``httpx.AsyncBaseTransport`` object: passed to httpx as it is
  (``httpx.MockTransport`` in a unit test, a proxy or retrying transport of your own).

``OLLAMA_NB_TRANSPORT=h11`` (or ``aiohttp``, ``urllib3``) sets the default for every client made
without ``transport=`` (the sessions, the batch, ``%%ollama``); a name the client cannot use
(``aiohttp`` for the blocking client) means ``auto`` for it.

Example:
    >>> transport_name("h11", asynchronous=True)
    'h11'
    >>> transport_name("h11", asynchronous=False)
    'h11'
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import threading
from typing import Any, Callable, Iterator, Literal, Union

import httpx

from .._errors import OllamaError

__all__ = [
    "ENV_VAR",
    "TRANSPORTS",
    "WAITING_SOCKET_EVENT",
    "Transport",
    "TransportName",
    "chosen_transport",
    "trace_waiting_socket",
    "transport_name",
    "waiting_socket_to",
]

ENV_VAR = "OLLAMA_NB_TRANSPORT"
TransportName = Literal["auto", "aiohttp", "urllib3", "h11"]
#: What ``transport=`` accepts: a name, or a transport object handed to httpx as it is.
Transport = Union[TransportName, str, httpx.BaseTransport, httpx.AsyncBaseTransport, None]
#: The names each kind of client can read with, fastest first.
TRANSPORTS: dict[bool, tuple[str, ...]] = {True: ("aiohttp", "h11"), False: ("urllib3", "h11")}


def transport_name(name: str | None, *, asynchronous: bool) -> str:
    """The transport a client uses for ``name`` (None: ``OLLAMA_NB_TRANSPORT``, else ``auto``).

    Raises :class:`~ollama_nb.OllamaError` for a name no client knows, or one this client cannot use.
    """
    from_env = name is None
    wanted = (name if name is not None else os.environ.get(ENV_VAR) or "auto").strip().lower()
    usable = TRANSPORTS[asynchronous]
    if wanted not in ("auto", *TRANSPORTS[True], *TRANSPORTS[False]):
        where = f"{ENV_VAR}={wanted!r}" if from_env else f"transport={wanted!r}"
        raise OllamaError(f"unknown HTTP transport {where}.\nUse one of: auto, {', '.join(TRANSPORTS[True])}.")
    if wanted not in usable:
        if not from_env and wanted != "auto":
            kind = "AsyncClient" if asynchronous else "Client"
            raise OllamaError(f"{kind} cannot read with transport={wanted!r}.\nUse one of: auto, {', '.join(usable)}.")
        wanted = "auto"
    if wanted == "auto":
        return next(n for n in usable if n == "h11" or importlib.util.find_spec(n) is not None)
    return wanted


def chosen_transport(setting: Transport, *, asynchronous: bool, verify: bool) -> tuple[str, Any]:
    """The name and the transport object for a client (None: httpx's own, h11).

    ``asynchronous`` for an :class:`~ollama_nb.AsyncClient`, which needs an ``httpx.AsyncBaseTransport``.
    """
    kind, wanted, other = (
        ("AsyncClient", httpx.AsyncBaseTransport, httpx.BaseTransport)
        if asynchronous
        else ("Client", httpx.BaseTransport, httpx.AsyncBaseTransport)
    )
    if isinstance(setting, wanted):
        return type(setting).__name__, setting
    if isinstance(setting, other):
        raise OllamaError(f"{kind} needs an httpx.{wanted.__name__}, not an httpx.{other.__name__}.")
    if setting is not None and not isinstance(setting, str):
        raise OllamaError(f"{kind} takes a transport name or an httpx.{wanted.__name__}, not {type(setting).__name__}.")
    name = transport_name(setting, asynchronous=asynchronous)
    # imported here, when a client picks them: importing aiohttp takes about twice as long as httpx
    if name == "aiohttp":
        from ._aiohttp import AiohttpTransport

        return name, AiohttpTransport(verify=verify)
    if name == "urllib3":
        from ._urllib3 import Urllib3Transport

        return name, Urllib3Transport(verify=verify)
    return name, None


# -- the socket a blocking request waits on ------------------------------------------------------------
#: The trace event the urllib3 transport sends with ``{"socket": sock}`` before it waits for an
#: answer's headers (a pooled connection too); h11's transport reports a new connection's stream
#: as ``"connection.connect_tcp.complete"``.
WAITING_SOCKET_EVENT = "http11.receive_response_headers.socket"

_waiting = threading.local()  # where this thread's request hands its socket, while a reply sends


@contextlib.contextmanager
def waiting_socket_to(sink: Callable[[socket.socket], None]) -> Iterator[None]:
    """While the block runs, the socket a request of this thread waits on goes to ``sink``.

    So that a blocking reply stopped from another thread can close its connection before the
    answer's first byte (a model still loading), when there is no response object to close yet.

    Example:
        >>> with waiting_socket_to(print):
        ...     pass
    """
    previous = getattr(_waiting, "sink", None)
    _waiting.sink = sink
    try:
        yield
    finally:
        _waiting.sink = previous


def trace_waiting_socket(event: str, info: dict[str, Any]) -> None:
    """httpx's ``trace`` extension for a blocking client's requests: hands the socket to the sink.

    Example:
        >>> trace_waiting_socket("http11.send_request_headers.started", {})  # other events: nothing
    """
    sink = getattr(_waiting, "sink", None)
    if sink is None:
        return
    sock: Any = None
    if event == WAITING_SOCKET_EVENT:
        sock = info.get("socket")
    elif event == "connection.connect_tcp.complete":
        try:
            sock = info["return_value"].get_extra_info("socket")
        except (KeyError, AttributeError):
            sock = None
    if isinstance(sock, socket.socket):
        sink(sock)
