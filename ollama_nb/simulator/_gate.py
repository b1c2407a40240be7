"""Answers that come before any model runs: API keys, sign-in, cloud switched off, busy servers.

Texts and statuses are those of ``error_bodies_2026.json``:

- ``api_key=`` makes the simulator act like https://ollama.com: every ``/api/…`` request needs
  ``Authorization: Bearer <key>``, else 401 ``{"error":"unauthorized"}``. ollama.com's own 401
  body is not in Ollama's source ("unconfirmed" in the catalogue); this is the simulator's stand-in.
  The header's value is compared here and never stored: the journal keeps only whether one came.
- ``signed_in=False``: a cloud name (``…:cloud``, ``…-cloud``) or a legacy remote model answers
  401 ``{"error":"unauthorized","signin_url":"https://ollama.com/connect?name=…&key=…"}``
  (``&`` sent as ``\\u0026``; server/cloud_proxy.go:362-370, server/routes.go:2585-2596). For a
  legacy remote model the Content-Type stays ``application/x-ndjson`` when streaming.
- ``cloud_disabled=True``: those models answer 403 ``ollama cloud is disabled: …``.
- Busy: :meth:`Gate.refuse_next` queues 503/429 answers for the next chat/generate requests;
  ``[[busy=N]]`` / ``[[rate-limit=N]]`` refuse the first N requests carrying that prompt. 503 is
  ``server busy, please try again.  maximum pending requests exceeded`` (two spaces); no 429 text
  exists in Ollama for /api/*, so 429 uses ``rate limit exceeded`` (the mock text of Ollama's own
  test, server/routes_generate_test.go:1441-1464). Each refusal is a ``"refused"`` journal event.

Example:
    >>> gate = Gate()
    >>> gate.refuse_next(2, 503)
    >>> [gate.take_refusal() for _ in range(3)]
    [503, 503, None]
"""

from __future__ import annotations

import hmac
import threading
from collections import deque

from ._binding import RequestError
from ._cloud import is_cloud_name, remote_model

__all__ = ["BUSY", "RATE_LIMITED", "SIGNIN_URL", "Gate"]

BUSY = "server busy, please try again.  maximum pending requests exceeded"
RATE_LIMITED = "rate limit exceeded"
SIGNIN_URL = ("https://ollama.com/connect?name=my-laptop&key="
              "c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUVYQU1QTEVLRVk")
_TEXT = {503: BUSY, 429: RATE_LIMITED}
NDJSON = "application/x-ndjson"


class Gate:
    """Settings and counters checked before a request reaches a model; thread-safe."""

    def __init__(self, *, api_key: str | None = None, signed_in: bool = True, cloud_disabled: bool = False) -> None:
        self._api_key = api_key
        self.signed_in = signed_in
        self.cloud_disabled = cloud_disabled
        self._lock = threading.Lock()
        self._queued: deque[int] = deque()
        self._seen: dict[tuple[str, str], int] = {}

    @property
    def requires_key(self) -> bool:
        """Whether requests need ``Authorization: Bearer <key>`` (acting like ollama.com)."""
        return self._api_key is not None

    def check_key(self, path: str, authorization: str | None) -> None:
        """401 for an /api/ request without the right bearer key, when a key is set."""
        if self._api_key is None or not path.startswith("/api/"):
            return
        expected = f"Bearer {self._api_key}".encode()
        if authorization is None or not hmac.compare_digest(authorization.encode("utf-8", "replace"), expected):
            raise RequestError(401, "unauthorized")

    def check_cloud(self, model: str, *, stream: bool, show: bool = False) -> None:
        """403 when cloud is off, 401 with the sign-in URL when signed out, for cloud or remote models."""
        remote = remote_model(model) is not None
        if not remote and not is_cloud_name(model):
            return
        if self.cloud_disabled:
            what = "remote model details are unavailable" if show else "remote model is unavailable"
            raise RequestError(403, f"ollama cloud is disabled: {what}")
        if not self.signed_in:
            content_type = NDJSON if remote and stream and not show else None
            raise RequestError(401, "unauthorized", extra={"signin_url": SIGNIN_URL}, content_type=content_type)

    # -- busy servers -------------------------------------------------------------------
    def refuse_next(self, n: int, status: int = 503) -> None:
        """Answer the next ``n`` chat/generate requests with ``status`` (503 or 429)."""
        if status not in _TEXT:
            raise ValueError("status must be 503 (server busy) or 429 (rate limited)")
        if n < 0:
            raise ValueError("n must be 0 or more")
        with self._lock:
            self._queued.extend([status] * n)

    def take_refusal(self) -> int | None:
        """The status of the next queued refusal, or None."""
        with self._lock:
            return self._queued.popleft() if self._queued else None

    def prompt_refusal(self, path: str, prompt: str, busy: int | None, rate_limit: int | None) -> int | None:
        """For ``[[busy=N]]``/``[[rate-limit=M]]``: 503 for the first N requests with this prompt, then 429 for M."""
        if not busy and not rate_limit:
            return None
        with self._lock:
            count = self._seen[(path, prompt)] = self._seen.get((path, prompt), 0) + 1
        if count <= (busy or 0):
            return 503
        if count <= (busy or 0) + (rate_limit or 0):
            return 429
        return None

    @staticmethod
    def refusal(status: int) -> RequestError:
        """The error answer for a refusal status."""
        return RequestError(status, _TEXT[status])
