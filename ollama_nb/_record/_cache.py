"""The request key: what determines an answer, hashed, so an identical request can be answered
from the record instead of regenerated.

The key covers the endpoint, the model's digest (not its name: ``llama3.2`` changes when it is
pulled again, and two names of one digest are one model) and the request body minus transport
details (``stream``, ``keep_alive``): the messages or prompt, system, every option including the
seed, the format, the tool schemas, ``think`` and any images. Without a digest there is no key:
the answer could come from another model; nor for a request that asks for ``logprobs``, which
the record does not keep. The key also covers the server (``server``: its host and Ollama
version), so an answer is never reused for another host, nor after the server was upgraded.

Example:
    >>> body = {"model": "llama3.2", "prompt": "hi", "stream": True, "options": {"seed": 1}}
    >>> key = request_key("generate", body, "sha256:abc")
    >>> key == request_key("generate", {**body, "stream": False, "keep_alive": "5m"}, "sha256:abc")
    True
    >>> key == request_key("generate", {**body, "options": {"seed": 2}}, "sha256:abc")
    False
    >>> request_key("generate", body, None) is None, request_key("generate", {**body, "logprobs": True}, "sha256:abc")
    (True, None)
    >>> key == request_key("generate", body, "sha256:abc", server="http://127.0.0.1:11434 0.13.0")
    False
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

__all__ = ["request_key"]

#: Body fields that change how the answer travels, not what it is.
_TRANSPORT = frozenset({"model", "stream", "keep_alive"})


def request_key(endpoint: str, body: Mapping[str, Any], digest: str | None, *, server: str = "") -> str | None:
    """A hex SHA-256 of what determines the answer; None when the model's digest is unknown.

    ``server`` names where the answer comes from: ``"<host> <Ollama version>"``."""
    if not digest or body.get("logprobs"):
        return None
    what = {k: v for k, v in body.items() if k not in _TRANSPORT}
    canonical = json.dumps(
        {"endpoint": endpoint, "digest": digest, "body": what, **({"server": server} if server else {})},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
