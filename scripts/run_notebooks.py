"""Execute notebooks headless with nbclient and save them with their outputs.

    python scripts/run_notebooks.py notebooks/*.ipynb --out out/
    python scripts/run_notebooks.py notebooks/01-quickstart.ipynb --inplace

Before running, it looks for an Ollama at $OLLAMA_HOST (default http://127.0.0.1:11434, GET
/api/version, 1 s timeout). When none answers it starts the bundled simulator
(``python -m ollama_nb.simulator --port P``) on a free 127.0.0.1 port, points OLLAMA_HOST at it for
the kernels, and stops it at the end. One line says which is used.

A notebook fails when any cell has an error output (cells tagged ``raises-exception`` may raise),
times out, or kills its kernel; the notebook is still written, with the outputs it got. The exit
status is 1 when any notebook failed.
"""

from __future__ import annotations

from typing import Any

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
ALLOWED_ERROR_TAG = "raises-exception"


def normalise_host(value: str) -> str:
    """Turn an OLLAMA_HOST value into a base URL, as Ollama reads it.

    >>> normalise_host("127.0.0.1:11500")
    'http://127.0.0.1:11500'
    >>> normalise_host("http://localhost")
    'http://localhost:11434'
    """
    value = value.strip().rstrip("/") or DEFAULT_OLLAMA_HOST
    if "://" not in value:
        value = "http://" + value
    scheme, rest = value.split("://", 1)
    hostport, slash, path = rest.partition("/")
    has_port = "]:" in hostport if hostport.startswith("[") else ":" in hostport  # [::1]:port
    if not has_port:
        hostport += ":443" if scheme == "https" else ":11434"
    return f"{scheme}://{hostport}{slash}{path}"


def ollama_version(base_url: str, timeout: float = 1.0) -> str | None:
    """The version an Ollama server at base_url reports, or None when nothing answers."""
    try:
        with urllib.request.urlopen(base_url + "/api/version", timeout=timeout) as response:
            body = json.loads(response.read().decode("utf-8") or "{}")
    except (OSError, ValueError, urllib.error.URLError):
        return None
    version = body.get("version") if isinstance(body, dict) else None
    return str(version) if version is not None else "unknown version"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def bundled_simulator(startup_timeout: float = 20.0) -> Iterator[str]:
    """Run ``python -m ollama_nb.simulator --port P`` until the block ends; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="onb-simulator-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "ollama_nb.simulator", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while ollama_version(url, timeout=0.5) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                output = Path(log.name).read_text(errors="replace").strip()
                raise SystemExit(
                    f"error: the bundled simulator did not answer at {url} "
                    f"(exit status {process.poll()}); its output:\n{output or '(none)'}"
                )
            time.sleep(0.05)
        yield url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        os.unlink(log.name)


@contextmanager
def ollama_for_notebooks() -> Iterator[str]:
    """A reachable Ollama for the kernels: the real one at OLLAMA_HOST, else the simulator."""
    configured = os.environ.get("OLLAMA_HOST", "")
    base_url = normalise_host(configured or DEFAULT_OLLAMA_HOST)
    version = ollama_version(base_url)
    if version is not None:
        print(f"Ollama: using the server at {base_url} (version {version})", flush=True)
        yield base_url
        return
    with bundled_simulator() as url:
        print(
            f"Ollama: nothing answered at {base_url}; using the bundled simulator at {url}",
            flush=True,
        )
        previous = os.environ.get("OLLAMA_HOST")
        os.environ["OLLAMA_HOST"] = url  # kernels inherit this process's environment
        try:
            yield url
        finally:
            if previous is None:
                os.environ.pop("OLLAMA_HOST", None)
            else:
                os.environ["OLLAMA_HOST"] = previous


@contextmanager
def fresh_record() -> Iterator[None]:
    """The tutorials' turns go to a record of this run (so ``%ollama log`` shows only them), unless
    OLLAMA_NB_DB already names one."""
    if os.environ.get("OLLAMA_NB_DB"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="onb-notebooks-") as folder:
        os.environ["OLLAMA_NB_DB"] = os.path.join(folder, "record.db")  # kernels inherit it
        try:
            yield
        finally:
            os.environ.pop("OLLAMA_NB_DB", None)


@dataclass(frozen=True)
class NotebookRun:
    """What happened when one notebook ran."""

    source: Path
    written_to: Path
    seconds: float
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def error_outputs(nb: object) -> list[str]:
    """One line per error output in cells not tagged ``raises-exception``."""
    problems = []
    for index, cell in enumerate(nb.cells):  # type: ignore[attr-defined]
        if cell.cell_type != "code":
            continue
        if ALLOWED_ERROR_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                problems.append(
                    f"cell {index} ({first_line[:60]!r}): "
                    f"{output.get('ename')}: {output.get('evalue')}"
                )
    return problems


def installed_kernels() -> set[str]:
    from jupyter_client.kernelspec import KernelSpecManager

    return set(KernelSpecManager().find_kernel_specs())


def kernel_for(nb: object, forced: str | None, available: set[str]) -> str:
    """The kernel to run nb with: --kernel, else the notebook's own when installed, else python3."""
    if forced:
        return forced
    name = nb.metadata.get("kernelspec", {}).get("name", "")  # type: ignore[attr-defined]
    return name if name in available else "python3"


