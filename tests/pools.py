"""What a blocking client's connection pool holds, on either transport (tests reach into the pools here).

Example:
    assert connections_taken(client) == 0      # every response given back
"""

from __future__ import annotations

import threading
from typing import Any

from ollama_nb import Client


def connections_taken(client: Client) -> int:
    """Connections of the client's pool handed to a request and not given back yet."""
    transport = client._http._transport  # type: ignore[attr-defined]
    if client.transport == "urllib3":
        queue = transport._pool.connection_from_url(client.host).pool
        return int(queue.maxsize - queue.qsize())
    return len(transport._pool._requests)


def pool_lock_of(client: Client) -> Any:
    """The non-reentrant lock of the client's connection pool (held inside its request/close):
    httpcore's pool lock on h11, the lock of urllib3's queue of connections on urllib3."""
    transport = client._http._transport  # type: ignore[attr-defined]
    if client.transport == "urllib3":
        lock = transport._pool.connection_from_url(client.host).pool.mutex
    else:
        lock = transport._pool._optional_thread_lock._lock
    assert isinstance(lock, type(threading.Lock()))
    return lock
