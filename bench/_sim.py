"""The bundled simulator in a child process that reports its events: run by ``SimProcess``.

Prints ``{"url": ...}`` once listening, then one JSON line per simulator event (kind, path,
``time.monotonic()`` stamp, lines sent). Serves at full speed until its stdin closes.
"""

from __future__ import annotations

import json
import sys
import threading

from ollama_nb.simulator import Simulator

KINDS = ("request", "complete", "disconnect", "drop")


def main() -> int:
    lock = threading.Lock()

    def emit(data: dict[str, object]) -> None:
        with lock:
            sys.stdout.write(json.dumps(data) + "\n")
            sys.stdout.flush()

    with Simulator(port=0, tokens_per_second=None) as sim:

        def forward(kind: str) -> None:
            while True:
                try:
                    event = sim.wait_for(kind, timeout=3600)
                except TimeoutError:
                    continue
                emit({"kind": event.kind, "path": event.path, "time": event.time, "lines_sent": event.lines_sent})

        for kind in KINDS:
            threading.Thread(target=forward, args=(kind,), name=f"forward-{kind}", daemon=True).start()
        emit({"url": sim.url})
        sys.stdin.read()  # until the parent closes our stdin (or exits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
