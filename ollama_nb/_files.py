"""Files the package writes for the user (``save``, ``export``): private, never through a symlink,
never over an existing file unless asked.

A new file is created 0600 (like the record) with ``O_EXCL | O_NOFOLLOW``; with ``overwrite`` the
text goes to a private temporary file beside it, which then replaces the destination (a symlink
there is replaced, never followed).

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "session.json")
    >>> write_private(path, "hi")
    >>> oct(os.stat(path).st_mode & 0o777)
    '0o600'
"""

from __future__ import annotations

import errno
import os
import tempfile

from ._errors import OllamaError

__all__ = ["write_private"]


def write_private(path: str | os.PathLike[str], text: str, *, overwrite: bool = False, what: str = "the file") -> None:
    """Write ``text`` (UTF-8) to a new 0600 file at ``path``; an existing one is an error unless
    ``overwrite``. Every failure is one :class:`OllamaError` line naming the path."""
    target = os.fspath(path)
    data = text.encode("utf-8")
    try:
        if overwrite:
            _replace(target, data)
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(target, flags, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
    except FileExistsError:
        raise OllamaError(
            f"{target!r} already exists: not overwritten.\n"
            "Choose another path, or pass --force (overwrite=True in Python) to replace it."
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OllamaError(f"{target!r} is a symbolic link: {what} is never written through one.") from None
        raise OllamaError(
            f"cannot write {what} to {target!r}: {exc.strerror or exc}.\nCheck that the folder exists and is writable."
        ) from exc


def _replace(target: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(target))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".ollama_nb-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if os.path.isdir(target) and not os.path.islink(target):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
