"""The one exception tree of ollama_nb, and its warnings.

Every error a user can meet is an :class:`OllamaError`; lower-level errors (httpx, json) are mapped
at the boundary with ``raise ... from exc`` so the cause stays inspectable::

    OllamaError
    ├── OllamaConnectionError   nothing answers at the host (after retries)
    ├── OllamaTimeoutError      the server went silent for longer than the read timeout
    ├── ResponseError           an HTTP error status, with the server's own ``error`` text
    │   ├── ModelNotFoundError  the model is not on the server (404)
    │   ├── SignInRequiredError the model needs an ollama.com sign-in or API key (401)
    │   ├── ServerBusyError     busy (503) or rate-limited (429), still after the retries
    │   └── EmbeddingError      /api/embed refused: cannot embed, input too long, NaN
    ├── StreamError             an in-band ``{"error": ...}`` line after the stream started
    │   ├── ConnectionLostError the connection closed before the ``done`` line
    │   ├── LineTooLongError    a line (or answer) longer than the limit: reading stopped there
    │   └── MalformedReplyError the body is not Ollama's NDJSON, or a field has the wrong type
    ├── Interrupted             the user interrupted (Ctrl-C, kernel ■) a stream or a pull
    ├── ReplyNotReadError       an async reply's ``text`` was asked for before it was read
    ├── NoModelError            no model was chosen anywhere
    ├── ToolError               a Python function cannot be described as a tool
    ├── StructuredOutputError   the reply is not the JSON that was asked for
    ├── MissingExtraError       an optional dependency (numpy, pandas: the ``data`` extra) is missing
    └── RecordError             the record (SQLite) cannot be opened, read or written

Errors raised while a reply streams carry that reply on ``.reply``, whose ``text`` holds what
arrived before the failure. Messages are one or two lines: what happened, then what to do.

Example:
    >>> try:
    ...     raise ModelNotFoundError("llama9", host="http://127.0.0.1:11434")
    ... except OllamaError as exc:
    ...     print(exc)
    model 'llama9' is not on the Ollama server at http://127.0.0.1:11434.
    Pull it first: `ollama pull llama9` (or `%ollama pull llama9` in a notebook).
"""

from __future__ import annotations

from typing import Protocol

__all__ = [
    "ApiKeyWithheldWarning",
    "PartialReply",
    "ConnectionLostError",
    "ContextTrimmedWarning",
    "EmbeddingError",
    "Interrupted",
    "LineTooLongError",
    "MalformedReplyError",
    "MalformedLineWarning",
    "MissingExtraError",
    "ModelNotFoundError",
    "NoModelError",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaTimeoutError",
    "RecordError",
    "RecordWarning",
    "ReplyNotReadError",
    "ResponseError",
    "ServerBusyError",
    "SignInRequiredError",
    "StreamError",
    "StructuredOutputError",
    "ToolError",
]


class PartialReply(Protocol):
    """The reply an error carries (a :class:`~ollama_nb.BaseReply`): what it had streamed.

    A protocol, so this module imports no reply module (the replies import the errors)."""

    model: str
    host: str

    def partial_text(self) -> str: ...


class OllamaError(Exception):
    """Base of every ollama_nb error; ``reply`` is the partial reply when one was streaming."""

    reply: PartialReply | None = None

    def __init__(self, message: str, *, reply: PartialReply | None = None) -> None:
        from ._safe import terminal_text  # the message holds server text: no escape sequence in it

        super().__init__(terminal_text(message))
        self.reply = reply

    @property
    def message(self) -> str:
        """The one- or two-line message shown to the user."""
        return str(self)


class OllamaConnectionError(OllamaError, ConnectionError):
    """Nothing answers at the host (refused, unreachable, or closed before any byte)."""

    def __init__(self, host: str, *, detail: str = "", reply: PartialReply | None = None) -> None:
        self.host = host
        why = f" ({detail})" if detail else ""
        super().__init__(
            f"Ollama is not answering at {host}{why}.\n"
            "Start it with `ollama serve`, or point OLLAMA_HOST (or host=) at the right address.",
            reply=reply,
        )


class OllamaTimeoutError(OllamaError, TimeoutError):
    """The server sent nothing for longer than the read timeout."""

    def __init__(self, host: str, seconds: float | None, *, reply: PartialReply | None = None) -> None:
        self.host = host
        self.seconds = seconds
        waited = f"{seconds:g} s" if seconds else "too long"
        super().__init__(
            f"Ollama at {host} sent nothing for {waited}.\n"
            "A large model may still be loading: try again, or raise the timeout (timeout=...).",
            reply=reply,
        )


class ResponseError(OllamaError):
    """The server answered with an HTTP error status; ``error`` is its own text."""

    def __init__(
        self, status_code: int, error: str, *, hint: str = "", host: str = "", reply: PartialReply | None = None
    ) -> None:
        self.status_code = status_code
        self.error = error
        self.host = host
        text = f"Ollama{' at ' + host if host else ''} answered {status_code}: {error}"
        super().__init__(text + (f"\n{hint}" if hint else ""), reply=reply)


