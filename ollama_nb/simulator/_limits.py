"""Request limits checked before a reply is planned: ``top_logprobs`` range, ``truncate``/``shift``.

Prompt size is estimated as the simulator counts ``prompt_eval_count``: characters / 4 + 1.
The context is ``options.num_ctx`` or 4096, never more than the model's trained length.

- ``top_logprobs`` outside 0-20: 400 ``top_logprobs must be between 0 and 20``
  (error_bodies.json; server/routes.go:257,2453), checked right after the body is read.
- ``truncate`` absent or true (Ollama's default) drops the oldest chat messages, keeping system
  messages and the last one. If what is left still does not fit and ``shift`` is false, 400
  ``the prompt is longer than the context length …`` (error_bodies_2026.json; not checked when
  the request has images, llm/llama_server.go:279-299).
- ``truncate:false`` and a prompt that does not fit: Ollama does no check and wraps
  llama-server's own error body, whose text is not in Ollama's source ("unconfirmed" in
  error_bodies_2026.json). The simulator's **stand-in** is the sample llama-server body of
  Ollama's own test (llm/llama_server_test.go:2638), carried as a string, with status 400:
  ``{"error":"{\\"error\\":{\\"message\\":\\"request (N tokens) exceeds the available context size (M tokens), try increasing it\\"}}"}``.

Example:
    >>> check_top_logprobs(21)
    Traceback (most recent call last):
    ollama_nb.simulator._binding.RequestError: top_logprobs must be between 0 and 20
"""  # noqa: E501 (the server's body, verbatim)

from __future__ import annotations

from typing import Any

from ._binding import RequestError
from ._models import context_length
from ._wire import go_json

__all__ = ["DEFAULT_NUM_CTX", "PROMPT_TOO_LONG", "check_fits", "check_top_logprobs", "prompt_tokens"]

DEFAULT_NUM_CTX = 4096
PROMPT_TOO_LONG = (
    "the prompt is longer than the context length currently available to the model; shorten the prompt, "
    "adjust the context length in settings, or use a model with a longer context length"
)


def check_top_logprobs(value: Any) -> None:
    """400 when ``top_logprobs`` is outside 0-20 (a missing value is 0)."""
    if isinstance(value, int) and not 0 <= value <= 20:
        raise RequestError(400, "top_logprobs must be between 0 and 20")


def prompt_tokens(texts: list[str]) -> int:
    """The simulator's token estimate for a prompt made of ``texts``.

    Example:
        >>> prompt_tokens(["abcd" * 10])
        11
    """
    return sum(len(text) for text in texts) // 4 + 1


def check_fits(
    body: dict[str, Any], model: str, num_ctx: int | None, *, kept: list[str], whole: list[str], has_images: bool
) -> None:
    """Raise Ollama's error when the prompt cannot be sent as asked.

    ``whole`` is every prompt text; ``kept`` what truncation keeps (system messages and the
    last message for chat; the whole prompt for generate).
    """
    context = min(num_ctx or DEFAULT_NUM_CTX, context_length(model))
    if body.get("truncate") is False:
        needed = prompt_tokens(whole)
        if needed > context:
            inner = {
                "error": {
                    "message": f"request ({needed} tokens) exceeds the available context size "
                    f"({context} tokens), try increasing it"
                }
            }
            raise RequestError(400, go_json(inner).decode("utf-8"))
        return
    if body.get("shift") is False and not has_images and prompt_tokens(kept) > context - 1:
        raise RequestError(400, PROMPT_TOO_LONG)
