"""The tables an experiment answers with, computed from its long results DataFrame: the summary
per variant, a paired comparison (:class:`Paired`), the provenance, and a plot.

pandas and numpy are imported by the functions that need them (the ``data`` extra).

Example:
    >>> Paired("steps", "terse", "exact", "model qwen3", wins=14, losses=3, ties=7, mean_diff=0.29,
    ...        ci=(0.12, 0.45), p_value=0.0127, flips=None)
    steps beats terse on 14 of 24 items, loses 3, ties 7; mean +0.29 [0.12, 0.45], p = 0.013
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._grid import variant_name
from ._statistics import bootstrap_interval, sign_test

__all__ = ["Paired", "TableMethods", "paired_comparison", "plot_summary", "provenance_table", "summary_table"]


def _numeric(column: Any) -> Any:
    import pandas

    return pandas.to_numeric(column, errors="coerce")


def _per_item(frame: Any, score: str) -> Any:
    """One value per item: its repeats averaged (cells without a score left out)."""
    return _numeric(frame[score]).groupby(level=0, sort=False).mean().dropna()


def summary_table(results: Any, scores: Sequence[str], prompts: Sequence[str], models: Sequence[str]) -> Any:
    """One row per (prompt, model), in the order given; see :meth:`Experiment.summary`."""
    import pandas

    rows = []
    for model in models:
        for prompt in prompts:
            sub = results[(results["prompt"] == prompt) & (results["model"] == model)]
            row: dict[str, Any] = {"prompt": prompt, "model": model, "n": sub.index.nunique(),
                                   "failed": int((sub["status"] != "ok").sum())}
            for score in scores:
                values = _per_item(sub, score)
                low, high = bootstrap_interval(values.tolist())
                row[score] = float(values.mean()) if len(values) else float("nan")
                row[f"{score}_low"], row[f"{score}_high"] = low, high
            row["output_tokens"] = _numeric(sub["output_tokens"]).mean()
            row["tokens_per_s"] = _numeric(sub["tokens_per_s"]).mean()
            row["wall_s"] = _numeric(sub["wall_s"]).mean()
            row["gpu_s"] = _numeric(sub["gpu_s"]).sum(min_count=1)
            rows.append(row)
    return pandas.DataFrame(rows).set_index(["prompt", "model"])


@dataclass(frozen=True)
class Paired:
    """Two variants item by item (repeats averaged): wins, losses and ties of ``a`` against ``b``,
    the mean difference with its 95% bootstrap interval, the exact two-sided sign test's p-value
    on the non-tied items, and ``flips``: the items where they disagree, answers side by side."""

    a: str
    b: str
    score: str
    held: str
    wins: int
    losses: int
    ties: int
    mean_diff: float
    ci: tuple[float, float]
    p_value: float
    flips: Any

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    def sentence(self) -> str:
        """``'steps beats terse on 14 of 24 items, loses 3, ties 7; mean +0.29 [0.12, 0.45], p = 0.006'``"""
        p = "p < 0.001" if self.p_value < 0.001 else f"p = {self.p_value:.3f}"
        return (f"{self.a} beats {self.b} on {self.wins} of {self.n} items, loses {self.losses}, ties {self.ties}; "
                f"mean {self.mean_diff:+.2f} [{self.ci[0]:.2f}, {self.ci[1]:.2f}], {p}")

    def __repr__(self) -> str:
        return self.sentence()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.sentence())


def _axis(a: str, b: str, prompts: Sequence[str], models: Sequence[str], model: str | None,
          prompt: str | None) -> tuple[str, str, str]:
    """``(the column a and b name, the other column, the value held fixed there)``."""
    if a in prompts and b in prompts:
        if model is None and len(models) > 1:
            raise ValueError(f"{a!r} and {b!r} are prompts and this experiment has {len(models)} models: "
                             f"say which with model= ({', '.join(models)}).")
        return "prompt", "model", model or models[0]
    if a in models and b in models:
        if prompt is None and len(prompts) > 1:
            raise ValueError(f"{a!r} and {b!r} are models and this experiment has {len(prompts)} prompts: "
                             f"say which with prompt= ({', '.join(prompts)}).")
        return "model", "prompt", prompt or prompts[0]
    raise ValueError(f"paired() compares two prompts ({', '.join(prompts)}) or two models ({', '.join(models)}); "
                     f"{a!r} and {b!r} are not both one or the other.")


def paired_comparison(results: Any, a: str, b: str, *, scores: Sequence[str], prompts: Sequence[str],
                      models: Sequence[str], score: str | None = None, model: str | None = None,
                      prompt: str | None = None) -> Paired:
    """See :meth:`Experiment.paired`."""
    import pandas

    if score is None:
        if not scores:
            raise ValueError("this experiment has no score: give score= when you make it, or rescore(...) it.")
        score = scores[0]
    elif score not in scores:
        raise ValueError(f"no score named {score!r}; the scores are: {', '.join(scores) or 'none'}.")
    axis, other, held = _axis(a, b, prompts, models, model, prompt)
    sub = results[results[other] == held]
    side_a, side_b = sub[sub[axis] == a], sub[sub[axis] == b]
    joined = pandas.concat([_per_item(side_a, score), _per_item(side_b, score)], axis=1, keys=[a, b]).dropna()
    diff = joined[a] - joined[b]
    wins, losses = int((diff > 0).sum()), int((diff < 0).sum())
    first_a = side_a[side_a["repeat"] == 0]["answer"].groupby(level=0, sort=False).first()
    first_b = side_b[side_b["repeat"] == 0]["answer"].groupby(level=0, sort=False).first()
    flipped = joined[diff != 0]
    flips = pandas.DataFrame({
        f"{score} {a}": flipped[a], f"{score} {b}": flipped[b],
        f"answer {a}": first_a.reindex(flipped.index), f"answer {b}": first_b.reindex(flipped.index),
    })
    return Paired(a, b, score, f"{other} {held}", wins=wins, losses=losses, ties=int((diff == 0).sum()),
                  mean_diff=float(diff.mean()) if len(diff) else float("nan"), ci=bootstrap_interval(diff.tolist()),
                  p_value=sign_test(wins, losses), flips=flips)


def provenance_table(results: Any, options: Mapping[str, Any]) -> Any:
    """Per (prompt, model): digests, versions, hosts, seeds and options seen; a warning on drift."""
    import pandas

    rows = []
    for (prompt, model), sub in results[results["status"] == "ok"].groupby(["prompt", "model"], sort=False):
        digests = sorted({str(d) for d in sub["digest"] if d is not None})
        versions = sorted({str(v) for v in sub["server_version"] if v is not None})
        rows.append({"prompt": prompt, "model": model, "answers": len(sub), "digests": digests,
                     "versions": versions, "hosts": sorted({str(h) for h in sub["host"] if h is not None}),
                     "seeds": sorted({int(s) for s in sub["seed"]}),
                     "options": json.dumps(dict(options), sort_keys=True, default=str),
                     "drift": len(digests) > 1 or len(versions) > 1})
    table = pandas.DataFrame(rows, columns=["prompt", "model", "answers", "digests", "versions", "hosts", "seeds",
                                            "options", "drift"]).set_index(["prompt", "model"])
    drifted = [variant_name(p, m) for (p, m), drift in table["drift"].items() if drift]
    if drifted:
        warnings.warn(f"the answers of {', '.join(drifted)} came from more than one model digest or Ollama version: "
                      "compare like with like (run them again on one server).", UserWarning, stacklevel=3)
    return table


def plot_summary(summary: Any, score: str | None) -> Any:
    """A horizontal error-bar chart of one score per variant (matplotlib)."""
    if score is None:
        raise ValueError("there is no score to plot: give score= when you make the experiment.")
    import matplotlib.pyplot as plt

    labels = [variant_name(p, m) for p, m in summary.index]
    means = summary[score].to_numpy()
    errors = [means - summary[f"{score}_low"].to_numpy(), summary[f"{score}_high"].to_numpy() - means]
    figure, axes = plt.subplots(figsize=(6, 0.5 + 0.4 * len(labels)))
    axes.errorbar(means, range(len(labels)), xerr=errors, fmt="o", capsize=4)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel(f"{score} (mean, 95% interval)")
    figure.tight_layout()
    return figure


class TableMethods:
    """The tables of :class:`~ollama_nb.Experiment`, read from its :attr:`results` (a base class,
    so the grid's module stays about running the grid)."""

    results: Any
    scorers: dict[str, Any]
    prompts: dict[str, Any]
    models: list[str]
    session: Any
    options: dict[str, Any]

    def summary(self) -> Any:
        """One row per (prompt, model): ``n`` items, ``failed`` cells, each score's mean over items
        (repeats averaged first) with its 95% bootstrap interval (``<score>_low``, ``<score>_high``),
        mean output tokens, tokens/s, wall time, and the GPU seconds the server reported in all."""
        return summary_table(self.results, list(self.scorers), list(self.prompts), self.models)

    def paired(self, a: str, b: str, *, score: str | None = None, model: str | None = None,
               prompt: str | None = None) -> Any:
        """Compare two prompts (the model held fixed) or two models (the prompt held fixed), item
        by item: a :class:`Paired`."""
        return paired_comparison(self.results, a, b, scores=list(self.scorers), prompts=list(self.prompts),
                                 models=self.models, score=score, model=model, prompt=prompt)

    def provenance(self) -> Any:
        """Per (prompt, model): the digests, Ollama versions, hosts and options seen; warns when one
        variant's answers came from more than one digest or version (drift)."""
        return provenance_table(self.results, {**(getattr(self.session, "options", None) or {}), **self.options})

    def plot(self, score: str | None = None) -> Any:
        """Each variant's mean score with its interval (matplotlib; the ``plot`` extra)."""
        return plot_summary(self.summary(), score or next(iter(self.scorers), None))