class ModelNotFoundError(ResponseError):
    """The model is not on the server (HTTP 404)."""

    def __init__(self, model: str, *, host: str = "", error: str = "", reply: PartialReply | None = None) -> None:
        self.model = model
        self.host = host
        where = f" at {host}" if host else ""
        OllamaError.__init__(
            self,
            f"model '{model}' is not on the Ollama server{where}.\n"
            f"Pull it first: `ollama pull {model}` (or `%ollama pull {model}` in a notebook).",
            reply=reply,
        )
        self.status_code = 404
        self.error = error or f"model '{model}' not found"


class SignInRequiredError(ResponseError):
    """HTTP 401: a cloud model needs you signed in to ollama.com (or a valid ``OLLAMA_API_KEY``).

    ``signin_url`` is the sign-in link Ollama put in its answer, when it did.

    Example:
        >>> print(SignInRequiredError("unauthorized", host="http://127.0.0.1:11434",
        ...                           signin_url="https://ollama.com/connect?name=me&key=abc"))
        Ollama at http://127.0.0.1:11434 answered 401: unauthorized (this model needs an ollama.com account)
        Run `ollama signin`, or open https://ollama.com/connect?name=me&key=abc, then try again.
    """

    def __init__(
        self, error: str, *, host: str = "", signin_url: str | None = None, api_key_sent: bool = False
    ) -> None:
        self.signin_url = signin_url
        if signin_url and signin_url.startswith("https://ollama.com/"):
            hint = f"Run `ollama signin`, or open {signin_url}, then try again."
        elif signin_url:  # any server can say anything: not presented as the link to follow
            hint = (
                f"The server asked to sign in at {signin_url[:200]!r} (not an ollama.com address); "
                "run `ollama signin`."
            )
        elif api_key_sent:
            hint = "Check the API key sent (OLLAMA_API_KEY, or your Authorization header), or run `ollama signin`."
        else:
            hint = "Run `ollama signin` (or set OLLAMA_API_KEY for https://ollama.com), then try again."
        super().__init__(401, f"{error} (this model needs an ollama.com account)", host=host, hint=hint)
        self.error = error


class ServerBusyError(ResponseError):
    """HTTP 503 (Ollama's queue is full) or 429 (rate limited), still after ``attempts`` tries."""

    def __init__(self, status_code: int, error: str, *, host: str = "", attempts: int = 1) -> None:
        self.attempts = attempts
        tries = f"{attempts} tries" if attempts > 1 else "1 try"
        ResponseError.__init__(self, status_code, error, host=host)
        OllamaError.__init__(
            self,
            f"Ollama{' at ' + host if host else ''} is busy ({status_code}: {error}), still after {tries}.\n"
            "Wait a moment and run it again.",
        )


class StreamError(OllamaError):
    """The server reported an error in the middle of a stream (an in-band ``{"error": ...}`` line)."""

    def __init__(
        self, error: str, *, kept: int = 0, reply: PartialReply | None = None, hint: str = "", source: str = ""
    ) -> None:
        self.error = error
        kept_note = f" after {kept} characters (kept)" if kept else ""
        where = f" ({source})" if source else ""
        super().__init__(
            f"Ollama{where} stopped with an error{kept_note}: {error}\n"
            + (hint or "Check the Ollama server log, then run the cell again."),
            reply=reply,
        )


class ConnectionLostError(StreamError):
    """The connection closed before the ``done`` line arrived."""

    def __init__(self, host: str, *, kept: int = 0, detail: str = "", reply: PartialReply | None = None) -> None:
        self.host = host
        OllamaError.__init__(
            self,
            f"The connection to Ollama at {host} closed before the reply finished"
            + (f" ({kept} characters kept)" if kept else "")
            + ".\nThe server may have stopped or crashed: check it, then run the cell again.",
            reply=reply,
        )
        self.error = detail or "connection closed"


class LineTooLongError(StreamError):
    """The server sent a line (or a JSON answer) longer than the limit; reading stopped there.

    The text that arrived before that line is kept on ``.reply``.

    Example:
        >>> print(LineTooLongError("http://h:1", limit=16 * 1024 * 1024))
        Ollama at http://h:1 sent a line longer than 16 MiB; reading stopped there.
        Check that server; to accept longer lines, pass max_line_bytes= to the Client.
    """

    def __init__(
        self, host: str, *, limit: int, what: str = "a line", kept: int = 0, reply: PartialReply | None = None
    ) -> None:
        self.host = host
        self.limit = limit
        size = f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit} bytes"
        kept_note = f" ({kept} characters kept)" if kept else ""
        OllamaError.__init__(
            self,
            f"Ollama at {host} sent {what} longer than {size}; reading stopped there{kept_note}.\n"
            "Check that server; to accept longer lines, pass max_line_bytes= to the Client.",
            reply=reply,
        )
        self.error = f"{what} longer than {size}"


