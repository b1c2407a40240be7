"""What every benchmark area shares: interleaved rounds, medians and ratios, the simulator process.

The simulator runs in a child process (so it never competes with the measured client for a GIL)
and reports its events ("request", "complete", "disconnect", "drop") on stdout with their
``time.monotonic()`` stamps; on Linux that clock is shared by every process of the machine, so a
click time taken here and a disconnect time taken there can be subtracted.

Example:
    >>> with SimProcess() as sim:                              # doctest: +SKIP
    ...     mark = sim.mark()
    ...     httpx.post(sim.url + "/api/generate", json={...})
    ...     sim.wait_for("complete", since=mark).lines_sent
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODEL = "llama3.2"

Sample = dict[str, float]


# -- rounds, medians, ratios ----------------------------------------------------------------------
def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None (None when there are none)."""
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def interleave(
    contenders: Sequence[tuple[str, Callable[[], Sample]]],
    rounds: int,
    *,
    warmup: int = 1,
    between: Callable[[], None] | None = None,
) -> dict[str, list[Sample]]:
    """Run ``rounds`` rounds of every contender in turn (A, B, C, A, B, C, …) after ``warmup``
    unrecorded rounds; return each contender's samples in round order."""
    samples: dict[str, list[Sample]] = {name: [] for name, _ in contenders}
    for index in range(warmup + rounds):
        for name, run in contenders:
            sample = run()
            if index >= warmup:
                samples[name].append(sample)
            if between is not None:
                between()
    return samples


def paired_ratio(samples: Mapping[str, list[Sample]], name: str, baseline: str, key: str) -> float | None:
    """Median over rounds of ``name[key] / baseline[key]`` (pairs from the same round)."""
    ratios = []
    for mine, base in zip(samples[name], samples[baseline]):
        a, b = mine.get(key), base.get(key)
        if a is not None and b:
            ratios.append(a / b)
    return median(ratios)


def paired_difference(samples: Mapping[str, list[Sample]], name: str, baseline: str, key: str) -> float | None:
    """Median over rounds of ``name[key] - baseline[key]``."""
    diffs = []
    for mine, base in zip(samples[name], samples[baseline]):
        a, b = mine.get(key), base.get(key)
        if a is not None and b is not None:
            diffs.append(a - b)
    return median(diffs)


def summarize(samples: Mapping[str, list[Sample]], baseline: str, keys: Sequence[str]) -> dict[str, Any]:
    """Per contender and key: median, min, max, runs, and the paired ratio to ``baseline``."""
    out: dict[str, Any] = {}
    for name, rows in samples.items():
        entry: dict[str, Any] = {"runs": len(rows)}
        for key in keys:
            values = [r[key] for r in rows if r.get(key) is not None]
            entry[key] = {
                "median": median(values),
                "min": min(values) if values else None,
                "max": max(values) if values else None,
                "ratio": paired_ratio(samples, name, baseline, key),
            }
        out[name] = entry
    return out


def run_parts(area: str, parts: Sequence[tuple[str, Callable[..., dict[str, Any]]]], sim: Any, *,
              quick: bool) -> dict[str, Any]:
    """Run each part of an area in turn; a part that fails is recorded with its error, the others still run."""
    out: dict[str, Any] = {}
    for name, run in parts:
        log(f"{area}: {name}")
        try:
            out[name] = run(sim, quick=quick)
        except Exception as exc:
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


# -- the simulator in its own process -------------------------------------------------------------
@dataclass(frozen=True)
class SimEvent:
    """One event of the simulator: kind, path, ``time.monotonic()`` stamp, NDJSON lines sent."""

    kind: str
    path: str
    time: float
    lines_sent: int


