"""Which prompt, which model? A prompt × model × data grid with scores, paired statistics,
provenance and blind labels: :meth:`Session.experiment` and :func:`judge`.

Built on the batch (each model and repeat is one :class:`~ollama_nb.Batch`) and the record's
request keys, so what already has a finished answer is never sent again. numpy and pandas (the
``data`` extra) are imported only when a table or a statistic is asked for.

Example:
    >>> from ollama_nb import Session, judge
    >>> exp = Session(model="llama3.2").experiment(["Label: {item}", "Think step by step: {item}"],  # doctest: +SKIP
    ...                                            ["great", "awful"], models="llama3.2,qwen3", repeat=3)
    >>> exp.summary()                                                                          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from ._experiment import CellResult, Experiment, ExperimentProgress
from ._judge import Judge, judge
from ._tables import Paired

__all__ = ["CellResult", "Experiment", "ExperimentMethods", "ExperimentProgress", "Judge", "Paired", "judge"]


class ExperimentMethods:
    """:meth:`experiment` of :class:`~ollama_nb.Session`."""

    def experiment(self: Any, prompts: Any, items: Any, *, models: Any = None, repeat: int = 1, score: Any = None,
                   format: Any = None, hosts: Any = None, concurrency: int | None = None, cache: bool = True,
                   name: str | None = None, namespace: Any = None, **options: Any) -> Experiment:
        """Ask every prompt of ``prompts`` about every item with every model, ``repeat`` times
        (seeds 0…N−1, or ``seed+i``), score the answers, and return the running :class:`Experiment`.

        ``prompts``: a template, a dict ``name -> template or function``, or a list (``p1``, ``p2``…);
        ``models``: names (default: the session's); ``score``: ``(answer, item) -> number or bool``
        or a dict of them (with ``format``, ``answer`` is the parsed object); ``**options``: Ollama
        options. Cells that already have a finished answer in this session or the record are not sent.

        Example:
            >>> exp = Session(model="llama3.2").experiment("Label: {item}", ["great", "awful"])  # doctest: +SKIP
            >>> exp.wait(); exp.results                                                       # doctest: +SKIP
        """
        return Experiment(self, prompts, items, models=models, repeat=repeat, score=score, format=format, hosts=hosts,
                          concurrency=concurrency, cache=cache, namespace=namespace, name=name, options=options).start()
