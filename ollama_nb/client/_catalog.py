"""What the model endpoints answer: local models, model details, running models, pull progress.

Each is a frozen dataclass made from the wire dict with ``from_wire``; ``raw`` keeps everything.

Example:
    >>> p = PullProgress.from_wire({"status": "pulling 85eece979df5", "total": 200, "completed": 50})
    >>> p.fraction
    0.25
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

from .._errors import LineTooLongError, MalformedLineWarning, MalformedReplyError, StreamError
from ._ndjson import LineBuffer, LineTooLong, parse_line
from ._protocol import error_text

__all__ = ["ModelDetails", "ModelSummary", "PullProgress", "PullReader", "RunningModel", "version_of", "wire_entries"]


def wire_entries(answer: Mapping[str, Any], key: str) -> list[dict[str, Any]] | None:
    """The objects listed under ``key`` (``models`` of ``/api/tags``, ``/api/ps``); None when that is
    not a list of objects.

    Example:
        >>> wire_entries({"models": [{"name": "a"}]}, "models"), wire_entries({"models": "a"}, "models")
        ([{'name': 'a'}], None)
    """
    entries = answer.get(key) or []
    return entries if isinstance(entries, list) and all(isinstance(e, dict) for e in entries) else None


def version_of(answer: Mapping[str, Any]) -> str:
    """The ``version`` of an ``/api/version`` answer ('' when it is not a string)."""
    version = answer.get("version")
    return version if isinstance(version, str) else ""


def _int(value: Any) -> int | None:
    """A finite whole number from the wire, or None (wrong type, NaN, infinite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return int(value)
    except (ValueError, OverflowError):
        return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _details(wire: Mapping[str, Any]) -> Mapping[str, Any]:
    details = wire.get("details")
    return details if isinstance(details, Mapping) else {}


@dataclass(frozen=True)
class ModelSummary:
    """A model on the server (one entry of ``/api/tags``)."""

    name: str
    size: int = 0
    modified_at: str = ""
    family: str = ""
    parameter_size: str = ""
    quantization_level: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> ModelSummary:
        details = _details(wire)
        return cls(
            name=str(wire.get("name") or wire.get("model") or ""),
            size=_int(wire.get("size")) or 0,
            modified_at=str(wire.get("modified_at") or ""),
            family=str(details.get("family") or ""),
            parameter_size=str(details.get("parameter_size") or ""),
            quantization_level=str(details.get("quantization_level") or ""),
            raw=dict(wire),
        )


@dataclass(frozen=True)
class ModelDetails:
    """What ``/api/show`` says about a model: context length, parameters, capabilities."""

    name: str
    context_length: int | None = None
    parameters: str = ""
    capabilities: tuple[str, ...] = ()
    family: str = ""
    parameter_size: str = ""
    quantization_level: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, name: str, wire: Mapping[str, Any]) -> ModelDetails:
        details = _details(wire)
        raw_info = wire.get("model_info")
        info: Mapping[str, Any] = raw_info if isinstance(raw_info, Mapping) else {}
        context = next(
            (int(v) for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)), None
        )
        return cls(
            name=name,
            context_length=context,
            parameters=str(wire.get("parameters") or ""),
            capabilities=tuple(str(c) for c in _list(wire.get("capabilities"))),
            family=str(details.get("family") or ""),
            parameter_size=str(details.get("parameter_size") or ""),
            quantization_level=str(details.get("quantization_level") or ""),
            raw=dict(wire),
        )


@dataclass(frozen=True)
class RunningModel:
    """A model loaded in memory (one entry of ``/api/ps``)."""

    name: str
    size: int = 0
    size_vram: int = 0
    expires_at: str = ""
    context_length: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> RunningModel:
        ctx = wire.get("context_length")
        return cls(
            name=str(wire.get("name") or wire.get("model") or ""),
            size=_int(wire.get("size")) or 0,
            size_vram=_int(wire.get("size_vram")) or 0,
            expires_at=str(wire.get("expires_at") or ""),
            context_length=_int(ctx),
            raw=dict(wire),
        )


@dataclass(frozen=True)
class PullProgress:
    """One progress event of ``/api/pull``: a status line, with byte counts while downloading."""

    status: str
    digest: str = ""
    total: int | None = None
    completed: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> PullProgress:
        total, completed = wire.get("total"), wire.get("completed")
        return cls(
            status=str(wire.get("status") or ""),
            digest=str(wire.get("digest") or ""),
            total=_int(total),
            completed=_int(completed),
            raw=dict(wire),
        )

    @property
    def fraction(self) -> float | None:
        """Share of the current layer downloaded (0..1), when the server says."""
        if self.total and self.completed is not None:
            return min(1.0, self.completed / self.total)
        return None

    @property
    def success(self) -> bool:
        """True on the final ``success`` event."""
        return self.status == "success"


class PullReader:
    """The progress events in the body of ``/api/pull``, read piece by piece under the line limit.

    A body whose first line is not JSON (an HTML page) is one :class:`MalformedReplyError`; a bad
    line later is skipped with a warning; an ``error`` line is a :class:`StreamError`.

    Example:
        >>> [e.status for e in PullReader("m", host="http://h:1").feed(b'{"status": "success"}\\n')]
        ['success']
    """

    def __init__(self, model: str, *, host: str, limit: int | None = None) -> None:
        self.model, self.host = model, host
        self._buffer = LineBuffer() if limit is None else LineBuffer(limit)
        self._seen = 0

    def feed(self, data: bytes) -> list[PullProgress]:
        """The events completed by ``data``."""
        try:
            lines = self._buffer.feed(data)
        except LineTooLong:
            raise LineTooLongError(self.host, limit=self._buffer.limit) from None
        events = []
        for line in lines:
            obj = parse_line(line)
            if obj is None:
                if not self._seen:
                    raise MalformedReplyError(self.host, repr(line[:80]))
                warning = f"skipped a malformed line from Ollama: {line[:80]!r}"
                warnings.warn(warning, MalformedLineWarning, stacklevel=4)
                continue
            self._seen += 1
            if "error" in obj:
                raise StreamError(
                    error_text(obj["error"]),
                    hint=f"Check the name '{self.model}' (see https://ollama.com/library) and your network.",
                )
            events.append(PullProgress.from_wire(obj))
        return events
