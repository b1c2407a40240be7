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

import asyncio
import contextlib
import math
import sys
import time
from typing import Any, Callable

from .._errors import Interrupted
from .._safe import SafeMarkdown
from ._batch_view import DEFAULT_INTERVAL
from ._consume import Poll, clear_cancellation
from ._controls import Controls, widgets_available
from ._outputs import markdown_bundle, plain_text
from ._tables import markdown_table

__all__ = ["ExperimentView", "summary_markdown", "watch_experiment_async", "watch_experiment_sync"]


def _kernel_running() -> bool:
    """True inside a Jupyter kernel (a progress output there; a text line in a terminal)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


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


class ExperimentView:
    """The progress of one experiment (see the module docstring); ``clock`` is injectable."""

    def __init__(self, experiment: Any, *, on_stop: Callable[[], None] | None = None,
                 interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic,
                 kernel: bool | None = None) -> None:
        self.experiment = experiment
        self.interval = interval
        self.clock = clock
        self.kernel = _kernel_running() if kernel is None else kernel
        self.redraws = 0
        self._shown_at: float | None = None
        self._controls: Controls | None = None
        self._handle: Any = None
        if self.kernel:
            from IPython.display import display

            if on_stop is not None and widgets_available():
                self._controls = Controls(on_stop, label="Stop")
            self._handle = display(self._bundle(), raw=True, display_id=True)
            self._shown_at = clock()

    def _bundle(self, outcome: str | None = None) -> dict[str, str]:
        exp = self.experiment
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

    def refresh(self) -> None:
        """Redraw if ``interval`` has passed since the last redraw."""
        now = self.clock()
        if self._shown_at is not None and now - self._shown_at < self.interval:
            return
        self._shown_at = now
        self.redraws += 1
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)
        elif not self.kernel:
            sys.stdout.write("\r" + self.experiment.progress().line() + "   ")
            sys.stdout.flush()

    def finish(self, outcome: str) -> None:
        """The last redraw: close the Stop button, show the summary and the paired sentence."""
        if self._controls is not None:
            self._controls.close()
            self._controls = None
        bundle = self._bundle(outcome)
        if self._handle is not None:
            self._handle.update(bundle, raw=True)
        else:
            sys.stdout.write("\r" + bundle["text/plain"] + "\n")
            sys.stdout.flush()


def _outcome(experiment: Any, interrupted: bool) -> str:
    progress = experiment.progress()
    if interrupted:
        return "interrupted"
    if progress.not_run:
        return "stopped"
    return "done" if not progress.failed else "done with errors"


def _interrupted(experiment: Any) -> Interrupted:
    p = experiment.progress()
    return Interrupted(what="the experiment", detail=f"stopped: {p.ok} finished cells are kept, {p.not_run} did not run",
                       hint="Run the cell again: only the cells without a finished answer are sent.")


def watch_experiment_sync(experiment: Any, view: ExperimentView, *, tick: float = 0.1) -> None:
    """Redraw until the experiment ends (blocking); Ctrl-C stops it and raises :class:`Interrupted`."""
    interrupted = False
    try:
        while not experiment.wait(tick):
            view.refresh()
    except KeyboardInterrupt:
        interrupted = True
        experiment.stop()
        experiment.wait(10)
    finally:
        view.finish(_outcome(experiment, interrupted))
    if interrupted:
        raise _interrupted(experiment)


async def watch_experiment_async(experiment: Any, view: ExperimentView, *, poll: Poll | None = None,
                                 tick: float = 0.1) -> None:
    """The awaiting twin (the kernel's loop keeps running, so the Stop button is heard)."""
    interrupted = False
    try:
        while not experiment.done:
            await asyncio.sleep(0.02 if poll is not None else tick)
            if poll is not None:
                await poll(10)
            view.refresh()
    except (KeyboardInterrupt, asyncio.CancelledError):
        interrupted = True
        clear_cancellation()
        experiment.stop()
    finally:
        if not experiment.done:
            experiment.stop()
            with contextlib.suppress(BaseException):
                await asyncio.get_running_loop().run_in_executor(None, experiment.wait, 10)
        view.finish(_outcome(experiment, interrupted))
    if interrupted:
        raise _interrupted(experiment)
