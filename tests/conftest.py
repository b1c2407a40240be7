"""Shared pytest fixtures.

``simulator``: a running Ollama-protocol simulator on 127.0.0.1 (random port), full speed.

Example:
    def test_version(simulator):
        assert httpx.get(simulator.url + "/api/version").json()["version"]
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ollama_nb.simulator import Simulator


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """A fresh simulator per test: port 0, no token delay; stopped afterwards."""
    with Simulator(port=0) as sim:
        yield sim


# --- fixtures added by other modules' owners go below this line -----------------------
