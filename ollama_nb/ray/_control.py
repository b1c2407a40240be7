"""The job's one shared object: a small Ray actor that every :class:`~ollama_nb.ray.Prompt` actor asks
which host to use and whether to stop, and tells what each item did.

It holds no data: counts, the last few answers (for the progress view), the live hosts, and the
stop flag. One ``control.stop.remote()`` reaches every actor within one poll (0.1 s), which then
closes its open streams; a Ctrl-C during ``write_parquet`` alone would not (queued work would
still be sent).

Example:
    >>> control = JobControl(["http://a", "http://b"], total=3)
    >>> control.claim_host(), control.claim_host(), control.claim_host()
    ('http://a', 'http://b', 'http://a')
    >>> control.add("ok", "http://a", 0, "an answer", 5); control.progress()["counts"]["ok"]
    1
"""

from __future__ import annotations

import collections
import time
from typing import Any

__all__ = ["JobControl", "LATEST"]

#: How many of the most recent answers the control keeps (what a progress view shows).
LATEST = 5


class JobControl:
    """The stop flag, the host rotation and the counts of one job (run as a Ray actor, ``num_cpus=0``)."""

    def __init__(self, hosts: list[str], total: int, started: float | None = None) -> None:
        self.hosts = list(hosts)
        self.live = list(hosts)
        self.claims = 0
        self.total = total
        self.stopping = False
        self.counts = {"ok": 0, "error": 0, "not run": 0, "reused": 0}
        self.tokens = 0
        self.sent_done = 0
        self.per_host: dict[str, dict[str, Any]] = {h: {"items": 0, "failed": 0, "tokens": 0, "last_error": None}
                                                    for h in hosts}
        self.latest: collections.deque[dict[str, Any]] = collections.deque(maxlen=LATEST)
        self.t_start = started if started is not None else time.time()  # the driver's clock: the job's start

    # -- the stop flag ------------------------------------------------------------------------------
    def stop(self) -> None:
        self.stopping = True

    def stopped(self) -> bool:
        return self.stopping

    # -- hosts --------------------------------------------------------------------------------------
    def claim_host(self) -> str:
        """The next host, round robin over all of them (each actor claims one when it starts)."""
        host = self.hosts[self.claims % len(self.hosts)]
        self.claims += 1
        return host

    def host_died(self, host: str, error: str | None) -> list[str]:
        """``host`` leaves the rotation; the hosts still in it."""
        if host in self.live:
            self.live.remove(host)
        if host in self.per_host:
            self.per_host[host]["last_error"] = error
        return list(self.live)

    def live_hosts(self) -> list[str]:
        return list(self.live)

    # -- counts -------------------------------------------------------------------------------------
    def add(self, status: str, host: str | None, index: Any, answer: str | None, tokens: int | None) -> None:
        """One item has ended (``ok``, ``error`` or ``not run``)."""
        self.counts[status] = self.counts.get(status, 0) + 1
        if status != "not run":
            self.sent_done += 1
            self.tokens += tokens or 0
            self.latest.append({"index": index, "status": status, "answer": answer, "host": host})
        figures = self.per_host.get(host or "")
        if figures is not None and status != "not run":
            figures["items"] += 1
            figures["failed"] += status == "error"
            figures["tokens"] += tokens or 0

    def add_not_run(self, n: int) -> None:
        """``n`` rows of a block that came after the stop: not sent."""
        self.counts["not run"] += n

    def add_reused(self, n: int) -> None:
        """``n`` rows already had an ``ok`` answer in the output folder: not sent again."""
        self.counts["reused"] += n

    def progress(self) -> dict[str, Any]:
        """Everything a :class:`~ollama_nb.BatchProgress` and the host table need, as plain values."""
        return {
            "total": self.total, "counts": dict(self.counts), "tokens": self.tokens, "sent_done": self.sent_done,
            "elapsed_s": time.time() - self.t_start, "latest": list(self.latest), "live": list(self.live),
            "per_host": {h: dict(f) for h, f in self.per_host.items()}, "stopping": self.stopping,
        }
