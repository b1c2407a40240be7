"""Clients for an Ollama server: :class:`Client` (blocking) and :class:`AsyncClient` (asyncio).

Twins in the httpx manner: the same methods, the async ones awaited. A request is described once
(:class:`~ollama_nb.ChatRequest`, :class:`~ollama_nb.GenerateRequest`) and :meth:`Client.reply`
turns it into a lazy streaming :class:`~ollama_nb.Reply`; ``chat`` and ``generate`` are that in one
call. Nothing is sent until the reply is first read. Connection failures before any byte of a
reply arrives, and a busy (503) or rate-limited (429) answer, are retried with exponential
backoff; nothing is retried once a reply has started (text is never duplicated). ``OLLAMA_API_KEY``
is sent as ``Authorization: Bearer <key>`` as ollama-python does (see :mod:`ollama_nb.client._host`).
One client reuses its connections.

Example:
    >>> client = Client()                       # OLLAMA_HOST or http://127.0.0.1:11434
    >>> client.host
    'http://127.0.0.1:11434'
    >>> reply = client.generate("llama3.2", "Why is the sky blue?")   # doctest: +SKIP
    >>> print(reply.text)                                             # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable, Generic, Iterator, Mapping, Sequence, TypeVar

import httpx

from .._errors import MalformedReplyError
from .._tools import DEFAULT_MAX_TOOL_ROUNDS
from ._body import DEFAULT_MAX_LINE_BYTES, abody_bytes, aread_bounded, body_bytes, read_bounded
from ._catalog import ModelDetails, ModelSummary, PullProgress, PullReader, RunningModel, version_of, wire_entries
from ._embed import Embeddings, embed_body, embed_errors, embeddings_from_wire
from ._host import headers_with_api_key, resolve_host
from ._ndjson import parse_line
from ._protocol import BUSY_STATUSES, RETRYABLE, read_error, redirect_error, request_error, status_error
from ._release import keep, release
from ._reply import AsyncOpener, AsyncReply, BaseReply, BeforeSend, Opener, Reply
from ._request import ChatRequest, GenerateRequest, Request
from ._transport import Transport, chosen_transport, trace_waiting_socket

__all__ = ["AsyncClient", "Client"]

#: Seconds to wait for a byte once a request is sent: long, because a model may be loading.
DEFAULT_TIMEOUT = 300.0
#: Seconds to wait for a TCP connection: short, so a server that is down is reported quickly.
DEFAULT_CONNECT_TIMEOUT = 3.0
#: The longest ``Retry-After`` honoured for a busy server (seconds).
MAX_RETRY_AFTER = 10.0

Messages = Sequence[Mapping[str, Any]]
ReplyT = TypeVar("ReplyT", bound=BaseReply)


def _nothing() -> None:
    """A ``before_send`` hook that does nothing (requests that are not replies)."""


class _ClientBase(Generic[ReplyT]):
    """Settings, retry decisions, response checks and :meth:`reply`, shared by the two clients."""

    _reply_class: Callable[..., ReplyT]

    def __init__(
        self,
        host: str | None = None,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        retries: int = 2,
        backoff: float = 0.2,
        headers: Mapping[str, str] | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        transport: Transport = None,
    ) -> None:
        """``host``: an address as ``OLLAMA_HOST`` takes it (None: ``OLLAMA_HOST``, else 127.0.0.1:11434).
        ``timeout``: seconds to wait for a byte once sent (None: for ever); ``connect_timeout``: for the
        TCP connection. ``retries`` and ``backoff``: attempts after the first, and the first pause in
        seconds (doubled each time), for failures before the first byte and busy (503/429) answers.
        ``headers``: sent with every request. ``max_line_bytes``: the longest line read from the server
        (a LineTooLongError past it). ``transport``: ``"auto"``, ``"aiohttp"``, ``"h11"`` or an
        httpx transport object (see :mod:`ollama_nb.client._transport`; None: ``OLLAMA_NB_TRANSPORT``).
        """
        self.host = resolve_host(host)
        #: The longest line (or JSON answer) read from the server; past it the reply ends with
        #: a LineTooLongError (the text before it is kept).
        self.max_line_bytes = int(max_line_bytes)
        self.retries = max(0, int(retries))
        self.backoff = max(0.0, float(backoff))
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.headers = dict(headers or {})
        # what is sent: the caller's headers plus OLLAMA_API_KEY as a bearer token (ollama-python's
        # rule); kept inside the httpx client, whose repr masks it, and nowhere else
        self._sent_headers = headers_with_api_key(self.headers, host=self.host)
        self._http = self._http_client(transport)

    def _http_client(self, transport: Transport) -> Any:
        """The httpx client (blocking or async) on the chosen transport; sets :attr:`transport`."""
        raise NotImplementedError

    transport: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.host!r})"

    def _http_settings(self) -> dict[str, Any]:
        # Loading the CA bundle costs ~80 ms per client; plain http:// never uses it.
        verify = not self.host.startswith("http://")
        # identity: a compressed body could expand far past the line limit before a line is seen
        headers = {"Accept-Encoding": "identity", **self._sent_headers}
        return {"base_url": self.host, "timeout": self.timeout, "headers": headers, "verify": verify}

    def _retry_pause(self, exc: Exception, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` after ``exc``; raises when it is final."""
        if isinstance(exc, RETRYABLE) and attempt < self.retries:
            return self.backoff * (2**attempt)
        raise request_error(exc, self.host) from exc

    def _status_pause(self, response: httpx.Response, content: bytes, model: str | None, attempt: int) -> float:
        """Seconds to wait before retrying a busy (503) or rate-limited (429) answer; raises the
        error for any other error status, or when the retries are used up."""
        if response.status_code not in BUSY_STATUSES or attempt >= self.retries:
            self._check(response, content, model, attempts=attempt + 1)
        pause = self.backoff * (2**attempt)
        retry_after = response.headers.get("retry-after", "")
        if retry_after.strip().isdigit():
            pause = max(pause, min(float(retry_after), MAX_RETRY_AFTER))
        return pause

    def _check(self, response: httpx.Response, content: bytes, model: str | None, attempts: int = 1) -> None:
        if 300 <= response.status_code < 400:
            raise redirect_error(response.status_code, response.headers.get("location", ""), host=self.host)
        if response.status_code >= 400:
            raise status_error(
                response.status_code,
                content,
                model=model,
                host=self.host,
                attempts=attempts,
                api_key_sent="authorization" in self._sent_headers,
            )

    def _json(self, response: httpx.Response, content: bytes, model: str | None) -> dict[str, Any]:
        self._check(response, content, model)
        answer = parse_line(content)
        if answer is None:
            raise MalformedReplyError(self.host, f"{content[:80]!r} is not a JSON object")
        return answer

    def _entries(self, answer: dict[str, Any], key: str) -> list[dict[str, Any]]:
        """The list of objects under ``key`` (``models`` of ``/api/tags``…); a wrong type is an error."""
        entries = wire_entries(answer, key)
        if entries is None:
            raise MalformedReplyError(self.host, f"'{key}' is not a list of objects")
        return entries

    def reply(
        self,
        request: Request,
        *,
        run_tools: bool = False,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
        notes: Sequence[str] = (),
    ) -> ReplyT:
        """The lazy streaming reply to ``request`` (sent when first read): a :class:`Reply` from
        :class:`Client`, an :class:`AsyncReply` from :class:`AsyncClient`.

        With ``run_tools`` the Python functions among a chat request's ``tools`` are called when
        the model asks, and their results sent back, for up to ``max_tool_rounds`` rounds.

        Example:
            >>> reply = Client().reply(ChatRequest(model="llama3.2", messages=[]))
            >>> reply.body["model"], reply.done
            ('llama3.2', False)
        """
        tools = request.tool_functions() if run_tools and isinstance(request, ChatRequest) else {}
        return self._reply_class(
            request,
            opener=self._opener(request),
            host=self.host,
            tool_functions=tools,
            max_tool_rounds=max_tool_rounds,
            notes=notes,
            max_line_bytes=self.max_line_bytes,
        )

    def _opener(self, request: Request) -> Opener | AsyncOpener:
        """The callable that sends ``request``'s body (the sync or async IO)."""
        raise NotImplementedError


