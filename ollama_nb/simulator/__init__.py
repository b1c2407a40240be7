"""A local stand-in for the Ollama server, speaking its HTTP/NDJSON protocol byte for byte.

No model runs: replies are deterministic text that starts with ``*(simulated reply)*``.
Use it in tests (``Simulator`` runs in a background thread on 127.0.0.1) or from a
shell (``python -m ollama_nb.simulator``) to try the notebook side without Ollama.

Prompt directives such as ``[[tokens=N]]``, ``[[delay=S]]``, ``[[drop-after=K]]`` steer a
reply; see ``ollama_nb.simulator._directives`` for the list.

Example:
    >>> import json, urllib.request
    >>> with Simulator() as sim:
    ...     body = json.dumps({"model": "llama3.2", "prompt": "hi [[tokens=3]]"}).encode()
    ...     with urllib.request.urlopen(sim.url + "/api/generate", body) as response:
    ...         lines = response.read().splitlines()
    ...     event = sim.wait_for("complete")
    >>> len(lines), event.lines_sent
    (4, 4)
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

from ._gate import Gate
from ._journal import Event, Request
from ._server import SimServer
from ._state import SimState

__all__ = ["Event", "Request", "Simulator"]

_LOCAL_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "::1": "::1"}


class Simulator:
    """An Ollama-protocol server in a background thread, bound to the loopback interface.

    ``tokens_per_second=None`` streams as fast as possible; a number paces the tokens
    (it can be changed while running). ``pull_seconds`` spreads /api/pull progress.
    ``hostile=True`` answers as a malicious server: model names, families, show fields, pull
    status lines and digests, and error bodies carry HTML payloads (``_hostile.PAYLOAD``).

    Ollama 2026 options (see ``_gate``): ``api_key="…"`` acts like https://ollama.com (every
    /api/ request needs ``Authorization: Bearer <key>``, else 401; the key is never stored
    or shown); ``signed_in=False`` answers cloud and remote models with Ollama's 401 and
    sign-in URL; ``cloud_disabled=True`` with its 403. :meth:`refuse_next` makes the next
    requests answer 503 "server busy" or 429.

    Example:
        >>> sim = Simulator(port=0).start()
        >>> sim.url.startswith("http://127.0.0.1:")
        True
        >>> sim.stop()
    """

    def __init__(self, port: int = 0, tokens_per_second: float | None = None, *,
                 host: str = "127.0.0.1", pull_seconds: float = 1.0, api_key: str | None = None,
                 signed_in: bool = True, cloud_disabled: bool = False, hostile: bool = False) -> None:
        if host not in _LOCAL_HOSTS:
            raise ValueError(
                f"the simulator only listens on this machine; use host='127.0.0.1', not {host!r}"
            )
        if tokens_per_second is not None and tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be positive, or None for full speed")
        self._host = _LOCAL_HOSTS[host]
        self._requested_port = port
        self._bound_port = port
        if api_key is not None and not api_key:
            raise ValueError("api_key must be a non-empty string, or None for a local server")
        gate = Gate(api_key=api_key, signed_in=signed_in, cloud_disabled=cloud_disabled)
        self._state = SimState(tokens_per_second=tokens_per_second, pull_seconds=pull_seconds, gate=gate)
        self._state.hostile = hostile  # every displayable server field carries HTML (see _hostile)
        self._server: SimServer | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None

    # -- settings ---------------------------------------------------------------------
    @property
    def tokens_per_second(self) -> float | None:
        """Token pace for new replies (None: as fast as possible)."""
        return self._state.tokens_per_second

    @tokens_per_second.setter
    def tokens_per_second(self, value: float | None) -> None:
        self._state.tokens_per_second = value

    @property
    def pull_seconds(self) -> float:
        """How long a simulated /api/pull takes (progress lines are spread over it)."""
        return self._state.pull_seconds

    @pull_seconds.setter
    def pull_seconds(self, value: float) -> None:
        self._state.pull_seconds = value

    @property
    def signed_in(self) -> bool:
        """False: cloud and remote models answer 401 ``unauthorized`` with a ``signin_url``."""
        return self._state.gate.signed_in

    @signed_in.setter
    def signed_in(self, value: bool) -> None:
        self._state.gate.signed_in = value

    @property
    def cloud_disabled(self) -> bool:
        """True: cloud and remote models answer 403, and /api/status says so."""
        return self._state.gate.cloud_disabled

    @cloud_disabled.setter
    def cloud_disabled(self, value: bool) -> None:
        self._state.gate.cloud_disabled = value

    def refuse_next(self, n: int, status: int = 503) -> None:
        """Answer the next ``n`` chat/generate requests with 503 "server busy" (or 429), before any byte.

        Each refusal is a ``"refused"`` event, so a test can count a client's retries.

        Example:
            >>> import json, urllib.error, urllib.request
            >>> with Simulator() as sim:
            ...     sim.refuse_next(1)
            ...     body = json.dumps({"model": "llama3.2", "prompt": "hi"}).encode()
            ...     try:
            ...         urllib.request.urlopen(sim.url + "/api/generate", body)
            ...     except urllib.error.HTTPError as exc:
            ...         print(exc.code, exc.read().decode())
            503 {"error":"server busy, please try again.  maximum pending requests exceeded"}
        """
        self._state.gate.refuse_next(n, status)

    # -- address --------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (the requested one before :meth:`start`; kept after :meth:`stop`)."""
        return self._bound_port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``"http://127.0.0.1:11434"``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    # -- what happened --------------------------------------------------------------
    @property
    def requests(self) -> list[Request]:
        """Requests received so far (a copy), oldest first."""
        return self._state.journal.requests

    @property
    def events(self) -> list[Event]:
        """Events so far (a copy): kinds "request", "complete", "disconnect", "drop", "refused"."""
        return self._state.journal.events

    def wait_for(self, kind: str, timeout: float = 5.0) -> Event:
        """Block until an event of ``kind`` not returned before arrives; TimeoutError after ``timeout``.

        Example:
            >>> with Simulator() as sim:
            ...     sim.wait_for("disconnect", timeout=0.01)
            Traceback (most recent call last):
            TimeoutError: no new 'disconnect' event within 0.01 s (kinds seen so far: [])
        """
        return self._state.journal.wait_for(kind, timeout)

    def drop_next_connections(self, n: int = 1) -> None:
        """Close the next ``n`` new connections right after accept, without sending a byte."""
        self._state.drop_next(n)

    def busy_next_requests(self, n: int = 1) -> None:
        """Answer the next ``n`` chat/generate requests ``503 server busy`` (Ollama's full queue)."""
        self._state.busy_next(n)

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> Simulator:
        """Bind and serve in a daemon thread; returns self. Raises OSError if the port is busy."""
        if self._server is not None:
            return self
        self._server = SimServer((self._host, self._requested_port), self._state, ipv6=":" in self._host)
        self._bound_port = int(self._server.server_address[1])
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=f"ollama_nb-simulator:{self.port}", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        import selectors

        assert self._server is not None and self._wake_r is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._server.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    self._server.handle_request()  # readable: accepts at once, starts a handler thread

    def stop(self) -> None:
        """Stop accepting, close open connections, release the port. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        assert self._wake_w is not None and self._wake_r is not None
        self._wake_w.send(b"x")
        if thread is not None:
            thread.join(timeout=5)
        self._state.close_all()
        server.server_close()
        self._wake_w.close()
        self._wake_r.close()
        self._server = self._thread = self._wake_r = self._wake_w = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        running = "running" if self._server is not None else "stopped"
        return f"<Simulator {self.url} {running}>"
