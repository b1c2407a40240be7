"""The safe-markup type and every builder made from it: untrusted text renders literally and
inert through JupyterLab's own Markdown pipeline, and a raw ``str`` is refused everywhere."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

import pytest

from ollama_nb._safe import SafeHtml, SafeMarkdown, require_safe
from ollama_nb.simulator._hostile import PAYLOAD
from ollama_nb.view import markdown_table
from ollama_nb.view._outputs import html_bundle, markdown_bundle
from ollama_nb.view._stream_view import StreamView, footer_markdown, tool_call_note, tool_result_note

from untrusted import RAW_TAG, problems_in, render, visible_text

md, text, code = SafeMarkdown.trusted, SafeMarkdown.text, SafeMarkdown.code

LITERALS = [
    "a < b > c & d && e &amp; f",
    "`code` and ``two`` and a | pipe || here",
    "1. not a list",
    "# not a heading",
    "- not a bullet",
    "*not em* _nor this_ **nor bold** ~~nor struck~~",
    "[not](a link) ![nor](an image) <https://x.y>",
    "$x^2$ and $$y$$ and \\(z\\) and \\$",
    "back\\slash \\* and <!-- comment --> and <b>bold</b>",
    PAYLOAD,
]


# -- the type --------------------------------------------------------------------------------------
def test_text_renders_exactly_as_written_and_inert_through_jupyterlab() -> None:
    rendered = render([text(s) for s in LITERALS])
    assert [visible_text(h) for h in rendered] == LITERALS
    assert problems_in([{"text/markdown": text(s)} for s in LITERALS]) == {}


def test_text_keeps_line_breaks_as_br_on_one_line() -> None:
    shown = text("first <i>\nsecond | x\r\nthird")
    assert "\n" not in shown
    assert visible_text(render([shown])[0]) == "first <i>\nsecond | x\nthird"


def test_code_and_pre_show_text_literally_and_pre_keeps_line_breaks_and_indentation() -> None:
    source = "def f(x):\n    return x < 1 and `y` | 2\n\n<img src=x onerror=alert(1)>"
    inline, block = render([code("a <b> | `c`"), md("x\n\n{}\n\ny").format(SafeMarkdown.pre(source))])
    assert "<code>" in inline and visible_text(inline) == "a <b> | `c`"
    assert "<pre" in block and source in visible_text(block)
    assert problems_in([{"text/markdown": code(PAYLOAD)}, {"text/markdown": SafeMarkdown.pre(PAYLOAD)}]) == {}


def test_escape_keeps_a_models_markdown_and_neutralises_its_html() -> None:
    shown = SafeMarkdown.escape("**bold** and `x < y`\n\n" + PAYLOAD)
    (rendered,) = render([shown])
    assert "<strong>bold</strong>" in rendered
    assert problems_in([{"text/markdown": shown}]) == {}


def test_joining_keeps_the_type_and_numbers_are_welcome() -> None:
    joined = md(" · ").join([text("a"), code("b"), 3])
    assert type(joined) is SafeMarkdown and joined == "a · <code>b</code> · 3"
    assert type(md("x") + text("<")) is SafeMarkdown
    assert md("{n} {t}").format(n=2.5, t=text("<")) == "2.5 &lt;"
    assert type(SafeHtml.trusted("<b>{}</b>").format(SafeHtml.escape("<i>"))) is SafeHtml


def test_the_plain_text_of_safe_markdown_is_the_text_as_written() -> None:
    for literal in LITERALS:
        assert markdown_bundle(text(literal))["text/plain"] == literal
    assert markdown_bundle(text("a\nb") + md(" ") + code("<c>"))["text/plain"] == "a\nb <c>"


REFUSALS: dict[str, Callable[[], Any]] = {
    "safe + str": lambda: md("a") + "<b>",
    "str + safe, then shown": lambda: markdown_bundle("<b>" + md("a")),  # type: ignore[arg-type]
    "join with a str": lambda: md(",").join([text("a"), "<b>"]),
    "format with a str": lambda: md("{}").format("<b>"),
    "format with a bool": lambda: md("{}").format(True),
    "markdown + html": lambda: md("a") + SafeHtml.escape("b"),
    "html + markdown": lambda: SafeHtml.trusted("a") + text("b"),
    "markdown_table cell": lambda: markdown_table([{"model": "<img src=x onerror=alert(1)>"}]),
    "markdown_table multi-line cell": lambda: markdown_table([{"model": SafeMarkdown.escape("a\n\nb")}]),
    "markdown_bundle": lambda: markdown_bundle("<b>x</b>"),  # type: ignore[arg-type]
    "markdown_bundle of a str method's result": lambda: markdown_bundle(text("x").replace("x", "<b>")),  # type: ignore[arg-type]
    "markdown_bundle of SafeHtml": lambda: markdown_bundle(SafeHtml.escape("x")),  # type: ignore[arg-type]
    "html_bundle": lambda: html_bundle("<b>x</b>", "x"),  # type: ignore[arg-type]
    "require_safe": lambda: require_safe("x"),
    "StreamView.note": lambda: StreamView(model="m", controls=False).note("<b>x</b>"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_a_raw_str_is_refused(name: str) -> None:
    with pytest.raises((TypeError, ValueError)):
        REFUSALS[name]()


def test_subcommand_show_refuses_a_raw_str() -> None:
    from ollama_nb.magics._subcommands import _show

    with pytest.raises(TypeError, match="SafeMarkdown"):
        _show("<img src=x onerror=alert(1)>")  # type: ignore[arg-type]


# -- the builders ------------------------------------------------------------------------------------
def test_table_cells_show_pipes_backticks_and_html_literally_in_one_row_each() -> None:
    rows = [{"model": text(s), "n": i} for i, s in enumerate(LITERALS)]
    table = markdown_table(rows)
    (rendered,) = render([table])
    assert rendered.count("<tr>") == len(LITERALS) + 1
    cells = [visible_text(c.split("</td>")[0]) for c in rendered.split("<td>")[1:]]
    assert cells[0::2] == LITERALS
    assert problems_in([{"text/markdown": table}]) == {}


def test_notes_and_footer_escape_tool_names_arguments_results_and_model_names() -> None:
    call = SimpleNamespace(name=PAYLOAD, arguments={"q": PAYLOAD, "n": 1})
    result = SimpleNamespace(error=None, content=PAYLOAD + "\nsecond line", call=call)
    failed = SimpleNamespace(error=PAYLOAD, content="", call=call)
    reply = SimpleNamespace(model=PAYLOAD, timing=SimpleNamespace(summary=lambda: "first token 0.1 s"),
                            stopped=True, error=None, done_reason=None,
                            remote_model=PAYLOAD, remote_host="https://ollama.com:443")  # fmt: skip
    shown = [tool_call_note(call), tool_result_note(result), tool_result_note(failed), footer_markdown(reply)]  # type: ignore[arg-type]
    assert problems_in([{"text/markdown": s} for s in shown]) == {}
    rendered = render(shown)
    assert f"{PAYLOAD}(q={PAYLOAD!r}, n=1)" in visible_text(rendered[0])
    assert "<strong>stopped</strong>" in rendered[3] and PAYLOAD in visible_text(rendered[3])
    assert f"via {PAYLOAD} at https://ollama.com:443" in visible_text(rendered[3])  # the remote model is server text


def test_history_shows_tool_calls_and_results_and_keeps_code_line_breaks() -> None:
    from ollama_nb.magics._subcommands import history_markdown

    code_answer = "Here:\n\n```python\ndef f():\n    return '<b>'\n```\n\nand " + PAYLOAD
    messages = [
        {"role": "system", "content": PAYLOAD},
        {"role": "user", "content": "weather in <b>Paris</b>?"},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "<b>Paris</b>"}}}]},
        {"role": "tool", "content": PAYLOAD + "\n  indented | line", "tool_name": "get_weather"},
        {"role": "assistant", "content": code_answer},
    ]
    shown = history_markdown(messages)
    assert problems_in([{"text/markdown": shown}]) == {}
    (rendered,) = render([shown])
    seen = visible_text(rendered)
    assert "get_weather(city='<b>Paris</b>')" in seen  # the call, not an empty assistant row
    assert PAYLOAD + "\n  indented | line" in seen  # the tool result, line breaks kept
    assert "def f():\n    return '<b>'" in seen  # code keeps its line breaks
    assert [f"{n} · {role}" in seen for n, role in enumerate(["system", "user", "assistant", "tool", "assistant"], 1)] == [True] * 5


def _stream_view_bundles(**options: Any) -> list[dict[str, Any]]:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from ollama_nb import Client
    from ollama_nb.simulator import Simulator
    from ollama_nb.view import stream_sync

    InteractiveShell.instance()
    with Simulator(hostile=True) as hostile, capture_output() as captured:
        reply = Client(hostile.url).chat("qwen3", [{"role": "user", "content": "hi [[html]] [[tokens=40]]"}], think=True)
        view = StreamView(model=PAYLOAD, controls=False, interval=0.0, max_interval=0.0, budget=1e9, **options)
        stream_sync(reply, view)
    return [o.data for o in captured.outputs]


def test_the_check_sees_raw_html_from_the_html_opt_in() -> None:
    assert problems_in([{"text/markdown": PAYLOAD}]) != {}
    assert problems_in(_stream_view_bundles(allow_html=True)) != {}  # --html: the user's choice


def test_stream_view_outputs_of_a_hostile_reply_are_inert() -> None:
    bundles = _stream_view_bundles()
    assert len(bundles) >= 4  # live updates, the answer, the thinking, the footer
    assert any(PAYLOAD in b.get("text/plain", "") for b in bundles)  # the thinking arrived
    assert any("onerror" in b.get("text/plain", "") for b in bundles[:-1])  # so did the [[html]] answer
    assert problems_in(bundles) == {}


def test_side_by_side_columns_and_table_are_inert(simulator: Any) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from ollama_nb import Client
    from ollama_nb.view._side_by_side import SideBySideView

    InteractiveShell.instance()
    client = Client(simulator.url)
    with capture_output() as captured:
        view = SideBySideView([PAYLOAD, "qwen3"], interval=0.0)
        replies = []
        for index, model in enumerate(["llama3.2", "qwen3"]):
            reply = client.generate(model, "x [[html]] [[tokens=20]]")
            for chunk in reply:
                view.add((chunk,), index)
                view.refresh(force=True)
            replies.append(reply)
        view.finish(replies)
    bundles = [o.data for o in captured.outputs]
    assert any("onerror" in b.get("text/plain", "") for b in bundles)
    assert any("text/html" in b for b in bundles) and any("text/markdown" in b for b in bundles)
    assert problems_in(bundles) == {}


def test_pull_summary_of_a_hostile_server_is_inert() -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from ollama_nb import Client
    from ollama_nb.simulator import Simulator
    from ollama_nb.view._progress import show_pull

    InteractiveShell.instance()
    with Simulator(hostile=True, pull_seconds=0.0) as hostile, capture_output() as captured:
        show_pull(Client(hostile.url).pull("tinyllama"), PAYLOAD)
    bundles = [o.data for o in captured.outputs]
    assert any("text/markdown" in b for b in bundles)
    assert problems_in(bundles) == {}


def test_timings_dataframe_html_escapes_prompts_and_errors() -> None:
    pandas = pytest.importorskip("pandas")
    from ollama_nb import Session
    from ollama_nb._session import Turn
    from ollama_nb._timing import Timing

    session = Session("llama3.2")
    session.turns.append(Turn(prompt=PAYLOAD, text=PAYLOAD, model=PAYLOAD, endpoint="chat", error=PAYLOAD, timing=Timing()))
    frame = session.timings()
    assert isinstance(frame, pandas.DataFrame)
    table = frame._repr_html_()
    assert "&lt;img" in table
    assert RAW_TAG.findall(table) == []


def test_a_reply_shown_as_out_is_escaped_markdown(simulator: Any) -> None:
    from ollama_nb import Client

    with Client(simulator.url).chat("llama3.2", [{"role": "user", "content": "x [[html]]"}]) as reply:
        assert "onerror" in reply.text
    shown = reply._repr_markdown_()
    assert type(shown) is SafeMarkdown and "onerror" in shown
    assert problems_in([{"text/markdown": shown}]) == {}
