"""A small driver for a real Jupyter kernel, for tests: send execute requests, collect their iopub
messages and replies by parent, rebuild the outputs a front end would show.

Messages are routed by ``parent_header.msg_id``, so several requests can be in flight at once
(a queued cell behind a running one) and a test can wait on any of them without sleeping.

Example:
    with KernelSession("onb-k7") as kernel:
        run = kernel.run("print(1 + 1)")
        assert run.reply["status"] == "ok" and run.stdout == "2\\n"
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from jupyter_client.manager import KernelManager

Message = dict[str, Any]

#: The MIME type of a widget view: an output holding only this shows "Error displaying widget".
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass
class Execution:
    """One execute request: its reply and every iopub message whose parent it is."""

    msg_id: str
    reply: dict[str, Any] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return outputs_from(self.messages)

    @property
    def stdout(self) -> str:
        return "".join(o["text"] for o in self.outputs if o["output_type"] == "stream" and o["name"] == "stdout")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs if o["output_type"] == "error"]

    @property
    def iopub_bytes(self) -> int:
        """Bytes of every iopub message's serialized content (what the front end must parse)."""
        return sum(len(json.dumps(m["content"]).encode()) for m in self.messages)

    def count(self, *types: str) -> int:
        return sum(1 for m in self.messages if m["msg_type"] in types)


def outputs_from(messages: list[Message]) -> list[dict[str, Any]]:
    """The outputs a front end ends up with: display updates applied in place by display_id."""
    outputs: list[dict[str, Any]] = []
    by_display_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for msg in messages:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            if outputs and outputs[-1]["output_type"] == "stream" and outputs[-1]["name"] == content["name"]:
                outputs[-1]["text"] += content["text"]
            else:
                outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
        elif kind in ("display_data", "execute_result"):
            output = {"output_type": kind, "data": dict(content["data"]), "metadata": dict(content.get("metadata") or {})}
            outputs.append(output)
            display_id = (content.get("transient") or {}).get("display_id")
            if display_id:
                by_display_id[display_id].append(output)
        elif kind == "update_display_data":
            display_id = (content.get("transient") or {}).get("display_id")
            for output in by_display_id.get(display_id, []):
                output["data"] = dict(content["data"])
                output["metadata"] = dict(content.get("metadata") or {})
        elif kind == "error":
            outputs.append(
                {"output_type": "error", "ename": content["ename"], "evalue": content["evalue"], "traceback": content["traceback"]}
            )
        elif kind == "clear_output":
            outputs.clear()
    return outputs


def quiet_kernel_manager(kernel_name: str, where: str | None = None) -> KernelManager:
    """A manager whose kernel talks over IPC sockets (ipykernel 7 warns on every start over plain TCP).

    The socket path is absolute, so it does not depend on the kernel's working directory.
    """
    where = where or tempfile.mkdtemp(prefix="onb-kernel-")
    return KernelManager(kernel_name=kernel_name, transport="ipc", ip=os.path.join(where, "kernel"))


