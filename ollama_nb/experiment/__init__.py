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

from ._experiment import CellResult, Experiment, ExperimentProgress
from ._judge import Judge, judge
from ._tables import Paired

__all__ = ["CellResult", "Experiment", "ExperimentProgress", "Judge", "Paired", "judge"]
