"""A scorer that asks a model to grade each answer: :func:`judge`.

Its requests are a :class:`~ollama_nb.Batch` of the experiment's session (temperature 0, seed 0,
an integer ``enum`` schema), so they go through the record and the session's memory like any
batch: judging the same answers again sends nothing, and the judging shows in the progress.

Example:
    >>> grader = judge("qwen3", "Is the label right for the review?")
    >>> grader.name, grader.schema["properties"]["score"]["enum"]
    ('judge qwen3', [1, 2, 3, 4, 5])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import OllamaError
from ..batch import render

if TYPE_CHECKING:
    from ..batch import Batch
    from ._experiment import Experiment

__all__ = ["Judge", "judge"]

PROMPT = (
    "You grade one answer.\nRubric: {rubric}\n\nInput:\n{item}\n\nAnswer:\n{answer}\n\n"
    "Score it from {low} (worst) to {high} (best) as JSON: {{\"score\": n}}."
)


def _as_is(text: str) -> str:
    return text


class Judge:
    """Grades answers with ``model`` following ``rubric``, on ``scale`` (inclusive integers)."""

    def __init__(self, model: str, rubric: str, *, scale: tuple[int, int] = (1, 5), name: str | None = None) -> None:
        low, high = int(scale[0]), int(scale[1])
        if low >= high:
            raise ValueError("scale must be (lowest, highest) with lowest < highest, e.g. (1, 5).")
        self.model, self.rubric, self.scale = model, rubric, (low, high)
        self.name = name or f"judge {model}"
        grades = {"type": "integer", "enum": list(range(low, high + 1))}
        self.schema = {"type": "object", "properties": {"score": grades}, "required": ["score"]}

    def prompt(self, answer: Any, item: Any, index: Any = None) -> str:
        """The grading prompt for one answer to one item."""
        low, high = self.scale
        return render(PROMPT, item, index, {"rubric": self.rubric, "answer": answer, "low": low, "high": high})

    def _value(self, parsed: Any) -> float | None:
        score = parsed.get("score") if isinstance(parsed, dict) else None
        if isinstance(score, (int, float)) and not isinstance(score, bool) and self.scale[0] <= score <= self.scale[1]:
            return float(score)
        return None

    def score_cells(self, experiment: Experiment, *, on_batch: Callable[[Batch], None] | None = None) -> list[Any]:
        """One grade per finished cell of ``experiment`` (None for the others), as one batch."""
        if experiment.session is None:
            raise OllamaError("a judge sends requests through a session: rebuild the experiment with "
                              "Experiment.from_results(..., session=Session(...)).")
        finished = experiment.finished_cells()
        values: list[Any] = [None] * len(experiment.cells)
        if not finished:
            return values
        prompts = [self.prompt(answer, item, label) for _, answer, item, label in finished]
        batch = experiment.session.map(_as_is, prompts, model=self.model, format=self.schema, hosts=experiment.hosts,
                                       concurrency=experiment.concurrency, temperature=0, seed=0)
        if on_batch is not None:
            on_batch(batch)
        for (index, *_), result in zip(finished, batch.results):
            values[index] = self._value(result.parsed) if result.status == "ok" else None
        return values

    def __call__(self, answer: Any, item: Any) -> float | None:
        """Grade one answer on its own (one request of a new session of ``model``)."""
        from .._session import Session

        reply = Session(self.model).generate(self.prompt(answer, item), format=self.schema, temperature=0, seed=0)
        from .._structured import parse_json_reply

        return self._value(parse_json_reply(reply.read()))

    def __repr__(self) -> str:
        return f"<Judge {self.model} {self.scale[0]}–{self.scale[1]}: {self.rubric[:40]!r}>"


def judge(model: str, rubric: str, *, scale: tuple[int, int] = (1, 5)) -> Judge:
    """A scorer that asks ``model`` to grade each answer against ``rubric`` (integers in ``scale``).

    Example:
        >>> grader = judge("qwen3", "Is the label right?")                          # doctest: +SKIP
        >>> exp = session.experiment(prompts, reviews, score={"judge": grader})      # doctest: +SKIP
    """
    return Judge(model, rubric, scale=scale)
