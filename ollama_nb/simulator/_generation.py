"""/api/chat and /api/generate: validate like Ollama, plan a reply, stream it token by token.

Lines are assembled from pre-encoded byte pieces (``_Shape``) so the per-token cost
is one timestamp, one cached JSON string and one ``sendall``. The final chunk carries
real timings in nanoseconds: ``eval_duration`` is the time spent streaming tokens.

Example (over HTTP)::

    POST /api/chat {"model": "llama3.2", "messages": [{"role": "user", "content": "hi [[tokens=2]]"}]}
    {"model":"llama3.2","created_at":"...","message":{"role":"assistant","content":"*(simulated reply)*"},"done":false}
    {"model":"llama3.2","created_at":"...","message":{"role":"assistant","content":" You"},"done":false}
    {"model":"llama3.2","created_at":"...","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",...}
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._binding import RequestError, bind, image_sizes, keep_alive_seconds, option_error, think_level
from ._directives import DirectiveError, Directives, parse_directives
from ._models import can_think, context_length
from ._replies import ReplyInput, ReplyPlan, plan_reply
from ._exchange import Call, ResponseWriter
from ._wire import created_at, go_json, json_string, rfc3339_nano

__all__ = ["chat", "generate"]

RUNNER_STOPPED = (
    "model runner has unexpectedly stopped, this may be due to resource limitations or an "
    "internal error, check ollama server logs for details"
)
MALFORMED_LINE = b"this line is not JSON: the ollama_nb simulator was asked for [[malformed]]\n"
_STATUS_TEXT = {
    499: "request canceled",
    500: RUNNER_STOPPED,
    503: "server busy, please try again.  maximum pending requests exceeded",
}
THINK, CONTENT, TOOLS = 0, 1, 2


class _Shape:
    """Byte pieces of one endpoint's chunk lines, for one model name."""

    def __init__(self, model: str, is_chat: bool) -> None:
        self.model, self.is_chat = model, is_chat
        self.head = b'{"model":' + json_string(model) + b',"created_at":"'
        if is_chat:
            message = b'","message":{"role":"assistant","content":'
            self.mids = (message + b'"","thinking":', message, message + b'"","tool_calls":')
            self.tail = b'},"done":false}\n'
        else:
            self.mids = (b'","response":"","thinking":', b'","response":', b'","response":"","tool_calls":')
            self.tail = b',"done":false}\n'

    def done(self, reason: str, *, text: str = "", thinking: str = "", calls: list[Any] | None = None,
             context: list[int] | None = None, metrics: dict[str, int] | None = None) -> dict[str, Any]:
        """The final object (Go ``ChatResponse`` / ``GenerateResponse`` field order)."""
        out: dict[str, Any] = {"model": self.model, "created_at": rfc3339_nano(time.time_ns())}
        if self.is_chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if thinking:
                message["thinking"] = thinking
            if calls:
                message["tool_calls"] = calls
            out["message"] = message
        else:
            out["response"] = text
            if thinking:
                out["thinking"] = thinking
        out["done"] = True
        out["done_reason"] = reason
        if context:
            out["context"] = context
        out.update(metrics or {})
        return out


@dataclass(frozen=True)
class _Job:
    shape: _Shape
    plan: ReplyPlan
    directives: Directives
    stream: bool
    prompt_eval_count: int
    loaded_ns: int


def _directives(text: str) -> tuple[str, Directives]:
    try:
        return parse_directives(text)
    except DirectiveError as exc:
        raise RequestError(400, f"ollama_nb simulator: {exc}") from None


def _format(value: Any) -> Any:
    if value is None or value == "":
        return None
    if value == "json" or isinstance(value, dict):
        return value
    raise RequestError(400, 'invalid format: expected "json" or a valid JSON schema')


def _common(body: dict[str, Any], model: str) -> tuple[str | None, dict[str, Any], float | None]:
    """Checks shared by chat and generate after the model is known to exist."""
    think = think_level(body.get("think"))
    if think and not can_think(model):
        raise RequestError(400, f"{json.dumps(model, ensure_ascii=False)} does not support thinking")
    options = body.get("options") or {}
    problem = option_error(options)
    if problem:
        raise RequestError(500, problem)
    return think, options, keep_alive_seconds(body.get("keep_alive"))