def run_notebook(
    source: Path, target: Path, *, timeout: float, kernel: str | None, available: set[str]
) -> NotebookRun:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_for(nb, kernel, available),
        allow_errors=True,
        coalesce_streams=True,  # one output per stream, not one per flushed token
        store_widget_state=False,  # the Stop buttons are closed: nothing worth saving
        resources={"metadata": {"path": str(source.parent.resolve())}},
    )
    failed_replies: list[str] = []

    def check_reply(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        # A UsageError printed to stderr leaves no error output, but the reply says "error".
        tags = cell.get("metadata", {}).get("tags", [])
        if execute_reply.get("content", {}).get("status") == "error" and ALLOWED_ERROR_TAG not in tags:
            content = execute_reply["content"]
            failed_replies.append(f"cell {cell_index}: {content.get('ename')}: {content.get('evalue')}")

    client.on_cell_executed = check_reply
    started = time.perf_counter()
    problems: list[str] = []
    # The kernel's own stderr (ipykernel 7 warns about TCP on every start) is shown only on failure.
    with tempfile.TemporaryFile() as kernel_stderr:
        try:
            client.execute(stderr=kernel_stderr)
        except (CellTimeoutError, DeadKernelError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, CellTimeoutError):
                problems.append(f"a cell ran longer than {timeout:g} s: {reason}")
            else:
                problems.append(f"the kernel died: {reason}")
            kernel_stderr.seek(0)
            log = kernel_stderr.read().decode("utf-8", "replace").strip()
            if log:
                problems.append("kernel stderr:\n" + log)
        problems.extend(error_outputs(nb))
        problems.extend(p for p in failed_replies if not any(p.split(":")[0] + " " in q for q in problems))
    seconds = time.perf_counter() - started
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return NotebookRun(source, target, seconds, tuple(problems))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Execute notebooks headless (nbclient) and save them with outputs."
    )
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebook files to run")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="directory to write executed notebooks to")
    where.add_argument("--inplace", action="store_true", help="overwrite the notebooks")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per cell (300)")
    parser.add_argument(
        "--kernel", help="kernel name to use (default: the notebook's, if installed, else python3)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [str(path) for path in args.notebooks if not path.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    available = installed_kernels()
    runs: list[NotebookRun] = []
    with ollama_for_notebooks(), fresh_record():
        for source in args.notebooks:
            target = source if args.inplace else args.out / source.name
            run = run_notebook(
                source, target, timeout=args.timeout, kernel=args.kernel, available=available
            )
            runs.append(run)
            status = "ok" if run.ok else "FAILED"
            print(f"{status} {source} -> {target} ({run.seconds:.1f} s)", flush=True)
            for problem in run.problems:
                print(f"    {problem}", flush=True)
    failed = [run for run in runs if not run.ok]
    if failed:
        print(f"{len(failed)} of {len(runs)} notebook(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
