"""tests/kernel_harness.py runs code in both kernels and interrupts it as a front end would."""

from __future__ import annotations

import pytest
from kernel_harness import running_kernel


@pytest.mark.parametrize("kernel_name", ["onb-k6", "onb-k7"])
def test_kernel_runs_code_and_an_interrupt_stops_a_running_cell(kernel_name: str) -> None:
    with running_kernel(kernel_name, env={"ONB_MARK": "from-test"}) as kernel:
        shown = kernel.execute(
            "import os, ipykernel\n"
            "print(os.environ['ONB_MARK'], ipykernel.__version__.split('.')[0])\n"
            "h = display('first', display_id='d1')\n"
            "h.update('second')"
        )
        assert shown.status == "ok"
        assert shown.stdout == f"from-test {kernel_name[-1]}\n"
        assert shown.final_data("d1") == {"text/plain": "'second'"}

        msg_id = kernel.submit(
            "import time\nprint('started', flush=True)\nfor _ in range(600):\n    time.sleep(0.05)"
        )
        kernel.wait_for_stdout(msg_id, "started")
        kernel.interrupt()
        stopped = kernel.collect(msg_id, timeout=15)
        assert (stopped.status, stopped.error_name) == ("error", "KeyboardInterrupt")
        assert kernel.execute("print('still alive')").stdout == "still alive\n"
