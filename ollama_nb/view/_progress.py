"""Progress of ``%ollama pull``: a real progress bar (bytes, percent, rate) or a text bar."""

from __future__ import annotations

import time
from typing import Any, Iterable

from .._errors import Interrupted
from .._safe import SafeHtml, SafeMarkdown
from ..client import PullProgress
from ._controls import widgets_available
from ._outputs import markdown_bundle, plain_bundle


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1000
    return f"{n:.1f} PB"


def describe(event: PullProgress, rate: float | None) -> str:
    """One line of plain text (status, bytes done of total, percent, rate): the status is server text,
    so it is shown only escaped (``SafeHtml.escape`` in the label, ``SafeMarkdown.text``) or as text/plain."""
    if event.total and event.completed is not None:
        pct = 100 * event.completed / event.total
        line = f"{event.status}: {_size(event.completed)} / {_size(event.total)} ({pct:.0f}%)"
        return line + (f" · {_size(rate)}/s" if rate else "")
    return event.status


def show_pull(events: Iterable[PullProgress], name: str, *, interval: float = 0.2) -> PullProgress | None:
    """Consume pull events into a progress bar; return the last event (``success`` on success)."""
    from IPython.display import display

    bar: Any = None
    label: Any = None
    if widgets_available():
        import ipywidgets as w

        bar = w.FloatProgress(min=0.0, max=1.0, description="pull", bar_style="info")
        # the status line is server text: escaped into an HTML widget (a Label would be typeset
        # as math by MathJax; an HTML widget sets innerHTML and typesets nothing)
        label = w.HTML()
        box = w.HBox([bar, label])
        handle = display(box, display_id=True)
    else:
        handle = display(plain_bundle(f"pulling {name}…"), raw=True, display_id=True)
    last: PullProgress | None = None
    shown = 0.0
    started = time.monotonic()
    first_bytes: tuple[float, int] | None = None
    text = ""
    outcome = "success"
    try:
        for event in events:
            last = event
            now = time.monotonic()
            rate = None
            if event.completed is not None:
                if first_bytes is None:
                    first_bytes = (now, event.completed)
                elif now > first_bytes[0]:
                    rate = (event.completed - first_bytes[1]) / (now - first_bytes[0])
            text = describe(event, rate)
            if now - shown >= interval or event.success:
                shown = now
                if bar is not None:
                    bar.value = event.fraction if event.fraction is not None else (1.0 if event.success else bar.value)
                    label.value = SafeHtml.escape(text)
                else:
                    width = 30
                    filled = int(width * (event.fraction or (1.0 if event.success else 0.0)))
                    handle.update(plain_bundle(f"[{'#' * filled}{'.' * (width - filled)}] {text}"), raw=True)
    except KeyboardInterrupt:
        outcome = "stopped"
        close = getattr(events, "close", None)
        if close is not None:
            close()  # the connection closes now; Ollama keeps what it downloaded
        raise Interrupted(
            what=f"the pull of {name}",
            detail=f"stopped at {text or 'the start'}",
            hint=f"Run `%ollama pull {name}` again to resume where it stopped.",
        ) from None
    except BaseException:
        outcome = "error"
        raise
    finally:
        elapsed = time.monotonic() - started
        summary = (
            f"{name}: {last.status if last else 'no answer'} ({elapsed:.1f} s)"
            if outcome == "success"
            else f"{name}: pull {outcome} — {text}"
        )
        if bar is not None:
            bar.bar_style = "success" if outcome == "success" else "danger"
            for widget in (bar, label, box):
                widget.close()
        shown = SafeMarkdown.trusted("**{}**").format(SafeMarkdown.text(summary))
        handle.update(markdown_bundle(shown, summary), raw=True)
    return last
