"""Every kernel interrupt stops the stream: repeated, on both ipykernel lines.

A lost interrupt (the cell streams on and ends "ok") is a race, so one interrupt proves little:
this interrupts many cells in a row and requires every one to close the connection.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from kernel_client import KernelSession, Message
from ollama_nb.simulator import Simulator

KERNELS = ("onb-k6", "onb-k7")
ROUNDS = 12


def is_answer_display(msg: Message) -> bool:
    return msg["msg_type"] in ("display_data", "update_display_data") and "text/markdown" in msg["content"].get("data", {})


#: The HTTP transports the kernel's clients read with: the default (aiohttp / urllib3) and httpx's own.
TRANSPORTS = {"default": ("aiohttp", "urllib3"), "h11": ("h11", "h11")}


@pytest.fixture(scope="module", params=[(k, t) for k in KERNELS for t in TRANSPORTS], ids="-".join)
def kernel(request: pytest.FixtureRequest) -> Iterator[KernelSession]:
    name, transport = request.param
    saved = os.environ.pop("OLLAMA_NB_TRANSPORT", None)
    if transport != "default":
        os.environ["OLLAMA_NB_TRANSPORT"] = transport  # the kernel inherits it
    try:
        session = KernelSession(name)
    finally:
        os.environ.pop("OLLAMA_NB_TRANSPORT", None)
        if saved is not None:
            os.environ["OLLAMA_NB_TRANSPORT"] = saved
    try:
        reads_with = TRANSPORTS[transport]
        session.check(
            "import ollama_nb\n"
            f"assert (ollama_nb.AsyncClient('127.0.0.1:1').transport, ollama_nb.Client('127.0.0.1:1').transport)"
            f" == {reads_with!r}"
        )
        yield session
    finally:
        session.close()


@pytest.mark.timeout(180)
def test_every_interrupt_closes_the_stream_and_ends_the_cell_as_interrupted(kernel: KernelSession, simulator: Simulator) -> None:
    kernel.check(
        "%load_ext ollama_nb\n"
        f'%config OllamaMagics.host = "{simulator.url}"\n'
        '%config OllamaMagics.model = "llama3.2"'
    )
    lost = []
    for round_ in range(ROUNDS):
        cell = kernel.execute("%%ollama\nlong [[tokens=2000]] [[delay=0.01]]")
        kernel.wait_iopub(cell, is_answer_display, timeout=20)
        kernel.interrupt()
        simulator.wait_for("disconnect", timeout=10)
        reply = kernel.wait_reply(cell, timeout=20)
        if reply.get("ename") != "Interrupted":
            lost.append((round_, reply.get("status"), reply.get("ename")))
        kernel.wait_idle(cell, timeout=20)
    assert not lost, f"interrupts that did not end the cell as interrupted: {lost}"
