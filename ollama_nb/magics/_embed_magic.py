"""``%ollama embed NAME [-m MODEL] [--text TEMPLATE] [--dimensions N] [--batch-size N] [--hosts H,H] -o VAR``.

Embeds every item of ``NAME`` (a list, Series or DataFrame of the notebook) with the batch's progress
row and Stop button, and stores the float32 matrix in ``VAR``. Texts embedded before (same model,
digest, Ollama version, dimensions) come from the record and are not sent again.

Example (a notebook cell)::

    %ollama embed reviews -m nomic-embed-text -o vectors
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.core.error import UsageError

from .._errors import Interrupted
from ..embeddings import EmbedJob, EmbedPlan, plan_embedding, require
from ._arguments import SubcommandParser

__all__ = ["EMBED_PARSER", "USAGE", "embed_command", "embed_command_async", "read_arguments"]


USAGE = "%ollama embed NAME [-m MODEL] [--text TEMPLATE] [--dimensions N] [--batch-size N] [--hosts H,H] -o VAR"


def _parser() -> SubcommandParser:
    parser = SubcommandParser("embed", USAGE, "name")
    parser.add_argument("-m", "--model")
    parser.add_argument("--text")
    parser.add_argument("--dimensions", type=int)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hosts")
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--no-cache", dest="cache", action="store_false")
    parser.add_argument("-o", "--output", required=True)
    return parser


#: How ``%ollama embed`` reads its arguments (every subcommand is read by a SubcommandParser).
EMBED_PARSER = _parser()


def _plan(magics: Any, args: argparse.Namespace) -> EmbedPlan:
    require("numpy", "%ollama embed")  # before anything is sent
    if args.name not in magics.shell.user_ns:
        raise UsageError(f"embed takes the name of a list, Series or DataFrame; {args.name!r} is not defined.")
    try:
        return plan_embedding(magics.session_for(args.session), magics.shell.user_ns[args.name],
                              model=args.model or magics.model or None, text=args.text, dimensions=args.dimensions,
                              batch_size=args.batch_size, hosts=args.hosts or magics.hosts or None,
                              concurrency=args.concurrency, cache=args.cache)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def read_arguments(line: str) -> argparse.Namespace:
    """The arguments of ``%ollama embed`` given as one line (a UsageError line when they are bad)."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"embed: cannot read {line!r}: {exc}") from None
    return EMBED_PARSER.read(words)


def _view(magics: Any, job: EmbedJob) -> Any:
    from ..view._batch_view import DEFAULT_INTERVAL, BatchView

    interval = max(magics.update_interval, DEFAULT_INTERVAL)
    return BatchView(job, on_stop=job.stop, interval=interval)  # type: ignore[arg-type]  # a Batch by duck type


def embed_command(magics: Any, args: argparse.Namespace) -> None:
    """Blocking path (terminal, nested cells): the job runs in its own thread; Ctrl-C stops it."""
    from ..view._batch_view import watch_batch_sync

    plan = _plan(magics, args)
    if plan.job is not None:
        job = plan.job.start()
        try:
            watch_batch_sync(job, _view(magics, job))  # type: ignore[arg-type]
        except Interrupted:
            pass  # the matrix below says what was kept and what to do
    magics.shell.user_ns[args.output] = plan.matrix()


async def embed_command_async(magics: Any, line: str) -> None:
    """Awaiting path (a rewritten cell): the kernel's loop keeps running, so the Stop button works."""
    from ..view import abort_held_requests, ui_poller
    from ..view._batch_view import watch_batch_async

    args = read_arguments(line)
    plan = _plan(magics, args)
    if plan.job is not None:
        job = plan.job.start()
        async with ui_poller() as poll:
            try:
                await watch_batch_async(job, _view(magics, job), poll=poll)  # type: ignore[arg-type]
            except Exception as exc:
                if poll is not None:
                    abort_held_requests(magics.shell)
                if not isinstance(exc, Interrupted):
                    raise  # an Interrupted: the matrix below says what was kept and what to do
    magics.shell.user_ns[args.output] = plan.matrix()
