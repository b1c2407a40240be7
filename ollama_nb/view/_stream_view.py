"""Show one streaming reply: live Markdown that stays in the notebook, and a timing footer.

Display traffic stays O(n): finished Markdown blocks are frozen (sent one last time, never again)
and only the open tail is re-sent, at most every ``interval`` seconds and within a byte allowance
(``budget`` times the reply's size plus ``per_second`` bytes for each second of streaming), with a
final flush. The clock is injectable, as in tqdm.

The shown text never trails the model by more than about ``max_pause`` seconds: once the
allowance is spent, a view that owns its cell still re-sends every ``max_pause`` seconds, after
freezing what it can (up to the last sentence or line) when the tail is long, so the re-sent tail
stays short and the traffic linear. A view that shares its cell may only freeze at block ends: over its
allowance it re-sends once every ``max_interval`` seconds, as does a ``plain`` view.

When the view owns the cell's outputs (``owns_cell``: a cell that is only the magic), the frozen
pieces are temporary: when the reply ends the outputs are cleared and the answer is shown again
as one output (the whole text escaped once, the text as written in its text/plain), so the
notebook keeps one answer, not one piece per frozen block; that costs one more copy of the text.

Example:
    >>> view = make_view(model="llama3.2")      # doctest: +SKIP
    >>> view.add(chunks); view.refresh()         # doctest: +SKIP
    >>> view.finish(reply)                       # doctest: +SKIP
"""

from __future__ import annotations

import secrets
import sys
import time
from typing import Any, Callable, Sequence

from .._safe import SafeMarkdown, require_safe, terminal_text
from ..client import BaseReply, Chunk
from ._controls import Controls, widgets_available
from ._outputs import markdown_bundle, plain_bundle, plain_text
from ._reply_lines import (  # re-exported: the footer and note builders are imported from here too
    call_text,
    footer_markdown,
    footer_text,
    reply_metadata,
    short_text,
    status_line,
    tool_call_note,
    tool_result_note,
)

#: Estimated bytes of one iopub message around its data (header, signature, JSON framing).
_ENVELOPE = 700
#: A forced refresh freezes the open tail first only when that saves more than a message costs.
_WORTH_FREEZING = 100
_THINKING_PREVIEW = 400
#: A display id of 12 hex digits (48 random bits: no clash among a notebook's outputs) instead of
#: IPython's 32: every live update carries it, and at 20 tokens/s such framing is most of the traffic.
_DISPLAY_ID_BYTES = 6


