"""Run ``%%ollama`` cells as async cells, so the Stop button works while they stream.

Magics are synchronous functions, so a magic cell blocks the kernel and a widget click waits until
it ends. An input transformer (in ``input_transformers_cleanup``, before IPython's own ``%%``
transform) rewrites a cell that *is* an ollama magic into one top-level ``await`` of
:func:`run_magic`; ipykernel and IPython then run it as an async cell (measured on ipykernel 6.29
and 7.4; see docs/stopping.md).

The rewrite is skipped (the ordinary synchronous magic runs; interrupt still stops it) when
autoawait is off, the loop runner is not asyncio, or the transform is called from inside running
code (``%%capture``, ``%%time``, ``run_cell`` from code).

Example:
    >>> rewrite_cell(["%%ollama -m llama3.2\\n", "Why is the sky blue?\\n"])   # doctest: +SKIP
    ["await __import__('ollama_nb.magics', fromlist=['run_magic']).run_magic('ollama', ' -m llama3.2', 'Why is the sky blue?\\n')\\n"]
"""  # noqa: E501 (the rewritten line, verbatim)

from __future__ import annotations

import asyncio
import re
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ._magics import OllamaMagics

_CELL_MAGIC = re.compile(r"^%%(ollama|ollama_chat)(?=\s|$)(.*)$")
_LINE_MAGIC = re.compile(r"^%(ollama_chat|ollama embed)(?=\s|$)(.*)$")  # line magics that stream or run a batch
_CALL = "await __import__('ollama_nb.magics', fromlist=['run_magic']).run_magic"


def _inside_running_code() -> bool:
    """True when the transform is called from code that a cell is executing."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if (
            frame.f_code.co_name in ("run_code", "run_ast_nodes")
            and frame.f_globals.get("__name__") == "IPython.core.interactiveshell"
        ):
            return True
        frame = frame.f_back
    return False


def _can_await() -> bool:
    try:
        from IPython import get_ipython
        from IPython.core.async_helpers import _asyncio_runner

        shell = get_ipython()
    except Exception:
        return False
    if shell is None or not getattr(shell, "autoawait", False):
        return False
    runner = getattr(shell, "loop_runner", None)
    return runner is _asyncio_runner or getattr(runner, "__name__", "") == "_asyncio_runner"


def rewrite_cell(lines: list[str]) -> list[str]:
    """Turn a cell that is an ollama magic into ``await run_magic(...)`` (else leave it)."""
    if not lines:
        return lines
    first = lines[0].rstrip("\r\n")
    cell_match = _CELL_MAGIC.match(first)
    line_match = None if cell_match else _LINE_MAGIC.match(first)
    if cell_match is None and (line_match is None or any(rest.strip() for rest in lines[1:])):
        return lines
    if not _can_await() or _inside_running_code():
        return lines
    if cell_match is not None:
        name, line = cell_match.groups()
        body: str | None = "".join(lines[1:])
    else:
        assert line_match is not None
        name, line = line_match.groups()
        body = None
    return [f"{_CALL}({name!r}, {line!r}, {body!r})\n"]


rewrite_cell.has_side_effects = True  # type: ignore[attr-defined]  # keep check_complete away


def _magics() -> OllamaMagics:
    from IPython import get_ipython

    shell = get_ipython()
    magics = shell.magics_manager.registry.get("OllamaMagics") if shell is not None else None
    if magics is None:
        raise RuntimeError("ollama_nb is not loaded: run %load_ext ollama_nb")
    return magics


async def run_magic(name: str, line: str, cell: str | None) -> None:
    """What a rewritten cell awaits: the magic, on the awaiting path."""
    magics = _magics()
    if name == "ollama embed":
        from ._embed_magic import embed_command_async

        with _sigint_cancels_task(magics.shell):
            await embed_command_async(magics, line)
        return
    if name == "ollama":
        call = magics.prepare("generate", line, cell)
    else:
        call = magics.prepare("chat", line, cell)
    with _sigint_cancels_task(magics.shell):
        await magics.run_async(call)


class _sigint_cancels_task:
    """Outside a kernel (terminal IPython runs async cells with run_until_complete), Ctrl-C must
    cancel the cell's task instead of escaping the loop and leaving the stream open."""

    def __init__(self, shell: InteractiveShell) -> None:
        self._active = getattr(shell, "kernel", None) is None and threading.current_thread() is threading.main_thread()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Any = None

    def __enter__(self) -> None:
        if not self._active:
            return
        task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        self._previous = signal.getsignal(signal.SIGINT)
        try:
            self._loop.add_signal_handler(signal.SIGINT, task.cancel)  # type: ignore[union-attr]
        except (NotImplementedError, RuntimeError, ValueError):
            self._loop = None

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None:
            self._loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, self._previous)
