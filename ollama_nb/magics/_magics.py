"""The IPython magics: ``%%ollama``, ``%ollama_chat`` / ``%%ollama_chat`` and ``%ollama <subcommand>``.

A thin shell over the core and the view: parse the line (IPython's ``magic_arguments``, so
``%%ollama?`` prints real help), interpolate ``{names}``, call the :class:`~ollama_nb.Session`,
and stream into the cell. Defaults come from traitlets: ``%config OllamaMagics.model = "llama3.2"``.
"""

from __future__ import annotations

import argparse
import os
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Dict, Float, Int, Unicode

from .._errors import ContextTrimmedWarning, NoModelError, OllamaError
from .._interpolate import interpolate
from .._session import Session, get_session
from ..client import AsyncReply, BaseReply, Reply
from ..view._protocol import ManyRepliesView, ReplyView
from ._arguments import options_from, parse


def _prompt_arguments(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by ``%%ollama`` and ``%ollama_chat`` (decorators apply bottom-up)."""
    decorators = [
        argument("-m", "--model", help="model name, e.g. llama3.2 (default: %%config OllamaMagics.model)"),
        argument("-s", "--system", help="system prompt"),
        argument("-o", "--output", metavar="VAR", help="store the reply text (a str) in VAR"),
        argument("--temperature", type=float, help="sampling temperature (Ollama option)"),
        argument("--seed", type=int, help="random seed, for repeatable replies"),
        argument("--num-ctx", dest="num_ctx", type=int, help="context window in tokens"),
        argument("--num-predict", dest="num_predict", type=int, help="most tokens to generate"),
        argument("--option", action="append", metavar="KEY=VALUE", help="any Ollama option; repeatable"),
        argument("--format", help="'json', or the name of a JSON-schema dict in the namespace"),
        argument(
            "--think",
            nargs="?",
            const=True,
            default=None,
            metavar="LEVEL",
            help="show the model's thinking, optionally at a LEVEL: low, medium, high, max "
            "(--think=NAME for a level the model defines)",
        ),
        argument("--no-think", dest="think", action="store_false", help="ask a thinking model not to think"),
        argument(
            "--logprobs",
            nargs="?",
            const=0,
            type=int,
            default=None,
            metavar="N",
            help="ask for each token's log-probability, and N alternatives (0-20); see reply.logprobs",
        ),
        argument(
            "--no-truncate",
            dest="truncate",
            action="store_false",
            default=None,
            help="ask Ollama not to cut or shift a prompt that does not fit the context (an error instead)",
        ),
        argument("--keep-alive", dest="keep_alive", help="how long the model stays loaded, e.g. 5m"),
        argument("--image", action="append", metavar="PATH", help="attach an image; repeatable"),
        argument("--host", help="Ollama address (default: OLLAMA_HOST or 127.0.0.1:11434)"),
        argument("--session", default=None, metavar="NAME", help="named session (default: default)"),
        argument("--no-interpolate", dest="interpolate", action="store_false", help="send {braces} as typed"),
        argument("--plain", action="store_true", help="plain text instead of Markdown"),
        argument("--html", action="store_true", help="render raw HTML from the model (unsafe; off by default)"),
        # the record
        argument(
            "--cache",
            action="store_true",
            default=None,
            help="answer an identical request from the record, without asking Ollama "
            "(default: %%config OllamaMagics.cache)",
        ),
        argument("--no-cache", dest="cache", action="store_false", help="always ask Ollama"),
    ]
    for decorate in reversed(decorators):
        func = decorate(func)
    return func


class ReplyText(str):
    """The reply's text, returned by a line magic: a plain ``str`` that does not echo as ``Out``.

    The answer was already streamed into the cell; ``reply`` is the full :class:`Reply`.
    """

    reply: BaseReply | None = None

    def _ipython_display_(self) -> None:
        pass


@dataclass
class MagicCall:
    """One prepared magic call: who to ask, what, and how to show it."""

    kind: str  # "generate" or "chat"
    prompt: str
    session: Session
    model: str
    args: argparse.Namespace
    options: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    cell: int | None = None
    models: list[str] = field(default_factory=list)


@magics_class
class OllamaMagics(Magics):
    """Talk to a local Ollama from notebook cells."""

    shell: InteractiveShell  # registered magics always have their shell

    model = Unicode("", help="Default model, e.g. 'llama3.2'.").tag(config=True)
    host = Unicode("", help="Ollama address; empty means OLLAMA_HOST or 127.0.0.1:11434.").tag(config=True)
    system = Unicode("", help="Default system prompt for new conversations.").tag(config=True)
    options = Dict(help="Default Ollama options, e.g. {'temperature': 0.2}.").tag(config=True)
    update_interval = Float(0.1, help="Seconds between display updates while streaming.").tag(config=True)
    session = Unicode("default", help="Name of the session the magics use.").tag(config=True)
    plain = Bool(False, help="Show replies as plain text instead of Markdown.").tag(config=True)
    allow_html = Bool(False, help="Render raw HTML in model output (unsafe: off by default).").tag(config=True)
    concurrency = Int(0, help="Streams per host for %%ollama --over; 0 means 4 (see OLLAMA_NUM_PARALLEL).").tag(
        config=True
    )
    hosts = Unicode("", help="Ollama hosts sharing a %%ollama --over batch, comma-separated; empty: the one host.").tag(
        config=True
    )
    # the record: where it is, and whether identical requests are answered from it
    db = Unicode(
        "", help="The record's SQLite file; empty: OLLAMA_NB_DB, else the user's data folder; 'off': no record."
    ).tag(config=True)
    cache = Bool(False, help="Answer identical requests from the record instead of asking Ollama again.").tag(
        config=True
    )

    # -- the magics ----------------------------------------------------------------------------
    @magic_arguments()
    @_prompt_arguments
    @argument(
        "--over",
        metavar="NAME",
        help="send the cell once per item of NAME (list, dict, Series, DataFrame): {item}, {index}",
    )
    @argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="with --over: streams per host (default: %%config OllamaMagics.concurrency)",
    )
    @argument(
        "--hosts",
        metavar="A,B",
        help="with --over: Ollama hosts sharing the items (default: %%config OllamaMagics.hosts)",
    )
    @argument("--prompts", metavar="P", help="with --over: a dict or list of templates in the notebook (an experiment)")
    @argument("--repeat", type=int, metavar="N", help="with --over: ask each cell N times, seeds 0..N-1 (experiment)")
    @argument("--score", metavar="F", help="with --over: a scorer (answer, item) -> number, or a dict of them")
    @argument("--ray", metavar="OUT_DIR", help="with --over: run on Ray Data, writing Parquet to OUT_DIR (ray extra)")
    @no_var_expand
    @line_cell_magic
    def ollama(self, line: str, cell: str | None = None) -> Any:
        """%%ollama [options] — the cell is one prompt to /api/generate, streamed into the cell.

        As a line magic: %ollama models | history | timings | reset | save PATH | load PATH |
        log | resume NAME | export NAME PATH | pull NAME | show NAME | ps | config | help.
        """
        if cell is None:
            from ._subcommands import run_subcommand

            return run_subcommand(self, self.shell.var_expand(line))
        return self.run_sync(self.prepare("generate", line, cell))

    @magic_arguments()
    @_prompt_arguments
    @argument("--reset", action="store_true", help="start a fresh conversation first")
    @argument("--tools", metavar="F,G", help="Python functions the model may call (comma-separated names)")
    @no_var_expand
    @line_cell_magic
    def ollama_chat(self, line: str, cell: str | None = None) -> Any:
        """%ollama_chat [options] message — one turn of the conversation (/api/chat, with history).

        %%ollama_chat [options] takes the message from the cell body.
        """
        return self.run_sync(self.prepare("chat", line, cell))

    # -- preparing a call ------------------------------------------------------------------------
    def _parser(self, kind: str) -> argparse.ArgumentParser:
        magic = self.ollama if kind == "generate" else self.ollama_chat
        return magic.parser

    def prepare(self, kind: str, line: str, cell: str | None) -> MagicCall:
        """Parse, interpolate and choose session and model (UsageError for bad input)."""
        args, message = parse(self._parser(kind), line, message=cell is None, expand=self.shell.var_expand)
        text = message if cell is None else cell
        if args.interpolate and not getattr(args, "over", None):  # a batch interpolates per item
            text = interpolate(text, self.shell.user_ns)
        text = text.strip("\n")
        if not text.strip() and not getattr(args, "prompts", None):  # --prompts: the body may be empty
            where = "the cell body" if cell is not None else "the line, after the options"
            raise UsageError(f"nothing to send: write the prompt in {where}.")
        session = self.session_for(args.session, args.host)
        if getattr(args, "reset", False):
            session.reset()
        options = {**self.options, **options_from(args)}
        models = [m.strip() for m in (args.model or "").split(",") if m.strip()]
        model = models[0] if models else (self.model or session.model or "")
        if not model:
            raise NoModelError(self._available_models(session))
        if len(models) > 1 and kind == "chat":
            raise UsageError("side by side (-m a,b) works with %%ollama; a conversation has one model per turn.")
        extra: dict[str, Any] = {}
        if args.think is not None:
            extra["think"] = True if args.think == "true" else False if args.think == "false" else args.think
        if args.keep_alive:
            extra["keep_alive"] = args.keep_alive
        if args.logprobs is not None:
            extra["logprobs"] = True
            if args.logprobs:
                extra["top_logprobs"] = args.logprobs
        if args.truncate is False:
            extra["truncate"] = False
        if args.image:
            extra["images"] = [os.path.expanduser(p) for p in args.image]
        if args.format:
            extra["format"] = self._format(args.format)
        if args.system and kind == "generate":
            extra["system"] = args.system
        if kind == "chat" and args.system and args.system != session.system:
            session.system = args.system
        if kind == "chat" and getattr(args, "tools", None):
            extra["tools"] = self._tools(args.tools)
        extra["cache"] = self.cache if args.cache is None else args.cache  # answer from the record?
        return MagicCall(
            kind, text, session, model, args, options, extra, self.shell.execution_count, models or [model]
        )

    def session_for(self, name: str | None = None, host: str | None = None) -> Session:
        """The one way every magic finds its session: ``name`` (else the configured one) at ``host``
        (else ``%config OllamaMagics.host``, else ``OLLAMA_HOST``), recording where configured.

        The host is compared once resolved, so the same host written two ways keeps the session's
        connection pool open.

        Example:
            >>> OllamaMagics(shell=get_ipython()).session_for("draft").name    # doctest: +SKIP
            'draft'
        """
        session = get_session(name or self.session)
        session.use_host(host or self.host or None)
        if not session.system and self.system:
            session.system = self.system
        session.use_record(self.db or None)
        session.notebook = self.shell.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME") or None
        return session

    def _available_models(self, session: Session) -> list[str]:
        try:
            return [m.name for m in session.client.models()]
        except OllamaError:
            return []

    def _format(self, value: str) -> str | dict[str, Any] | None:
        if value == "json":
            return "json"
        found = self.shell.user_ns.get(value)
        if found is None:
            raise UsageError(f"--format takes 'json' or the name of a JSON-schema dict; {value!r} is not defined.")
        from .._structured import format_value

        try:
            return format_value(found)  # checked now, so a bad value is a usage error, not a traceback
        except (TypeError, ValueError) as exc:
            raise UsageError(f"--format {value}: {exc}") from None

    def _tools(self, names: str) -> list[Callable[..., Any]]:
        tools = []
        for name in (n.strip() for n in names.split(",")):
            func = self.shell.user_ns.get(name)
            if not callable(func):
                raise UsageError(f"--tools: {name!r} is not a function defined in this notebook.")
            tools.append(func)
        return tools

    # -- running ----------------------------------------------------------------------------------
    def _start_sync(self, call: MagicCall, model: str | None = None) -> Reply:
        method = call.session.chat if call.kind == "chat" else call.session.generate
        with warnings.catch_warnings():  # the view shows the note under the answer
            warnings.simplefilter("ignore", ContextTrimmedWarning)
            return method(call.prompt, model=model or call.model, cell=call.cell, **call.extra, **call.options)

    async def _start_async(self, call: MagicCall, model: str | None = None) -> AsyncReply:
        method = call.session.achat if call.kind == "chat" else call.session.agenerate
        with warnings.catch_warnings():  # the view shows the note under the answer
            warnings.simplefilter("ignore", ContextTrimmedWarning)
            return await method(call.prompt, model=model or call.model, cell=call.cell, **call.extra, **call.options)

    def _view(
        self, call: MagicCall, reply: BaseReply, model: str | None = None, *, owns_cell: bool = False
    ) -> ReplyView:
        from ..view import make_view

        return make_view(
            model=model or call.model,
            on_stop=reply.stop,
            plain=call.args.plain or self.plain,
            allow_html=call.args.html or self.allow_html,
            interval=self.update_interval,
            owns_cell=owns_cell,
        )

    def run_sync(self, call: MagicCall) -> ReplyText | None:
        """Blocking path (terminal, nested cells, inside a def): interrupt stops it.

        Several models (``-m a,b``) run one after another here.
        """
        if getattr(call.args, "over", None):
            from ._batch_magic import run_batch_sync

            run_batch_sync(self, call)
            return None
        from ..view import Interrupted, stream_sync

        result = None
        for model in call.models:
            reply = self._start_sync(call, model)
            try:
                stream_sync(reply, self._view(call, reply, model))
            except Interrupted:
                call.session.note_interrupted(reply)  # the record says "interrupted"
                raise
            finally:
                result = self.conclude(call, reply)
        return result

    async def run_async(self, call: MagicCall, *, owns_cell: bool = True) -> ReplyText | None:
        """Awaiting path (a rewritten cell): the Stop button and interrupt both work.

        The cell is only the magic, so the view may clear its outputs at the end (``owns_cell``),
        except after another answer in the same cell.
        """
        if getattr(call.args, "over", None):
            from ._batch_magic import run_batch_async

            await run_batch_async(self, call)
            return None
        from ..view import (
            Interrupted,
            SideBySideView,
            abort_held_requests,
            side_by_side_available,
            stream_many_async,
            ui_poller,
        )

        if len(call.models) > 1 and not side_by_side_available():
            for index, model in enumerate(call.models):
                await self.run_async(replace(call, model=model, models=[model]), owns_cell=owns_cell and index == 0)
            return None
        replies = [await self._start_async(call, model) for model in call.models]

        def stop_all() -> None:
            for reply in replies:
                reply.stop()

        view: ReplyView | ManyRepliesView
        if len(replies) > 1:
            view = SideBySideView(call.models, on_stop=stop_all, interval=max(self.update_interval, 0.25))
        else:
            view = self._view(call, replies[0], owns_cell=owns_cell)
        try:
            async with ui_poller() as poll:
                try:
                    await stream_many_async(replies, view, poll=poll)
                except Interrupted:
                    for reply in replies:
                        call.session.note_interrupted(reply)  # the record says "interrupted"
                    if poll is not None:
                        abort_held_requests(self.shell)
                    raise
                except Exception:
                    if poll is not None:
                        abort_held_requests(self.shell)
                    raise
        finally:
            results = [self.conclude(call, reply) for reply in replies]
        return results[0] if len(results) == 1 else None

    def conclude(self, call: MagicCall, reply: BaseReply) -> ReplyText:
        """Store ``-o VAR`` (partial text too: nothing received is lost) and build the result.

        With ``--logprobs`` the tokens, shaded by probability, follow as an output of their own.
        """
        if call.extra.get("logprobs") and reply.logprobs:
            from ..view import show_logprobs

            show_logprobs(reply)
        text = ReplyText(reply.partial_text())
        text.reply = reply
        if call.args.output:
            value: Any = str(text)
            if call.extra.get("format") and reply.error is None and not reply.stopped:
                from .._structured import parse_json_reply

                value = parse_json_reply(str(text))
            self.shell.user_ns[call.args.output] = value
        return text