class StreamView:
    """Live display of one reply in a Jupyter cell (Markdown by default, ``plain`` for text).

    Outputs, top to bottom: the Stop button (replaced at the end by the collapsed thinking, or by
    nothing), the answer (frozen blocks, then the open tail with a live status line), the footer.
    """

    def __init__(
        self,
        *,
        model: str,
        plain: bool = False,
        allow_html: bool = False,
        interval: float = 0.1,
        max_interval: float = 1.0,
        max_pause: float = 0.3,
        budget: float = 1.5,
        per_second: float = 700.0,
        controls: bool = True,
        on_stop: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        owns_cell: bool = False,
    ) -> None:
        from IPython.display import clear_output, display

        from .._markdown import MarkdownBlocks

        self._display = display
        self._clear_output = clear_output
        self.owns_cell = owns_cell
        self.model = model
        self.plain = plain
        self.allow_html = allow_html
        self.interval = interval
        self.max_interval = max_interval
        self.max_pause = max_pause
        self.budget = budget
        self.per_second = per_second
        self.clock = clock
        self.reply: BaseReply | None = None
        self.updates = 0
        self.bytes_sent = 0
        # Pieces of an owned cell are replaced at the end, so they may be cut anywhere.
        self._blocks = MarkdownBlocks(escape=not (plain or allow_html), split_anywhere=owns_cell)
        self._text: list[str] = []  # the whole reply as written, for the one final output
        self._raw: list[str] = []  # the reply as written and not yet in a final output (text/plain)
        self._raw_total = 0
        self._raw_shown = 0  # raw characters already given to frozen outputs
        self._thinking: list[str] = []
        self._notes: list[SafeMarkdown] = []  # notes not yet in an output
        self._all_notes: list[SafeMarkdown] = []  # every note, for the tool section at the end
        self._ran_tools = False  # tool functions ran (they may have printed into the cell)
        self._plainless: list[tuple[Any, SafeMarkdown, str]] = []  # pieces sent without text/plain
        self._handle: Any = None
        self._dirty = False
        self._last = clock()
        self._content_shown = False  # the first text goes out at once; later ones are throttled
        self._first_shown = 0.0  # clock reading when the first text went out (the allowance's start)
        self._controls: Controls | None = None
        if controls and on_stop is not None and widgets_available():
            try:
                self._controls = Controls(on_stop)
            except Exception:
                self._controls = None

    # -- input ---------------------------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk]) -> None:
        """Take new chunks (cheap: frozen blocks are written, the tail waits for refresh)."""
        finished: list[str] = []  # blocks finished by these chunks: frozen together, in one output
        for chunk in chunks:
            if chunk.content:
                self._text.append(chunk.content)
                self._raw.append(chunk.content)
                self._raw_total += len(chunk.content)
                self._dirty = True
                if self.plain:
                    if "\n" in chunk.content:  # plain text freezes at line ends only
                        self._freeze_plain()
                else:
                    finished.extend(self._blocks.feed(chunk.content))
            if chunk.thinking:
                self._thinking.append(chunk.thinking)
                self._dirty = True
            if (chunk.tool_calls or chunk.tool_results) and finished:
                self._freeze(finished)  # the text before a tool note stays above it
                finished = []
            for call in chunk.tool_calls:
                self.note(tool_call_note(call))
            for result in chunk.tool_results:
                self._ran_tools = True
                self.note(tool_result_note(result))
        if finished:
            self._freeze(finished)

    def note(self, markdown: SafeMarkdown) -> None:
        """Show an extra line in the answer (a tool call or result); SafeMarkdown only."""
        self._notes.append(require_safe(markdown, SafeMarkdown, "a note"))
        self._all_notes.append(markdown)
        self._dirty = True
        if self.plain:  # a plain view shows only its text: the note goes into it, in order
            line = f"\n{plain_text(markdown)}\n"
            self._raw.append(line)
            self._raw_total += len(line)

    # -- output --------------------------------------------------------------------------------
    def _send(self, bundle: dict[str, str], *, new: bool, metadata: dict[str, Any] | None = None) -> None:
        self.bytes_sent += sum(len(v) for v in bundle.values()) + _ENVELOPE
        self.updates += 1
        if new or self._handle is None:
            display_id = secrets.token_hex(_DISPLAY_ID_BYTES)
            self._handle = self._display(bundle, raw=True, display_id=display_id, metadata=metadata or {})
        else:
            self._handle.update(bundle, raw=True, metadata=metadata or {})

    def _raw_text(self, upto: int | None = None) -> str:
        """Raw text not yet given to an output (up to raw position ``upto``), and mark it given."""
        pending = "".join(self._raw)
        count = len(pending) if upto is None else max(0, min(upto - self._raw_shown, len(pending)))
        text, rest = pending[:count], pending[count:]
        self._raw = [rest] if rest else []
        self._raw_shown += count
        return text

    def _final_bundle(self, markdown: SafeMarkdown, raw: str) -> dict[str, str]:
        if self.plain:
            return plain_bundle(raw)
        return markdown_bundle(markdown, raw)

    def _piece_bundle(self, markdown: SafeMarkdown, raw: str) -> dict[str, str]:
        """A frozen piece: without its text/plain where the whole answer replaces it at the end."""
        if self.owns_cell and not self.plain and not self._ran_tools:
            return {"text/markdown": require_safe(markdown)}
        return self._final_bundle(markdown, raw)

    def _block(self, block: str | None) -> SafeMarkdown:
        """A block from MarkdownBlocks: escaped by it, or raw under the user's ``--html`` opt-in."""
        return SafeMarkdown.trusted(block or "")

    def _take_notes(self) -> SafeMarkdown:
        notes, self._notes = self._notes, []
        return _paragraphs(notes)

    def _freeze(self, blocks: Sequence[str]) -> None:
        """Finished blocks: written in one output one last time; the next text opens a new one.

        Blocks escaped one by one stay safe joined by a blank line (see ``ollama_nb._markdown``), and
        one message for all the blocks a drain of chunks finished keeps the message count low: every
        display message makes ipykernel flush stdout and stderr.
        """
        open_raw = self._blocks.open_length if not self.plain else 0
        raw = self._raw_text(upto=self._raw_total - open_raw)
        markdown = self._take_notes() + self._block("\n\n".join(blocks))
        bundle = self._piece_bundle(markdown, raw)
        self._send(bundle, new=self._handle is None)
        if "text/plain" not in bundle:
            self._plainless.append((self._handle, markdown, raw))
        self._handle = None

    def _freeze_plain(self) -> None:
        if self._raw_total - self._raw_shown > self._blocks.threshold:
            pending = "".join(self._raw)
            cut = pending.rfind("\n") + 1
            if cut:
                self._send(plain_bundle(self._raw_text(upto=self._raw_shown + cut)), new=self._handle is None)
                self._handle = None

    def _status(self) -> str:
        return status_line(self.model, self.reply, rate=False)  # tokens/s: in the footer

    def _live_bundle(self) -> dict[str, str]:
        status = self._status()
        if self.plain:
            return plain_bundle("".join(self._raw) + f"\n[{status}]")
        md = SafeMarkdown.trusted
        parts = [n for n in self._notes]
        tail = self._blocks.tail_with_cursor(" ▍")
        if tail:
            parts.append(self._block(tail))
        elif self._thinking:
            preview = SafeMarkdown.text("".join(self._thinking)[-_THINKING_PREVIEW:].replace("\n", " "))
            parts.append(md("<span style='opacity:.6'>*thinking…* {}</span>").format(preview))
        parts.append(md("<sub>{}</sub>").format(SafeMarkdown.text(status)))
        return {"text/markdown": require_safe(md("\n\n").join(parts))}

    def refresh(self, *, force: bool = False) -> bool:
        """Re-send the open tail and status if due (time and byte allowance permit); True if sent.

        Due: the first text at once; new text ``interval`` seconds after the last send while the
        traffic stays within :meth:`allowance`, and ``max_pause`` seconds after it in any case
        (``max_interval`` in a cell shared with other output or a ``plain`` view); the status
        line alone once every ``max_interval`` seconds.
        """
        now = self.clock()
        waited = now - self._last
        first_text = self._dirty and not self._content_shown and self._raw_total > 0
        if not force and not first_text:
            if waited < self.interval:
                return False
            if not self._dirty:
                if waited < self.max_interval:
                    return False  # nothing new: only the status line would change; once a second
            else:
                cost = self.bytes_sent + self._blocks.open_length + _ENVELOPE
                over_allowance = cost > self.allowance(now)
                may_cut = self.owns_cell and not self.plain
                if over_allowance and waited < (self.max_pause if may_cut else self.max_interval):
                    return False
                if over_allowance and may_cut:
                    self._freeze_if_worth_it()
        if first_text:
            self._first_shown = now
        self._last = now
        self._dirty = False
        self._content_shown = self._content_shown or self._raw_total > 0
        self._send(self._live_bundle(), new=False)
        return True

    def _freeze_if_worth_it(self) -> None:
        """Over the allowance and sent anyway: freeze what can be frozen first, so that little is
        re-sent, when the text it takes out of the tail outweighs the extra message. What a cut adds
        to the tail (a table's header rows, a reopened fence) counts against it."""
        open_length = self._blocks.open_length
        added = max(0, len(self._blocks.tail) - open_length)
        if open_length > _WORTH_FREEZING + added:
            blocks = list(self._blocks.freeze_now())
            if blocks:
                self._freeze(blocks)

    def allowance(self, now: float | None = None) -> float:
        """Bytes the view may have sent by ``now``: ``budget`` x the reply so far + 4 KB, plus
        ``per_second`` for each second since the first text was shown (a slow model may then
        update as often as a fast one).

        Example:
            >>> StreamView(model="m", controls=False, clock=lambda: 0.0).allowance()
            4096.0
        """
        now = self.clock() if now is None else now
        streaming = now - self._first_shown if self._content_shown else 0.0
        return self.budget * self._raw_total + 4096 + self.per_second * max(0.0, streaming)

    def finish(self, reply: BaseReply) -> None:
        """The answer as one output, notes, the footer (with metadata); widgets closed.

        In a cell it owns, the view clears the cell and shows, top to bottom: the thinking, the
        tool calls, the answer as one output, notes, the footer. Otherwise (other code shares the
        cell, or tool functions ran and may have printed) the pieces stay where they are and get
        their text/plain; the Stop button's output then holds the thinking, or nothing.
        """
        self.reply = reply
        metadata = {"ollama_nb": reply_metadata(reply)}
        if self.owns_cell and not self._ran_tools:
            self._finish_as_one(reply, metadata)
        else:
            self._finish_in_place(reply, metadata)

    def _thinking_bundle(self) -> dict[str, str] | None:
        thinking = "".join(self._thinking)
        if not thinking:
            return None
        return markdown_bundle(
            SafeMarkdown.trusted("<details><summary>Thinking ({} words)</summary>\n\n{}\n\n</details>").format(
                len(thinking.split()), SafeMarkdown.pre(thinking)
            ),
            f"[thinking]\n{thinking}",
        )

    def _finish_as_one(self, reply: BaseReply, metadata: dict[str, Any]) -> None:
        """Clear the cell's outputs, then show each section once: the answer is one output."""
        self._clear_output(wait=True)  # applied when the next output arrives: no flicker
        self.bytes_sent += _ENVELOPE
        self.updates += 1
        if self._controls is not None:
            self._controls.close_widgets()
        thinking = self._thinking_bundle()
        if thinking is not None:
            self._send(thinking, new=True)
        if self._all_notes:
            plain = "\n".join(plain_text(n) for n in self._all_notes)
            self._send(markdown_bundle(_paragraphs(self._all_notes), plain), new=True)
        text = "".join(self._text)
        if text:
            # escaped once as a whole (the pieces were escaped one by one); raw under --html
            # (plain: no Markdown at all; --html: the user's opt-in, raw)
            if self.plain:
                markdown = SafeMarkdown.trusted("")
            else:
                markdown = SafeMarkdown.escape(text) if self._blocks.escape else self._block(text)
            self._send(self._final_bundle(markdown, text), new=True, metadata=metadata)
        self._handle = None
        self._notes, self._raw, self._plainless = [], [], []
        self._finish_footer(reply, metadata)

    def _finish_footer(self, reply: BaseReply, metadata: dict[str, Any]) -> None:
        for note in reply.notes:
            self._send(
                markdown_bundle(SafeMarkdown.trusted("> ⚠ {}").format(SafeMarkdown.text(note)), f"note: {note}"),
                new=True,
            )
        self._send(markdown_bundle(footer_markdown(reply), footer_text(reply)), new=True, metadata=metadata)
        self._handle = None

    def _finish_in_place(self, reply: BaseReply, metadata: dict[str, Any]) -> None:
        for handle, markdown, raw in self._plainless:  # frozen before tools ran: they stay after all
            self.bytes_sent += len(markdown) + len(raw) + _ENVELOPE
            handle.update(self._final_bundle(markdown, raw), raw=True)
        self._plainless = []
        rest = self._block(None if self.plain else self._blocks.close())
        raw = self._raw_text()
        notes = self._take_notes()
        if rest or raw or notes or self._handle is not None:
            self._send(self._final_bundle(notes + rest, raw), new=self._handle is None, metadata=metadata)
        self._handle = None
        replacement = self._thinking_bundle()
        if self._controls is not None:
            self._controls.close(replacement)
        elif replacement is not None:
            self._send(replacement, new=True)
        self._finish_footer(reply, metadata)