class KernelSession:
    """A started kernel plus a blocking client, with messages kept per parent request."""

    def __init__(self, kernel_name: str, *, startup_timeout: float = 60.0) -> None:
        self.kernel_name = kernel_name
        self.manager = quiet_kernel_manager(kernel_name)
        self.manager.start_kernel()
        self.client = self.manager.client()
        self.client.start_channels()
        try:
            self.client.wait_for_ready(timeout=startup_timeout)
        except RuntimeError:
            self.close()
            raise
        self._iopub: dict[str, list[Message]] = defaultdict(list)
        self._idle: set[str] = set()
        self._replies: dict[str, dict[str, Any]] = {}
        self.pending: set[str] = set()

    # -- sending ------------------------------------------------------------------------------
    def execute(self, code: str, *, stop_on_error: bool = True) -> str:
        """Send an execute request (without waiting); returns its msg_id."""
        msg_id = self.client.execute(code, store_history=True, stop_on_error=stop_on_error)
        self.pending.add(msg_id)
        return msg_id

    def interrupt(self) -> float:
        """Interrupt the kernel (the ■ button); returns ``time.monotonic()`` just before."""
        started = time.monotonic()
        self.manager.interrupt_kernel()
        return started

    # -- receiving ----------------------------------------------------------------------------
    def _pump_iopub(self, timeout: float) -> bool:
        try:
            msg = self.client.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            return False
        msg["received"] = time.monotonic()  # when this client read it (for pace measurements)
        parent = (msg.get("parent_header") or {}).get("msg_id")
        if parent:
            self._iopub[parent].append(msg)
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                self._idle.add(parent)
        return True

    def wait_iopub(self, msg_id: str, predicate: Callable[[Message], bool], timeout: float) -> Message:
        """The first iopub message of ``msg_id`` matching ``predicate`` (reading more as needed).

        An ``idle`` status does not end the wait: on ipykernel 6 with jupyter-ui-poll a request
        that arrives while a cell polls publishes ``idle`` with the *running* cell as parent.
        """
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            messages = self._iopub[msg_id]
            for msg in messages[seen:]:
                if predicate(msg):
                    return msg
            seen = len(messages)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                kinds = [m["msg_type"] for m in messages]
                raise TimeoutError(f"no matching iopub message for {msg_id} within {timeout} s; got {kinds}")
            self._pump_iopub(min(remaining, 0.5))

    def wait_reply(self, msg_id: str, timeout: float) -> dict[str, Any]:
        """The execute_reply content of ``msg_id``."""
        deadline = time.monotonic() + timeout
        while msg_id not in self._replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no execute_reply for {msg_id} within {timeout} s")
            try:
                msg = self.client.get_shell_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            parent = (msg.get("parent_header") or {}).get("msg_id")
            if parent:
                self._replies[parent] = msg["content"]
        self.pending.discard(msg_id)
        return self._replies[msg_id]

    def wait_idle(self, msg_id: str, timeout: float) -> None:
        """Until the kernel has published ``idle`` for ``msg_id`` (all its iopub is in)."""
        deadline = time.monotonic() + timeout
        while msg_id not in self._idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"kernel not idle after {msg_id} within {timeout} s")
            self._pump_iopub(min(remaining, 0.5))

    def barrier(self, timeout: float = 30.0) -> None:
        """Until every iopub message of the requests answered so far has been read.

        The kernel publishes iopub in order on one socket, so once the ``idle`` of a fresh
        kernel_info request is in, everything published before it is in too.
        """
        msg_id = self.client.kernel_info()
        self.wait_reply(msg_id, timeout)
        self.wait_idle(msg_id, timeout)

    def finish(self, msg_id: str, timeout: float = 30.0) -> Execution:
        """Reply and all iopub of ``msg_id``."""
        reply = self.wait_reply(msg_id, timeout)
        self.wait_idle(msg_id, timeout)
        self.barrier(timeout)
        return Execution(msg_id, reply, list(self._iopub[msg_id]))

    def statuses(self, msg_id: str) -> list[str]:
        """The execution_state values published with ``msg_id`` as parent, in order."""
        return [m["content"]["execution_state"] for m in self._iopub[msg_id] if m["msg_type"] == "status"]

    def run(self, code: str, timeout: float = 30.0) -> Execution:
        """Execute and wait for the reply and the idle status."""
        return self.finish(self.execute(code), timeout)

    def check(self, code: str, timeout: float = 30.0) -> Execution:
        """Like :meth:`run`, but fail with the kernel's error when the cell fails."""
        run = self.run(code, timeout)
        if run.reply.get("status") != "ok":
            raise AssertionError(f"cell failed: {code!r}: {run.reply.get('ename')}: {run.reply.get('evalue')}")
        return run

    # -- life cycle ---------------------------------------------------------------------------
    def settle(self, timeout: float = 20.0) -> bool:
        """After a test: interrupt anything still running and wait for it; False if stuck."""
        if not self.pending:
            return True
        self.manager.interrupt_kernel()
        try:
            for msg_id in list(self.pending):
                self.finish(msg_id, timeout)
        except TimeoutError:
            return False
        return True

    def restart(self, timeout: float = 60.0) -> None:
        """Restart the kernel process (same connection), forgetting every message so far."""
        self.manager.restart_kernel(now=True)
        self.client.wait_for_ready(timeout=timeout)
        self._iopub.clear()
        self._idle.clear()
        self._replies.clear()
        self.pending.clear()

    def close(self) -> None:
        try:
            self.client.stop_channels()
        finally:
            self.manager.shutdown_kernel(now=True)
            shutil.rmtree(os.path.dirname(self.manager.ip), ignore_errors=True)

    def __enter__(self) -> KernelSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
