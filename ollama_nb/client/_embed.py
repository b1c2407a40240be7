"""What ``/api/embed`` gives back, :class:`Embeddings`, and the request and errors around it.

The request body keeps Ollama's field order (``model, input, keep_alive, truncate, dimensions,
options``) and sends only what was given, as ollama-python does. Errors the endpoint is known for
become one-line :class:`~ollama_nb.EmbeddingError` messages: a model that cannot embed (Ollama
answers 501 from llama-server since v0.30, 400/500 before), an input longer than the context with
``truncate=False``, NaN in a vector.

Example:
    >>> embed_body("all-minilm", ["a", "b"], dimensions=4, truncate=None, keep_alive=None, options=None)
    {'model': 'all-minilm', 'input': ['a', 'b'], 'dimensions': 4}
    >>> e = embeddings_from_wire({"model": "all-minilm", "embeddings": [[0.6, 0.8]], "total_duration": 2_000_000}, 1)
    >>> e.vectors, e.total_duration_s
    ([[0.6, 0.8]], 0.002)
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from .._errors import EmbeddingError, ModelNotFoundError, OllamaError, ResponseError

__all__ = ["Embeddings", "embed_body", "embed_errors", "embeddings_from_wire"]


@dataclass(frozen=True)
class Embeddings:
    """The answer of ``/api/embed``: one vector per input, in input order.

    Ollama's vectors are unit length (L2-normalised, also after ``dimensions`` cuts them), so the
    dot product of two is their cosine similarity.

    Example:
        >>> from ollama_nb import Client
        >>> e = Client().embed("nomic-embed-text", ["a cat", "a dog"])     # doctest: +SKIP
        >>> len(e.vectors), len(e.vectors[0])                                # doctest: +SKIP
        (2, 768)
    """

    vectors: list[list[float]]
    model: str
    prompt_eval_count: int | None = None
    total_duration_s: float | None = None
    load_duration_s: float | None = None

    def __len__(self) -> int:
        return len(self.vectors)


def embed_body(model: str, input: str | Sequence[str], *, dimensions: int | None, truncate: bool | None,
               keep_alive: float | str | None, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``/api/embed`` body: only the fields given, in Go's ``EmbedRequest`` order."""
    if not isinstance(input, str):
        input = list(input)
        if not all(isinstance(text, str) for text in input):
            raise TypeError("embed() takes a string or a list of strings as input.")
    body: dict[str, Any] = {"model": model, "input": input}
    extra = {"keep_alive": keep_alive, "truncate": truncate, "dimensions": dimensions,
             "options": dict(options) if options else None}
    body.update((key, value) for key, value in extra.items() if value is not None)
    return body


def _seconds(value: Any) -> float | None:
    return value / 1e9 if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def embeddings_from_wire(data: Any, expected: int, *, host: str = "") -> Embeddings:
    """Check and read an ``/api/embed`` answer for ``expected`` inputs (NaN or a wrong count: EmbeddingError)."""
    vectors = data.get("embeddings") if isinstance(data, dict) else None
    if not isinstance(vectors, list) or len(vectors) != expected:
        got = len(vectors) if isinstance(vectors, list) else "no"
        raise EmbeddingError(200, "bad answer", f"Ollama{' at ' + host if host else ''} sent {got} vectors for "
                                                f"{expected} inputs; check that it is an Ollama server.", host=host)
    for vector in vectors:
        if not isinstance(vector, list) or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vector):
            raise EmbeddingError(200, "embedding contains NaN or Inf values",
                                 "a vector from Ollama holds NaN, Inf or a non-number; try another model or input.",
                                 host=host)
    count = data.get("prompt_eval_count")
    return Embeddings(
        vectors=vectors,
        model=str(data.get("model") or ""),
        prompt_eval_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
        total_duration_s=_seconds(data.get("total_duration")),
        load_duration_s=_seconds(data.get("load_duration")),
    )


def _embedding_error(exc: ResponseError, model: str) -> OllamaError | None:
    """The one-line error for what ``/api/embed`` is known to answer; None to keep ``exc``."""
    text, where = exc.error, f" at {exc.host}" if exc.host else ""
    if isinstance(exc, ModelNotFoundError):
        return EmbeddingError(404, text, f"model {model!r} is not on the Ollama server{where}: "
                                         f"`ollama pull {model}` first.", host=exc.host)
    if exc.status_code == 501 or "does not support embeddings" in text:
        return EmbeddingError(exc.status_code, text, f"model {model!r} cannot make embeddings (Ollama{where} answered "
                                                     f"{exc.status_code}); use an embedding model such as "
                                                     "nomic-embed-text.", host=exc.host)
    if "exceeds the context length" in text or "cannot be truncated" in text:
        return EmbeddingError(exc.status_code, text, f"an input is longer than {model!r} can read (Ollama{where}: "
                                                     f"{text}); shorten it, or leave truncate on.", host=exc.host)
    if "NaN" in text:
        return EmbeddingError(exc.status_code, text, f"{model!r} produced NaN or Inf for an input (Ollama{where}: "
                                                     f"{text}); try another model or input.", host=exc.host)
    return None


@contextlib.contextmanager
def embed_errors(model: str) -> Iterator[None]:
    """Turn the errors ``/api/embed`` is known for into one-line :class:`EmbeddingError` (sync and async callers)."""
    try:
        yield
    except EmbeddingError:
        raise
    except ResponseError as exc:
        better = _embedding_error(exc, model)
        if better is None:
            raise
        raise better from exc
