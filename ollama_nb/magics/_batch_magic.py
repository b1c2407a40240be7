"""``%%ollama --over NAME``: the cell body is a template sent once per item of NAME.

``{item}``, ``{item.col}``/``{item[col]}`` and ``{index}`` are each item's; every other ``{name}``
comes from the namespace as usual (one pass, so a value is never interpolated twice). ``-o VAR``
stores the answers in input order: a list for a list or tuple, a pandas Series with the input's
index for a Series, DataFrame or dict; ``None`` where an item failed or did not run; the parsed
objects with ``--format``. ``--concurrency`` and ``--hosts`` default to ``%config
OllamaMagics.concurrency`` and ``.hosts``. Running the cell again sends only the items without a
finished answer; ``--no-cache`` sends them all. ``--ray OUT_DIR`` runs the cell on Ray Data instead
(NAME a Ray Dataset, a DataFrame or a Parquet path; see ``_ray_magic``).

Example (a notebook cell)::

    %%ollama --over reviews -o labels --format schema --concurrency 4
    Classify this review as positive, negative or mixed: {item}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..client import GenerateRequest

if TYPE_CHECKING:
    from ._magics import MagicCall, OllamaMagics

__all__ = ["run_batch_async", "run_batch_sync"]

#: Request fields of a prompt cell that a batch passes on: every ``/api/generate`` field (format,
#: think, keep_alive, truncate, logprobs…) but images, which are not per item.
_PASSED = GenerateRequest.parameter_names() - {"images"}


def _batch_arguments(magics: OllamaMagics, call: MagicCall) -> dict[str, Any]:
    """What :meth:`Session.map` is given for this cell (UsageError for what a batch cannot do)."""
    args = call.args
    items = magics.shell.user_ns.get(args.over)
    if items is None:
        raise UsageError(f"--over takes the name of a list, dict, Series or DataFrame; {args.over!r} is not defined.")
    if "images" in call.extra:
        raise UsageError("--image is not available with --over (one prompt per item, no shared images).")
    if len(call.models) > 1:
        raise UsageError("--over runs one model; give one -m.")
    hosts = args.hosts or magics.hosts or None
    if hosts is None and (args.host or magics.host):
        hosts = call.session.host
    concurrency = args.concurrency if args.concurrency is not None else (magics.concurrency or None)
    namespace = magics.shell.user_ns if args.interpolate else {}
    extra = {k: v for k, v in call.extra.items() if k in _PASSED}
    cache = True if getattr(args, "cache", None) is None else args.cache  # a batch resumes unless --no-cache
    return dict(prompt=call.prompt, items=items, concurrency=concurrency, hosts=hosts, model=call.model,
                namespace=namespace, cache=cache, **extra, **call.options)


def _ray_job(magics: OllamaMagics, call: MagicCall) -> Any:
    """``--ray OUT_DIR``: the cell's prompt over the dataset on Ray Data (a RayJob, watched as a batch)."""
    from ._ray_magic import start_ray_job

    return start_ray_job(magics, call)


def _start(magics: OllamaMagics, call: MagicCall) -> Any:
    if getattr(call.args, "ray", None):
        return _ray_job(magics, call)
    try:
        return call.session.map(**_batch_arguments(magics, call))
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


async def _astart(magics: OllamaMagics, call: MagicCall) -> Any:
    if getattr(call.args, "ray", None):
        return _ray_job(magics, call)
    try:
        return await call.session.amap(**_batch_arguments(magics, call))
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _view(magics: OllamaMagics, batch: Any) -> Any:
    from ..view._batch_view import DEFAULT_INTERVAL, BatchView

    return BatchView(batch, on_stop=batch.stop, interval=max(magics.update_interval, DEFAULT_INTERVAL))


def _conclude(magics: OllamaMagics, call: MagicCall, batch: Any) -> None:
    if getattr(call.args, "ray", None):
        from ._ray_magic import conclude_ray_job

        return conclude_ray_job(magics, call, batch)
    if call.args.output:
        magics.shell.user_ns[call.args.output] = batch.answers()


def run_batch_sync(magics: OllamaMagics, call: MagicCall) -> None:
    """Blocking path (terminal, nested cells): the batch runs in its own thread; Ctrl-C stops it."""
    from ..view._batch_view import watch_batch_sync
    from ._experiment_magic import is_experiment, run_experiment_sync

    if is_experiment(call):  # --prompts, --repeat, --score or several models: a grid
        return run_experiment_sync(magics, call)
    batch = _start(magics, call)
    try:
        watch_batch_sync(batch, _view(magics, batch))
    finally:
        _conclude(magics, call, batch)


async def run_batch_async(magics: OllamaMagics, call: MagicCall) -> None:
    """Awaiting path (a rewritten cell): the batch runs in the kernel's loop, so the Stop button
    and the interrupt both reach it."""
    from ..view import abort_held_requests, ui_poller
    from ..view._batch_view import watch_batch_async
    from ._experiment_magic import is_experiment, run_experiment_async

    if is_experiment(call):  # --prompts, --repeat, --score or several models: a grid
        return await run_experiment_async(magics, call)
    batch = await _astart(magics, call)
    try:
        async with ui_poller() as poll:
            try:
                await watch_batch_async(batch, _view(magics, batch), poll=poll)
            except Exception:
                if poll is not None:
                    abort_held_requests(magics.shell)
                raise
    finally:
        _conclude(magics, call, batch)
