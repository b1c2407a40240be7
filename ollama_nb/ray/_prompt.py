"""One block of rows answered by one Ollama host: :class:`BlockAnswers` (what every Ray actor of a
job does with a block) and :class:`Prompt`, the callable class Ray Data runs for :func:`~ollama_nb.ray.map`.

A block's rows get their prompt from the batch's templates (``{item.col}``, ``{item[col]}``) and are
streamed with ``Session.amap`` — the batch's own runner, so ``concurrency`` streams at most, 503/429
retried, an item's error kept to that item. Rows whose ``request_key`` already has an ``ok`` answer
in the output folder are dropped (not sent, not written again). Rows the host never answered (it
went away) are handed back, so that another host answers them.

:class:`Prompt` polls the job's control for the stop flag (every 0.1 s) and sends the rows its host
left to a host still in the rotation; :func:`~ollama_nb.ray.run` uses the long-lived actors of
``_worker`` instead.

Example (inside a pipeline of your own; :func:`ollama_nb.ray.map` does this for you)::

    ds.map_batches(Prompt, fn_constructor_kwargs={"prompt": "Sum up: {item.text}", "model": "llama3.2",
                   "hosts": ["http://127.0.0.1:11434"]}, concurrency=1, num_cpus=0.05, batch_format="pandas")
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any, Callable, Collection, Mapping, Sequence

from .._record import request_key
from .._session import Session
from ..batch import render

__all__ = ["ANSWER_FIELDS", "BlockAnswers", "Prompt", "answer_schema", "request_template"]

#: Seconds between two looks at the stop flag (:class:`Prompt`).
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


def request_template(model: str, format: Any, system: str | None, options: Mapping[str, Any]) -> Any:
    """The ``GenerateRequest`` every row fills in: built as ``Session.map`` builds its own, so a row's
    body is the body the batch would send for the same prompt (the record's keys then agree)."""
    return Session(model=model, record=False).request_template(format=format, system=system, **options)


def _same(text: str) -> str:
    return text


@dataclasses.dataclass
class Sent:
    """What one host did with a block's prompts: each row's outcome (``None``: never answered)."""

    outcomes: list[dict[str, Any] | None]
    last_error: str | None = None

    @property
    def unanswered(self) -> list[int]:
        return [i for i, o in enumerate(self.outcomes) if o is None]


class BlockAnswers:
    """The job's request settings, and what is done with each block of rows (see the module docstring)."""

    def __init__(self, prompt: str | Callable[[Any], str], *, model: str, concurrency: int = 4, format: Any = None,
                 system: str | None = None, options: Mapping[str, Any] | None = None, digest: str | None = None,
                 skip_keys: Collection[str] = (), input_schema: Any = None) -> None:
        self.prompt = prompt
        self.model = model
        self.concurrency = concurrency
        self.format = format
        self.system = system
        self.options = dict(options or {})
        self.template = request_template(model, format, system, self.options)
        self.digest = digest
        self.skip_keys = frozenset(skip_keys)
        self.input_schema = input_schema

    def key(self, prompt_text: str) -> str:
        """The row's request key (the model's name stands in for an unknown digest)."""
        body = dataclasses.replace(self.template, prompt=prompt_text).body()
        key = request_key("generate", body, self.digest or f"name:{self.model}")
        assert key is not None  # no logprobs here
        return key

    def prepare(self, block: Any) -> tuple[Any, list[str], list[str], int]:
        """``(rows to write, their prompts, their keys, rows dropped as already answered)`` of a pandas block."""
        import pandas

        rows = [pandas.Series(r, dtype=object) for r in block.to_dict("records")]
        prompts = [render(self.prompt, row, None, {}) for row in rows]
        keys = [self.key(p) for p in prompts]
        keep = [i for i, k in enumerate(keys) if k not in self.skip_keys]
        return block.iloc[keep], [prompts[i] for i in keep], [keys[i] for i in keep], len(rows) - len(keep)

    async def send(self, host: str, prompts: list[str], *, on_result: Callable[[Any], None] | None = None,
                   on_start: Callable[[Any], None] | None = None) -> Sent:
        """Stream every prompt to ``host``; ``on_start(batch)`` sees the running batch (to stop it),
        ``on_result(result)`` each item that ended with the host's answer or error."""
        session = Session(model=self.model, host=host, record=False)
        batch = await session.amap(_same, prompts, hosts=[host], concurrency=self.concurrency, format=self.format,
                                   cache=False, system=self.system, **self.options)
        if on_start is not None:
            on_start(batch)
        async for result in batch:
            if not (result.status == "error" and result.host is None) and on_result is not None:
                on_result(result)
        await batch
        figures = batch.host_figures()[0]
        gone = not figures["in_rotation"]
        outcomes = [None if gone and r.status == "error" and r.host is None else self.outcome(r)
                    for r in batch.results]
        return Sent(outcomes, figures["last_error"])

    @staticmethod
    def outcome(result: Any) -> dict[str, Any]:
        parsed = json.dumps(result.parsed, ensure_ascii=False) if result.parsed is not None else None
        return {"answer": result.answer, "parsed": parsed, "status": result.status, "error": result.error,
                "host": result.host, "output_tokens": result.output_tokens, "ttft_s": result.ttft_s}

    def table(self, block: Any, results: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> Any:
        """The block's rows (input columns as they came) plus the answer columns, typed."""
        import pyarrow as pa

        table = pa.Table.from_pandas(block, schema=self.input_schema, preserve_index=False) \
            if self.input_schema is not None else pa.Table.from_pandas(block, preserve_index=False)
        for field in answer_schema():
            values = keys if field.name == "request_key" else [r.get(field.name) for r in results]
            table = table.append_column(field, pa.array(values, type=field.type))
        return table


class Prompt:
    """One Ray Data actor's worth of :func:`~ollama_nb.ray.map` (see the module docstring)."""

    def __init__(self, prompt: str | Callable[[Any], str], *, model: str, hosts: Sequence[str], concurrency: int = 4,
                 format: Any = None, system: str | None = None, options: Mapping[str, Any] | None = None,
                 digest: str | None = None, skip_keys: Collection[str] = (), control: Any = None,
                 input_schema: Any = None) -> None:
        self.answers = BlockAnswers(prompt, model=model, concurrency=concurrency, format=format, system=system,
                                    options=options, digest=digest, skip_keys=skip_keys, input_schema=input_schema)
        self.control = control
        self.host = self._ask("claim_host") if control is not None else list(hosts)[0]

    def _ask(self, method: str, *args: Any) -> Any:
        import ray

        return ray.get(getattr(self.control, method).remote(*args))

    def _tell(self, method: str, *args: Any) -> None:
        if self.control is not None:
            getattr(self.control, method).remote(*args)

    def __call__(self, block: Any) -> Any:
        kept, prompts, keys, reused = self.answers.prepare(block)
        if reused:
            self._tell("add_reused", reused)
        if self.control is not None and self._ask("stopped"):
            results: list[dict[str, Any]] = [{"status": "not run"} for _ in prompts]
            self._tell("add_not_run", len(prompts))
        else:
            results = asyncio.run(self._send_all(prompts))
        return self.answers.table(kept, results, keys)

    async def _send_all(self, prompts: list[str]) -> list[dict[str, Any]]:
        """Every prompt's outcome, in order; rows a dead host left go to a host still in rotation."""
        outcomes: list[dict[str, Any]] = [{} for _ in prompts]
        todo = list(range(len(prompts)))
        while todo:
            watcher: list[asyncio.Future[None]] = []
            sent = await self.answers.send(self.host, [prompts[i] for i in todo], on_result=self._told,
                                           on_start=lambda batch: watcher.append(self._watch(batch)))
            for task in watcher:
                task.cancel()
            for position, outcome in zip(todo, sent.outcomes):
                if outcome is not None:
                    outcomes[position] = outcome
            todo = [todo[i] for i in sent.unanswered]
            if todo:
                live = await _awaited(self.control.host_died.remote(self.host, sent.last_error)) \
                    if self.control is not None else []
                if not live:
                    for position in todo:
                        outcomes[position] = no_host_outcome(sent.last_error)
                        self._tell("add", "error", None, None, None, None)
                    todo = []
                else:
                    self.host = live[0]
        return outcomes

    def _told(self, result: Any) -> None:
        preview = (result.answer or "")[:200] if result.status == "ok" else result.error
        self._tell("add", result.status, result.host, result.index, preview, result.output_tokens)

    def _watch(self, batch: Any) -> asyncio.Future[None]:
        async def watch() -> None:
            while self.control is not None and not batch.done:
                if await _awaited(self.control.stopped.remote()):
                    batch.stop()
                    return
                await asyncio.sleep(STOP_POLL_S)

        return asyncio.ensure_future(watch())


def no_host_outcome(last_error: str | None) -> dict[str, Any]:
    """A row that no host answered: failed, saying why."""
    return {"status": "error", "error": f"no host answered (last: {last_error})"}


async def _awaited(ref: Any) -> Any:
    return await asyncio.wrap_future(ref.future())