def _int_option(options: dict[str, Any], key: str) -> int | None:
    value = options.get(key)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def chat(call: Call) -> None:
    """POST /api/chat."""
    body = bind(call.raw, "ChatRequest")
    model = body.get("model") or ""
    if not model:
        raise RequestError(400, "model is required")
    shelf = call.state.shelf
    if not shelf.exists(model):
        raise RequestError(404, f"model '{model}' not found")
    shape = _Shape(model, is_chat=True)
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    if not messages and keep_alive_seconds(body.get("keep_alive")) == 0:
        shelf.touch(model, 0, None)
        call.send_json(_load_reply(shape, "unload"))
        return
    think, options, keep_alive = _common(body, model)
    shelf.touch(model, keep_alive, _int_option(options, "num_ctx"))
    if not messages:
        call.send_json(_load_reply(shape, "load"))
        return
    loaded_ns = time.perf_counter_ns()
    roles = [(m.get("role") or "").lower() for m in messages]
    last_user = next((m for m, r in zip(reversed(messages), reversed(roles), strict=True) if r == "user"), {})
    text, directives = _directives(last_user.get("content") or "")
    trailing_tools: list[tuple[str, str]] = []
    for message, role in zip(reversed(messages), reversed(roles), strict=True):
        if role != "tool":
            break
        trailing_tools.insert(0, (message.get("tool_name") or "tool", message.get("content") or ""))
    contents = [m.get("content") or "" for m in messages]
    plan = plan_reply(ReplyInput(
        model=model, text=text, directives=directives, think=think,
        conversation="\n".join(f"{r}: {c}" for r, c in zip(roles, contents, strict=True)),
        seed=_int_option(options, "seed"), num_predict=_int_option(options, "num_predict"),
        tools=tuple(body.get("tools") or ()) if roles[-1] == "user" else (),
        tool_results=tuple(trailing_tools), format=_format(body.get("format")),
        image_sizes=image_sizes([i for m in messages for i in m.get("images") or []]),
    ))
    prompt_chars = sum(len(c) for c in contents)
    _respond(call, _Job(shape, plan, directives, body.get("stream") is not False,
                        prompt_chars // 4 + 1, loaded_ns))


def generate(call: Call) -> None:
    """POST /api/generate."""
    body = bind(call.raw, "GenerateRequest")
    model = body.get("model") or ""
    shelf = call.state.shelf
    if not shelf.exists(model):
        raise RequestError(404, f"model '{model}' not found")
    if body.get("raw") and (body.get("system") or body.get("template") or body.get("context")):
        raise RequestError(400, "raw mode does not support template, system, or context")
    shape = _Shape(model, is_chat=False)
    prompt = body.get("prompt") or ""
    images = body.get("images") or []
    if not prompt and keep_alive_seconds(body.get("keep_alive")) == 0:
        shelf.touch(model, 0, None)
        call.send_json(_load_reply(shape, "unload"))
        return
    think, options, keep_alive = _common(body, model)
    shelf.touch(model, keep_alive, _int_option(options, "num_ctx"))
    if not prompt and not images:
        call.send_json(_load_reply(shape, "load"))
        return
    loaded_ns = time.perf_counter_ns()
    text, directives = _directives(prompt)
    system = body.get("system") or ""
    plan = plan_reply(ReplyInput(
        model=model, text=text, directives=directives, think=think,
        conversation=f"system: {system}\nuser: {prompt}",
        seed=_int_option(options, "seed"), num_predict=_int_option(options, "num_predict"),
        format=_format(body.get("format")), image_sizes=image_sizes(images),
    ))
    _respond(call, _Job(shape, plan, directives, body.get("stream") is not False,
                        (len(prompt) + len(system)) // 4 + 1, loaded_ns))


def _load_reply(shape: _Shape, reason: str) -> dict[str, Any]:
    return shape.done(reason)


def _steps(plan: ReplyPlan) -> Iterator[tuple[int, Any]]:
    for token in plan.thinking:
        yield THINK, token
    if plan.tool_calls:
        yield TOOLS, go_json(plan.tool_calls)
    for token in plan.content:
        yield CONTENT, token


def _respond(call: Call, job: _Job) -> None:
    d = job.directives
    if d.status is not None:
        model = job.shape.model
        raise RequestError(d.status, _STATUS_TEXT.get(
            d.status, f"model '{model}' not found" if d.status == 404
            else f"simulated HTTP {d.status} error ([[status={d.status}]])"))
    delay = d.delay if d.delay is not None else call.state.token_delay()
    if job.stream:
        _stream(call, job, delay)
    else:
        _whole(call, job, delay)


def _final(call: Call, job: _Job, first_ns: int, *, whole: bool) -> dict[str, Any]:
    end_ns = time.perf_counter_ns()
    load = max(job.loaded_ns - call.started_ns, 1)
    prompt_eval = max(first_ns - job.loaded_ns, 1)
    evaluation = max(end_ns - first_ns, 1)
    plan = job.plan
    metrics = {
        "total_duration": max(end_ns - call.started_ns, load + prompt_eval + evaluation),
        "load_duration": load,
        "prompt_eval_count": job.prompt_eval_count,
        "prompt_eval_duration": prompt_eval,
        "eval_count": plan.eval_count,
        "eval_duration": evaluation,
    }
    metrics = {k: v for k, v in metrics.items() if v}
    context = None
    if not job.shape.is_chat:
        n = min(job.prompt_eval_count + plan.eval_count, context_length(job.shape.model))
        context = [(i * 7919 + 128000) % 128256 for i in range(n)]
    if not whole:
        return job.shape.done(plan.done_reason, context=context, metrics=metrics)
    return job.shape.done(plan.done_reason, text="".join(plan.content), thinking="".join(plan.thinking),
                          calls=plan.tool_calls, context=context, metrics=metrics)


def _stream(call: Call, job: _Job, delay: float) -> None:
    d, shape, writer = job.directives, job.shape, call.writer
    if d.error_after == 0:  # an error before the first byte gets a real status, as in Ollama
        raise RequestError(500, RUNNER_STOPPED)
    writer.start_stream()
    write = writer.write_line_split if d.utf8 else writer.write_line
    head, mids, tail = shape.head, shape.mids, shape.tail
    first_ns = time.perf_counter_ns()
    deadline = time.monotonic()
    sent = 0
    paced = bool(delay)
    for kind, token in _steps(job.plan):
        if sent == d.error_after:
            _error_line(writer)
            return
        if sent == d.drop_after:
            writer.drop()
            return
        if sent:
            if paced:
                deadline += delay
                if not writer.pause_until(deadline):
                    return
            elif not sent & 15 and not writer.connected():
                return
        piece = token if kind == TOOLS else json_string(token)
        if not write(b"".join((head, created_at(), mids[kind], piece, tail)), paced or not sent):
            return
        sent += 1
        if sent == 2 and d.malformed and not writer.write_line(MALFORMED_LINE):
            return
    if _error_first(d):
        _error_line(writer)
    elif d.drop_after is not None:
        writer.drop()
    elif write(go_json(_final(call, job, first_ns, whole=False)) + b"\n", False):
        writer.end_stream()


def _error_first(d: Directives) -> bool:
    """[[error-after]] is set and comes no later than any [[drop-after]]."""
    return d.error_after is not None and (d.drop_after is None or d.error_after <= d.drop_after)


def _error_line(writer: ResponseWriter) -> None:
    """Ollama's in-band error: HTTP stays 200, one ``{"error": ...}`` line, no done line."""
    if writer.write_line(go_json({"error": RUNNER_STOPPED}) + b"\n"):
        writer.end_stream()


def _whole(call: Call, job: _Job, delay: float) -> None:
    d, writer = job.directives, call.writer
    first_ns = time.perf_counter_ns()
    plan = job.plan
    count = len(plan.thinking) + len(plan.content) + (1 if plan.tool_calls else 0)
    stop_at = min(x for x in (d.error_after, d.drop_after, count) if x is not None)
    if delay and stop_at > 1 and not writer.pause(delay * (stop_at - 1)):
        return
    if _error_first(d):
        raise RequestError(500, RUNNER_STOPPED)
    if d.drop_after is not None:
        writer.drop()
        return
    if d.malformed:
        writer.send_body(200, b'{"model":' + json_string(job.shape.model) + b',"created_at": not json')
        return
    writer.send_body(200, go_json(_final(call, job, first_ns, whole=True)))
