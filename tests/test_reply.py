"""Reply and AsyncReply over a real socket: chunks, the state after the end, timing, and stopping.

Every way of stopping is checked from the server's side: the simulator records a ``disconnect``
with fewer lines sent than the whole reply, so Ollama would have stopped generating.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import threading
import weakref
from typing import Any, Callable, Iterator

import pytest

from ollama_nb import AsyncClient, AsyncReply, Chunk, Client, OllamaTimeoutError, Reply, Timing, ToolCall
from ollama_nb.simulator import Simulator
from pools import connections_taken, pool_lock_of

pytestmark = pytest.mark.timeout(30)

#: A slow reply: 200 chunks 0.1 s apart (20 s) — a stop that works ends it far sooner.
SLOW = "count slowly [[tokens=200]] [[delay=0.1]]"
SLOW_TOTAL_LINES = 201  # 200 chunks + the done line
#: Chunks 5 s apart: a stop from elsewhere must interrupt the wait, not just wait for the next chunk.
GAPPED = "wait for it [[tokens=4]] [[delay=5]]"
GAPPED_TOTAL_LINES = 5


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def client(simulator: Simulator) -> Iterator[Client]:
    with Client(simulator.url, backoff=0.0) as c:
        yield c


def assert_server_saw_the_close(sim: Simulator, *, within: float = 5.0, total: int = SLOW_TOTAL_LINES) -> None:
    event = sim.wait_for("disconnect", timeout=within)
    assert event.path.startswith("/api/")
    assert event.lines_sent < total
    assert "complete" not in [e.kind for e in sim.events]


class SilentServer:
    """A TCP listener on 127.0.0.1 that accepts and never answers: a model still loading.

    The simulator always sends its first line at once (``[[delay=S]]`` only spaces the chunks
    after the first), so waiting for the first byte needs this stand-in. ``request_received`` is
    set once a whole request (headers and Content-Length body) arrived; ``closed`` when the
    client's connection is closed (recv gives b"" or fails). With ``answer_first``, the first
    request on the connection gets that whole answer and the connection stays open (pooled):
    only the next request waits for ever.
    """

    def __init__(self, answer_first: bytes | None = None) -> None:
        self._answer_first = answer_first
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(4)
        self.port = int(self._listener.getsockname()[1])
        self.request_received = threading.Event()
        self.closed = threading.Event()
        self.received = b""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    break
                self.received += data
                if self._whole_request():
                    if self._answer_first is not None:
                        conn.sendall(self._answer_first)
                        self._answer_first, self.received = None, b""
                        continue
                    self.request_received.set()
        self.closed.set()

    def _whole_request(self) -> bool:
        head, sep, body = self.received.partition(b"\r\n\r\n")
        if not sep:
            return False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                return len(body) >= int(value)
        return True

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


# -- chunks and the finished reply ---------------------------------------------------------------


def test_content_chunks_carry_the_new_text_and_the_last_one_is_done(client: Client) -> None:
    chunks = list(client.chat("llama3.2", user("hi [[tokens=4]]")))
    assert all(isinstance(c, Chunk) for c in chunks)
    body, final = chunks[:-1], chunks[-1]
    assert len(body) == 4 and all(c.content and not c.done and not c.thinking and c.tool_calls == () for c in body)
    assert final.done and final.content == "" and final.raw["done"] is True
    assert body[0].raw["message"] == {"role": "assistant", "content": body[0].content}


def test_thinking_chunks_come_before_content_and_are_kept_apart(client: Client) -> None:
    reply = client.chat("qwen3", user("hi [[tokens=3]]"), think=True)
    chunks = list(reply)
    thinking = [c for c in chunks if c.thinking]
    content = [c for c in chunks if c.content]
    assert thinking and len(content) == 3
    assert chunks.index(thinking[-1]) < chunks.index(content[0])
    assert reply.thinking == "".join(c.thinking for c in thinking)
    assert reply.thinking.startswith("*(simulated thinking)*")
    assert reply.text == "".join(c.content for c in content)
    assert reply.output_chunks == len(thinking) + 3


def test_generate_thinking_is_read_from_the_generate_fields(client: Client) -> None:
    reply = client.generate("deepseek-r1", "hi [[tokens=2]]", think=True)
    reply.read()
    assert reply.thinking.startswith("*(simulated thinking)*")
    assert reply.text


def test_tool_calls_arrive_in_a_chunk_and_on_the_reply(client: Client) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    reply = client.chat(
        "qwen3", user('weather? [[tool=get_weather]] [[args={"city": "Paris"}]]'), tools=[tool]
    )
    chunks = list(reply)
    (with_calls,) = [c for c in chunks if c.tool_calls]
    (call,) = with_calls.tool_calls
    assert isinstance(call, ToolCall)
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    assert reply.tool_calls == [call]
    assert reply.text == "" and reply.done_reason == "stop"


def test_chunks_are_frozen(client: Client) -> None:
    chunk = next(iter(client.chat("llama3.2", user("hi [[tokens=2]]"))))
    with pytest.raises(AttributeError):
        chunk.content = "changed"  # type: ignore[misc]


def test_after_the_end_the_reply_has_text_done_reason_and_timing(client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=5]]"))
    assert not reply.done
    chunks = list(reply)
    assert reply.done and not reply.stopped and reply.error is None
    assert reply.text == reply.partial_text() == "".join(c.content for c in chunks)
    assert reply.thinking == "" and reply.tool_calls == []
    assert reply.done_reason == "stop"
    assert isinstance(reply.timing, Timing) and reply.timing.output_tokens == 5
    assert reply.notes == [] and reply.malformed_lines == 0
    assert reply.model == "llama3.2" and reply.endpoint == "chat"


def test_timing_comes_from_the_final_lines_nanoseconds(client: Client) -> None:
    reply = client.chat("llama3.2", user("Why is the sky blue? [[tokens=8]]"))
    final = list(reply)[-1].raw  # the raw final line, as the simulator sent it
    for key in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"):
        assert isinstance(final[key], int) and final[key] > 0, key
    t = reply.timing
    assert t.estimated is False
    assert t.output_tokens == final["eval_count"] == 8
    assert t.prompt_tokens == final["prompt_eval_count"]
    assert t.eval_s == final["eval_duration"] / 1e9
    assert t.load_s == final["load_duration"] / 1e9
    assert t.prompt_eval_s == final["prompt_eval_duration"] / 1e9
    assert t.server_total_s == final["total_duration"] / 1e9
    assert t.tokens_per_s == pytest.approx(final["eval_count"] / (final["eval_duration"] / 1e9))


def test_generate_timing_comes_from_its_final_line_too(client: Client) -> None:
    reply = client.generate("llama3.2", "hi [[tokens=3]]")
    final = list(reply)[-1].raw
    assert reply.timing.output_tokens == final["eval_count"] == 3
    assert reply.timing.eval_s == final["eval_duration"] / 1e9


def test_time_to_first_token_is_measured_on_the_client(client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=3]] [[delay=0.05]]"))
    reply.read()
    t = reply.timing
    assert t.ttft_s is not None and t.wall_s is not None
    assert 0 < t.ttft_s <= t.wall_s
    assert t.wall_s >= 0.1  # two 0.05 s gaps after the first token, measured by the client
    assert reply.timing is reply.timing  # final once ended


def test_time_to_first_token_counts_a_thinking_chunk(client: Client) -> None:
    reply = client.chat("qwen3", user("hi [[tokens=2]]"), think=True)
    reply.read()
    assert reply.timing.ttft_s is not None and reply.timing.ttft_s <= reply.timing.wall_s  # type: ignore[operator]


def test_a_finished_reply_replays_as_one_summary_chunk(client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=3]]"))
    reply.read()
    (summary,) = list(reply)
    assert summary.done and summary.content == reply.text


def test_reading_a_reply_twice_at_once_is_refused(client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=3]]"))
    first = iter(reply)
    next(first)
    with pytest.raises(RuntimeError, match="already being read"):
        next(iter(reply))
    first.close()


def test_text_reads_the_whole_stream_when_not_iterated(simulator: Simulator, client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=4]]"))
    assert reply.text and reply.done
    assert simulator.wait_for("complete").lines_sent == 5


def test_a_done_callback_runs_once_at_the_end_and_at_once_when_added_later(client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=2]]"))
    calls: list[Reply] = []
    reply.add_done_callback(calls.append)
    reply.read()
    reply.close()
    assert calls == [reply]
    reply.add_done_callback(calls.append)
    assert calls == [reply, reply]


def test_a_failing_done_callback_does_not_break_the_stream(client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=2]]"))
    reply.add_done_callback(lambda r: 1 / 0)
    with pytest.warns(RuntimeWarning, match="callback failed"):
        assert reply.read()


def test_repr_shows_model_state_and_a_preview(client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=3]]"))
    assert "open" in repr(reply)
    reply.read()
    assert repr(reply).startswith("<Reply llama3.2 chat done: '*(simulated reply)*")


# -- stopping a sync reply ---------------------------------------------------------------------------


@pytest.mark.usefixtures("sync_transport")
def test_stop_closes_the_connection_and_keeps_the_text_so_far(simulator: Simulator, client: Client) -> None:
    reply = client.chat("llama3.2", user(SLOW))
    received: list[str] = []
    for chunk in reply:
        received.append(chunk.content)
        if len(received) == 3:
            reply.stop()
    assert len(received) == 3  # nothing after the stop
    assert_server_saw_the_close(simulator)
    assert reply.stopped and reply.done and reply.error is None
    assert reply.text == "".join(received) != ""
    assert reply.done_reason is None
    assert reply.timing.estimated and reply.timing.output_tokens == 3


def test_stop_before_reading_sends_nothing(simulator: Simulator, client: Client) -> None:
    reply = client.chat("llama3.2", user(SLOW))
    reply.stop()
    assert reply.stopped and reply.done and reply.text == ""
    assert list(reply)[0].content == ""
    assert simulator.requests == []


def test_stop_after_the_end_changes_nothing(client: Client) -> None:
    reply = client.chat("llama3.2", user("hi [[tokens=2]]"))
    text = reply.text
    reply.stop()
    assert not reply.stopped and reply.text == text and reply.done_reason == "stop"


@pytest.mark.usefixtures("sync_transport")
def test_stop_outside_the_loop_marks_a_suspended_reply_stopped_at_once(simulator: Simulator, client: Client) -> None:
    reply = client.chat("llama3.2", user(SLOW))
    chunks = iter(reply)
    first = next(chunks)
    ended: list[Reply] = []
    reply.add_done_callback(ended.append)
    reply.stop()
    try:
        assert_server_saw_the_close(simulator)  # this part works
        assert reply.done and reply.stopped and reply.text == first.content
        assert ended == [reply]
    finally:
        chunks.close()


@pytest.mark.usefixtures("sync_transport")
def test_leaving_a_with_block_stops_the_reply(simulator: Simulator, client: Client) -> None:
    with client.chat("llama3.2", user(SLOW)) as reply:
        chunks = iter(reply)
        first = next(chunks)
        second = next(chunks)
    # the generator is still alive here: the close came from __exit__
    assert_server_saw_the_close(simulator)
    assert reply.stopped and reply.text == first.content + second.content
    chunks.close()


def test_an_exception_in_a_with_block_stops_the_reply_and_propagates(simulator: Simulator, client: Client) -> None:
    with pytest.raises(KeyError):
        with client.chat("llama3.2", user(SLOW)) as reply:
            for _ in reply:
                raise KeyError("user code failed")
    assert_server_saw_the_close(simulator)
    assert reply.stopped and reply.text


@pytest.mark.usefixtures("sync_transport")
def test_breaking_out_of_the_loop_stops_the_reply(simulator: Simulator, client: Client) -> None:
    reply = client.chat("llama3.2", user(SLOW))
    received = []
    for chunk in reply:
        received.append(chunk.content)
        if len(received) == 2:
            break
    assert_server_saw_the_close(simulator)
    assert reply.stopped and reply.done and reply.text == "".join(received)


@pytest.mark.usefixtures("sync_transport")
def test_garbage_collecting_a_reply_being_read_closes_the_connection(simulator: Simulator, client: Client) -> None:
    outcome: dict[str, Any] = {}
    reply = client.chat("llama3.2", user(SLOW))
    reply.add_done_callback(lambda r: outcome.update(text=r.partial_text(), stopped=r.stopped, error=r.error))
    chunks = iter(reply)
    first = next(chunks)
    gone = weakref.ref(reply)
    del chunks, reply
    gc.collect()
    assert gone() is None
    assert_server_saw_the_close(simulator)
    assert outcome == {"text": first.content, "stopped": True, "error": None}


@pytest.mark.parametrize("how", ["break", "close", "with"])
@pytest.mark.usefixtures("sync_transport")
def test_an_explicit_end_gives_the_connection_back_to_the_pool_at_once(
    simulator: Simulator, client: Client, how: str
) -> None:
    # only a finaliser inside a garbage collection hands the release to another thread
    assert client.transport == os.environ["OLLAMA_NB_TRANSPORT"]
    reply = client.chat("llama3.2", user(SLOW))
    if how == "break":
        for _ in reply:
            break
    elif how == "close":
        chunks = iter(reply)
        next(chunks)
        reply.close()
    else:
        with reply:
            chunks = iter(reply)
            next(chunks)
    assert connections_taken(client) == 0  # released in this thread, before the next line
    assert_server_saw_the_close(simulator)
    assert reply.stopped and reply.text != ""


def collect_holding(lock: Any, abandon: Callable[[], weakref.ref[Any]]) -> str:
    """In a fresh thread: ``abandon()`` (garbage in a cycle; a weak ref to it), then ``gc.collect()``
    while holding ``lock``: "collected", "not collected", or "deadlocked" when the collection never
    returned (the thread is a daemon, so a failing test does not hang)."""
    returned = threading.Event()
    outcome: list[str] = []

    def abandon_and_collect() -> None:
        gone = abandon()
        with lock:
            gc.collect()
        outcome.append("collected" if gone() is None else "not collected")
        returned.set()

    gc.disable()  # only the collection under the lock may find the cycle
    try:
        worker = threading.Thread(target=abandon_and_collect, daemon=True)
        worker.start()
        return outcome[0] if returned.wait(timeout=10) else "deadlocked"
    finally:
        gc.enable()


@pytest.mark.parametrize("cycle_through", ["iterator", "reply"])
@pytest.mark.usefixtures("sync_transport")
def test_collecting_an_abandoned_reply_while_this_thread_holds_the_pool_lock_does_not_deadlock(
    simulator: Simulator, cycle_through: str
) -> None:
    # The cyclic GC may run anywhere, also inside httpcore while it holds its pool lock; a
    # finaliser that took that lock again in the same thread would hang the process for ever.
    client = Client(simulator.url, backoff=0.0)
    outcome: dict[str, Any] = {}

    def abandon() -> weakref.ref[Any]:
        reply = client.chat("llama3.2", user(SLOW))
        reply.add_done_callback(lambda r: outcome.update(text=r.partial_text(), stopped=r.stopped))
        chunks = iter(reply)
        outcome["read"] = "".join(next(chunks).content for _ in range(3))
        if cycle_through == "iterator":
            cycle: list[Any] = [chunks]
            cycle.append(cycle)
        else:
            reply.cycle = [reply, chunks]  # type: ignore[attr-defined]
        return weakref.ref(reply)

    # "deadlocked": a reply's finaliser took the pool lock its own thread held
    assert collect_holding(pool_lock_of(client), abandon) == "collected"
    try:
        assert_server_saw_the_close(simulator)
        assert outcome == {"read": outcome["read"], "text": outcome["read"], "stopped": True}
        assert outcome["read"] != ""
        # the connection went back to the pool: a new reply on the same client works
        assert client.chat("llama3.2", user("hi [[tokens=2]]")).text != ""
    finally:
        client.close()


@pytest.mark.usefixtures("sync_transport")
def test_collecting_an_abandoned_pull_while_this_thread_holds_the_pool_lock_does_not_deadlock(
    simulator: Simulator,
) -> None:
    client = Client(simulator.url, backoff=0.0)
    first: list[str] = []

    def abandon() -> weakref.ref[Any]:
        progress = client.pull("mistral:7b")  # spread over a second: abandoned long before its end
        first.append(next(progress).status)
        cycle: list[Any] = [progress]
        cycle.append(cycle)
        return weakref.ref(progress)

    # "deadlocked": the pull's finaliser took the pool lock its own thread held
    assert collect_holding(pool_lock_of(client), abandon) == "collected"
    try:
        assert first == ["pulling manifest"]
        assert client.version() == "0.33.0"
    finally:
        client.close()


@pytest.mark.usefixtures("sync_transport")
def test_stop_from_another_thread_ends_a_blocked_iteration(simulator: Simulator, client: Client) -> None:
    reply = client.chat("llama3.2", user(GAPPED))
    first_chunk = threading.Event()
    server_saw: list[BaseException | None] = []

    def stop_when_told() -> None:
        if first_chunk.wait(timeout=5):
            reply.stop()  # the main thread is blocked reading; the next chunk is 5 s away
            try:
                assert_server_saw_the_close(simulator, within=2.0, total=GAPPED_TOTAL_LINES)
                server_saw.append(None)
            except BaseException as exc:
                server_saw.append(exc)

    stopper = threading.Thread(target=stop_when_told)
    stopper.start()
    received = []
    for chunk in reply:
        received.append(chunk.content)
        first_chunk.set()
    stopper.join(timeout=10)
    assert server_saw == [None]
    assert reply.stopped and reply.error is None
    assert len(received) == 1 and reply.text == received[0] != ""


@pytest.mark.usefixtures("sync_transport")
def test_ctrl_c_while_blocked_stops_the_reply_and_keeps_the_text(simulator: Simulator, client: Client) -> None:
    reply = client.chat("llama3.2", user(GAPPED))
    first_chunk = threading.Event()
    main_thread = threading.main_thread().ident
    assert main_thread == threading.get_ident()

    def press_ctrl_c() -> None:
        if first_chunk.wait(timeout=5):
            signal.pthread_kill(main_thread, signal.SIGINT)  # type: ignore[arg-type]

    interrupter = threading.Thread(target=press_ctrl_c)
    interrupter.start()
    received = []
    with pytest.raises(KeyboardInterrupt):
        for chunk in reply:  # the next chunk is 5 s away: the signal lands in the socket read
            received.append(chunk.content)
            first_chunk.set()
    interrupter.join(timeout=5)
    assert_server_saw_the_close(simulator, within=2.0, total=GAPPED_TOTAL_LINES)
    assert reply.stopped and reply.error is None
    assert reply.text == "".join(received) != ""


def stop_while_waiting(server: SilentServer, client: Client) -> tuple[Reply, bool]:
    """Stop, from this thread, a reply another thread reads while ``server`` keeps it waiting."""
    reply = client.chat("llama3.2", user("hi"))
    reader = threading.Thread(target=reply.read)
    reader.start()
    try:
        assert server.request_received.wait(timeout=5)
        reply.stop()
        closed = server.closed.wait(timeout=0.75)  # half the read timeout
    finally:
        reader.join(timeout=10)
    return reply, closed


@pytest.mark.timeout(15)
@pytest.mark.usefixtures("sync_transport")
def test_stop_from_another_thread_while_waiting_for_the_first_byte(silent_server: SilentServer) -> None:
    with Client(silent_server.host, timeout=1.5, retries=0) as client:
        reply, closed = stop_while_waiting(silent_server, client)
    assert closed, "the server still held the connection 0.75 s after stop()"
    assert reply.stopped and reply.error is None and reply.text == ""


VERSION_ANSWER = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{"version":"0.33.0"}'


@pytest.mark.timeout(15)
def test_stop_from_another_thread_before_the_first_byte_on_a_pooled_connection(monkeypatch) -> None:
    # urllib3 (the blocking client's default) hands over a reused connection's socket too; h11's
    # transport reports only a new connection's (httpcore traces no stream for a pooled one)
    monkeypatch.setenv("OLLAMA_NB_TRANSPORT", "urllib3")
    server = SilentServer(answer_first=VERSION_ANSWER)
    try:
        with Client(server.host, timeout=1.5, retries=0) as client:
            assert client.version() == "0.33.0"  # the connection is now in the pool
            reply, closed = stop_while_waiting(server, client)
    finally:
        server.close()
    assert closed, "the server still held the pooled connection 0.75 s after stop()"
    assert reply.stopped and reply.error is None and reply.text == ""


@pytest.mark.usefixtures("sync_transport")
def test_a_read_timeout_before_the_first_byte_is_a_timeout_error(silent_server: SilentServer) -> None:
    with Client(silent_server.host, timeout=0.2, retries=0) as client:
        reply = client.chat("llama3.2", user("hi"))
        with pytest.raises(OllamaTimeoutError) as info:
            reply.read()
    assert "0.2 s" in str(info.value) and silent_server.host in str(info.value)
    assert reply.error is info.value and reply.text == ""
    assert silent_server.closed.wait(timeout=5)


# -- stopping an async reply -------------------------------------------------------------------------


@pytest.mark.usefixtures("async_transport")
def test_async_stop_from_another_task_closes_the_connection(simulator: Simulator) -> None:
    async def main() -> tuple[AsyncReply, list[str]]:
        async with AsyncClient(simulator.url) as client:
            reply = await client.chat("llama3.2", user(GAPPED))
            received: list[str] = []
            first_chunk = asyncio.Event()

            async def read() -> None:
                async for chunk in reply:
                    received.append(chunk.content)
                    first_chunk.set()

            async def stop() -> None:
                await first_chunk.wait()
                reply.stop()  # the reader awaits the next chunk, 5 s away
                await asyncio.to_thread(
                    assert_server_saw_the_close, simulator, within=2.0, total=GAPPED_TOTAL_LINES
                )

            await asyncio.wait_for(asyncio.gather(read(), stop()), timeout=10)
            return reply, received

    reply, received = asyncio.run(main())
    assert reply.stopped and reply.done and reply.error is None
    assert len(received) == 1 and reply.text == received[0] != ""
    assert reply.timing.estimated and reply.timing.output_tokens == 1


@pytest.mark.usefixtures("async_transport")
def test_async_stop_from_another_thread_closes_the_connection(simulator: Simulator) -> None:
    async def main() -> tuple[AsyncReply, list[str]]:
        async with AsyncClient(simulator.url) as client:
            reply = await client.chat("llama3.2", user(GAPPED))
            first_chunk = threading.Event()
            stopper = threading.Thread(target=lambda: first_chunk.wait(5) and reply.stop())
            stopper.start()
            received: list[str] = []

            async def read() -> None:
                async for chunk in reply:
                    received.append(chunk.content)
                    first_chunk.set()

            await asyncio.wait_for(read(), timeout=2.0)  # far less than the 5 s gap
            stopper.join(timeout=5)
            return reply, received

    reply, received = asyncio.run(main())
    assert_server_saw_the_close(simulator, within=2.0, total=GAPPED_TOTAL_LINES)
    assert reply.stopped and len(received) == 1 and reply.text == received[0]


@pytest.mark.usefixtures("async_transport")
def test_async_stop_from_another_task_while_waiting_for_the_first_byte(silent_server: SilentServer) -> None:
    async def main() -> AsyncReply:
        async with AsyncClient(silent_server.host, timeout=30) as client:
            reply = await client.chat("llama3.2", user("hi"))
            reader = asyncio.create_task(reply.aread())
            assert await asyncio.to_thread(silent_server.request_received.wait, 5)
            reply.stop()
            await asyncio.wait_for(reader, timeout=5)
            return reply

    reply = asyncio.run(main())
    assert silent_server.closed.wait(timeout=5)
    assert b"POST /api/chat" in silent_server.received
    assert reply.stopped and reply.done and reply.text == "" and reply.error is None


@pytest.mark.usefixtures("async_transport")
def test_async_stop_from_another_thread_while_waiting_for_the_first_byte(silent_server: SilentServer) -> None:
    async def main() -> AsyncReply:
        async with AsyncClient(silent_server.host, timeout=30) as client:
            reply = await client.chat("llama3.2", user("hi"))
            stopper = threading.Thread(target=lambda: silent_server.request_received.wait(5) and reply.stop())
            stopper.start()
            await asyncio.wait_for(reply.aread(), timeout=5)
            stopper.join(timeout=5)
            return reply

    reply = asyncio.run(main())
    assert silent_server.closed.wait(timeout=5)
    assert reply.stopped and reply.text == ""


@pytest.mark.usefixtures("async_transport")
def test_async_stop_closes_the_connection_while_the_reader_is_between_chunks(simulator: Simulator) -> None:
    async def main() -> AsyncReply:
        async with AsyncClient(simulator.url) as client:
            reply = await client.chat("llama3.2", user(SLOW))
            chunks = reply.__aiter__()
            await chunks.__anext__()  # the reader now does something else (e.g. updates a display)
            reply.stop()
            try:
                await asyncio.to_thread(assert_server_saw_the_close, simulator, within=1.0)
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
            return reply

    reply = asyncio.run(main())
    assert reply.stopped


@pytest.mark.usefixtures("async_transport")
def test_async_stop_before_reading_sends_nothing(simulator: Simulator) -> None:
    async def main() -> AsyncReply:
        async with AsyncClient(simulator.url) as client:
            reply = await client.chat("llama3.2", user(SLOW))
            reply.stop()
            assert await reply.aread() == ""
            return reply

    reply = asyncio.run(main())
    assert reply.stopped and reply.done
    assert simulator.requests == []


@pytest.mark.usefixtures("async_transport")
def test_async_breaking_out_of_the_loop_closes_the_connection(simulator: Simulator) -> None:
    async def main() -> AsyncReply:
        async with AsyncClient(simulator.url) as client:
            reply = await client.chat("llama3.2", user(SLOW))
            ended = asyncio.Event()
            reply.add_done_callback(lambda _: ended.set())
            async for _ in reply:
                break
            # the event loop's finaliser closes the abandoned generator soon after the break
            await asyncio.wait_for(ended.wait(), timeout=5)
            await asyncio.to_thread(assert_server_saw_the_close, simulator)
            return reply

    reply = asyncio.run(main())
    assert reply.stopped and reply.text


@pytest.mark.usefixtures("async_transport")
def test_async_leaving_an_async_with_block_stops_the_reply(simulator: Simulator) -> None:
    async def main() -> AsyncReply:
        async with AsyncClient(simulator.url) as client:
            async with await client.chat("llama3.2", user(SLOW)) as reply:
                chunks = reply.__aiter__()
                await chunks.__anext__()
            assert reply.stopped
            await asyncio.to_thread(assert_server_saw_the_close, simulator)
            await chunks.aclose()  # type: ignore[attr-defined]
            return reply

    reply = asyncio.run(main())
    assert reply.stopped and reply.text


def test_ctrl_c_inside_a_tool_marks_the_reply_stopped_not_done(client: Client) -> None:
    """Ctrl-C while a tool runs ends the reply before its answer: stopped, as a Ctrl-C mid-stream."""
    from ollama_nb import ChatRequest

    def get_weather(city: str) -> str:
        """The weather in a city."""
        raise KeyboardInterrupt

    request = ChatRequest(
        model="qwen3", messages=user('weather? [[tool=get_weather]] [[args={"city": "Paris"}]]'), tools=[get_weather]
    )
    reply = client.reply(request, run_tools=True)
    with pytest.raises(KeyboardInterrupt):
        for _ in reply:
            pass
    assert reply.done and reply.stopped and reply.error is None
    assert reply.done_reason is None  # the first round's "stop" is not how the reply ended
    assert [c.name for c in reply.tool_calls] == ["get_weather"]
