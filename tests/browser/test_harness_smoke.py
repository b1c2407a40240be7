"""The harness works end to end: chromium, JupyterLab, widget rendering, both kernelspecs."""

from __future__ import annotations

import pytest

BUTTON_CELL = """\
import ipywidgets as widgets
clicked = []
def on_click(button):
    clicked.append(True)
    button.description = "Pressed"
button = widgets.Button(description="Press me")
button.on_click(on_click)
button
"""


@pytest.mark.parametrize("kernel", ["onb-k6", "onb-k7"])
def test_widget_click_reaches_kernel_in_lab(notebook, kernel: str) -> None:
    nb = notebook([BUTTON_CELL, "print(f'clicked={bool(clicked)}')"], kernel=kernel)
    nb.run_cell(0)
    nb.click_button("Press me", cell=0)
    nb.button("Pressed", cell=0).wait_for(timeout=10_000)  # the kernel ran the handler
    nb.run_cell(1)
    assert nb.wait_for_output_text(1, "clicked=").strip() == "clicked=True"
