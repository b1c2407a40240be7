"""StreamView's display traffic and final outputs at any token rate, in a real IPython shell.

A real reply from the simulator over a socket is read chunk by chunk into a StreamView whose
clock is a fake one (the view's clock is injectable, as in tqdm), advanced by one token's time per
chunk: a 3,000-token reply at 30 tokens/s is 100 s of view time, read in well under a second.
Every display message goes through IPython's display machinery to a publisher that records it.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

from ollama_nb import Client, Session
from ollama_nb._markdown import DEFAULT_THRESHOLD
from ollama_nb.simulator import Simulator
from ollama_nb.view import StreamView

SHAPES = ["paragraph", "paragraphs", "code", "list", "nested-list", "table", "quote"]


class RecordingPublisher(DisplayPublisher):
    """Keeps every display message the shell publishes, clear_output included."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []

    def publish(self, data: Any, metadata: Any = None, source: Any = None, *, transient: Any = None, update: bool = False) -> None:
        self.messages.append({"data": data, "metadata": metadata or {}, "transient": transient or {}, "update": update})

    def clear_output(self, wait: bool = False) -> None:
        self.messages.append({"clear": True, "wait": wait})

    def outputs(self) -> list[dict[str, Any]]:
        """What a front end ends with: updates applied by display_id, clear_output applied."""
        shown: list[dict[str, Any]] = []
        for message in self.messages:
            if message.get("clear"):
                shown = []
            elif message["update"]:
                for output in shown:
                    if output["transient"].get("display_id") == message["transient"].get("display_id"):
                        output.update(data=message["data"], metadata=message["metadata"])
            else:
                shown.append(dict(message))
        return shown

    def bytes(self) -> int:
        return sum(len(json.dumps({k: m.get(k) for k in ("data", "metadata", "transient")})) for m in self.messages)


@pytest.fixture
def publisher() -> Iterator[RecordingPublisher]:
    shell = InteractiveShell.instance()
    saved = shell.display_pub
    shell.display_pub = RecordingPublisher()
    try:
        yield shell.display_pub
    finally:
        shell.display_pub = saved


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def read_into_view(reply: Any, view: StreamView, clock: FakeClock, tokens_per_s: float) -> None:
    view.reply = reply
    for chunk in reply:
        clock.now += 1 / tokens_per_s
        view.add((chunk,))
        view.refresh()
    view.finish(reply)


def stream_into_view(simulator: Simulator, prompt: str, tokens_per_s: float, *, owns_cell: bool = True) -> tuple[Any, StreamView]:
    clock = FakeClock()
    view = StreamView(model="llama3.2", controls=False, clock=clock, owns_cell=owns_cell)
    with Client(simulator.url) as client:
        reply = client.generate("llama3.2", prompt)
        read_into_view(reply, view, clock, tokens_per_s)
    return reply, view


@pytest.mark.parametrize("tokens_per_s", [100, 300, 100_000])
@pytest.mark.parametrize("shape", SHAPES)
def test_traffic_stays_within_five_times_the_reply_plus_1_kb_a_second_and_ends_as_one_output(
    simulator: Simulator, publisher: RecordingPublisher, shape: str, tokens_per_s: float
) -> None:
    """The allowance per second of streaming lets a slow model update as often as a fast one."""
    reply, view = stream_into_view(simulator, f"write [[shape={shape}]] [[tokens=3000]]", tokens_per_s)
    text = reply.text
    size = len(text.encode())
    allowance = 5 * size + 1024 * 3000 / tokens_per_s
    assert publisher.bytes() <= allowance, f"{publisher.bytes() / size:.2f}x in {len(publisher.messages)} messages"

    outputs = publisher.outputs()
    assert [sorted(o["data"]) for o in outputs] == [["text/markdown", "text/plain"]] * 2
    answer, footer = outputs
    assert answer["data"]["text/plain"] == text
    assert footer["data"]["text/plain"].startswith("llama3.2")
    assert answer["metadata"]["ollama_nb"]["timing"]["output_tokens"] == 3000


@pytest.mark.parametrize("shape", ["paragraph", "code", "list"])
def test_a_slow_stream_costs_the_same_plus_at_most_1_kb_of_refreshes_a_second(
    simulator: Simulator, publisher: RecordingPublisher, shape: str
) -> None:
    """At 30 tokens/s (about 100 bytes/s) the refreshes that keep the shown text within half a
    second of the model (about three a second, tail and status line) are the larger part; what
    grows with the reply stays within 5x its size."""
    reply, view = stream_into_view(simulator, f"write [[shape={shape}]] [[tokens=3000]]", 30)
    size = len(reply.text.encode())
    seconds = 3000 / 30
    assert publisher.bytes() <= 5 * size + 1024 * seconds, f"{publisher.bytes() / size:.2f}x"
    assert [o["data"]["text/plain"] for o in publisher.outputs()][0] == reply.text


