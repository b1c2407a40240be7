"""The callable class that Ray Data runs once per actor: :class:`Prompt` sends one block of rows to
its Ollama host and returns them with the answer columns.

Each actor claims one host from the job's control (one actor per host), renders each row's prompt
with the batch's templates (``{item.col}``, ``{item[col]}``), and streams every row with
``Session.amap`` — the batch's own runner, so ``concurrency`` streams at most, 503/429 retried, an
item's error kept to that item. Rows whose ``request_key`` already has an ``ok`` answer in the
output folder are dropped (not sent, not written again). A stop (the control's flag, polled every
0.1 s) closes every open stream; the block's unsent rows, and every later block, come back ``not
run``. A host that cannot be reached leaves the rotation and the actor sends its unanswered rows,
and its later blocks, to a host still in it.

Example (inside a pipeline of your own; :func:`ollama_nb.ray.map` does this for you)::

    ds.map_batches(Prompt, fn_constructor_kwargs={"prompt": "Sum up: {item.text}", "model": "llama3.2",
                   "hosts": ["http://127.0.0.1:11434"]}, concurrency=1, num_cpus=0.25, batch_format="pandas")
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable, Collection, Mapping, Sequence

from .._record import request_key
from .._session import Session
from ..batch import render
from ..client import GenerateRequest

__all__ = ["ANSWER_FIELDS", "Prompt", "answer_schema", "row_key"]

#: Seconds between two looks at the stop flag.
STOP_POLL_S = 0.1


def answer_schema() -> Any:
    """The Arrow fields added to every input row, in order (fixed types: a block of ``not run`` rows,
    all nulls, is still readable next to the others)."""
    import pyarrow as pa

    return pa.schema([
        ("answer", pa.string()), ("parsed", pa.string()), ("status", pa.string()), ("error", pa.string()),
        ("host", pa.string()), ("output_tokens", pa.int64()), ("ttft_s", pa.float64()), ("request_key", pa.string()),
    ])


#: The column names :func:`answer_schema` adds (``parsed`` is the parsed JSON, as JSON text).
ANSWER_FIELDS = ("answer", "parsed", "status", "error", "host", "output_tokens", "ttft_s", "request_key")


def row_key(prompt_text: str, request: Mapping[str, Any], digest: str | None) -> str:
    """The record's request key of one row's request (the model's name stands in for an unknown digest)."""
    body = GenerateRequest(prompt=prompt_text, **request).body()
    key = request_key("generate", body, digest or f"name:{request['model']}")
    assert key is not None  # no logprobs here
    return key


def _same(text: str) -> str:
    return text


class Prompt:
    """One Ray actor's worth of the job (see the module docstring)."""

    def __init__(self, prompt: str | Callable[[Any], str], *, model: str, hosts: Sequence[str], concurrency: int = 4,
                 format: Any = None, system: str | None = None, options: Mapping[str, Any] | None = None,
                 digest: str | None = None, skip_keys: Collection[str] = (), control: Any = None,
                 input_schema: Any = None) -> None:
        self.prompt = prompt
        self.model = model
        self.concurrency = concurrency
        self.format = format
        self.system = system
        self.options = dict(options or {})
        self.request = {"model": model, "system": system, "options": self.options or None, "format": format}
        self.digest = digest
        self.skip_keys = frozenset(skip_keys)
        self.control = control
        self.input_schema = input_schema
        self.host = self._ask("claim_host") if control is not None else list(hosts)[0]

    def _ask(self, method: str, *args: Any) -> Any:
        import ray

        return ray.get(getattr(self.control, method).remote(*args))

    def _tell(self, method: str, *args: Any) -> None:
        if self.control is not None:
            getattr(self.control, method).remote(*args)

    # -- one block --------------------------------------------------------------------------------
    def __call__(self, block: Any) -> Any:
        import pandas

        rows = [pandas.Series(r, dtype=object) for r in block.to_dict("records")]
        prompts = [render(self.prompt, row, None, {}) for row in rows]
        keys = [row_key(p, self.request, self.digest) for p in prompts]
        keep = [i for i, k in enumerate(keys) if k not in self.skip_keys]
        if len(keep) < len(rows):
            self._tell("add_reused", len(rows) - len(keep))
        prompts, keys = [prompts[i] for i in keep], [keys[i] for i in keep]
        if self.control is not None and self._ask("stopped"):
            results: list[dict[str, Any]] = [{"status": "not run"} for _ in prompts]
            self._tell("add_not_run", len(prompts))
        else:
            results = asyncio.run(self._send_all(prompts))
        return self._table(block.iloc[keep], results, keys)

    async def _send_all(self, prompts: list[str]) -> list[dict[str, Any]]:
        """Every prompt's outcome, in order; rows a dead host left go to a host still in rotation."""
        outcomes: list[dict[str, Any]] = [{} for _ in prompts]
        todo = list(range(len(prompts)))
        while todo:
            batch = await self._send(self.host, [prompts[i] for i in todo])
            figures = batch.host_figures()[0]
            unanswered = []
            for position, result in zip(todo, batch.results):
                if not figures["in_rotation"] and result.status == "error" and result.host is None:
                    unanswered.append(position)  # never answered: the host went away
                    continue
                outcomes[position] = self._outcome(result)
            todo = unanswered
            if todo:
                live = await self._await(self.control.host_died.remote(self.host, figures["last_error"])) \
                    if self.control is not None else []
                if not live:
                    for position in todo:
                        error = f"no host answered (last: {figures['last_error']})"
                        outcomes[position] = {"status": "error", "error": error}
                        self._tell("add", "error", None, None, None, None)
                    todo = []
                else:
                    self.host = live[0]
        return outcomes

    async def _send(self, host: str, prompts: list[str]) -> Any:
        session = Session(model=self.model, host=host, record=False)
        batch = await session.amap(_same, prompts, hosts=[host], concurrency=self.concurrency, format=self.format,
                                   cache=False, system=self.system, **self.options)
        watcher = asyncio.ensure_future(self._watch_stop(batch)) if self.control is not None else None
        try:
            async for result in batch:
                if not (result.status == "error" and result.host is None):  # told at the end, once settled
                    preview = (result.answer or "")[:200] if result.status == "ok" else result.error
                    self._tell("add", result.status, result.host, result.index, preview, result.output_tokens)
            await batch
        finally:
            if watcher is not None:
                watcher.cancel()
        return batch

    async def _watch_stop(self, batch: Any) -> None:
        while not batch.done:
            if await self._await(self.control.stopped.remote()):
                batch.stop()
                return
            await asyncio.sleep(STOP_POLL_S)

    @staticmethod
    async def _await(ref: Any) -> Any:
        return await asyncio.wrap_future(ref.future())

    @staticmethod
    def _outcome(result: Any) -> dict[str, Any]:
        parsed = json.dumps(result.parsed, ensure_ascii=False) if result.parsed is not None else None
        return {"answer": result.answer, "parsed": parsed, "status": result.status, "error": result.error,
                "host": result.host, "output_tokens": result.output_tokens, "ttft_s": result.ttft_s}

    def _table(self, block: Any, results: list[dict[str, Any]], keys: list[str]) -> Any:
        """The block's rows (input columns as they came) plus the answer columns, typed."""
        import pyarrow as pa

        table = pa.Table.from_pandas(block, schema=self.input_schema, preserve_index=False) \
            if self.input_schema is not None else pa.Table.from_pandas(block, preserve_index=False)
        for field in answer_schema():
            values = keys if field.name == "request_key" else [r.get(field.name) for r in results]
            table = table.append_column(field, pa.array(values, type=field.type))
        return table
