"""Where the record lives: ``OLLAMA_NB_DB``, else the configured path, else the user's data folder.

``off`` (in the variable or the setting) turns recording off. The default folder comes from
``platformdirs`` (``~/.local/share/ollama_nb`` on Linux, ``~/Library/Application Support/ollama_nb``
on macOS, ``%LOCALAPPDATA%\\ollama_nb`` on Windows).

Example:
    >>> record_path(None, environ={"OLLAMA_NB_DB": "/tmp/r.db"})
    PosixPath('/tmp/r.db')
    >>> record_path("/tmp/mine.db", environ={}) .name
    'mine.db'
    >>> record_path(None, environ={"OLLAMA_NB_DB": "off"}) is None
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

__all__ = ["DB_ENV", "FILE_NAME", "OFF", "record_path"]

DB_ENV = "OLLAMA_NB_DB"
FILE_NAME = "record.db"
OFF = frozenset({"off", "none", "0", "false", "no"})


def _default_folder() -> Path:
    from platformdirs import user_data_path

    return user_data_path("ollama_nb", appauthor=False)


def record_path(
    configured: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The database file to use, or None when recording is off."""
    env = os.environ if environ is None else environ
    for value in (env.get(DB_ENV), configured):
        if value is None or str(value).strip() == "":
            continue
        text = os.fspath(value).strip()
        if text.lower() in OFF:
            return None
        return Path(text).expanduser()
    return _default_folder() / FILE_NAME
