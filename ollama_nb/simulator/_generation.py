"""/api/chat and /api/generate: validate like Ollama, plan a reply, stream it token by token.

Lines are assembled from pre-encoded byte pieces (``Shape``) so the per-token cost
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
from ._chunks import CONTENT, THINK, TOOLS, Shape
from ._directives import DirectiveError, Directives, ScriptToken, parse_directives
from ._exchange import Call, ResponseWriter
from ._limits import check_fits, check_top_logprobs
from ._logprobs import logprob_entry
from ._models import can_think, can_use_tools, context_length, is_embedding_model, registry_name
from ._replies import ReplyInput, ReplyPlan, cut_at_stop, plan_reply
from ._wire import created_at, go_json, json_string

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
@dataclass(frozen=True)
class _Job:
    shape: Shape
    plan: ReplyPlan
    directives: Directives
    stream: bool
    prompt_eval_count: int
    loaded_ns: int
    prompt: str = ""  # the text directives came from (counts [[busy=N]] per prompt)
    logprobs: bool = False
    top_logprobs: int = 0

    @property
    def done_calls(self) -> list[Any]:
        """Tool calls that go on the done chunk of a stream: native path, and /api/generate (no id)."""
        calls = self.plan.tool_calls
        if not self.shape.is_chat:
            return [{"function": call["function"]} for call in calls]
        return calls if self.directives.tool_path == "native" else []

    def script_token(self, kind: int, index: int) -> ScriptToken | None:
        script = self.directives.script
        return script[index] if kind == CONTENT and script is not None and index < len(script) else None


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


def _start(call: Call, kind: str) -> tuple[dict[str, Any], str]:
    """Read the body and run the checks Ollama makes before it looks the model up."""
    body = bind(call.raw, kind)
    check_top_logprobs(body.get("top_logprobs"))
    model = body.get("model") or ""
    call.state.gate.check_cloud(model, stream=body.get("stream") is not False)
    return body, model


def _logprob_settings(body: dict[str, Any]) -> dict[str, Any]:
    return {"logprobs": body.get("logprobs") is True, "top_logprobs": body.get("top_logprobs") or 0}


def _common(body: dict[str, Any], model: str) -> tuple[str | None, dict[str, Any], float | None]:
    """Checks shared by chat and generate after the model is known to exist."""
    think = think_level(body.get("think"))
    if body.get("think") is None and can_think(model):
        think = "true"  # an absent think means true for a thinking model (server/routes.go:454-458,2616-2620)
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


def _check_model_can(model: str, what: str, *, tools: bool) -> None:
    """Capability errors: an embedding-only model cannot chat or generate (server/routes.go:468,2636;
    error_bodies.json); tools need the ``tools`` capability (server/routes.go:202-221 scheduleRunner ->
    server/images.go CheckCapabilities; error_bodies.json "tools sent to a model without tools capability")."""
    if is_embedding_model(model):
        raise RequestError(400, f"{json.dumps(model, ensure_ascii=False)} does not support {what}")
    if tools and not can_use_tools(model):
        raise RequestError(400, f"{registry_name(model)} does not support tools")


def chat(call: Call) -> None:
    """POST /api/chat."""
    body, model = _start(call, "ChatRequest")
    if not model:
        raise RequestError(400, "model is required")
    shelf = call.state.shelf
    if not shelf.exists(model):
        raise RequestError(404, f"model '{model}' not found")
    _check_model_can(model, "chat", tools=bool(body.get("tools")))
    shape = Shape(model, is_chat=True)
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
    trailing = _trailing_tool_messages(messages, roles)
    trailing_tools = [(m.get("tool_name") or "tool", m.get("content") or "") for m in trailing]
    contents = [m.get("content") or "" for m in messages]
    kept = [c for c, r in zip(contents, roles, strict=True) if r == "system"] + contents[-1:]
    all_images = [i for m in messages for i in m.get("images") or []]
    check_fits(body, model, _int_option(options, "num_ctx"), kept=kept, whole=contents, has_images=bool(all_images))
    plan = plan_reply(ReplyInput(
        model=model, text=text, directives=directives, think=think,
        conversation="\n".join(f"{r}: {c}" for r, c in zip(roles, contents, strict=True)),
        seed=_int_option(options, "seed"), num_predict=_int_option(options, "num_predict"),
        tools=tuple(body.get("tools") or ()) if roles[-1] == "user" else (),
        tool_results=tuple(trailing_tools), format=_format(body.get("format")),
        tool_labels=_tool_labels(messages, trailing), image_sizes=image_sizes(all_images),
    ))
    plan = cut_at_stop(plan, options.get("stop"))
    prompt_chars = sum(len(c) for c in contents)
    _respond(call, _Job(shape, plan, directives, body.get("stream") is not False,
                        prompt_chars // 4 + 1, loaded_ns, last_user.get("content") or "", **_logprob_settings(body)))


def _trailing_tool_messages(messages: list[dict[str, Any]], roles: list[str]) -> list[dict[str, Any]]:
    trailing: list[dict[str, Any]] = []
    for message, role in zip(reversed(messages), reversed(roles), strict=True):
        if role != "tool":
            break
        trailing.insert(0, message)
    return trailing


def _tool_labels(messages: list[dict[str, Any]], trailing: list[dict[str, Any]]) -> tuple[str, ...]:
    """What each tool result answers, when every result names its call with ``tool_call_id``:
    the first string argument of that call (``"Paris"``), else the tool name."""
    ids = [m.get("tool_call_id") for m in trailing]
    if not trailing or not all(isinstance(i, str) and i for i in ids):
        return ()
    calls = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                calls[call.get("id")] = call["function"]
    labels = []
    for message, ident in zip(trailing, ids, strict=True):
        args = calls.get(ident, {}).get("arguments")
        first = next((v for v in args.values() if isinstance(v, str)), None) if isinstance(args, dict) else None
        labels.append(first or message.get("tool_name") or "tool")
    return tuple(labels)


def generate(call: Call) -> None:
    """POST /api/generate."""
    body, model = _start(call, "GenerateRequest")
    shelf = call.state.shelf
    if not shelf.exists(model):
        raise RequestError(404, f"model '{model}' not found")
    if body.get("raw") and (body.get("system") or body.get("template") or body.get("context")):
        raise RequestError(400, "raw mode does not support template, system, or context")
    _check_model_can(model, "generate", tools=False)
    shape = Shape(model, is_chat=False)
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
    check_fits(body, model, _int_option(options, "num_ctx"), kept=[prompt, system], whole=[prompt, system],
               has_images=bool(images))
    plan = plan_reply(ReplyInput(
        model=model, text=text, directives=directives, think=think,
        conversation=f"system: {system}\nuser: {prompt}",
        seed=_int_option(options, "seed"), num_predict=_int_option(options, "num_predict"),
        format=_format(body.get("format")), image_sizes=image_sizes(images),
        tools=tuple({"function": {"name": name}} for name in directives.tools),  # parsed from the output
    ))
    plan = cut_at_stop(plan, options.get("stop"))
    _respond(call, _Job(shape, plan, directives, body.get("stream") is not False,
                        (len(prompt) + len(system)) // 4 + 1, loaded_ns, prompt, **_logprob_settings(body)))


def _load_reply(shape: Shape, reason: str) -> dict[str, Any]:
    return shape.done(reason)


def _tool_chunks(job: _Job) -> list[bytes]:
    """The ``tool_calls`` array of each tool-call chunk: one per call (rendered), one for all
    (together), none (native path and /api/generate, which put calls on the done chunk)."""
    calls, path = job.plan.tool_calls, job.directives.tool_path
    if not calls or not job.shape.is_chat or path == "native":
        return []
    return [go_json(calls)] if path == "together" else [go_json([call]) for call in calls]


def _steps(job: _Job) -> Iterator[tuple[int, Any]]:
    """(kind, token) per chunk: thinking, tool calls, content."""
    yield from ((THINK, token) for token in job.plan.thinking)
    yield from ((TOOLS, chunk) for chunk in _tool_chunks(job))
    yield from ((CONTENT, token) for token in job.plan.content)


def _refuse(call: Call, job: _Job) -> None:
    """503/429 from :meth:`Simulator.refuse_next` or ``[[busy=N]]``/``[[rate-limit=N]]``, counted per prompt."""
    gate, d = call.state.gate, job.directives
    status = gate.take_refusal() or gate.prompt_refusal(call.path, job.prompt, d.busy, d.rate_limit)
    if status is not None:
        call.state.journal.record("refused", call.path)
        raise gate.refusal(status)


def _respond(call: Call, job: _Job) -> None:
    _refuse(call, job)
    d = job.directives
    if call.state.take_busy():  # Ollama's queue is full (OLLAMA_MAX_QUEUE): 503 before any byte
        raise RequestError(503, _STATUS_TEXT[503])
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
        return job.shape.done(plan.done_reason, calls=job.done_calls, context=context, metrics=metrics)
    calls = plan.tool_calls if job.shape.is_chat else job.done_calls
    return job.shape.done(plan.done_reason, text="".join(plan.content), thinking="".join(plan.thinking),
                          calls=calls, context=context, metrics=metrics)


def _logprob_entries(job: _Job) -> Iterator[bytes | None]:
    """The encoded ``logprobs`` element for each step (None for tool-call chunks or when not asked)."""
    position = content_index = 0
    for kind, token in _steps(job):
        if kind == TOOLS:
            yield None
            continue
        yield logprob_entry(token, position, job.top_logprobs, job.script_token(kind, content_index))
        position += 1
        content_index += kind == CONTENT


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
    entries = _logprob_entries(job) if job.logprobs else None
    for kind, token in _steps(job):
        entry = next(entries) if entries is not None else None
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
        end = tail if entry is None else shape.logprobs_tail + b"[" + entry + b"]}\n"
        if not write(b"".join((head, created_at(), mids[kind], piece, end)), paced or not sent):
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
    count = len(job.plan.thinking) + len(_tool_chunks(job)) + len(job.plan.content)
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
    entries = [entry for entry in _logprob_entries(job) if entry is not None] if job.logprobs else []
    body = job.shape.done_line(_final(call, job, first_ns, whole=True), entries)
    writer.send_body(200, body + b"\n" if job.shape.remote else body)  # remote: re-encoded with a newline
