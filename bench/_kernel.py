"""A real Jupyter kernel driven by jupyter_client, with every iopub message of a cell kept.

Example:
    >>> with Kernel("onb-k7") as kernel:                          # doctest: +SKIP
    ...     cell = kernel.run("print(1)")
    ...     cell.iopub_bytes, cell.count("stream")
"""

from __future__ import annotations

import json
import queue
import time
from dataclasses import dataclass, field
from typing import Any, Callable

_clock = time.monotonic


@dataclass
class Message:
    """One iopub message of a cell and when this process received it (``time.monotonic()``)."""

    msg_type: str
    content: dict[str, Any]
    received: float

    @property
    def size(self) -> int:
        return len(json.dumps(self.content))


@dataclass
class Cell:
    """A finished cell: its iopub messages, the execute reply and the clock readings."""

    code: str
    sent: float
    idle: float
    reply: dict[str, Any]
    messages: list[Message] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        """execute_request sent → the kernel's ``idle`` status for it arrived."""
        return self.idle - self.sent

    @property
    def iopub_bytes(self) -> int:
        """Sum of ``len(json.dumps(msg['content']))`` over the cell's iopub messages."""
        return sum(m.size for m in self.messages)

    @property
    def ok(self) -> bool:
        return self.reply.get("status") == "ok"

    def count(self, msg_type: str) -> int:
        return sum(1 for m in self.messages if m.msg_type == msg_type)

    def first(self, predicate: Callable[[Message], bool]) -> Message | None:
        return next((m for m in self.messages if predicate(m)), None)

    def text(self) -> str:
        """All stream text and text/plain data of the cell (for error messages)."""
        parts = []
        for m in self.messages:
            c = m.content
            if m.msg_type == "stream":
                parts.append(c.get("text", ""))
            elif m.msg_type == "error":
                parts.append(f"{c.get('ename')}: {c.get('evalue')}")
            elif "data" in c:
                parts.append(str(c["data"].get("text/plain", "")))
        return "".join(parts)


class Kernel:
    """One kernel of kernelspec ``name``, started on enter and shut down on exit."""

    def __init__(self, name: str, startup_timeout: float = 90.0) -> None:
        self.name = name
        self.startup_timeout = startup_timeout
        self.km: Any = None
        self.kc: Any = None

    def __enter__(self) -> Kernel:
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(kernel_name=self.name, startup_timeout=self.startup_timeout)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)

    def send(self, code: str) -> tuple[str, float]:
        """Send an execute request; returns its msg_id and the monotonic time it was sent."""
        sent = _clock()
        msg_id = self.kc.execute(code, store_history=True, allow_stdin=False)
        return msg_id, sent

    def collect(self, msg_id: str, sent: float, code: str = "", timeout: float = 120.0) -> Cell:
        """Gather the iopub messages of ``msg_id`` until its ``idle`` status; then its reply."""
        deadline = _clock() + timeout
        messages: list[Message] = []
        idle = None
        while idle is None:
            remaining = deadline - _clock()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: the cell did not finish within {timeout:g} s:\n{code[:200]}")
            try:
                msg = self.kc.get_iopub_msg(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            received = _clock()
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            messages.append(Message(msg["msg_type"], msg["content"], received))
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                idle = received
        reply: dict[str, Any] = {}
        while True:
            try:
                shell = self.kc.get_shell_msg(timeout=max(deadline - _clock(), 1.0))
            except queue.Empty:
                break
            if shell.get("parent_header", {}).get("msg_id") == msg_id:
                reply = shell["content"]
                break
        return Cell(code, sent, idle, reply, messages)

    def run(self, code: str, timeout: float = 120.0, *, check: bool = True) -> Cell:
        """Execute ``code`` and wait for it; with ``check``, raise when the cell failed."""
        msg_id, sent = self.send(code)
        cell = self.collect(msg_id, sent, code, timeout)
        if check and not cell.ok:
            raise RuntimeError(f"{self.name}: cell failed: {cell.text()[-600:]}\n--- code:\n{code[:300]}")
        return cell

    def value(self, expression_code: str) -> Any:
        """Run code that prints one JSON line; return it decoded."""
        cell = self.run(expression_code)
        text = "".join(m.content.get("text", "") for m in cell.messages if m.msg_type == "stream")
        return json.loads(text.strip().splitlines()[-1])


def setup_code(url: str, model: str) -> str:
    """The first cell of every benchmark kernel: the extension, its defaults, a raw httpx client."""
    return (
        "%load_ext ollama_nb\n"
        f"%config OllamaMagics.host = {url!r}\n"
        f"%config OllamaMagics.model = {model!r}\n"
        "import json as _json, httpx as _httpx\n"
        f"_h = _httpx.Client(base_url={url!r}, timeout=300)\n"
        f"_MODEL = {model!r}\n"
    )


def raw_cell(prompt: str) -> str:
    """The baseline cell: raw httpx, ``iter_lines`` + ``json.loads``, tokens printed (first flushed)."""
    return (
        f"with _h.stream('POST', '/api/generate', json={{'model': _MODEL, 'prompt': {prompt!r}}}) as _r:\n"
        "    _first = True\n"
        "    for _line in _r.iter_lines():\n"
        "        if _line:\n"
        "            print(_json.loads(_line).get('response') or '', end='', flush=_first)\n"
        "            _first = False\n"
    )


def magic_cell(prompt: str) -> str:
    return f"%%ollama\n{prompt}\n"


STATS_CODE = """\
import gc as _gc, os as _os, threading as _threading, json as _json
_gc.collect()
def _onb_stats():
    sockets = fds = 0
    for fd in _os.listdir('/proc/self/fd'):
        try:
            target = _os.readlink('/proc/self/fd/' + fd)
        except OSError:
            continue
        fds += 1
        sockets += target.startswith('socket:')
    status = {}
    for line in open('/proc/self/status'):
        key, _, value = line.partition(':')
        status[key] = value.split()
    try:
        from ipywidgets.widgets.widget import _instances as widgets
        n_widgets = len(widgets)
    except Exception:
        n_widgets = None
    try:
        from ollama_nb import get_session
        turns = len(get_session().turns)
    except Exception:
        turns = None
    return {
        'threads': _threading.active_count(),
        'os_threads': int(status['Threads'][0]),
        'fds': fds,
        'sockets': sockets,
        'rss_kib': int(status['VmRSS'][0]),
        'widgets': n_widgets,
        'turns': turns,
    }
print(_json.dumps(_onb_stats()))
"""
