"""Show one streaming reply: live Markdown that stays in the notebook, and a timing footer.

Display traffic stays O(n): finished Markdown blocks are frozen (sent one last time, never again)
and only the open tail is re-sent, at most every ``interval`` seconds and within a byte budget
(a few times the reply's size), with a final flush. The clock is injectable, as in tqdm.

Example:
    >>> view = make_view(model="llama3.2")      # doctest: +SKIP
    >>> view.add(chunks); view.refresh()         # doctest: +SKIP
    >>> view.finish(reply)                       # doctest: +SKIP
"""

from __future__ import annotations

import html
import sys
import time
from typing import Any, Callable, Sequence

from .._reply import BaseReply, Chunk
from ._controls import Controls, widgets_available

#: Estimated bytes of one iopub message around its data (header, signature, JSON framing).
_ENVELOPE = 700
_THINKING_PREVIEW = 400


def call_text(call: Any) -> str:
    """``name(a=1, b='x')`` for a tool call."""
    return f"{call.name}({', '.join(f'{k}={v!r}' for k, v in call.arguments.items())})"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _status_line(model: str, reply: BaseReply | None) -> str:
    if reply is None:
        return model
    elapsed = reply.elapsed_s
    parts = [model, f"{elapsed:.1f} s"]
    if reply.output_chunks:
        parts.append(f"{reply.output_chunks} tokens")
        t = reply.timing
        if t.tokens_per_s:
            parts.append(f"{t.tokens_per_s:.1f} tok/s")
    elif elapsed > 1.5:
        parts.append("waiting for the first token (the model may be loading)")
    return " · ".join(parts)


def footer_text(reply: BaseReply) -> str:
    """One line: model · ttft · tokens · tok/s · wall, plus the outcome when it is not plain done."""
    parts = [reply.model]
    summary = reply.timing.summary()
    if summary:
        parts.append(summary)
    if reply.stopped:
        parts.append("**stopped**")
    elif reply.error is not None:
        parts.append("**error**")
    elif reply.done_reason == "length":
        parts.append("**cut at length**")
    return " · ".join(parts)


def reply_metadata(reply: BaseReply) -> dict[str, Any]:
    """What goes into the output's metadata under ``ollama_nb``."""
    return {
        "model": reply.model,
        "endpoint": reply.endpoint,
        "done_reason": reply.done_reason,
        "stopped": reply.stopped,
        "error": str(reply.error) if reply.error else None,
        "timing": reply.timing.as_dict(),
        "notes": list(reply.notes),
    }


