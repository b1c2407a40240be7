"""A Ray job's rows in the session's SQLite record, written on the driver (the record's only writer).

The workers hand each answered row's fields back with their block's summary while the job has at
most :data:`RECORD_ROWS` rows; :func:`write_record` then writes one turn per row (``ok`` or
``error``; ``not run`` rows were never sent), tagged with the job's batch id and keyed as a
``Session.map`` item is, so ``--over`` with the record's cache (and ``Session.map(cache=True)``)
finds these answers and does not send them again. A bigger job leaves the record alone: its Parquet
output folder is the record of that job.

Example:
    >>> job = run("in.parquet", "Sum up: {item.text}", "out/", model="llama3.2")   # doctest: +SKIP
    >>> job.wait(); write_record(job, session)                                      # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping

from .._record import RecordedTurn, request_key
from .._timing import Timing
from ..client import Client

__all__ = ["RECORD_ROWS", "write_record"]

#: The most rows a job writes to the SQLite record; above it the Parquet folder is the job's record.
RECORD_ROWS = 50_000


def _keys_of(recording: Any, host: str, model: str) -> tuple[str | None, str]:
    """``(digest, server)`` as the session's recording learns them for ``host`` (what its keys use)."""
    with Client(host) as client:
        digest = recording.digest(client, model)
        return digest, recording.server(client) if digest else ""


def write_record(rows: Iterable[Mapping[str, Any]], recording: Any, *, request: Mapping[str, Any],
                 batch: str) -> int:
    """Write ``rows`` (the workers' record fields) as turns through ``recording`` (a session's
    :class:`~ollama_nb._record.SessionRecording`); returns how many. Nothing when recording is off."""
    from ._prompt import request_template

    if recording.record is None:
        return 0
    template = request_template(request["model"], request.get("format"), request.get("system"),
                                request.get("options") or {})
    by_host: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_host.setdefault(row.get("host") or "", []).append(row)
    written = 0
    for host, host_rows in by_host.items():
        digest, server = _keys_of(recording, host, template.model) if host else (None, "")
        for row in host_rows:
            body = dataclasses.replace(template, prompt=row["prompt"]).body()
            ok = row["status"] == "ok"
            recording.write_turn(RecordedTurn(
                host=host, endpoint="generate", model=template.model, prompt=row["prompt"],
                text=row.get("answer") or "", status="done" if ok else "error", error=row.get("error"),
                system=body.get("system"), options=dict(body.get("options") or {}), format=body.get("format"),
                think=body.get("think"), in_context=False, digest=digest,
                timing=Timing(ttft_s=row.get("ttft_s"), output_tokens=row.get("output_tokens")),
                request_key=request_key("generate", body, digest, server=server), batch=batch,
            ))
            written += 1
    return written
