"""What a person sees while an experiment runs: one progress row (cells per variant) with a Stop
button; at the end the summary table and, with two variants, the paired sentence.

The same throttle as the batch view: the core counts, the view redraws only when ``interval`` has
passed and once at the end. Every name and number shown is untrusted text (prompt names, model
names, server fields) and goes through :class:`~ollama_nb._safe.SafeMarkdown`.

Example:
    >>> view = ExperimentView(exp, on_stop=exp.stop)     # doctest: +SKIP
    >>> watch_experiment_sync(exp, view)                  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any

from .._safe import SafeMarkdown
from ._batch_view import DEFAULT_INTERVAL, BatchView, watch_batch_async, watch_batch_sync
from ._outputs import markdown_bundle, plain_text
from ._tables import markdown_table

__all__ = ["DEFAULT_INTERVAL", "ExperimentView", "summary_markdown", "watch_batch_async", "watch_batch_sync"]


def _interval(mean: Any, low: Any, high: Any) -> SafeMarkdown:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return SafeMarkdown.trusted("")
    return SafeMarkdown.text(f"{mean:.2f} [{low:.2f}, {high:.2f}]")


def summary_markdown(experiment: Any) -> SafeMarkdown:
    """The summary as a Markdown table: a row per variant, each score as ``mean [low, high]``."""
    summary = experiment.summary()
    scores = list(experiment.scorers)
    rows = []
    for (prompt, model), row in summary.iterrows():
        cells: dict[str, Any] = {"prompt": SafeMarkdown.text(prompt), "model": SafeMarkdown.text(model),
                                 "n": int(row["n"]), "failed": int(row["failed"])}
        for score in scores:
            cells[score] = _interval(row[score], row[f"{score}_low"], row[f"{score}_high"])
        for column, label in (("output_tokens", "tokens"), ("tokens_per_s", "tok/s"), ("wall_s", "wall s"),
                              ("gpu_s", "GPU s")):
            value = row[column]
            cells[label] = None if value is None or math.isnan(value) else float(value)
        rows.append(cells)
    columns = ["prompt", "model", "n", "failed", *scores, "tokens", "tok/s", "wall s", "GPU s"]
    return markdown_table(rows, columns)


def paired_sentence(experiment: Any) -> str | None:
    """With exactly two variants and a score: the paired comparison's sentence (else None)."""
    if not experiment.scorers:
        return None
    prompts, models = list(experiment.prompts), list(experiment.models)
    if len(prompts) == 2 and len(models) == 1:
        return experiment.paired(prompts[1], prompts[0]).sentence()
    if len(models) == 2 and len(prompts) == 1:
        return experiment.paired(models[1], models[0]).sentence()
    return None


class ExperimentView(BatchView):
    """The progress of one experiment: the batch view's throttle, Stop button and terminal line,
    with the experiment's own progress row and final summary (``batch`` is the experiment)."""

    def _bundle(self, outcome: str | None = None) -> dict[str, str]:
        exp: Any = self.batch  # an Experiment: a batch's progress protocol, and its grid
        line = exp.progress().line()
        shape = f"{len(exp.prompts)} prompts × {len(exp.models)} models × {len(exp.items)} items × {exp.repeat} repeats"
        if outcome is None:
            markdown = SafeMarkdown.trusted("**{}** · {}").format(SafeMarkdown.text(shape), SafeMarkdown.text(line))
            return markdown_bundle(markdown, f"{shape} · {line}")
        head = f"{shape} — {outcome}"
        parts = [SafeMarkdown.trusted("**{}:** {}").format(SafeMarkdown.text(head), SafeMarkdown.text(line))]
        plain = [f"{head}: {line}"]
        try:
            table = summary_markdown(exp)
            parts.append(table)
            plain.append(plain_text(table))
            sentence = paired_sentence(exp)
        except ImportError as exc:  # pandas or numpy missing: say what to install
            sentence = f"(install the data extra for the summary: pip install 'ollama_nb[data]' — {exc})"
        if sentence:
            parts.append(SafeMarkdown.text(sentence))
            plain.append(sentence)
        if exp.failure is not None:
            parts.append(SafeMarkdown.text(f"The experiment failed: {exp.failure}"))
        return markdown_bundle(SafeMarkdown.trusted("\n\n").join(parts), "\n".join(plain))
