"""Images for vision models: files, bytes or base64 text, all sent as plain base64 strings.

Ollama's ``images`` field (on ``/api/generate`` and on each chat message) is a list of base64
strings without a ``data:`` URL prefix.

How :func:`encode_image` reads its argument:

* ``bytes`` / ``bytearray`` / ``memoryview``: the raw image bytes, always (never read as base64);
* ``os.PathLike`` (``pathlib.Path``): a file, always;
* ``str``: a file if one exists at that path (``~`` is expanded); otherwise base64 text, passed
  through after removing whitespace and any ``data:image/...;base64,`` prefix. A mistyped path
  like ``"cat"`` is reported as a missing file instead of being sent as garbage.

Images are images, whatever the form: a path must be a regular file (not ``/dev/zero``, a FIFO
or a folder), every image at most :data:`MAX_IMAGE_BYTES` (20 MiB; ``max_bytes=`` to change it)
and starting with an image signature (PNG, JPEG, GIF, WebP, BMP, TIFF). Anything else is a
one-line :class:`ImageError` before any request is sent (``/proc/self/environ`` is not an image).

Example:
    >>> encode_image(b"\\x89PNG\\r\\n\\x1a\\n")
    'iVBORw0KGgo='
    >>> encode_image("data:image/png;base64,iVBORw0KGgo=")
    'iVBORw0KGgo='
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from typing import Iterable, Union

from ._errors import OllamaError

__all__ = ["MAX_IMAGE_BYTES", "ImageError", "encode_image", "encode_images"]

#: The largest image accepted, in bytes (20 MiB).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: Base64 text decoding to this many bytes is reported as "not an image", shorter as "no such file".
_LONG_BASE64 = 64

ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)
_BASE64_TEXT = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",  # PNG
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
)


class ImageError(OllamaError, ValueError):
    """An image could not be read or is not an image Ollama can take."""


def encode_image(image: ImageInput, *, max_bytes: int | None = None) -> str:
    """The base64 text of one image (a path, raw bytes, or base64 text) for Ollama's ``images``.

    Raises :class:`ImageError` for a missing, unreadable, empty, special or too large file, for
    anything that is not an image, and for text that is neither a file nor base64; ``TypeError``
    for other kinds of object.

    Example:
        >>> encode_image(bytes([0xFF, 0xD8, 0xFF, 0xE0]))
        '/9j/4A=='
    """
    limit = MAX_IMAGE_BYTES if max_bytes is None else max_bytes
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if not data:
            raise ImageError("the image is empty (0 bytes); pass the bytes of a PNG or JPEG file.")
        return base64.b64encode(_checked(data, "the image bytes", limit)).decode("ascii")
    if isinstance(image, os.PathLike):
        return base64.b64encode(_read_file(os.fspath(image), limit)).decode("ascii")
    if isinstance(image, str):
        return _encode_text(image, limit)
    raise TypeError(
        f"an image must be a file path, bytes or base64 text, got {type(image).__name__}."
    )


def encode_images(images: ImageInput | Iterable[ImageInput], *, max_bytes: int | None = None) -> list[str]:
    """:func:`encode_image` for each image; a single image is accepted too.

    An error names the position of the image that failed (counting from 1).

    Example:
        >>> encode_images([b"GIF89a", "iVBORw0KGgo="])
        ['R0lGODlh', 'iVBORw0KGgo=']
    """
    if isinstance(images, (str, bytes, bytearray, memoryview, os.PathLike)):
        return [encode_image(images, max_bytes=max_bytes)]
    try:
        items = list(images)
    except TypeError:
        raise TypeError(
            f"images must be a list of paths, bytes or base64 text, got {type(images).__name__}."
        ) from None
    encoded: list[str] = []
    for number, image in enumerate(items, start=1):
        try:
            encoded.append(encode_image(image, max_bytes=max_bytes))
        except ImageError as exc:
            if len(items) == 1:
                raise
            raise ImageError(f"image {number} of {len(items)}: {exc}") from exc
        except TypeError as exc:
            raise TypeError(f"image {number} of {len(items)}: {exc}") from None
    return encoded


_open = os.open  # one name for opening files (the tests refuse it where root's chmod would not)


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count} bytes"


def _checked(data: bytes, what: str, limit: int) -> bytes:
    """``data`` when it is an image of at most ``limit`` bytes; else an :class:`ImageError`."""
    if len(data) > limit:
        raise ImageError(f"{what} is larger than the {_size(limit)} image limit; pass max_bytes= to allow more.")
    if not _is_image(data):
        raise ImageError(f"{what} is not an image (PNG, JPEG, GIF, WebP, BMP or TIFF): it starts {data[:8]!r}.")
    return data


def _is_image(data: bytes) -> bool:
    return data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _read_file(path: str, limit: int) -> bytes:
    shown = path if len(path) <= 200 else path[:199] + "…"
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; a regular file ignores it
        fd = _open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError
            if not stat.S_ISREG(mode):
                raise ImageError(f"{shown!r} is not a regular file (a device, FIFO or socket), so not an image.")
            data = handle.read(limit + 1)  # never more, whatever the file claims its size is
    except FileNotFoundError as exc:
        raise ImageError(f"image file not found: {shown!r}; check the path.") from exc
    except IsADirectoryError as exc:
        raise ImageError(f"{shown!r} is a directory, not an image file.") from exc
    except PermissionError as exc:
        raise ImageError(f"cannot read image file {shown!r}: permission denied.") from exc
    except OSError as exc:
        raise ImageError(f"cannot read image file {shown!r}: {exc.strerror or exc}.") from exc
    if not data:
        raise ImageError(f"image file {shown!r} is empty (0 bytes).")
    return _checked(data, f"image file {shown!r}", limit)


def _encode_text(text: str, limit: int) -> str:
    path = os.path.expanduser(text)
    if text.strip() and len(text) < 4096 and "\n" not in text and os.path.lexists(path):
        return base64.b64encode(_read_file(path, limit)).decode("ascii")
    candidate = "".join(_DATA_URL.sub("", text.strip(), count=1).split())
    data = _base64_data(candidate, limit)
    if data is not None and _is_image(data):
        return candidate
    if data is not None and len(data) >= _LONG_BASE64:  # surely meant as an image, not a path
        _checked(data, "the base64 text", limit)
    if not text.strip():
        raise ImageError("the image is an empty string; pass a file path, bytes or base64 text.")
    shown = text if len(text) <= 200 else text[:199] + "…"
    if _DATA_URL.match(text.strip()):
        raise ImageError(f"the data: URL does not hold valid base64 image data: {shown!r}")
    raise ImageError(
        f"image file not found: {shown!r} (and the text is not base64 image data either); "
        "check the path."
    )


def _base64_data(text: str, limit: int) -> bytes | None:
    """The bytes ``text`` encodes in base64, or None when it is not base64; too large is an error
    (seen from the text's length, before decoding)."""
    if not text or len(text) % 4 or not _BASE64_TEXT.match(text):
        return None
    if len(text) // 4 * 3 - 2 > limit:
        raise ImageError(
            f"the base64 image is larger than the {_size(limit)} image limit; pass max_bytes= to allow more."
        )
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
