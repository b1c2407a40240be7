"""Clients for an Ollama server: :class:`Client` (blocking) and :class:`AsyncClient` (asyncio).

Twins in the httpx manner: the same methods, the async ones awaited. ``chat`` and ``generate``
return a lazy streaming :class:`~ollama_nb.Reply`; nothing is sent until it is read. Connection
failures before any byte of a reply arrives are retried with exponential backoff; nothing is
retried once a reply has started (text is never duplicated). One client reuses its connections.

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
import warnings
from typing import Any, AsyncIterator, Iterator, Mapping, Sequence

import httpx

from ._catalog import ModelDetails, ModelSummary, PullProgress, RunningModel
from ._errors import MalformedLineWarning, OllamaError, StreamError
from ._host import resolve_host
from ._ndjson import LineBuffer, parse_line
from ._protocol import RETRYABLE, chat_body, generate_body, read_error, request_error, status_error
from ._reply import AsyncReply, Reply

__all__ = ["AsyncClient", "Client"]

#: Seconds to wait for a byte once a request is sent: long, because a model may be loading.
DEFAULT_TIMEOUT = 300.0
#: Seconds to wait for a TCP connection: short, so a server that is down is reported quickly.
DEFAULT_CONNECT_TIMEOUT = 3.0

Messages = Sequence[Mapping[str, Any]]


class _ClientBase:
    """Settings and request shapes shared by the two clients."""

    def __init__(
        self,
        host: str | None = None,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        retries: int = 2,
        backoff: float = 0.2,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.host = resolve_host(host)
        self.retries = max(0, int(retries))
        self.backoff = max(0.0, float(backoff))
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.host!r})"

    @property
    def _verify(self) -> bool:
        # Loading the CA bundle costs ~80 ms per client; plain http:// never uses it.
        return not self.host.startswith("http://")

    def _pause(self, attempt: int) -> float:
        return self.backoff * (2**attempt)

    def _check(self, response: httpx.Response, content: bytes, model: str | None) -> None:
        if response.status_code >= 400:
            raise status_error(response.status_code, content, model=model, host=self.host)

    def _json(self, response: httpx.Response, content: bytes, model: str | None) -> Any:
        self._check(response, content, model)
        try:
            return response.json()
        except ValueError as exc:
            raise OllamaError(
                f"{self.host} answered with something that is not JSON: {content[:80]!r}\n"
                "Is that address really an Ollama server? Check OLLAMA_HOST."
            ) from exc

    def _pull_event(self, line: bytes, model: str) -> PullProgress | None:
        obj = parse_line(line)
        if obj is None:
            warnings.warn(f"skipped a malformed line from Ollama: {line[:80]!r}", MalformedLineWarning, stacklevel=3)
            return None
        if "error" in obj:
            raise StreamError(
                str(obj["error"]),
                hint=f"Check the name '{model}' (see https://ollama.com/library) and your network.",
            )
        return PullProgress.from_wire(obj)


class Client(_ClientBase):
    """A blocking client. Use it as a context manager, or call :meth:`close`.

    Example:
        >>> with Client("127.0.0.1:11434") as client:            # doctest: +SKIP
        ...     for chunk in client.chat("llama3.2", [{"role": "user", "content": "Hi"}]):
        ...         print(chunk.content, end="")
    """

    def __init__(self, host: str | None = None, **settings: Any) -> None:
        super().__init__(host, **settings)
        self._http = httpx.Client(base_url=self.host, timeout=self.timeout, headers=self.headers, verify=self._verify)

    # -- streaming replies ---------------------------------------------------------------------
    def chat(
        self,
        model: str,
        messages: Messages,
        *,
        options: Mapping[str, Any] | None = None,
        think: bool | str | None = None,
        tools: Sequence[Any] | None = None,
        format: str | Mapping[str, Any] | None = None,
        keep_alive: str | float | None = None,
    ) -> Reply:
        """Stream a chat reply from ``/api/chat`` (sent when first read)."""
        body = chat_body(model, messages, options=options, think=think, tools=tools, format=format, keep_alive=keep_alive)
        return Reply(self, model=model, endpoint="chat", body=body)

    def generate(
        self,
        model: str,
        prompt: str,
        *,
        system: str | None = None,
        images: Sequence[Any] | None = None,
        options: Mapping[str, Any] | None = None,
        think: bool | str | None = None,
        format: str | Mapping[str, Any] | None = None,
        keep_alive: str | float | None = None,
    ) -> Reply:
        """Stream a completion from ``/api/generate`` (sent when first read)."""
        body = generate_body(
            model, prompt, system=system, images=images, options=options, think=think, format=format, keep_alive=keep_alive
        )
        return Reply(self, model=model, endpoint="generate", body=body)

    def _open_stream(self, reply: Reply) -> httpx.Response | None:
        return self._send("POST", f"/api/{reply.endpoint}", reply.request, model=reply.model, stop=reply._stop_check, sent=reply._mark_sent)

    def _send(self, method: str, path: str, body: Any = None, *, model: str | None = None, stop: Any = None, sent: Any = None) -> httpx.Response | None:
        """Send with retries before the first byte; None when stopped meanwhile."""
        request = self._http.build_request(method, path, json=body)
        for attempt in range(self.retries + 1):
            if stop is not None and stop():
                return None
            if sent is not None:
                sent()
            try:
                response = self._http.send(request, stream=True)
            except RETRYABLE as exc:
                if attempt == self.retries:
                    raise request_error(exc, self.host) from exc
                time.sleep(self._pause(attempt))
                continue
            except httpx.HTTPError as exc:
                raise request_error(exc, self.host) from exc
            if response.status_code >= 400:
                try:
                    content = response.read()
                finally:
                    response.close()
                self._check(response, content, model)
            return response
        return None  # pragma: no cover - the loop always returns or raises

    def _get_json(self, method: str, path: str, body: Any = None, *, model: str | None = None) -> Any:
        response = self._send(method, path, body, model=model)
        assert response is not None
        try:
            content = response.read()
        except httpx.HTTPError as exc:
            raise read_error(exc, self.host, kept=0, reply=None) from exc
        finally:
            response.close()
        return self._json(response, content, model)

    # -- model endpoints -------------------------------------------------------------------------
    def models(self) -> list[ModelSummary]:
        """The models on the server (``/api/tags``)."""
        return [ModelSummary.from_wire(m) for m in self._get_json("GET", "/api/tags").get("models") or []]

    def show(self, model: str) -> ModelDetails:
        """Details of one model (``/api/show``): context length, parameters, capabilities."""
        return ModelDetails.from_wire(model, self._get_json("POST", "/api/show", {"model": model}, model=model))

    def ps(self) -> list[RunningModel]:
        """The models loaded in memory (``/api/ps``)."""
        return [RunningModel.from_wire(m) for m in self._get_json("GET", "/api/ps").get("models") or []]

    def version(self) -> str:
        """The server's version string (``/api/version``)."""
        return str(self._get_json("GET", "/api/version").get("version", ""))

    def pull(self, model: str, *, insecure: bool = False) -> Iterator[PullProgress]:
        """Download a model; yields progress events, the last one with status ``success``."""
        body = {"model": model, "insecure": insecure, "stream": True}
        response = self._send("POST", "/api/pull", body, model=model)
        assert response is not None
        buffer = LineBuffer()
        try:
            for data in response.iter_bytes():
                for line in buffer.feed(data):
                    event = self._pull_event(line, model)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise read_error(exc, self.host, kept=0, reply=None) from exc
        finally:
            response.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(_ClientBase):
    """The asyncio twin of :class:`Client`; ``chat``/``generate`` return an :class:`AsyncReply`.

    Example:
        >>> async with AsyncClient() as client:                       # doctest: +SKIP
        ...     reply = await client.chat("llama3.2", [{"role": "user", "content": "Hi"}])
        ...     async for chunk in reply:
        ...         print(chunk.content, end="")
    """

    def __init__(self, host: str | None = None, **settings: Any) -> None:
        super().__init__(host, **settings)
        self._http = httpx.AsyncClient(base_url=self.host, timeout=self.timeout, headers=self.headers, verify=self._verify)

    async def chat(
        self,
        model: str,
        messages: Messages,
        *,
        options: Mapping[str, Any] | None = None,
        think: bool | str | None = None,
        tools: Sequence[Any] | None = None,
        format: str | Mapping[str, Any] | None = None,
        keep_alive: str | float | None = None,
    ) -> AsyncReply:
        """Stream a chat reply from ``/api/chat`` (sent when first read)."""
        body = chat_body(model, messages, options=options, think=think, tools=tools, format=format, keep_alive=keep_alive)
        return AsyncReply(self, model=model, endpoint="chat", body=body)

    async def generate(
        self,
        model: str,
        prompt: str,
        *,
        system: str | None = None,
        images: Sequence[Any] | None = None,
        options: Mapping[str, Any] | None = None,
        think: bool | str | None = None,
        format: str | Mapping[str, Any] | None = None,
        keep_alive: str | float | None = None,
    ) -> AsyncReply:
        """Stream a completion from ``/api/generate`` (sent when first read)."""
        body = generate_body(
            model, prompt, system=system, images=images, options=options, think=think, format=format, keep_alive=keep_alive
        )
        return AsyncReply(self, model=model, endpoint="generate", body=body)

    async def _aopen_stream(self, reply: AsyncReply) -> httpx.Response | None:
        return await self._send("POST", f"/api/{reply.endpoint}", reply.request, model=reply.model, stop=reply._stop_check, sent=reply._mark_sent)

    async def _send(self, method: str, path: str, body: Any = None, *, model: str | None = None, stop: Any = None, sent: Any = None) -> httpx.Response | None:
        """Send with retries before the first byte; None when stopped meanwhile."""
        request = self._http.build_request(method, path, json=body)
        for attempt in range(self.retries + 1):
            if stop is not None and stop():
                return None
            if sent is not None:
                sent()
            try:
                response = await self._http.send(request, stream=True)
            except RETRYABLE as exc:
                if attempt == self.retries:
                    raise request_error(exc, self.host) from exc
                await asyncio.sleep(self._pause(attempt))
                continue
            except httpx.HTTPError as exc:
                raise request_error(exc, self.host) from exc
            if response.status_code >= 400:
                try:
                    content = await response.aread()
                finally:
                    await response.aclose()
                self._check(response, content, model)
            return response
        return None  # pragma: no cover

    async def _get_json(self, method: str, path: str, body: Any = None, *, model: str | None = None) -> Any:
        response = await self._send(method, path, body, model=model)
        assert response is not None
        try:
            content = await response.aread()
        except httpx.HTTPError as exc:
            raise read_error(exc, self.host, kept=0, reply=None) from exc
        finally:
            await response.aclose()
        return self._json(response, content, model)

    async def models(self) -> list[ModelSummary]:
        """The models on the server (``/api/tags``)."""
        return [ModelSummary.from_wire(m) for m in (await self._get_json("GET", "/api/tags")).get("models") or []]

    async def show(self, model: str) -> ModelDetails:
        """Details of one model (``/api/show``)."""
        return ModelDetails.from_wire(model, await self._get_json("POST", "/api/show", {"model": model}, model=model))

    async def ps(self) -> list[RunningModel]:
        """The models loaded in memory (``/api/ps``)."""
        return [RunningModel.from_wire(m) for m in (await self._get_json("GET", "/api/ps")).get("models") or []]

    async def version(self) -> str:
        """The server's version string (``/api/version``)."""
        return str((await self._get_json("GET", "/api/version")).get("version", ""))

    async def pull(self, model: str, *, insecure: bool = False) -> AsyncIterator[PullProgress]:
        """Download a model; yields progress events (``async for``)."""
        body = {"model": model, "insecure": insecure, "stream": True}
        response = await self._send("POST", "/api/pull", body, model=model)
        assert response is not None
        buffer = LineBuffer()
        try:
            async for data in response.aiter_bytes():
                for line in buffer.feed(data):
                    event = self._pull_event(line, model)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise read_error(exc, self.host, kept=0, reply=None) from exc
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
