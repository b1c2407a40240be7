"""No escape sequence from a model, a tool or a server reaches a terminal (the terminal path).

A terminal obeys what it is sent: ``ESC ]52`` writes the clipboard, ``ESC [2J`` clears the screen,
``ESC ]8`` makes a hyperlink whose target is hidden, ``\\x9b`` is a one-byte CSI. Every plain text
the package writes (the plain view, ``text/plain`` of every output, the pull's text bar, error
messages) goes through ``ollama_nb._safe.terminal_text``: control characters are written as their
Python escape (``\\x1b``), line breaks and tabs stay. Checked in a real ``InteractiveShell`` (not a
kernel, so the plain view streams to stdout) against a hostile server whose payload is escape
sequences, and in terminal IPython in a real pseudo-terminal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from ollama_nb._errors import ResponseError
from ollama_nb._safe import terminal_text
from ollama_nb.simulator import Simulator, _hostile
from untrusted import ollama_shell

#: What a hostile model, tool or server sends a terminal: clipboard write, clear screen, hidden
#: hyperlink, an 8-bit CSI, a bell, a carriage return that would overwrite the line.
ESCAPES = (
    "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\\x9b31mred\x07 \rgone"
    " \u202eevil\u202c \u2066isolated\u2069 \u200bhidden\ufeff"  # bidi override, isolate, invisible characters
)
#: Invisible format characters that reorder or hide text ("Trojan Source"): shown as escapes too.
FORMATS = [chr(c) for c in (0x061C, 0x200B, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2060, 0x206A), 0xFEFF)]
#: Control characters that must never reach the terminal (all but \n and \t), and the format characters.
CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n\t"] + FORMATS
#: How the clipboard write shows instead: visibly, as text.
SHOWN = "\\x1b]52;c;cm0gLXJmIH4=\\x07"
#: A reply whose tokens are the escape sequences (JSON escapes: the model sends real ESC bytes).
SCRIPT = "[[script=" + json.dumps(["ok ", ESCAPES, " done"]) + "]]"
TOOL = f'''def lookup(q: str) -> str:
    """Look something up."""
    return {ESCAPES!r}'''


#: The one escape sequence the package writes itself: the red error name of the short error display.
OURS = ("\x1b[0;31m", "\x1b[0m")


def controls_in(text: str) -> list[str]:
    for sequence in OURS:
        text = text.replace(sequence, "")
    return sorted({repr(c) for c in text if c in CONTROLS})


def test_terminal_text_shows_every_control_character_but_line_breaks_and_tabs() -> None:
    every = "".join(chr(c) for c in range(0xA0))
    shown = terminal_text(every)
    assert controls_in(shown) == []
    assert "\t\n" in shown and "\\x1b" in shown and "\\x9b" in shown and "\\x7f" in shown and "\\x00" in shown
    assert terminal_text("a\r\nb\rc") == "a\nb\nc"
    assert terminal_text("<b>a|b</b> é 🦙 \u200d") == "<b>a|b</b> é 🦙 \u200d"  # text is otherwise untouched
    assert terminal_text(shown) == shown  # idempotent: applying it twice changes nothing


def test_terminal_text_shows_bidi_and_invisible_format_characters() -> None:
    shown = terminal_text("".join(FORMATS) + "\ufff9\ufffa\ufffb")
    assert controls_in(shown) == [] and "\\u202e" in shown and "\\u2066" in shown and "\\ufeff" in shown
    joined = "👨\u200d👩\u200d👧 ह\u200dि"
    assert terminal_text(joined) == joined  # joiners stay: emoji sequences and scripts need them


def test_an_error_message_holds_no_control_character_but_the_raw_error_is_kept() -> None:
    exc = ResponseError(500, ESCAPES, host="http://127.0.0.1:1")
    assert controls_in(str(exc)) == [] and SHOWN in str(exc)
    assert exc.error == ESCAPES  # the server's own text, for a program to read


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """A hostile server whose payload (model families, show fields, pull status, error bodies) is escape sequences."""
    monkeypatch.setattr(_hostile, "PAYLOAD", ESCAPES)
    with Simulator(hostile=True, pull_seconds=0.0) as sim:
        yield sim


def _run(ip: InteractiveShell, source: str) -> tuple[Any, str, list[str]]:
    """Run a cell; its result, what it wrote to stdout and stderr, and the text/plain of its outputs."""
    with capture_output() as captured:
        result = ip.run_cell(source)
    plains = [o.data.get("text/plain", "") for o in captured.outputs]
    return result, captured.stdout + captured.stderr, plains


def test_a_shell_writes_no_escape_sequence_from_a_model_a_tool_or_a_server(hostile: Simulator) -> None:
    with ollama_shell(hostile.url) as ip:
        written, failed, cells = _run_cells(ip)
    assert failed == cells[-2:]
    assert {source: controls_in(text) for source, text in written.items() if controls_in(text)} == {}
    for source in (cells[0], cells[1], cells[2], cells[4], cells[8], cells[9]):  # shown, as text
        assert SHOWN in written[source], source
    assert "ok " in written[cells[0]] and " done" in written[cells[0]]


def _run_cells(ip: InteractiveShell) -> tuple[dict[str, str], list[str], list[str]]:
    """Every kind of plain text the package writes, fed escape sequences: what each cell wrote."""
    ip.run_cell(TOOL)
    written: dict[str, str] = {}
    cells = [
        f"%ollama_chat tell me {SCRIPT}",  # the plain view streams the reply to stdout
        "%%ollama -m qwen3 --think\nthink [[tokens=4]]",  # thinking carries the payload (hostile server)
        f"%ollama_chat --tools lookup find it [[tool=lookup]] [[args={json.dumps({'q': ESCAPES})}]]",
        "%ollama models",
        "%ollama show llama3.2",
        "%ollama ps",
        "%ollama pull tinyllama",  # the text bar and its summary: the status lines are server text
        "%ollama history",
        "%ollama_chat fails [[status=500]]",  # the short error handler prints the server's error text
        "%%ollama\nfails mid-stream [[tokens=5]] [[error-after=2]]",
    ]
    failed = []
    for source in cells:
        result, out, plains = _run(ip, source)
        written[source] = out + "\n".join(plains)
        if not result.success:
            failed.append(source)
    return written, failed, cells


def test_terminal_ipython_in_a_pty_receives_no_escape_sequence_from_the_reply(hostile: Simulator) -> None:
    pexpect = pytest.importorskip("pexpect")
    ipython = Path(sys.executable).with_name("ipython")
    child = pexpect.spawn(
        str(ipython),
        ["--no-banner", "--colors=NoColor", "--simple-prompt", "--HistoryManager.enabled=False"],
        encoding="utf-8", codec_errors="replace", timeout=30, dimensions=(40, 200),
    )  # fmt: skip
    prompt = r"In \[\d+\]: "
    try:
        child.expect(prompt)
        for line in ("%load_ext ollama_nb", f'%config OllamaMagics.host = "{hostile.url}"'):
            child.sendline(line)
            child.expect(prompt)
        received = []
        for line in (f"%ollama_chat -m llama3.2 tell me {SCRIPT}", "%ollama_chat -m llama3.2 fails [[status=500]]"):
            child.sendline(line)
            child.expect(prompt)
            received.append(child.before)
        assert "ok " in received[0] and " done" in received[0] and SHOWN in received[0]
        assert "answered 500" in received[1] and SHOWN in received[1]
        for sequence in ("\x1b]52", "\x1b[2J", "\x1b]8;", "\x9b", "\x07"):
            assert [sequence in text for text in received] == [False, False], repr(sequence)
    finally:
        child.sendline("exit")
        child.close(force=True)