class MalformedReplyError(StreamError):
    """The server's answer is not what Ollama sends: not NDJSON at all (an HTML page from a proxy
    or a wrong port), or a field of the wrong type (``message`` a list, ``response`` a number…).

    Example:
        >>> print(MalformedReplyError("http://h:1", "'<html>'"))
        http://h:1 answered with something that is not Ollama's reply: '<html>'
        Is that address really an Ollama server? Check OLLAMA_HOST (or host=).
    """

    def __init__(self, host: str, detail: str, *, reply: PartialReply | None = None) -> None:
        self.host = host
        OllamaError.__init__(
            self,
            f"{host} answered with something that is not Ollama's reply: {detail}\n"
            "Is that address really an Ollama server? Check OLLAMA_HOST (or host=).",
            reply=reply,
        )
        self.error = detail


class Interrupted(OllamaError):
    """The user interrupted (Ctrl-C, the kernel's ■) while a reply streamed or a model was pulled.

    The stream was closed; a partial reply is kept (on ``.reply``, in the output and the session).

    Example:
        >>> print(Interrupted(what="the pull of llama3.2", detail="stopped at 40%",
        ...                   hint="Run `%ollama pull llama3.2` again to resume."))
        Interrupted: the pull of llama3.2 stopped at 40%.
        Run `%ollama pull llama3.2` again to resume.
    """

    def __init__(self, reply: PartialReply | None = None, *, what: str = "", detail: str = "", hint: str = "") -> None:
        if what:
            message = f"Interrupted: {what} {detail or 'stopped'}." + (f"\n{hint}" if hint else "")
        else:
            kept = len(reply.partial_text()) if reply is not None else 0
            message = (
                f"the stream was closed and the partial reply ({kept} characters) is kept "
                "in the output and in the session."
            )
        super().__init__(message, reply=reply)


class ReplyNotReadError(OllamaError, RuntimeError):
    """An async reply's ``text`` was read before the stream ended (httpx's ``ResponseNotRead``)."""

    def __init__(self) -> None:
        super().__init__(
            "the reply has not been read to its end: `await reply.aread()` first "
            "(or use reply.partial_text() for the text so far)."
        )


class NoModelError(OllamaError):
    """No model was chosen: not as an argument, not as a default."""

    def __init__(self, available: list[str] | None = None) -> None:
        self.available = list(available or [])
        have = f" The server has: {', '.join(self.available)}." if self.available else ""
        super().__init__(
            "No model chosen: pass one (model=..., or -m NAME in a magic) or set a default "
            f"(%config OllamaMagics.model = 'NAME').{have}"
        )


class ToolError(OllamaError, ValueError):
    """A Python function cannot be turned into an Ollama tool."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class StructuredOutputError(OllamaError, ValueError):
    """The model's reply is not the JSON that was asked for; ``text`` is the raw reply."""

    def __init__(self, message: str, *, text: str = "", reply: PartialReply | None = None) -> None:
        super().__init__(message, reply=reply)
        self.text = text


class MalformedLineWarning(UserWarning):
    """A line of the NDJSON stream was not a JSON object; it was skipped and counted."""


class ApiKeyWithheldWarning(UserWarning):
    """``OLLAMA_API_KEY`` was not sent: the host is neither ``https://`` nor this machine."""


class ContextTrimmedWarning(UserWarning):
    """The oldest turns were left out so the conversation fits the model's context window."""


class RecordError(OllamaError):
    """The record (the SQLite file of turns) cannot be opened, read or written: locked, corrupt,
    read-only or full. While replies stream this is a :class:`RecordWarning` instead."""


class RecordWarning(UserWarning):
    """A turn could not be written to the record; the reply streamed and is kept in memory."""


class EmbeddingError(ResponseError):
    """``/api/embed`` could not embed: the model cannot (501), an input is too long with ``truncate=False``,
    NaN in a vector, or a model that is not pulled. One line: what happened and what to do.

    Example:
        >>> print(EmbeddingError(501, "This server does not support embeddings",
        ...                      "model 'llama3.2' cannot make embeddings; use nomic-embed-text."))
        model 'llama3.2' cannot make embeddings; use nomic-embed-text.
    """

    def __init__(self, status_code: int, error: str, message: str, *, host: str = "") -> None:
        ResponseError.__init__(self, status_code, error, host=host)
        OllamaError.__init__(self, message)


class MissingExtraError(OllamaError, ImportError):
    """An optional dependency is not installed (``pip install 'ollama_nb[data]'`` for numpy and pandas)."""

    def __init__(self, module: str, extra: str, what: str) -> None:
        super().__init__(f"{what} needs {module}: pip install 'ollama_nb[{extra}]'")
        self.name = module
