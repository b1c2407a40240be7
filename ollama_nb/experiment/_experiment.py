"""A prompt × model × data grid, run: :class:`Experiment`, made by :meth:`Session.experiment`.

Each (model, repeat) runs as one :class:`~ollama_nb.Batch` over the (prompt, item) pairs, one
after another in a thread of the experiment's own, so the batch's concurrency, hosts, retries,
record and reuse apply unchanged: a cell whose exact request already has a finished answer (in
this session's memory or in the record) is not sent again. Editing one prompt therefore sends only
that prompt's cells, adding a model only that model's, and running a stopped experiment again
only what did not finish. Scores are computed from the stored answers when the answers are in;
:meth:`Experiment.rescore` does it again without a request (a judge asks its model once per
answer, and a second judging of the same answers is answered from the same memory and record).

Example:
    >>> exp = Session(model="llama3.2").experiment(                                # doctest: +SKIP
    ...     {"terse": "Label: {item.text}", "steps": "Think step by step, then label: {item.text}"},
    ...     reviews, models=["llama3.2", "qwen3"], repeat=3, format=schema,
    ...     score={"exact": lambda answer, item: answer["label"] == item["gold"]})
    >>> exp.summary()                                                             # doctest: +SKIP
    >>> exp.paired("steps", "terse", model="qwen3")                               # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from .._errors import OllamaError
from ..batch import Batch, ItemResult, items_of, render
from ..client import resolve_host
from ._grid import Cell, CellResult, ExperimentProgress, Scorer, models_of, prompts_of, scorers_of, variant_name
from ._labelling import LabelMethods
from ._servers import servers_of
from ._tables import TableMethods

__all__ = ["CellResult", "Experiment", "ExperimentProgress"]

#: The columns of :attr:`Experiment.results` before and after the score columns.
FIRST_COLUMNS = ("prompt", "model", "repeat", "seed", "answer", "parsed", "status", "error")
LAST_COLUMNS = ("ttft_s", "output_tokens", "tokens_per_s", "wall_s", "gpu_s", "host", "digest", "server_version")
_clock = time.perf_counter


def _as_is(text: str) -> str:
    return text


class Experiment(LabelMethods, TableMethods):
    """Prompts × models × items × repeats, with scores; see the module docstring.

    Iterate it for :class:`CellResult` objects as cells complete; :meth:`stop`, :meth:`wait`,
    :meth:`progress` as a :class:`~ollama_nb.Batch`. :attr:`results`, :meth:`summary`,
    :meth:`paired`, :meth:`provenance` and the labels read the finished grid.
    """

    def __init__(self, session: Any, prompts: Any, items: Any, *, models: Any = None, repeat: int = 1,
                 score: Any = None, format: Any = None, hosts: Any = None, concurrency: int | None = None,
                 cache: bool = True, namespace: Mapping[str, Any] | None = None, name: str | None = None,
                 options: Mapping[str, Any] | None = None) -> None:
        if int(repeat) < 1:
            raise ValueError("repeat must be 1 or more.")
        self._given = dict(prompts=prompts, items=items, models=models, repeat=repeat, score=score, format=format,
                           hosts=hosts, concurrency=concurrency, cache=cache, namespace=namespace, name=name,
                           options=options)
        self.session = session
        self.prompts = prompts_of(prompts)
        self.items = items_of(items)
        self.models = models_of(models, getattr(session, "model", None))
        self.repeat = int(repeat)
        self.scorers: dict[str, Scorer] = scorers_of(score)
        self.format = format
        self.concurrency = concurrency
        self.cache = cache
        self.options = dict(options or {})
        base = self.options.pop("seed", (getattr(session, "options", None) or {}).get("seed", 0))
        self.seeds = [int(base) + r for r in range(self.repeat)]
        if isinstance(hosts, str):
            hosts = [h for h in hosts.split(",") if h.strip()]
        own = [session.host] if session is not None else []
        self.hosts = [resolve_host(h.strip()) for h in hosts] if hosts else own
        pairs = list(zip(self.items.values, self.items.labels))
        self._texts = {p: [render(t, v, label, namespace or {}) for v, label in pairs] for p, t in self.prompts.items()}
        self._pairs = [(p, position) for p in self.prompts for position in range(len(self.items))]
        self.cells = [Cell(position, p, m, r, self.seeds[r]) for m in self.models for r in range(self.repeat)
                      for p, position in self._pairs]
        self.name = name or self._default_name()
        self._rows: list[ItemResult | None] = [None] * len(self.cells)
        self._scores: dict[str, list[Any]] = {}
        self.score_errors: dict[str, str] = {}
        self._versions: dict[str, str | None] = {}
        self._digests: dict[tuple[str, str], str | None] = {}
        self._changed = threading.Condition()
        self._completed: list[int] = []
        self._readers = 0  # iterators waiting for cells
        self._batch: Batch | None = None
        self._scoring: str | None = None
        self._judging = False
        self._stopping = False
        self._finished = False
        self.failure: BaseException | None = None
        self._t_start = _clock()
        self._t_end: float | None = None
        self._thread: threading.Thread | None = None
        self.labels = _labels_for(self)

    @classmethod
    def from_results(cls, results: Any, items: Any, *, score: Any = None, format: Any = None,
                     session: Any = None) -> Experiment:
        """An ended experiment rebuilt from a saved :attr:`results` table (``items``: the same data
        again, for the scorers); summary, paired, rescore and labels work on it, nothing is sent.

        Example:
            >>> exp.results.to_pickle("grid.pkl")                                          # doctest: +SKIP
            >>> saved = pandas.read_pickle("grid.pkl")                                       # doctest: +SKIP
            >>> Experiment.from_results(saved, reviews).rescore(exact)                        # doctest: +SKIP
        """
        prompts = {str(p): str(p) for p in dict.fromkeys(results["prompt"])}
        models = [str(m) for m in dict.fromkeys(results["model"])]
        seeds = sorted({int(s) for s in results["seed"]})
        exp = cls(session, prompts, items, models=models, repeat=len(seeds), score=score, format=format,
                  options={"seed": seeds[0]})
        where = {label: position for position, label in enumerate(exp.items.labels)}
        index_of = {(c.position, c.prompt, c.model, c.repeat): i for i, c in enumerate(exp.cells)}
        data = {column: results[column].tolist() for column in (*FIRST_COLUMNS, *LAST_COLUMNS)}
        for row, label in enumerate(results.index):
            cell = index_of[(where[label], str(data["prompt"][row]), str(data["model"][row]), int(data["repeat"][row]))]
            fields = {k: data[k][row] for k in ("answer", "parsed", "status", "error", "ttft_s", "output_tokens",
                                                "tokens_per_s", "wall_s", "gpu_s", "host")}
            exp._rows[cell] = ItemResult(label, where[label], "", **fields)
            exp._digests[(fields["host"] or "", str(data["model"][row]))] = data["digest"][row]
            exp._versions[fields["host"] or ""] = data["server_version"][row]
        exp._end()
        exp._score(exp.scorers)
        return exp

    def _default_name(self) -> str:
        """A name fixed by what the experiment asks (prompts, models, items, repeats), so the same
        experiment made again after a restart finds its labels."""
        what = {"prompts": {k: v if isinstance(v, str) else getattr(v, "__qualname__", "fn")
                            for k, v in self.prompts.items()},
                "models": self.models, "items": [str(label) for label in self.items.labels], "seeds": self.seeds}
        text = json.dumps(what, sort_keys=True, default=str)
        return "experiment-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    # -- running --------------------------------------------------------------------------------
    def start(self) -> Experiment:
        """Run in a thread of its own (``Session.experiment`` calls this)."""
        self._thread = threading.Thread(target=self._drive, name=f"ollama_nb-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _drive(self) -> None:
        try:
            self._versions, self._digests = servers_of(self.hosts, self.models)
            per_batch = len(self._pairs)
            texts = [self._texts[p][position] for p, position in self._pairs]
            for group, (model, repeat) in enumerate((m, r) for m in self.models for r in range(self.repeat)):
                if self._stopping:
                    break
                options = {**self.options, "seed": self.seeds[repeat]}
                batch = self.session.map(_as_is, texts, model=model, hosts=self.hosts, concurrency=self.concurrency,
                                         format=self.format, cache=self.cache, **options)
                with self._changed:
                    self._batch = batch
                if self._stopping:
                    batch.stop()
                for result in batch:
                    self._place(group * per_batch + result.position, result)
            if not self._stopping:
                self._score(self.scorers)
        except BaseException as exc:  # nothing else would see it in this thread
            self.failure = exc
        finally:
            self._end()

    def _place(self, index: int, result: ItemResult) -> None:
        with self._changed:
            self._rows[index] = result
            self._completed.append(index)
            if self._readers:  # wake iterators only: wait() needs the end alone (one wake-up fewer per cell)
                self._changed.notify_all()

    def _end(self) -> None:
        with self._changed:
            for index, row in enumerate(self._rows):
                if row is None or row.status == "pending":
                    cell = self.cells[index]
                    self._rows[index] = ItemResult(self.items.labels[cell.position], cell.position,
                                                   self._texts[cell.prompt][cell.position], status="not run")
                    self._completed.append(index)
            self._finished = True
            self._t_end = _clock()
            self._scoring = None
            self._changed.notify_all()

    def stop(self) -> None:
        """Close every open stream now (from any thread); keep the finished cells; send nothing more."""
        self._stopping = True
        with self._changed:
            batch = self._batch
        if batch is not None:
            batch.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every cell has ended and the scores are in (True), or ``timeout`` passes."""
        try:
            with self._changed:
                return self._changed.wait_for(lambda: self._finished, timeout)
        except KeyboardInterrupt:
            self.stop()
            raise

    @property
    def done(self) -> bool:
        """True once every cell has ended and the scores are in."""
        return self._finished

    def __await__(self) -> Any:
        """``await exp``: wait for the end without blocking the event loop."""
        import asyncio

        async def wait() -> Experiment:
            await asyncio.get_running_loop().run_in_executor(None, self.wait)
            return self

        return wait().__await__()

    def resume(self) -> Experiment:
        """The same experiment again: only the cells without a finished answer are sent."""
        return Experiment(self.session, **self._given).start()

    def __iter__(self) -> Iterator[CellResult]:
        cursor = 0
        with self._changed:
            self._readers += 1
        try:
            while True:
                with self._changed:
                    self._changed.wait_for(functools.partial(self._has_more, cursor))
                    if len(self._completed) <= cursor:
                        return
                    index = self._completed[cursor]
                    row = self._rows[index]
                cursor += 1
                assert row is not None
                yield CellResult(self.cells[index], row)
        finally:
            with self._changed:
                self._readers -= 1

    def _has_more(self, cursor: int) -> bool:
        return len(self._completed) > cursor or self._finished

    def __len__(self) -> int:
        return len(self.cells)

    # -- progress ---------------------------------------------------------------------------------
    def variants(self) -> list[str]:
        """The (prompt, model) variants' names, models first then prompts, in the order given."""
        return [variant_name(p, m) for m in self.models for p in self.prompts]

    def progress(self) -> ExperimentProgress:
        """Counts now: cells done, ok, failed, not run, reused; per variant; what is being scored."""
        counts = {"ok": 0, "error": 0, "not run": 0}
        reused = 0
        per_variant = {name: [0, 0] for name in self.variants()}
        with self._changed:
            rows, finished, scoring, batch = list(self._rows), self._finished, self._scoring, self._batch
        if scoring is not None and self._judging and batch is not None:  # a judge's requests, counted
            judged = batch.progress()
            scoring = f"{scoring} {judged.done}/{judged.total}"
        for cell, row in zip(self.cells, rows):
            per_variant[cell.variant][1] += 1
            if row is None or row.status == "pending":
                continue
            per_variant[cell.variant][0] += 1
            counts[row.status if row.status in counts else "error"] += 1
            reused += row.reused
        return ExperimentProgress(
            total=len(self.cells), done=sum(counts.values()), ok=counts["ok"], failed=counts["error"],
            not_run=counts["not run"], reused=reused, elapsed_s=(self._t_end or _clock()) - self._t_start,
            finished=finished, per_variant={k: (v[0], v[1]) for k, v in per_variant.items()}, scoring=scoring,
        )

    def __repr__(self) -> str:
        return f"<Experiment {len(self.prompts)} prompts × {len(self.models)} models × {len(self.items)} items × " \
               f"{self.repeat} repeats: {self.progress().line()}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    # -- scores -------------------------------------------------------------------------------------
    def rows(self) -> list[ItemResult | None]:
        """The :class:`~ollama_nb.ItemResult` of each cell, in the order of :attr:`cells` (None while pending)."""
        with self._changed:
            return list(self._rows)

    def finished_cells(self) -> list[tuple[int, str, Any, Any]]:
        """``(cell index, answer text, item, item label)`` of every cell that finished."""
        rows = self.rows()
        return [(i, row.answer or "", self.items.values[cell.position], self.items.labels[cell.position])
                for i, (cell, row) in enumerate(zip(self.cells, rows)) if row is not None and row.status == "ok"]

    def _score(self, scorers: Mapping[str, Scorer]) -> None:
        for name, scorer in scorers.items():
            with self._changed:
                self._scoring = f"scoring {name}"
            score_cells = getattr(scorer, "score_cells", None)
            if score_cells is not None:  # a judge: one batch of requests for all the answers
                values = score_cells(self, on_batch=self._watch)
            else:
                values = self._apply(name, scorer)
            with self._changed:
                self._scores[name] = values
                self.scorers[name] = scorer
                self._judging = False

    def _watch(self, batch: Batch) -> None:
        with self._changed:
            self._batch = batch
            self._judging = True
        if self._stopping:
            batch.stop()

    def _apply(self, name: str, scorer: Scorer) -> list[Any]:
        """``scorer(answer, item)`` for every finished cell (None for the others and where it raised)."""
        values: list[Any] = [None] * len(self.cells)
        failures, first = 0, None
        items, cells, rows, parsed = self.items.values, self.cells, self._rows, self.format is not None
        for index, row in enumerate(rows):
            if row is None or row.status != "ok":
                continue
            try:
                value = scorer(row.parsed if parsed else row.answer, items[cells[index].position])
            except Exception as exc:
                failures += 1
                first = first or f"{type(exc).__name__}: {exc}"
                continue
            values[index] = float(value) if isinstance(value, bool) else value
        if failures:
            self.score_errors[name] = f"{failures} answers could not be scored (first: {first})"
            warnings.warn(f"scorer {name!r}: {self.score_errors[name]}.", RuntimeWarning, stacklevel=3)
        return values

    def rescore(self, score: Any = None) -> Experiment:
        """Score again from the stored answers (``score``: new scorers, added to or replacing those
        of the same name; None: the current ones again). Sends no request for the answers; a new
        :func:`~ollama_nb.judge` asks its model once per answer not judged before."""
        if not self._finished:
            raise OllamaError("the experiment is still running: wait() for it, or stop() it, before rescoring.")
        self._score(scorers_of(score) if score is not None else dict(self.scorers))
        return self

    # -- tables -------------------------------------------------------------------------------------
    def columns(self) -> dict[str, list[Any]]:
        """The results as plain lists by column (what :attr:`results` is built from)."""
        with self._changed:
            rows = [r if r is not None else ItemResult(None, c.position, "", status="pending")
                    for r, c in zip(self._rows, self.cells)]
            scores = {name: list(values) for name, values in self._scores.items()}
        cells = self.cells
        out: dict[str, list[Any]] = {
            "index": [self.items.labels[c.position] for c in cells],
            "prompt": [c.prompt for c in cells], "model": [c.model for c in cells],
            "repeat": [c.repeat for c in cells], "seed": [c.seed for c in cells],
        }
        for column in ("answer", "parsed", "status", "error"):
            out[column] = [getattr(r, column) for r in rows]
        for name in self.scorers:
            out[name] = scores.get(name, [None] * len(cells))
        for column in ("ttft_s", "output_tokens", "tokens_per_s", "wall_s", "gpu_s", "host"):
            out[column] = [getattr(r, column) for r in rows]
        out["digest"] = [self._digests.get((r.host or "", c.model)) for r, c in zip(rows, cells)]
        out["server_version"] = [self._versions.get(r.host or "") for r in rows]
        return out

    @property
    def results(self) -> Any:
        """A long DataFrame, one row per item × prompt × model × repeat (waits for the end): the
        input's index, then ``prompt model repeat seed answer parsed status error``, one column per
        score, ``ttft_s output_tokens tokens_per_s wall_s gpu_s host digest server_version``."""
        import pandas

        self.wait()
        data = self.columns()
        labels = data.pop("index")
        index = pandas.Index(labels, name=(self.items.index.name if self.items.index is not None else None) or "item")
        return pandas.DataFrame(data, index=index, columns=[*FIRST_COLUMNS, *self.scorers, *LAST_COLUMNS])


def _labels_for(experiment: Experiment) -> Any:
    from ._labels import Labels

    return Labels(experiment.session, experiment.name)

