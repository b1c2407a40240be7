"""Images for vision models: files, bytes or base64 text, all sent as plain base64 strings.

Ollama's ``images`` field (on ``/api/generate`` and on each chat message) is a list of base64
strings without a ``data:`` URL prefix.

How :func:`encode_image` reads its argument:

* ``bytes`` / ``bytearray`` / ``memoryview``: the raw image bytes, always (never read as base64);
* ``os.PathLike`` (``pathlib.Path``): a file, always;
* ``str``: a file if one exists at that path (``~`` is expanded); otherwise base64 text, passed
  through after removing whitespace and any ``data:image/...;base64,`` prefix. Text is taken as
  base64 only if it decodes and looks like an image (a known signature such as PNG, JPEG, GIF,
  WebP, BMP, TIFF, or at least 64 decoded bytes), so a mistyped path like ``"cat"`` is reported
  as a missing file instead of being sent as garbage.

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
from typing import Iterable, Union

from ._errors import OllamaError

__all__ = ["ImageError", "encode_image", "encode_images"]

ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)
_BASE64_TEXT = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_MIN_UNKNOWN_FORMAT_BYTES = 64
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


def encode_image(image: ImageInput) -> str:
    """The base64 text of one image (a path, raw bytes, or base64 text) for Ollama's ``images``.

    Raises :class:`ImageError` for a missing, unreadable or empty file and for text that is
    neither a file nor base64, and ``TypeError`` for other kinds of object.

    Example:
        >>> encode_image(bytes([0xFF, 0xD8, 0xFF, 0xE0]))
        '/9j/4A=='
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if not data:
            raise ImageError("the image is empty (0 bytes); pass the bytes of a PNG or JPEG file.")
        return base64.b64encode(data).decode("ascii")
    if isinstance(image, os.PathLike):
        return base64.b64encode(_read_file(os.fspath(image))).decode("ascii")
    if isinstance(image, str):
        return _encode_text(image)
    raise TypeError(
        f"an image must be a file path, bytes or base64 text, got {type(image).__name__}."
    )


def encode_images(images: ImageInput | Iterable[ImageInput]) -> list[str]:
    """:func:`encode_image` for each image; a single image is accepted too.

    An error names the position of the image that failed (counting from 1).

    Example:
        >>> encode_images([b"GIF89a", "iVBORw0KGgo="])
        ['R0lGODlh', 'iVBORw0KGgo=']
    """
    if isinstance(images, (str, bytes, bytearray, memoryview, os.PathLike)):
        return [encode_image(images)]
    try:
        items = list(images)
    except TypeError:
        raise TypeError(
            f"images must be a list of paths, bytes or base64 text, got {type(images).__name__}."
        ) from None
    encoded: list[str] = []
    for number, image in enumerate(items, start=1):
        try:
            encoded.append(encode_image(image))
        except ImageError as exc:
            if len(items) == 1:
                raise
            raise ImageError(f"image {number} of {len(items)}: {exc}") from exc
        except TypeError as exc:
            raise TypeError(f"image {number} of {len(items)}: {exc}") from None
    return encoded


def _read_file(path: str) -> bytes:
    shown = path if len(path) <= 200 else path[:199] + "…"
    try:
        with open(path, "rb") as handle:
            data = handle.read()
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
    return data


def _encode_text(text: str) -> str:
    path = os.path.expanduser(text)
    if text.strip() and len(text) < 4096 and "\n" not in text and os.path.exists(path):
        return base64.b64encode(_read_file(path)).decode("ascii")
    candidate = "".join(_DATA_URL.sub("", text.strip(), count=1).split())
    if _looks_like_base64_image(candidate):
        return candidate
    if not text.strip():
        raise ImageError("the image is an empty string; pass a file path, bytes or base64 text.")
    shown = text if len(text) <= 200 else text[:199] + "…"
    if _DATA_URL.match(text.strip()):
        raise ImageError(f"the data: URL does not hold valid base64 image data: {shown!r}")
    raise ImageError(
        f"image file not found: {shown!r} (and the text is not base64 image data either); "
        "check the path."
    )


def _looks_like_base64_image(text: str) -> bool:
    if not text or len(text) % 4 or not _BASE64_TEXT.match(text):
        return False
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    if data.startswith(_SIGNATURES):
        return True
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    return len(data) >= _MIN_UNKNOWN_FORMAT_BYTES
