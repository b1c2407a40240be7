"""Run the Ollama-protocol simulator in the foreground: ``python -m ollama_nb.simulator``.

Example:
    $ python -m ollama_nb.simulator --port 11435 --tokens-per-second 20
    ollama_nb simulator (no model runs, replies are simulated) listening on http://127.0.0.1:11435 ...
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from . import Simulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ollama_nb.simulator",
        description="Serve Ollama's HTTP API with simulated, deterministic replies (no model runs).",
    )
    parser.add_argument("--port", type=int, default=11434, help="TCP port (default 11434; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="127.0.0.1 (default), localhost or ::1; other addresses are refused")
    parser.add_argument("--tokens-per-second", type=float, default=40.0,
                        help="token pace (default 40, like a small local model; 0 = as fast as possible)")
    parser.add_argument("--pull-seconds", type=float, default=1.0, help="duration of a simulated pull (default 1)")
    parser.add_argument("--require-api-key", action="store_true",
                        help="act like https://ollama.com: /api/ requests need 'Authorization: Bearer <key>', "
                             "the key read from $OLLAMA_API_KEY (never printed)")
    parser.add_argument("--signed-out", action="store_true",
                        help="cloud and remote models answer 401 with a sign-in URL, as when not signed in")
    parser.add_argument("--cloud-disabled", action="store_true", help="cloud and remote models answer 403")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve until Ctrl-C or SIGTERM, return the exit status."""
    args = _parser().parse_args(argv)
    api_key = os.environ.get("OLLAMA_API_KEY") if args.require_api_key else None
    if args.require_api_key and not api_key:
        print("error: --require-api-key needs the key in the OLLAMA_API_KEY environment variable", file=sys.stderr)
        return 2
    try:
        sim = Simulator(port=args.port, tokens_per_second=args.tokens_per_second or None,
                        host=args.host, pull_seconds=args.pull_seconds, api_key=api_key,
                        signed_in=not args.signed_out, cloud_disabled=args.cloud_disabled)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        sim.start()
    except OSError as exc:
        print(f"error: cannot listen on port {args.port} ({exc.strerror}). "
              "Is Ollama (or another simulator) running there? Try --port 0.", file=sys.stderr)
        return 1
    stopping = threading.Event()

    def _on_term(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _on_term)
    pace = f"{args.tokens_per_second:g} tokens/s" if args.tokens_per_second else "full speed"
    key = " (requires the bearer key from OLLAMA_API_KEY)" if api_key else ""
    print(f"ollama_nb simulator (no model runs, replies are simulated) listening on {sim.url} "
          f"at {pace}{key}; Ctrl-C to stop", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    print("ollama_nb simulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
