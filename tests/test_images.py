"""Tests for ollama_nb._images: paths, bytes and base64 text all become plain base64 strings."""

from __future__ import annotations

import base64
import os
import pathlib
import struct
import zlib

import pytest

from ollama_nb import Session
from ollama_nb import _images as images_module
from ollama_nb._errors import OllamaError
from ollama_nb._images import ImageError, encode_image, encode_images
from ollama_nb.simulator import Simulator


def tiny_png() -> bytes:
    """A valid 1x1 red PNG, built here so the test needs no binary fixture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PNG = tiny_png()
PNG_B64 = base64.b64encode(PNG).decode("ascii")
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256))


def test_png_bytes_round_trip_through_base64_without_a_data_url_prefix() -> None:
    encoded = encode_image(PNG)
    assert not encoded.startswith("data:")
    assert base64.b64decode(encoded, validate=True) == PNG


def test_binary_bytes_of_every_value_are_encoded() -> None:
    data = PNG + bytes(range(256)) * 3
    assert base64.b64decode(encode_image(data)) == data
    assert base64.b64decode(encode_image(bytearray(data))) == data
    assert base64.b64decode(encode_image(memoryview(data))) == data


def test_bytes_are_always_raw_even_when_they_look_like_base64() -> None:
    ascii_bytes = PNG_B64.encode("ascii")
    with pytest.raises(ImageError, match="not an image"):  # raw bytes, so not a PNG
        encode_image(ascii_bytes)


def test_path_as_str_and_as_pathlib_reads_the_file(tmp_path: pathlib.Path) -> None:
    image = tmp_path / "red.png"
    image.write_bytes(PNG)
    assert encode_image(str(image)) == PNG_B64
    assert encode_image(image) == PNG_B64


def test_home_relative_path_is_expanded(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    (tmp_path / "cat.png").write_bytes(PNG)
    assert encode_image("~/cat.png") == PNG_B64


def test_existing_file_wins_over_base64_reading_of_the_same_text(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    name = "QUJD"  # valid base64 text, but also a file name here
    pathlib.Path(name).write_bytes(JPEG_HEAD)
    assert base64.b64decode(encode_image(name)) == JPEG_HEAD


def test_base64_text_of_an_image_is_passed_through() -> None:
    assert encode_image(PNG_B64) == PNG_B64


def test_base64_text_with_line_breaks_and_spaces_is_cleaned() -> None:
    wrapped = "\n".join(PNG_B64[i : i + 20] for i in range(0, len(PNG_B64), 20))
    assert encode_image("  " + wrapped + "\n") == PNG_B64


def test_data_url_prefix_is_removed() -> None:
    assert encode_image("data:image/png;base64," + PNG_B64) == PNG_B64
    assert encode_image("data:image/jpeg;charset=utf-8;base64," + PNG_B64) == PNG_B64


def test_long_base64_of_an_unknown_format_is_refused_as_not_an_image() -> None:
    text = base64.b64encode(b"\x01" * 64).decode("ascii")
    with pytest.raises(ImageError, match="not an image"):
        encode_image(text)


@pytest.mark.parametrize(
    "head",
    [b"\xff\xd8\xff\xe0", b"GIF89a", b"GIF87a", b"BM\x00\x00", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"II*\x00"],
)
def test_short_base64_with_a_known_image_signature_is_passed_through(head: bytes) -> None:
    text = base64.b64encode(head).decode("ascii")
    assert encode_image(text) == text


def test_missing_path_is_an_image_error_naming_the_path(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nope" / "cat.png"
    with pytest.raises(ImageError, match="image file not found: .*cat.png") as info:
        encode_image(missing)
    assert isinstance(info.value.__cause__, FileNotFoundError)
    with pytest.raises(ImageError, match=r"image file not found: '.*cat\.png' \(and the text is not base64"):
        encode_image(str(missing))


@pytest.mark.parametrize("text", ["cat", "cats", "photo.jpg", "QUJD", "images/dog.png"])
def test_short_text_that_is_neither_a_file_nor_image_base64_is_reported_as_a_missing_file(
    text: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ImageError, match=f"image file not found: '{text}'"):
        encode_image(text)


def test_invalid_data_url_says_so() -> None:
    with pytest.raises(ImageError, match="data: URL does not hold valid base64"):
        encode_image("data:image/png;base64,@@@not base64@@@")


def test_directory_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ImageError, match="is a directory, not an image file"):
        encode_image(tmp_path)


def test_empty_file_empty_bytes_and_empty_text_are_refused(tmp_path: pathlib.Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="is empty"):
        encode_image(empty)
    with pytest.raises(ImageError, match="empty"):
        encode_image(b"")
    with pytest.raises(ImageError, match="empty string"):
        encode_image("   ")


def test_unreadable_file_is_an_image_error(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked.png"
    locked.write_bytes(PNG)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(locked))

    # chmod 0 does not stop root, so the refusal is simulated where the module opens files.
    monkeypatch.setattr(images_module, "_open", refuse)
    with pytest.raises(ImageError, match="cannot read image file .*locked.png.*: permission denied"):
        encode_image(locked)


def test_other_os_errors_while_reading_are_image_errors(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(images_module, "_open", broken)
    with pytest.raises(ImageError, match="cannot read image file .*: Input/output error"):
        encode_image(tmp_path / "x.png")


@pytest.mark.parametrize("value", [None, 42, 1.5, object()])
def test_other_kinds_of_object_are_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="an image must be a file path, bytes or base64 text"):
        encode_image(value)  # type: ignore[arg-type]


def test_encode_images_keeps_order_and_mixes_kinds(tmp_path: pathlib.Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(PNG)
    assert encode_images([image, PNG, PNG_B64, str(image)]) == [PNG_B64] * 4
    assert encode_images(()) == []


def test_encode_images_accepts_a_single_image() -> None:
    assert encode_images(PNG) == [PNG_B64]
    assert encode_images(PNG_B64) == [PNG_B64]


def test_encode_images_error_names_the_position_of_the_bad_image(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ImageError, match=r"^image 2 of 3: image file not found: .*missing\.png"):
        encode_images([PNG, tmp_path / "missing.png", PNG])
    with pytest.raises(TypeError, match=r"^image 3 of 3: an image must be"):
        encode_images([PNG, PNG, 5])  # type: ignore[list-item]


def test_encode_images_of_a_non_iterable_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="images must be a list"):
        encode_images(5)  # type: ignore[arg-type]


def test_image_error_is_an_ollama_error_and_a_value_error() -> None:
    assert issubclass(ImageError, OllamaError) and issubclass(ImageError, ValueError)


# -- images are images: a regular file, at most the limit, with an image signature ---------------
def test_proc_self_environ_is_not_sent_as_an_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "secret-key-that-must-stay-home")
    with pytest.raises(ImageError, match="not an image") as caught:
        encode_image("/proc/self/environ")
    assert "secret" not in str(caught.value) and len(str(caught.value).splitlines()) == 1


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_device_is_refused_without_reading_it(device: str) -> None:
    with pytest.raises(ImageError, match="not a regular file"):
        encode_image(device)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: pathlib.Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match="not a regular file"):
        encode_image(fifo)


def test_the_size_limit_holds_for_files_bytes_and_base64(tmp_path: pathlib.Path) -> None:
    big = PNG + bytes(2048)
    path = tmp_path / "big.png"
    path.write_bytes(big)
    for form in (path, str(path), big, base64.b64encode(big).decode("ascii")):
        with pytest.raises(ImageError, match="larger than the 1024 bytes image limit"):
            encode_image(form, max_bytes=1024)
        assert encode_image(form, max_bytes=4096) == base64.b64encode(big).decode("ascii")


def test_the_default_limit_is_20_mib(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "huge.png"
    with open(path, "wb") as f:
        f.write(PNG)
        f.truncate(20 * 1024 * 1024 + 1)
    with pytest.raises(ImageError, match="20.0 MiB"):
        encode_image(path)


def test_a_text_file_is_not_an_image_whatever_its_name(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("OLLAMA_API_KEY=abc\n")
    with pytest.raises(ImageError, match="not an image"):
        encode_images([path])


def test_a_bad_image_fails_before_any_request_is_sent(simulator: Simulator) -> None:
    session = Session("llava", host=simulator.url, record=False)
    with pytest.raises(ImageError):
        session.chat("what is this?", images=["/dev/zero"])
    assert simulator.requests == []