class Client(_ClientBase[Reply]):
    """A blocking client. Use it as a context manager, or call :meth:`close`.

    Example:
        >>> with Client("127.0.0.1:11434") as client:            # doctest: +SKIP
        ...     for chunk in client.chat("llama3.2", [{"role": "user", "content": "Hi"}]):
        ...         print(chunk.content, end="")
    """

    _reply_class = Reply
    _http: httpx.Client

    def _http_client(self, transport: Transport) -> httpx.Client:
        settings = self._http_settings()
        #: The name of the HTTP transport in use ("h11", or the class name of a transport given).
        self.transport, chosen = chosen_transport(transport, asynchronous=False, verify=settings["verify"])
        return httpx.Client(**settings, transport=chosen)

    # -- streaming replies ---------------------------------------------------------------------
    def opener(self, request: Request) -> Opener:
        """The callable a reply sends ``request``'s body with (retries included); the record wraps it."""
        return self._opener(request)

    def _opener(self, request: Request) -> Opener:
        def open_stream(body: dict[str, Any], before_send: BeforeSend) -> httpx.Response:
            return self._send("POST", request.path, body, model=request.model, before_send=before_send)

        return open_stream

    def chat(self, model: str, messages: Messages, **params: Any) -> Reply:
        """Stream a chat reply from ``/api/chat``; ``params`` are :class:`ChatRequest` fields."""
        return self.reply(ChatRequest(model=model, messages=messages, **params))

    def generate(self, model: str, prompt: str, **params: Any) -> Reply:
        """Stream a completion from ``/api/generate``; ``params`` are :class:`GenerateRequest` fields."""
        return self.reply(GenerateRequest(model=model, prompt=prompt, **params))

    def _send(
        self, method: str, path: str, body: Any = None, *, model: str | None = None, before_send: BeforeSend = _nothing
    ) -> httpx.Response:
        """Send with retries before the first byte; ``before_send`` runs before each attempt."""
        # the trace hands the socket to a reply stopped from another thread before the first byte
        request = self._http.build_request(method, path, json=body, extensions={"trace": trace_waiting_socket})
        attempt = 0
        while True:
            before_send()
            try:
                response = self._http.send(request, stream=True)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL: a redirect's unreadable Location
                time.sleep(self._retry_pause(exc, attempt))
                attempt += 1
                continue
            if response.status_code >= 300:  # a redirect is an error too: never followed
                try:
                    content = read_bounded(response, self.max_line_bytes, cut=True)
                except httpx.HTTPError:
                    content = b""
                finally:
                    response.close()
                time.sleep(self._status_pause(response, content, model, attempt))
                attempt += 1
                continue
            return response

    def _get_json(self, method: str, path: str, body: Any = None, *, model: str | None = None) -> dict[str, Any]:
        response = self._send(method, path, body, model=model)
        try:
            content = read_bounded(response, self.max_line_bytes)
        except httpx.HTTPError as exc:
            raise read_error(exc, self.host, kept=0, reply=None) from exc
        finally:
            response.close()
        return self._json(response, content, model)

    # -- model endpoints -------------------------------------------------------------------------
    def models(self) -> list[ModelSummary]:
        """The models on the server (``/api/tags``)."""
        return [ModelSummary.from_wire(m) for m in self._entries(self._get_json("GET", "/api/tags"), "models")]

    def show(self, model: str) -> ModelDetails:
        """Details of one model (``/api/show``): context length, parameters, capabilities."""
        return ModelDetails.from_wire(model, self._get_json("POST", "/api/show", {"model": model}, model=model))

    def ps(self) -> list[RunningModel]:
        """The models loaded in memory (``/api/ps``)."""
        return [RunningModel.from_wire(m) for m in self._entries(self._get_json("GET", "/api/ps"), "models")]

    def version(self) -> str:
        """The server's version string (``/api/version``)."""
        return version_of(self._get_json("GET", "/api/version"))

    def embed(self, model: str, input: str | Sequence[str], *, dimensions: int | None = None,
              truncate: bool | None = None, keep_alive: float | str | None = None,
              options: Mapping[str, Any] | None = None) -> Embeddings:
        """Vectors for ``input`` (a string or a list of strings) in one ``/api/embed`` request.

        Example:
            >>> Client().embed("nomic-embed-text", ["a cat", "a dog"], dimensions=256).vectors  # doctest: +SKIP
        """
        body = embed_body(model, input, dimensions=dimensions, truncate=truncate, keep_alive=keep_alive,
                          options=options)
        with embed_errors(model):
            data = self._get_json("POST", "/api/embed", body, model=model)
        return embeddings_from_wire(data, 1 if isinstance(body["input"], str) else len(body["input"]), host=self.host)

    def pull(self, model: str, *, insecure: bool = False) -> Iterator[PullProgress]:
        """Download a model; yields progress events, the last one with status ``success``."""
        response = self._send("POST", "/api/pull", {"model": model, "insecure": insecure, "stream": True}, model=model)
        reader = PullReader(model, host=self.host, limit=self.max_line_bytes)
        body = keep(body_bytes(response))
        try:
            for data in body:
                yield from reader.feed(data)
        except httpx.HTTPError as exc:
            raise read_error(exc, self.host, kept=0, reply=None) from exc
        finally:
            release(response, body)  # also when an abandoned generator is collected (see _release)

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` was called (as ``httpx.Client.is_closed``)."""
        return self._http.is_closed

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(_ClientBase[AsyncReply]):
    """The asyncio twin of :class:`Client`; ``chat``/``generate`` return an :class:`AsyncReply`.

    Example:
        >>> async with AsyncClient() as client:                       # doctest: +SKIP
        ...     reply = await client.chat("llama3.2", [{"role": "user", "content": "Hi"}])
        ...     async for chunk in reply:
        ...         print(chunk.content, end="")
    """

    _reply_class = AsyncReply
    _http: httpx.AsyncClient

    def _http_client(self, transport: Transport) -> httpx.AsyncClient:
        settings = self._http_settings()
        #: The name of the HTTP transport in use ("aiohttp", "h11", or the class name of a transport given).
        self.transport, chosen = chosen_transport(transport, asynchronous=True, verify=settings["verify"])
        return httpx.AsyncClient(**settings, transport=chosen)

    def opener(self, request: Request) -> AsyncOpener:
        """The callable a reply sends ``request``'s body with (retries included); the record wraps it."""
        return self._opener(request)

    def _opener(self, request: Request) -> AsyncOpener:
        async def open_stream(body: dict[str, Any], before_send: BeforeSend) -> httpx.Response:
            return await self._send("POST", request.path, body, model=request.model, before_send=before_send)

        return open_stream

    async def chat(self, model: str, messages: Messages, **params: Any) -> AsyncReply:
        """Stream a chat reply from ``/api/chat``; ``params`` are :class:`ChatRequest` fields."""
        return self.reply(ChatRequest(model=model, messages=messages, **params))

    async def generate(self, model: str, prompt: str, **params: Any) -> AsyncReply:
        """Stream a completion from ``/api/generate``; ``params`` are :class:`GenerateRequest` fields."""
        return self.reply(GenerateRequest(model=model, prompt=prompt, **params))

    async def _send(
        self, method: str, path: str, body: Any = None, *, model: str | None = None, before_send: BeforeSend = _nothing
    ) -> httpx.Response:
        """Send with retries before the first byte; ``before_send`` runs before each attempt."""
        request = self._http.build_request(method, path, json=body)
        attempt = 0
        while True:
            before_send()
            try:
                response = await self._http.send(request, stream=True)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL: a redirect's unreadable Location
                await asyncio.sleep(self._retry_pause(exc, attempt))
                attempt += 1
                continue
            if response.status_code >= 300:  # a redirect is an error too: never followed
                try:
                    content = await aread_bounded(response, self.max_line_bytes, cut=True)
                except httpx.HTTPError:
                    content = b""
                finally:
                    await response.aclose()
                await asyncio.sleep(self._status_pause(response, content, model, attempt))
                attempt += 1
                continue
            return response

    async def _get_json(self, method: str, path: str, body: Any = None, *, model: str | None = None) -> dict[str, Any]:
        response = await self._send(method, path, body, model=model)
        try:
            content = await aread_bounded(response, self.max_line_bytes)
        except httpx.HTTPError as exc:
            raise read_error(exc, self.host, kept=0, reply=None) from exc
        finally:
            await response.aclose()
        return self._json(response, content, model)

    async def models(self) -> list[ModelSummary]:
        """The models on the server (``/api/tags``)."""
        return [ModelSummary.from_wire(m) for m in self._entries(await self._get_json("GET", "/api/tags"), "models")]

    async def show(self, model: str) -> ModelDetails:
        """Details of one model (``/api/show``)."""
        return ModelDetails.from_wire(model, await self._get_json("POST", "/api/show", {"model": model}, model=model))

    async def ps(self) -> list[RunningModel]:
        """The models loaded in memory (``/api/ps``)."""
        return [RunningModel.from_wire(m) for m in self._entries(await self._get_json("GET", "/api/ps"), "models")]

    async def version(self) -> str:
        """The server's version string (``/api/version``)."""
        return version_of(await self._get_json("GET", "/api/version"))

    async def embed(self, model: str, input: str | Sequence[str], *, dimensions: int | None = None,
                    truncate: bool | None = None, keep_alive: float | str | None = None,
                    options: Mapping[str, Any] | None = None) -> Embeddings:
        """The async twin of :meth:`Client.embed`."""
        body = embed_body(model, input, dimensions=dimensions, truncate=truncate, keep_alive=keep_alive,
                          options=options)
        with embed_errors(model):
            data = await self._get_json("POST", "/api/embed", body, model=model)
        return embeddings_from_wire(data, 1 if isinstance(body["input"], str) else len(body["input"]), host=self.host)

    async def pull(self, model: str, *, insecure: bool = False) -> AsyncIterator[PullProgress]:
        """Download a model; yields progress events (``async for``)."""
        body = {"model": model, "insecure": insecure, "stream": True}
        response = await self._send("POST", "/api/pull", body, model=model)
        reader = PullReader(model, host=self.host, limit=self.max_line_bytes)
        try:
            async for data in abody_bytes(response):
                for event in reader.feed(data):
                    yield event
        except httpx.HTTPError as exc:
            raise read_error(exc, self.host, kept=0, reply=None) from exc
        finally:
            await response.aclose()

    @property
    def is_closed(self) -> bool:
        """True once :meth:`aclose` was called (as ``httpx.AsyncClient.is_closed``)."""
        return self._http.is_closed

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
