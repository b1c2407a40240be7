"""What an experiment asks each host once per run, for its provenance: the Ollama version and the
models' digests (``/api/version`` and ``/api/tags``).

Example:
    >>> servers_of([None], ["llama3.2"])
    ({}, {})
"""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import OllamaError

__all__ = ["servers_of"]


def servers_of(hosts: Sequence[str | None], models: Sequence[str]) -> tuple[dict[str, str | None],
                                                                          dict[tuple[str, str], str | None]]:
    """``({host: version}, {(host, model): digest})``; None where a server cannot say."""
    from .._record import canonical_model
    from ..client import Client

    versions: dict[str, str | None] = {}
    digests: dict[tuple[str, str], str | None] = {}
    for url in dict.fromkeys(hosts):
        if url is None:
            continue
        with Client(url) as client:
            try:
                versions[url] = client.version()
            except OllamaError:
                versions[url] = None
            try:
                found = {canonical_model(m.name): m.raw.get("digest") for m in client.models()}
            except OllamaError:
                found = {}
        for model in models:
            digests[(url, model)] = found.get(canonical_model(model))
    return versions, digests