class SimProcess:
    """``bench/_sim.py`` in a child process: full speed (paced replies use ``[[delay=S]]``)."""

    def __init__(self, startup_timeout: float = 20.0) -> None:
        self.startup_timeout = startup_timeout
        self.url = ""
        self._events: list[SimEvent] = []
        self._changed = threading.Condition()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> SimProcess:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_sim.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd=str(REPO),
        )
        assert self._process.stdout is not None
        first = self._process.stdout.readline()
        if not first:
            raise RuntimeError("the simulator process exited before it was listening")
        self.url = json.loads(first)["url"]
        self._reader = threading.Thread(target=self._read, name="bench-sim-events", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            event = SimEvent(data["kind"], data["path"], float(data["time"]), int(data["lines_sent"]))
            with self._changed:
                self._events.append(event)
                self._changed.notify_all()

    def mark(self) -> int:
        """A position in the event list: ``wait_for(..., since=mark)`` only sees later events."""
        with self._changed:
            return len(self._events)

    def events(self, since: int = 0) -> list[SimEvent]:
        with self._changed:
            return self._events[since:]

    def wait_for(self, kind: str, *, since: int, timeout: float = 10.0) -> SimEvent:
        """The first event of ``kind`` after position ``since``; TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self._events[since:]:
                    if event.kind == kind:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    kinds = sorted({e.kind for e in self._events[since:]})
                    raise TimeoutError(f"the simulator reported no {kind!r} within {timeout:g} s (saw {kinds})")
                self._changed.wait(remaining)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            try:
                process.stdin.close()  # the child stops when its stdin closes
            except OSError:
                pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def generate_body(prompt: str, model: str = MODEL) -> dict[str, Any]:
    return {"model": model, "prompt": prompt}


def reply_size(sim_url: str, prompt: str) -> int:
    """Bytes (UTF-8) of the text the simulator answers to ``prompt`` (replies are deterministic)."""
    import httpx

    parts = []
    with httpx.Client(timeout=300) as client:
        with client.stream("POST", sim_url + "/api/generate", json=generate_body(prompt)) as response:
            for line in response.iter_lines():
                if line:
                    parts.append(json.loads(line).get("response") or "")
    return len("".join(parts).encode("utf-8"))


# -- the machine ------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _kernel_versions() -> dict[str, str | None]:
    """ipykernel version of each benchmark kernelspec (read from its interpreter)."""
    out: dict[str, str | None] = {}
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager().get_all_specs()
    except Exception:
        return out
    for name in ("onb-k6", "onb-k7"):
        spec = specs.get(name)
        if spec is None:
            out[name] = None
            continue
        python = spec["spec"]["argv"][0]
        try:
            out[name] = subprocess.run(
                [python, "-c", "import ipykernel, IPython; print(ipykernel.__version__, 'IPython', IPython.__version__)"],
                capture_output=True, text=True, timeout=30,
            ).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            out[name] = None
    return out


def _revision() -> str | None:
    """The repository's commit, with ``+dirty`` when ollama_nb/ has uncommitted changes."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "ollama_nb"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (sha + ("+dirty" if dirty else "")) or None


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, Python, OS and the versions of what is measured."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    packages = [
        "ollama_nb", "httpx", "httpcore", "h11", "ollama", "aiohttp", "urllib3", "requests", "ipykernel",
        "ipython", "ipywidgets", "jupyter_client", "jupyterlab", "jupyter-ui-poll", "playwright",
    ]
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "distro": _os_release(),
        "load_average_at_start": load,
        "packages": {name: _version(name) for name in packages},
        "revision": _revision(),
        "kernels": _kernel_versions(),
        "transports": _transports(),
    }


def _transports() -> dict[str, str]:
    """The HTTP transport each client reads with in this run (the default, or OLLAMA_NB_TRANSPORT)."""
    from ollama_nb import AsyncClient, Client

    return {"Client": Client("127.0.0.1:1").transport, "AsyncClient": AsyncClient("127.0.0.1:1").transport}


def _os_release() -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None


def log(message: str) -> None:
    """Progress on stderr (stdout is left for the final table)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
