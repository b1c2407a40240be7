"""Beyond chat, over a real socket: tools, images, structured output, side by side, pull."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

import ollama_nb
from ollama_nb import _session

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def get_weather(city: str, unit: str = "celsius") -> str:
    """Get the current weather in a city.

    Args:
        city: The city name.
        unit: celsius or fahrenheit.
    """
    return f"11 degrees {unit} in {city}"


def explode(x: int) -> int:
    """A tool that always fails."""
    raise ValueError("the sensor is offline")


@pytest.fixture
def ip(simulator: Any) -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "ollama_nb")
    magics = shell.magics_manager.registry["OllamaMagics"]
    magics.host, magics.model, magics.options = simulator.url, "qwen3", {}
    _session.forget_sessions()
    shell.user_ns.update(get_weather=get_weather, explode=explode)
    yield shell
    shell.run_line_magic("unload_ext", "ollama_nb")
    _session.forget_sessions()


def test_session_runs_tool_calls_and_sends_results_back_as_tool_messages(simulator: Any) -> None:
    session = ollama_nb.Session(model="qwen3", host=simulator.url)
    reply = session.chat("Weather in Tokyo?", tools=[get_weather])
    reply.read()
    assert reply.rounds == 2 and reply.tool_results[0].content == "11 degrees celsius in Tokyo"
    first, second = [r.body for r in simulator.requests if r.path == "/api/chat"]
    assert first["tools"][0]["function"]["name"] == "get_weather"
    assert first["tools"][0]["function"]["parameters"]["required"] == ["city"]
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_name"] == "get_weather"
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert "11 degrees celsius in Tokyo" in reply.text
    assert [m["role"] for m in session.history] == ["user", "assistant", "tool", "assistant"]


def test_a_failing_tool_is_reported_to_the_model_and_the_user_not_raised(simulator: Any) -> None:
    session = ollama_nb.Session(model="qwen3", host=simulator.url)
    reply = session.chat("go [[tool=explode]]", tools=[get_weather, explode])
    reply.read()
    result = reply.tool_results[0]
    assert result.error == "ValueError: the sensor is offline"
    assert "the sensor is offline" in reply.text  # the model got the error back and answered


def test_tool_rounds_are_bounded(simulator: Any) -> None:
    session = ollama_nb.Session(model="qwen3", host=simulator.url)
    reply = session.chat("loop", tools=[get_weather])
    reply.max_tool_rounds = 0
    reply.read()
    assert reply.rounds == 1 and any("rounds of tool calls" in n for n in reply.notes)


def test_async_session_tools_loop(simulator: Any) -> None:
    async def main() -> Any:
        session = ollama_nb.Session(model="qwen3", host=simulator.url)
        reply = await session.achat("Weather?", tools=[get_weather])
        return await reply.aread(), reply

    text, reply = asyncio.run(main())
    assert reply.rounds == 2 and "11 degrees" in text


def test_tools_magic_shows_each_call_and_result(ip: InteractiveShell, capsys: Any) -> None:
    assert ip.run_cell("%ollama_chat --tools get_weather,explode What is the weather?").success
    out = capsys.readouterr().out
    assert "[tool call] get_weather(city='Tokyo')" in out and "[tool result] 11 degrees" in out


def test_tools_magic_rejects_names_that_are_not_functions(ip: InteractiveShell) -> None:
    from IPython.core.error import UsageError

    assert isinstance(ip.run_cell("%ollama_chat --tools nothing_here hi").error_in_exec, UsageError)


def test_images_are_sent_base64_from_paths_and_bytes(ip: InteractiveShell, simulator: Any, tmp_path: Any) -> None:
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    assert ip.run_cell(f"%%ollama -m gemma3 --image {path}\nWhat is this?").success
    body = [r.body for r in simulator.requests if r.path == "/api/generate"][-1]
    assert body["images"] == [base64.b64encode(PNG).decode()]
    session = ollama_nb.Session(model="gemma3", host=simulator.url)
    reply = session.chat("and this?", images=[PNG])
    assert "1 image" in reply.read()
    assert [r.body for r in simulator.requests if r.path == "/api/chat"][-1]["messages"][-1]["images"]


def test_missing_image_path_is_a_short_error(ip: InteractiveShell, capsys: Any) -> None:
    result = ip.run_cell("%%ollama --image /no/such/file.png\nhi")
    assert isinstance(result.error_in_exec, ollama_nb.OllamaError)
    assert "Traceback" not in capsys.readouterr().out


def test_format_schema_from_namespace_and_parsed_output(ip: InteractiveShell, simulator: Any) -> None:
    ip.user_ns["Person"] = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]}
    assert ip.run_cell("%%ollama --format Person -o person\nDescribe someone").success
    assert [r.body for r in simulator.requests if r.path == "/api/generate"][-1]["format"]["properties"]["age"] == {"type": "integer"}
    person = ip.user_ns["person"]
    assert isinstance(person, dict) and set(person) >= {"name", "age"}


def test_invalid_json_output_says_so_clearly(ip: InteractiveShell, capsys: Any) -> None:
    result = ip.run_cell("%%ollama --format json -o data\ngive [[invalid-json]]")
    assert isinstance(result.error_in_exec, ollama_nb.StructuredOutputError)
    assert "not valid JSON" in capsys.readouterr().out


def test_side_by_side_in_a_terminal_streams_each_model_and_records_each_turn(ip: InteractiveShell, capsys: Any) -> None:
    assert ip.run_cell("%%ollama -m llama3.2,gemma3\nCompare these").success
    out = capsys.readouterr().out
    assert "— llama3.2 ·" in out and "— gemma3 ·" in out
    assert [t.model for t in ollama_nb.get_session().turns] == ["llama3.2", "gemma3"]


def test_side_by_side_is_refused_for_a_conversation(ip: InteractiveShell) -> None:
    from IPython.core.error import UsageError

    assert isinstance(ip.run_cell("%ollama_chat -m a,b hi").error_in_exec, UsageError)


def test_think_level_on_a_model_that_cannot_think_is_one_line(ip: InteractiveShell, capsys: Any) -> None:
    result = ip.run_cell("%%ollama -m llama3.2 --think low\nhi")
    assert isinstance(result.error_in_exec, ollama_nb.ResponseError)
    err = capsys.readouterr().out
    assert '"llama3.2" does not support thinking' in err and "Traceback" not in err


def test_pull_shows_a_text_bar_and_ends_with_success(ip: InteractiveShell, capsys: Any) -> None:
    assert ip.run_cell("last = %ollama pull phi4").success
    assert ip.user_ns["last"].status == "success"
    assert "phi4: success" in capsys.readouterr().out


def test_interrupting_a_pull_closes_the_download_and_says_how_to_resume(simulator: Any, ip: InteractiveShell) -> None:
    from ollama_nb.view import show_pull

    events = ollama_nb.Client(simulator.url).pull("phi4")

    def interrupted_after_two() -> Any:
        try:
            for number, event in enumerate(events):
                if number == 2:
                    raise KeyboardInterrupt  # what Ctrl-C / kernel ■ raises in the cell
                yield event
        finally:
            events.close()  # closing the chain closes the client's stream, as in the magic

    with pytest.raises(ollama_nb.Interrupted, match=r"Run `%ollama pull phi4` again") as caught:
        show_pull(interrupted_after_two(), "phi4")
    assert isinstance(caught.value, ollama_nb.OllamaError)  # in the one documented tree
    assert str(caught.value).startswith("Interrupted: the pull of phi4 stopped at")
    assert simulator.wait_for("disconnect", timeout=5).path == "/api/pull"


def test_a_format_that_is_no_schema_is_a_usage_error_naming_what_is_accepted(ip: InteractiveShell, simulator: Any) -> None:
    from IPython.core.error import UsageError

    ip.user_ns["Bad"] = 42
    result = ip.run_cell("%%ollama --format Bad\nDescribe someone")
    assert isinstance(result.error_in_exec, UsageError)
    assert str(result.error_in_exec).startswith("--format Bad: format must be 'json', a JSON schema (dict)")
    assert not [r for r in simulator.requests if r.path == "/api/generate"]  # nothing was sent
