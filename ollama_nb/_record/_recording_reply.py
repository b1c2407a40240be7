"""The reply a recording session hands out: it decides at send time, inside its opener, whether
the record already holds the answer.

Nothing happens before the reply is first read (as with every reply). Then its opener:

- with ``cache``, learns the model's digest (one ``/api/tags`` per model per session), computes the
  request key and, when the record has a finished answer for it, returns that answer as the
  response (``reused_from`` is then the recorded turn) and sends nothing;
- else sends the request as the client would, and learns the digest once the server has answered
  (so a server that is down fails once, with the client's own error, not twice).

Example:
    >>> session = Session("llama3.2", record=Record("/tmp/r.db"))          # doctest: +SKIP
    >>> reply = session.chat("Hi", cache=True); reply.read()                # doctest: +SKIP
    >>> reply.reused_from                                                   # doctest: +SKIP
    <RecordedTurn #12 default llama3.2 done: 'Hello!'>
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import httpx

from ..client import AsyncReply, BeforeSend, Reply, Request
from ._cache import request_key
from ._entry import RecordedTurn
from ._replay import async_recorded_opener, recorded_opener

if TYPE_CHECKING:
    from ..client import AsyncClient, Client

__all__ = ["AsyncRecordingReply", "RecordingReply"]


class SessionRecording(Protocol):
    """What a recording reply asks of the session's :class:`~ollama_nb._record.SessionRecording`
    (a protocol: ``_recorder`` imports this module, not the other way round)."""

    def find(self, key: str | None) -> RecordedTurn | None: ...
    def digest(self, client: Client, model: str, *, strict: bool = False) -> str | None: ...
    async def adigest(self, client: AsyncClient, model: str, *, strict: bool = False) -> str | None: ...
    def server(self, client: Client) -> str: ...
    async def aserver(self, client: AsyncClient) -> str: ...


class _Lookup:
    """What the opener learnt on the first send: the digest, the request key, a recorded answer."""

    def __init__(self, request: Request, recording: SessionRecording, cache: bool) -> None:
        self.request = request
        self.recording = recording
        self.cache = cache
        self.sent: dict[str, Any] | None = None
        self.digest: str | None = None
        self.key: str | None = None
        self.found: RecordedTurn | None = None

    def before(self, body: dict[str, Any], digest: str | None, server: str) -> RecordedTurn | None:
        """On the first send with ``cache``: the recorded answer to reuse, or None."""
        self.sent, self.digest = body, digest
        self.key = request_key(self.request.endpoint, body, digest, server=server)
        self.found = self.recording.find(self.key)
        return self.found

    def after(self, body: dict[str, Any], digest: str | None, server: str) -> None:
        """On the first send without ``cache``, once the server answered."""
        self.sent, self.digest = body, digest
        self.key = request_key(self.request.endpoint, body, digest, server=server)


class RecordingReply(Reply):
    """A :class:`~ollama_nb.Reply` that may answer from the record (see the module docstring);
    ``reused_from`` is the recorded turn it replayed, else None."""

    def __init__(
        self, request: Request, *, client: Client, recording: SessionRecording, cache: bool, **settings: Any
    ) -> None:
        lookup = self.lookup = _Lookup(request, recording, cache)
        send = client.opener(request)

        def open_stream(body: dict[str, Any], before_send: BeforeSend) -> httpx.Response:
            if lookup.sent is None and cache:
                digest = recording.digest(client, request.model, strict=True)
                found = lookup.before(body, digest, recording.server(client) if digest else "")
                if found is not None:
                    return recorded_opener(found)(body, before_send)
            response = send(body, before_send)
            if lookup.sent is None:
                digest = recording.digest(client, request.model)
                lookup.after(body, digest, recording.server(client) if digest else "")
            return response

        super().__init__(request, opener=open_stream, host=client.host, **settings)

    @property
    def reused_from(self) -> RecordedTurn | None:
        """The recorded turn whose answer this reply replayed (no request was sent), or None."""
        return self.lookup.found


class AsyncRecordingReply(AsyncReply):
    """The async twin of :class:`RecordingReply`."""

    def __init__(
        self, request: Request, *, client: AsyncClient, recording: SessionRecording, cache: bool, **settings: Any
    ) -> None:
        lookup = self.lookup = _Lookup(request, recording, cache)
        send = client.opener(request)

        async def open_stream(body: dict[str, Any], before_send: BeforeSend) -> httpx.Response:
            if lookup.sent is None and cache:
                digest = await recording.adigest(client, request.model, strict=True)
                found = lookup.before(body, digest, await recording.aserver(client) if digest else "")
                if found is not None:
                    return await async_recorded_opener(found)(body, before_send)
            response = await send(body, before_send)
            if lookup.sent is None:
                digest = await recording.adigest(client, request.model)
                lookup.after(body, digest, await recording.aserver(client) if digest else "")
            return response

        super().__init__(request, opener=open_stream, host=client.host, **settings)

    @property
    def reused_from(self) -> RecordedTurn | None:
        """The recorded turn whose answer this reply replayed (no request was sent), or None."""
        return self.lookup.found
