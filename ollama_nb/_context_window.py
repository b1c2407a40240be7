"""How much of a conversation fits: the context window Ollama runs a model with, and a token estimate.

Example:
    >>> estimate_tokens([{"role": "user", "content": "x" * 40}])
    14
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .client import ModelDetails

__all__ = ["OLLAMA_DEFAULT_NUM_CTX", "SMALLEST_CONTEXT", "estimate_tokens", "runtime_context"]

#: Below this many (estimated) tokens no model's context can overflow, so no /api/show is needed.
SMALLEST_CONTEXT = 2048
#: Ollama's context window when neither the request nor the model's settings name one.
OLLAMA_DEFAULT_NUM_CTX = 4096


def runtime_context(details: ModelDetails) -> int | None:
    """The window Ollama runs the model with: its ``num_ctx`` setting, else Ollama's default
    (never more than the model was trained for). ``context_length`` alone would be far larger."""
    window = OLLAMA_DEFAULT_NUM_CTX
    for line in details.parameters.splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "num_ctx" and value.strip().isdigit():
            window = int(value)
    trained = details.context_length
    return min(trained, window) if trained else window


def estimate_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """A rough token count (4 characters a token, plus a little per message)."""
    return sum(len(str(m.get("content") or "")) // 4 + 4 for m in messages)
