"""What the model endpoints answer: local models, model details, running models, pull progress.

Each is a frozen dataclass made from the wire dict with ``from_wire``; ``raw`` keeps everything.

Example:
    >>> p = PullProgress.from_wire({"status": "pulling 85eece979df5", "total": 200, "completed": 50})
    >>> p.fraction
    0.25
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["ModelDetails", "ModelSummary", "PullProgress", "RunningModel"]


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
            size=int(wire.get("size") or 0),
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
            capabilities=tuple(str(c) for c in wire.get("capabilities") or ()),
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
            size=int(wire.get("size") or 0),
            size_vram=int(wire.get("size_vram") or 0),
            expires_at=str(wire.get("expires_at") or ""),
            context_length=int(ctx) if isinstance(ctx, int) else None,
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
            total=int(total) if isinstance(total, (int, float)) else None,
            completed=int(completed) if isinstance(completed, (int, float)) else None,
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
