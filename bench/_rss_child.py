"""One fresh process reading one long reply to a ``str``; prints its memory readings as JSON.

    python bench/_rss_child.py CLIENT URL TOKENS      # CLIENT: raw | ollama_nb | official

RSS after setup (imports, client, one short warm-up reply) and the peak (VmHWM) at the end,
both in KiB from /proc/self/status.
"""

from __future__ import annotations

import json
import sys

MODEL = "llama3.2"


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def main() -> int:
    client, url, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if client == "raw":
        import httpx

        http = httpx.Client(base_url=url, timeout=300)

        def read(prompt: str) -> str:
            parts = []
            with http.stream("POST", "/api/generate", json={"model": MODEL, "prompt": prompt}) as response:
                for line in response.iter_lines():
                    if line:
                        parts.append(json.loads(line).get("response") or "")
            return "".join(parts)

    elif client == "ollama_nb":
        import ollama_nb

        mine = ollama_nb.Client(url)

        def read(prompt: str) -> str:
            return mine.generate(MODEL, prompt).read()

    elif client == "official":
        import ollama

        official = ollama.Client(host=url)

        def read(prompt: str) -> str:
            return "".join(part.response or "" for part in official.generate(MODEL, prompt, stream=True))

    else:
        raise SystemExit(f"unknown client {client!r}")

    read("Warm up. [[tokens=100]]")
    setup = _status("VmRSS")
    text = read(f"Tell me everything. [[tokens={tokens}]]")
    print(json.dumps({"setup_kib": setup, "peak_kib": _status("VmHWM"), "end_kib": _status("VmRSS"), "chars": len(text)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
