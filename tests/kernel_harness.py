"""Run code in a real Jupyter kernel (no browser) and see what a front end would see.

    from kernel_harness import running_kernel

    with running_kernel("onb-k6", env={"OLLAMA_HOST": simulator.url}) as kernel:
        result = kernel.execute("print(1 + 1)")
        assert result.stdout == "2\\n"

        msg_id = kernel.submit("import time; print('started', flush=True); time.sleep(30)")
        kernel.wait_for_stdout(msg_id, "started")
        kernel.interrupt()
        assert kernel.collect(msg_id).error_name == "KeyboardInterrupt"

Kernels: "onb-k7" (.venv, ipykernel 7) and "onb-k6" (.venv-k6, ipykernel 6), registered by
scripts/test.sh; "python3" is the running interpreter's own ipykernel.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager


@dataclass(frozen=True)
class Execution:
    """What one execute request produced, as a front end would have received it."""

    status: str  # "ok", "error" or "aborted" (from execute_reply)
    execution_count: int | None
    messages: tuple[dict[str, Any], ...] = field(repr=False)  # iopub messages (header, content)

    def _of(self, *types: str) -> list[dict[str, Any]]:
        return [m["content"] for m in self.messages if m["msg_type"] in types]

    @property
    def stdout(self) -> str:
        return "".join(c["text"] for c in self._of("stream") if c["name"] == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(c["text"] for c in self._of("stream") if c["name"] == "stderr")

    @property
    def displays(self) -> list[dict[str, Any]]:
        """display_data, update_display_data and execute_result contents, in order."""
        return self._of("display_data", "update_display_data", "execute_result")

    @property
    def error_name(self) -> str | None:
        errors = self._of("error")
        return errors[-1]["ename"] if errors else None

    def final_data(self, display_id: str) -> dict[str, Any] | None:
        """The last data (mime bundle) shown under ``display_id``, after all its updates."""
        data = None
        for content in self.displays:
            if content.get("transient", {}).get("display_id") == display_id:
                data = content["data"]
        return data


class KernelSession:
    """A started kernel with a connected client; see ``running_kernel``."""

    def __init__(self, manager: KernelManager) -> None:
        self.manager = manager
        self.client = manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self._iopub_backlog: list[dict[str, Any]] = []

    def submit(self, code: str, *, stop_on_error: bool = True) -> str:
        """Send an execute request without waiting; returns its msg_id."""
        return str(self.client.execute(code, stop_on_error=stop_on_error))

    def _next_iopub(self, timeout: float) -> dict[str, Any] | None:
        if self._iopub_backlog:
            return self._iopub_backlog.pop(0)
        try:
            return dict(self.client.get_iopub_msg(timeout=timeout))
        except queue.Empty:
            return None

    def _wait_for_iopub(
        self, msg_id: str, matches: Callable[[dict[str, Any]], bool], what: str, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        seen = []
        try:
            while time.monotonic() < deadline:
                msg = self._next_iopub(timeout=max(deadline - time.monotonic(), 0.01))
                if msg is None:
                    continue
                seen.append(msg)
                if msg["parent_header"].get("msg_id") == msg_id and matches(msg):
                    return
            raise TimeoutError(f"request {msg_id}: no {what} within {timeout:g} s")
        finally:
            self._iopub_backlog[:0] = seen  # collect() still sees everything

    def wait_until_busy(self, msg_id: str, timeout: float = 30.0) -> None:
        """Wait until the kernel reports busy for ``msg_id``.

        Busy comes before the cell's code runs: a SIGINT in that gap is caught by the kernel
        itself ("KeyboardInterrupt caught in kernel") and no execute_reply is sent (seen on
        ipykernel 6.29.5 and 7.4.0). To interrupt a running cell, use ``wait_for_stdout``.
        """
        self._wait_for_iopub(
            msg_id,
            lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "busy",
            "busy status",
            timeout,
        )

    def wait_for_stdout(self, msg_id: str, text: str, timeout: float = 30.0) -> None:
        """Wait until ``msg_id`` has printed a stdout chunk containing ``text``."""
        self._wait_for_iopub(
            msg_id,
            lambda m: (
                m["msg_type"] == "stream"
                and m["content"]["name"] == "stdout"
                and text in m["content"]["text"]
            ),
            f"stdout containing {text!r}",
            timeout,
        )

    def collect(self, msg_id: str, timeout: float = 60.0) -> Execution:
        """Wait until ``msg_id`` has finished (idle on iopub and its reply); gather its output."""
        deadline = time.monotonic() + timeout
        messages: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        idle = False
        while not idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"request {msg_id} did not finish within {timeout:g} s")
            msg = self._next_iopub(timeout=remaining)
            if msg is None:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                others.append(msg)
                continue
            if msg["msg_type"] == "status":
                idle = msg["content"]["execution_state"] == "idle"
            else:
                messages.append(msg)
        self._iopub_backlog[:0] = others
        reply = self._reply_for(msg_id, deadline)
        return Execution(
            status=str(reply["content"]["status"]),
            execution_count=reply["content"].get("execution_count"),
            messages=tuple(messages),
        )

    def _reply_for(self, msg_id: str, deadline: float) -> dict[str, Any]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no execute_reply for {msg_id}")
            try:
                reply = dict(self.client.get_shell_msg(timeout=remaining))
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def execute(self, code: str, timeout: float = 60.0) -> Execution:
        """Run ``code`` and wait for it to finish."""
        return self.collect(self.submit(code), timeout=timeout)

    def interrupt(self) -> None:
        """What Kernel > Interrupt does (SIGINT to the kernel process)."""
        self.manager.interrupt_kernel()

    def close(self) -> None:
        self.client.stop_channels()


@contextmanager
def running_kernel(
    name: str = "onb-k7", *, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> Iterator[KernelSession]:
    """Start kernel ``name`` with this process's environment plus ``env``; shut it down after."""
    manager = KernelManager(kernel_name=name)
    kernel_env = dict(os.environ)
    kernel_env.update(env or {})
    manager.start_kernel(env=kernel_env, cwd=cwd or os.getcwd())
    session = None
    try:
        session = KernelSession(manager)
        yield session
    finally:
        if session is not None:
            session.close()
        manager.shutdown_kernel(now=True)