def _paragraphs(parts: Sequence[SafeMarkdown]) -> SafeMarkdown:
    """Safe parts as Markdown paragraphs, each followed by a blank line."""
    return SafeMarkdown.trusted("").join(part + SafeMarkdown.trusted("\n\n") for part in parts)


class PlainView:
    """Terminal IPython and plain Python: text to stdout as it arrives, then the footer line."""

    def __init__(self, *, model: str, stream: Any = None, **_: Any) -> None:
        self.model = model
        self.stream = stream or sys.stdout
        self.reply: BaseReply | None = None
        self._thinking_open = False

    def _write(self, text: str) -> None:
        """Model, tool and server text reach the terminal with its control characters made visible."""
        self.stream.write(terminal_text(text))

    def add(self, chunks: Sequence[Chunk]) -> None:
        write = self._write
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
            for call in chunk.tool_calls:
                write(f"\n[tool call] {call_text(call)}\n")
            for result in chunk.tool_results:
                write(f"[tool {'error' if result.error else 'result'}] {short_text(result.error or result.content)}\n")

    def refresh(self, *, force: bool = False) -> bool:
        self.stream.flush()
        return True

    def finish(self, reply: BaseReply) -> None:
        self.reply = reply
        for note in reply.notes:
            self._write(f"\nnote: {note}")
        self._write("\n— " + footer_text(reply) + "\n")
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
