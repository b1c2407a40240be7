"""IPython integration: ``%load_ext ollama_nb`` registers the magics, the async-cell rewrite and
the short error display; ``%unload_ext ollama_nb`` removes all three."""

from __future__ import annotations

from typing import Any

from IPython.core.interactiveshell import InteractiveShell

from .._safe import terminal_text
from ._magics import OllamaMagics, ReplyText
from ._rewrite import rewrite_cell, run_magic

__all__ = ["OllamaMagics", "ReplyText", "load_ipython_extension", "run_magic", "unload_ipython_extension"]

_saved_custom_exc: dict[int, tuple[Any, Any]] = {}


def _short_error(
    shell: InteractiveShell, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
) -> list[str]:
    """Show an OllamaError as its one- to three-line message, not a traceback."""
    lines = terminal_text(value).splitlines() or [etype.__name__]
    stb = [f"\x1b[0;31m{etype.__name__}\x1b[0m: {lines[0]}", *lines[1:]]
    shell._showtraceback(etype, value, stb)
    return stb


def _warm_up() -> None:
    """Import what the first streamed cell would otherwise import inside its time to first token."""
    try:
        import anyio._backends._asyncio  # noqa: F401  (imported lazily by the first request: ~150 ms)
        import httpcore._backends.anyio  # noqa: F401

        from .. import _markdown  # noqa: F401
    except ImportError:  # pragma: no cover
        pass


def load_ipython_extension(ipython: InteractiveShell) -> None:
    from .._errors import OllamaError

    if "OllamaMagics" in ipython.magics_manager.registry:
        return
    ipython.register_magics(OllamaMagics(ipython))
    _warm_up()
    if rewrite_cell not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(rewrite_cell)
    _saved_custom_exc[id(ipython)] = (ipython.custom_exceptions, ipython.CustomTB)
    ipython.set_custom_exc((OllamaError,), _short_error)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    registry = ipython.magics_manager.registry
    magics = registry.pop("OllamaMagics", None)
    if magics is not None:
        for kind in ("line", "cell"):
            table = ipython.magics_manager.magics[kind]
            for name in ("ollama", "ollama_chat"):
                table.pop(name, None)
    while rewrite_cell in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(rewrite_cell)
    saved = _saved_custom_exc.pop(id(ipython), None)
    if saved is not None:
        ipython.custom_exceptions, ipython.CustomTB = saved
