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

from .._embed_session import plan_embedding

__all__ = ["embed_command"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="%ollama embed", add_help=False, exit_on_error=False)
    parser.add_argument("name")
    parser.add_argument("-m", "--model")
    parser.add_argument("--text")
    parser.add_argument("--dimensions", type=int)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hosts")
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--no-cache", dest="cache", action="store_false")
    parser.add_argument("-o", "--output", required=True)
    return parser


USAGE = "%ollama embed NAME [-m MODEL] [--text TEMPLATE] [--dimensions N] [--batch-size N] [--hosts H,H] -o VAR"


def embed_command(magics: Any, rest: list[str], session: Any) -> None:
    """Run ``%ollama embed``; the matrix goes to ``-o VAR``."""
    try:
        args = _parser().parse_args(rest)
    except (argparse.ArgumentError, SystemExit) as exc:
        raise UsageError(f"embed: {exc if isinstance(exc, argparse.ArgumentError) else 'bad arguments'}; "
                         f"usage is {USAGE}") from None
    if args.name not in magics.shell.user_ns:
        raise UsageError(f"embed takes the name of a list, Series or DataFrame; {args.name!r} is not defined.")
    hosts = args.hosts or magics.hosts or None
    try:
        plan = plan_embedding(session, magics.shell.user_ns[args.name], model=args.model or magics.model or None,
                              text=args.text, dimensions=args.dimensions, batch_size=args.batch_size, hosts=hosts,
                              concurrency=args.concurrency, cache=args.cache)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if plan.job is not None:
        from ..view._batch_view import DEFAULT_INTERVAL, BatchView, watch_batch_sync

        job = plan.job.start()
        interval = max(magics.update_interval, DEFAULT_INTERVAL)
        view = BatchView(job, on_stop=job.stop, interval=interval)  # type: ignore[arg-type]  # a Batch by duck type
        watch_batch_sync(job, view)  # type: ignore[arg-type]
    matrix = plan.matrix()
    magics.shell.user_ns[args.output] = matrix
    return None
