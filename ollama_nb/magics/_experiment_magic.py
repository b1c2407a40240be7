"""``%%ollama --over NAME --prompts P -m a,b --repeat N --score F -o VAR``: a prompt × model ×
data grid from a cell (see :meth:`~ollama_nb.Session.experiment`).

``P`` names a dict or list of templates in the notebook (without ``--prompts`` the cell body is the
one prompt), ``F`` a scorer or a dict of them, ``-o VAR`` stores the :class:`~ollama_nb.Experiment`.
One progress row with a Stop button while it runs, then the summary table and, with two variants,
the paired sentence. Running the cell again sends only the cells without a finished answer.

Example (a notebook cell)::

    %%ollama --over reviews --prompts prompts -m llama3.2,qwen3 --repeat 3 --score exact -o exp --format schema
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

if TYPE_CHECKING:
    from ..experiment import Experiment
    from ._magics import MagicCall, OllamaMagics

__all__ = ["is_experiment", "run_experiment_async", "run_experiment_sync"]

_PASSED = ("format", "think", "keep_alive", "system")


def is_experiment(call: MagicCall) -> bool:
    """An ``--over`` cell with prompts, repeats, a score or several models is an experiment."""
    args = call.args
    return bool(getattr(args, "prompts", None) or getattr(args, "repeat", None) or getattr(args, "score", None)
                or len(call.models) > 1)


def _names(magics: OllamaMagics) -> dict[str, Any]:
    """The notebook's variables."""
    shell = magics.shell
    assert shell is not None  # a magic runs in a shell
    return shell.user_ns


def _named(magics: OllamaMagics, option: str, name: str) -> Any:
    found = _names(magics).get(name)
    if found is None:
        raise UsageError(f"{option} takes the name of a variable of this notebook; {name!r} is not defined.")
    return found


def _start(magics: OllamaMagics, call: MagicCall) -> Experiment:
    args = call.args
    items = _named(magics, "--over", args.over)
    if "images" in call.extra:
        raise UsageError("--image is not available with --over (one prompt per item, no shared images).")
    prompts = _named(magics, "--prompts", args.prompts) if args.prompts else call.prompt
    score = _named(magics, "--score", args.score) if args.score else None
    hosts = args.hosts or magics.hosts or None
    if hosts is None and (args.host or magics.host):
        hosts = call.session.host
    concurrency = args.concurrency if args.concurrency is not None else (magics.concurrency or None)
    extra = {k: v for k, v in call.extra.items() if k in _PASSED}
    cache = True if getattr(args, "cache", None) is None else args.cache
    try:
        return call.session.experiment(prompts, items, models=call.models, repeat=args.repeat or 1, score=score,
                                       hosts=hosts, concurrency=concurrency, cache=cache,
                                       namespace=_names(magics) if args.interpolate else {}, **extra,
                                       **call.options)
    except (TypeError, ValueError, KeyError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None


def _view(magics: OllamaMagics, experiment: Experiment) -> Any:
    from ..view._experiment_view import DEFAULT_INTERVAL, ExperimentView

    return ExperimentView(experiment, on_stop=experiment.stop,  # type: ignore[arg-type]  # a batch's progress protocol
                          interval=max(magics.update_interval, DEFAULT_INTERVAL))


def run_experiment_sync(magics: OllamaMagics, call: MagicCall) -> None:
    """Blocking path: the experiment runs in its own thread; Ctrl-C stops it."""
    from ..view._experiment_view import watch_batch_sync

    experiment = _start(magics, call)
    try:
        watch_batch_sync(experiment, _view(magics, experiment))  # type: ignore[arg-type]  # a batch's protocol
    finally:
        if call.args.output:
            _names(magics)[call.args.output] = experiment


async def run_experiment_async(magics: OllamaMagics, call: MagicCall) -> None:
    """Awaiting path (a rewritten cell): the Stop button and the interrupt both reach it."""
    from ..view import ui_poller
    from ..view._experiment_view import watch_batch_async

    experiment = _start(magics, call)
    try:
        async with ui_poller() as poll:
            await watch_batch_async(experiment, _view(magics, experiment), poll=poll)  # type: ignore[arg-type]
    finally:
        if call.args.output:
            _names(magics)[call.args.output] = experiment