@pytest.mark.parametrize("shape", SHAPES)
def test_the_live_view_never_resends_what_it_has_frozen(
    simulator: Simulator, publisher: RecordingPublisher, shape: str
) -> None:
    stream_into_view(simulator, f"write [[shape={shape}]] [[tokens=3000]]", 300)
    frozen: list[str] = []  # pieces, in the order they were written for the last time
    live: dict[str, str] = {}  # display_id -> its latest Markdown
    pieces = 0
    for message in publisher.messages:
        if message.get("clear"):
            break
        display_id = message["transient"].get("display_id")
        markdown = message["data"].get("text/markdown", "")
        if not message["update"]:
            for done_id in [d for d in live if d != display_id]:
                frozen.append(live.pop(done_id))  # a new output: the previous one is final
        live[display_id] = markdown
        assert len(markdown) <= 2 * DEFAULT_THRESHOLD + 400, "the open tail grew past the freeze threshold"
        for piece in frozen[-3:]:
            body = piece.strip()[:200]
            if len(body) >= 60:
                assert body not in markdown, "a frozen piece was sent again"
        pieces += 1
    assert len(frozen) >= 5, "the reply was not cut into pieces while it streamed"


def test_a_view_that_does_not_own_the_cell_leaves_its_pieces_each_with_its_text(
    simulator: Simulator, publisher: RecordingPublisher
) -> None:
    """Other code shares the cell (its outputs must stay): no clear_output, the pieces stay."""
    reply, _ = stream_into_view(simulator, "write [[shape=paragraphs]] [[tokens=3000]]", 300, owns_cell=False)
    assert not any(m.get("clear") for m in publisher.messages)
    *pieces, footer = publisher.outputs()
    assert footer["data"]["text/plain"].startswith("llama3.2")
    assert len(pieces) > 3
    assert "".join(piece["data"]["text/plain"] for piece in pieces) == reply.text


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    print("a tool printed this")  # into the cell: clearing the cell would lose it
    return f"18 degrees and sunny in {city}"


def test_after_tool_functions_ran_nothing_is_cleared(simulator: Simulator, publisher: RecordingPublisher) -> None:
    session = Session(host=simulator.url)
    reply = session.chat("weather in Paris? [[tokens=2000]]", model="llama3.2", tools=[get_weather])
    clock = FakeClock()
    read_into_view(reply, StreamView(model="llama3.2", controls=False, clock=clock, owns_cell=True), clock, 300)
    assert reply.tool_results and reply.text
    assert not any(m.get("clear") for m in publisher.messages)
    *pieces, footer = publisher.outputs()
    assert pieces[0]["data"]["text/markdown"].startswith("🔧 <code>get&#95;weather&#40;city")
    assert "".join(piece["data"]["text/plain"] for piece in pieces) == reply.text


def test_tool_calls_without_functions_show_above_the_one_answer(simulator: Simulator, publisher: RecordingPublisher) -> None:
    schema = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    with Client(simulator.url) as client:
        reply = client.chat("llama3.2", [{"role": "user", "content": "weather? <b>x</b>"}], tools=[schema])
        clock = FakeClock()
        read_into_view(reply, StreamView(model="llama3.2", controls=False, clock=clock, owns_cell=True), clock, 300)
    assert reply.tool_calls and not reply.text
    assert {"clear": True, "wait": True} in publisher.messages
    tools, footer = publisher.outputs()
    assert tools["data"]["text/markdown"] == "🔧 <code>get&#95;weather&#40;city&#61;'Tokyo'&#41;</code>\n\n"
    assert tools["data"]["text/plain"] == "🔧 get_weather(city='Tokyo')"
    assert footer["data"]["text/plain"].startswith("llama3.2")


@pytest.mark.parametrize("owns_cell", [True, False])
def test_a_plain_view_shows_the_tool_calls_and_results_in_its_text(
    simulator: Simulator, publisher: RecordingPublisher, owns_cell: bool
) -> None:
    """A plain view (``--plain``) shows text only: the tool lines go into it, never dropped."""
    session = Session(host=simulator.url)
    reply = session.chat("weather in Paris? [[tokens=200]]", model="llama3.2", tools=[get_weather])
    clock = FakeClock()
    read_into_view(reply, StreamView(model="llama3.2", plain=True, controls=False, clock=clock, owns_cell=owns_cell), clock, 300)
    assert reply.tool_results and reply.text
    *pieces, footer = publisher.outputs()
    shown = "".join(piece["data"]["text/plain"] for piece in pieces)
    assert "🔧 get_weather(city=" in shown
    assert "→ get_weather: 18 degrees and sunny in " in shown
    assert shown.endswith(reply.text)


def test_side_by_side_live_updates_send_the_tails_only_and_the_end_the_whole_answers(
    simulator: Simulator, publisher: RecordingPublisher
) -> None:
    """While the columns stream, each update carries the tail of each answer (HTML and text/plain):
    re-sending the whole answers at every refresh would cost O(n²). The last update has them all."""
    from ollama_nb.view._side_by_side import _LIVE_TAIL, SideBySideView

    view = SideBySideView(["llama3.2", "qwen3"], interval=0.0)
    replies = []
    with Client(simulator.url) as client:
        for index, model in enumerate(["llama3.2", "qwen3"]):
            reply = client.generate(model, "write [[shape=paragraphs]] [[tokens=1500]]")
            for chunk in reply:
                view.add((chunk,), index)
                view.refresh(force=True)
            replies.append(reply)
    view.finish(replies)
    *live, last = [m for m in publisher.messages if m.get("update") and "text/html" in m["data"]]
    assert all(len(r.text) > 3 * _LIVE_TAIL for r in replies)
    assert max(len(m["data"]["text/plain"]) for m in live) <= 2 * (_LIVE_TAIL + 40)
    assert all(f"=== {r.model} ===\n{r.text}" in last["data"]["text/plain"] for r in replies)
