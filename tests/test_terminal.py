"""Terminal IPython in a real pseudo-terminal: tokens stream to stdout as plain text, and Ctrl-C
stops the stream (the server sees the close) and keeps the partial reply."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ollama_nb.simulator import Simulator

pexpect = pytest.importorskip("pexpect")

PROMPT = r"In \[\d+\]: "


@pytest.mark.timeout(90)
def test_ctrl_c_in_terminal_ipython_closes_the_stream_and_keeps_the_partial_reply(simulator: Simulator) -> None:
    ipython = Path(sys.executable).with_name("ipython")
    child = pexpect.spawn(
        str(ipython),
        ["--no-banner", "--colors=NoColor", "--simple-prompt", "--HistoryManager.enabled=False"],
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
    )
    try:
        child.expect(PROMPT)
        child.sendline('%load_ext ollama_nb')
        child.expect(PROMPT)
        child.sendline(f'%config OllamaMagics.host = "{simulator.url}"')
        child.expect(PROMPT)
        child.sendline("%ollama_chat -m llama3.2 tell me a long story [[tokens=3000]] [[delay=0.02]]")
        child.expect_exact("*(simulated reply)*")  # streaming to the terminal
        child.sendintr()  # Ctrl-C
        event = simulator.wait_for("disconnect", timeout=10)
        assert event.path == "/api/chat" and event.lines_sent < 3000
        child.expect("Interrupted")
        child.expect(PROMPT)
        child.sendline("import ollama_nb; t = ollama_nb.get_session().last; print('STATE', t.stopped, len(t.text) > 0)")
        child.expect(r"STATE (\w+) (\w+)")
        assert child.match.groups() == ("True", "True")
        child.expect(PROMPT)
    finally:
        child.sendline("exit")
        child.close(force=True)