class StreamView:
    """Live display of one reply in a Jupyter cell (Markdown by default, ``plain`` for text)."""

    def __init__(
        self,
        *,
        model: str,
        plain: bool = False,
        allow_html: bool = False,
        interval: float = 0.1,
        max_interval: float = 1.0,
        budget: float = 3.0,
        controls: bool = True,
        on_stop: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from IPython.display import display

        from .._markdown import MarkdownBlocks

        self._display = display
        self.model = model
        self.plain = plain
        self.allow_html = allow_html
        self.interval = interval
        self.max_interval = max_interval
        self.budget = budget
        self.clock = clock
        self.reply: BaseReply | None = None
        self.updates = 0
        self.bytes_sent = 0
        self._content_bytes = 0
        self._blocks = MarkdownBlocks(escape=not (plain or allow_html))
        self._text_since = ""  # plain mode: the open text of the current output
        self._thinking: list[str] = []
        self._tool_lines: list[str] = []
        self._handle: Any = None
        self._dirty = False
        self._last = clock()
        self._controls: Controls | None = None
        if controls and on_stop is not None and widgets_available():
            try:
                self._controls = Controls(on_stop)
                self._controls.set_status(f"{model} · sending…")
            except Exception:
                self._controls = None

    # -- input ---------------------------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk]) -> None:
        """Take new chunks (cheap: no display here)."""
        for chunk in chunks:
            if chunk.content:
                self._content_bytes += len(chunk.content)
                self._dirty = True
                if self.plain:
                    self._text_since += chunk.content
                    if len(self._text_since) > self._blocks.threshold and "\n" in self._text_since:
                        cut = self._text_since.rindex("\n") + 1
                        block, self._text_since = self._text_since[:cut], self._text_since[cut:]
                        self._freeze(block)
                else:
                    for block in self._blocks.feed(chunk.content):
                        self._freeze(block)
            if chunk.thinking:
                self._thinking.append(chunk.thinking)
                self._dirty = True
            for call in chunk.tool_calls:
                self.note(f"🔧 `{call_text(call)}`")
            for result in chunk.tool_results:
                mark = "⚠" if result.error else "→"
                self.note(f"{mark} `{call.name if (call := result.call) else ''}`: {_short(result.error or result.content)}")

    def note(self, markdown: str) -> None:
        """Show an extra line in the answer (a tool call or result); model text is escaped."""
        if not self.allow_html:
            from .._markdown import escape_untrusted

            markdown = escape_untrusted(markdown)
        self._tool_lines.append(markdown)
        self._dirty = True

    # -- output --------------------------------------------------------------------------------
    def _send(self, bundle: dict[str, str], *, new: bool, metadata: dict[str, Any] | None = None) -> None:
        size = sum(len(v) for v in bundle.values()) + _ENVELOPE
        self.bytes_sent += size
        self.updates += 1
        if new or self._handle is None:
            self._handle = self._display(bundle, raw=True, display_id=True, metadata=metadata or {})
        else:
            self._handle.update(bundle, raw=True, metadata=metadata or {})

    def _bundle(self, markdown: str, *, final: bool) -> dict[str, str]:
        if self.plain:
            return {"text/plain": markdown}
        bundle = {"text/markdown": markdown}
        if final:
            bundle["text/plain"] = markdown if self.allow_html else html.unescape(markdown)
        return bundle

    def _freeze(self, block: str) -> None:
        """A finished block: its output is written one last time; the next text opens a new one."""
        self._send(self._bundle(self._prefix() + block, final=True), new=self._handle is None)
        self._handle = None

    def _prefix(self) -> str:
        if not self._tool_lines:
            return ""
        lines, self._tool_lines = self._tool_lines, []
        return "\n\n".join(lines) + "\n\n"

    def _open_text(self, cursor: str = "") -> str:
        if self.plain:
            return self._text_since
        return self._blocks.tail_with_cursor(cursor) if cursor else self._blocks.tail

    def refresh(self, *, force: bool = False) -> bool:
        """Re-send the open tail if due (time and byte budget allow); True if it was sent."""
        now = self.clock()
        waited = now - self._last
        if not force:
            if not self._dirty or waited < self.interval:
                self._update_status(now)
                return False
            tail = self._open_text()
            within_budget = self.bytes_sent + len(tail) + _ENVELOPE <= self.budget * self._content_bytes + 8192
            if not within_budget and waited < self.max_interval:
                self._update_status(now)
                return False
        self._last = now
        self._dirty = False
        tail = self._tool_lines and "\n\n".join(self._tool_lines) + "\n\n" or ""
        tail += self._open_text(cursor=" ▍")
        if tail:
            self._send(self._bundle(tail, final=False), new=False)
        self._update_status(now, force=True)
        return True

    def _update_status(self, now: float, *, force: bool = False) -> None:
        if self._controls is None:
            return
        self._controls.set_status(_status_line(self.model, self.reply))
        if self._thinking and force:
            self._controls.set_thinking("".join(self._thinking)[-_THINKING_PREVIEW:])

    def finish(self, reply: BaseReply) -> None:
        """Final flush: the whole tail with text/plain, the footer (with metadata), widgets closed."""
        self.reply = reply
        metadata = {"ollama_nb": reply_metadata(reply)}
        if self.plain:
            rest = self._text_since
        else:
            rest = self._blocks.close() or ""
        rest = self._prefix() + rest
        if rest or self._handle is not None:
            self._send(self._bundle(rest, final=True), new=self._handle is None, metadata=metadata)
        self._handle = None
        for note in reply.notes:
            self._send({"text/markdown": f"> ⚠ {note}", "text/plain": f"note: {note}"}, new=True)
            self._handle = None
        thinking = "".join(self._thinking)
        replacement = None
        if thinking:
            escaped = html.escape(thinking)
            replacement = {
                "text/markdown": f"<details><summary>Thinking ({len(thinking.split())} words)</summary>\n\n"
                f"<pre style='white-space:pre-wrap'>{escaped}</pre>\n\n</details>",
                "text/plain": f"[thinking]\n{thinking}",
            }
        if self._controls is not None:
            self._controls.close(replacement)
        elif replacement is not None:
            self._send(replacement, new=True)
        text = footer_text(reply)
        self._send({"text/markdown": f"*{text}*", "text/plain": text.replace("**", "")}, new=True, metadata=metadata)
        self._handle = None


class PlainView:
    """Terminal IPython and plain Python: text to stdout as it arrives, then the footer line."""

    def __init__(self, *, model: str, stream: Any = None, clock: Callable[[], float] = time.monotonic, **_: Any) -> None:
        self.model = model
        self.stream = stream or sys.stdout
        self.reply: BaseReply | None = None
        self._thinking_open = False
        self._wrote = False

    def add(self, chunks: Sequence[Chunk]) -> None:
        write = self.stream.write
        for chunk in chunks:
            if chunk.thinking:
                if not self._thinking_open:
                    write("[thinking] ")
                    self._thinking_open = True
                write(chunk.thinking)
            if chunk.content:
                if self._thinking_open:
                    write("\n[/thinking]\n")
                    self._thinking_open = False
                write(chunk.content)
                self._wrote = True
            for call in chunk.tool_calls:
                write(f"\n[tool call] {call_text(call)}\n")
            for result in chunk.tool_results:
                write(f"[tool {'error' if result.error else 'result'}] {_short(result.error or result.content)}\n")

    def note(self, text: str) -> None:
        self.stream.write(f"\n{text}\n")

    def refresh(self, *, force: bool = False) -> bool:
        self.stream.flush()
        return True

    def finish(self, reply: BaseReply) -> None:
        self.reply = reply
        for note in reply.notes:
            self.stream.write(f"\nnote: {note}")
        self.stream.write("\n— " + footer_text(reply).replace("**", "") + "\n")
        self.stream.flush()


def make_view(*, model: str, on_stop: Callable[[], None] | None = None, **options: Any) -> StreamView | PlainView:
    """A :class:`StreamView` in a Jupyter kernel, else a :class:`PlainView`."""
    try:
        from IPython import get_ipython

        in_kernel = getattr(get_ipython(), "kernel", None) is not None
    except Exception:
        in_kernel = False
    if in_kernel:
        return StreamView(model=model, on_stop=on_stop, **options)
    return PlainView(model=model, **options)
