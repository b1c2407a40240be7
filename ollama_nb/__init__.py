"""ollama_nb: local LLMs served by Ollama as first-class citizens of Jupyter notebooks.

The core (this package's top level) is a plain Python library with no Jupyter import: a streaming
:class:`Client`/:class:`AsyncClient`, :class:`Reply` with :class:`Timing`, and :class:`Session` with
history. In IPython, ``%load_ext ollama_nb`` adds the ``%%ollama``, ``%ollama_chat`` and
``%ollama`` magics (imported only then).

Example:
    >>> import ollama_nb
    >>> session = ollama_nb.Session(model="llama3.2")
    >>> reply = session.chat("Hello!")            # doctest: +SKIP
    >>> for chunk in reply:                       # doctest: +SKIP
    ...     print(chunk.content, end="")
"""

from __future__ import annotations

from typing import Any

from ._errors import (
    ConnectionLostError,
    ContextTrimmedWarning,
    EmbeddingError,
    Interrupted,
    LineTooLongError,
    MalformedLineWarning,
    MalformedReplyError,
    MissingExtraError,
    ModelNotFoundError,
    NoModelError,
    OllamaConnectionError,
    OllamaError,
    OllamaTimeoutError,
    RecordError,
    RecordWarning,
    ReplyNotReadError,
    ResponseError,
    ServerBusyError,
    SignInRequiredError,
    StreamError,
    StructuredOutputError,
    ToolError,
)
from ._logprobs import TokenLogprob
from ._record import Record, RecordedTurn
from ._session import Session, Turn, get_session
from ._timing import Timing
from ._tools import ToolCall, ToolResult, tool_schema
from .batch import Batch, BatchProgress, ItemResult
from .client import (
    AsyncClient,
    AsyncReply,
    ChatRequest,
    Chunk,
    Client,
    Embeddings,
    GenerateRequest,
    ModelDetails,
    ModelSummary,
    PullProgress,
    Reply,
    RunningModel,
    cross_origin,
)
from .experiment import Experiment, Paired, judge

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AsyncReply",
    "Batch",
    "BatchProgress",
    "ChatRequest",
    "Chunk",
    "Client",
    "ConnectionLostError",
    "ContextTrimmedWarning",
    "EmbeddingError",
    "Embeddings",
    "Experiment",
    "GenerateRequest",
    "Interrupted",
    "ItemResult",
    "LineTooLongError",
    "MalformedLineWarning",
    "MalformedReplyError",
    "MissingExtraError",
    "ModelDetails",
    "ModelNotFoundError",
    "ModelSummary",
    "NoModelError",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaTimeoutError",
    "Paired",
    "PullProgress",
    "Record",
    "RecordError",
    "RecordWarning",
    "RecordedTurn",
    "Reply",
    "ReplyNotReadError",
    "ResponseError",
    "RunningModel",
    "ServerBusyError",
    "Session",
    "SignInRequiredError",
    "StreamError",
    "StructuredOutputError",
    "Timing",
    "TokenLogprob",
    "ToolCall",
    "ToolError",
    "ToolResult",
    "Turn",
    "cross_origin",
    "get_session",
    "judge",
    "load_ipython_extension",
    "tool_schema",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext ollama_nb``: register the magics (IPython is imported only here)."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext ollama_nb``: remove the magics and the cell rewriter."""
    from .magics import unload_ipython_extension as unload

    unload(ipython)
