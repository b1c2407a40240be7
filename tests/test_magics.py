"""The magics in a real IPython shell (InteractiveShell), against the simulator over a socket."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import ollama_nb
from ollama_nb import _session
from ollama_nb.magics import rewrite_cell


@pytest.fixture
def ip(magics_shell: InteractiveShell) -> InteractiveShell:
    return magics_shell


def _body(simulator: Any, path: str) -> dict[str, Any]:
    bodies = [r.body for r in simulator.requests if r.path == path]
    assert bodies, f"no request to {path}"
    return bodies[-1]


def run(ip: InteractiveShell, source: str) -> Any:
    return ip.run_cell(source, store_history=True)


def test_load_ext_registers_magics_and_rewriter_and_unload_removes_them(ip: InteractiveShell) -> None:
    assert ip.find_cell_magic("ollama") is not None
    assert ip.find_line_magic("ollama_chat") is not None
    assert rewrite_cell in ip.input_transformers_cleanup
    ip.run_line_magic("unload_ext", "ollama_nb")
    assert ip.find_cell_magic("ollama") is None
    assert rewrite_cell not in ip.input_transformers_cleanup
    assert not issubclass(ollama_nb.OllamaError, ip.custom_exceptions or ())
    ip.run_line_magic("load_ext", "ollama_nb")


def test_cell_magic_is_rewritten_into_an_awaited_call(ip: InteractiveShell) -> None:
    transformed = ip.transform_cell("%%ollama -m llama3.2\nWhy?\n")
    assert transformed.startswith("await __import__('ollama_nb.magics'")
    assert ip.should_run_async("%%ollama\nWhy?\n", transformed_cell=transformed)


def test_ollama_cell_streams_text_and_footer_and_records_a_generate_turn(ip: InteractiveShell, simulator: Any, capsys: Any) -> None:
    result = run(ip, "%%ollama\nWhy is the sky blue?")
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    assert "*(simulated reply)*" in out
    assert "llama3.2 · first token" in out
    turn = ollama_nb.get_session().last
    assert turn.endpoint == "generate" and turn.prompt == "Why is the sky blue?"
    assert turn.timing.ttft_s is not None and turn.timing.output_tokens
    assert ollama_nb.get_session().history == []  # %%ollama is not part of the conversation
    assert _body(simulator, "/api/generate")["prompt"] == "Why is the sky blue?"


def test_chat_line_keeps_quotes_and_apostrophes_verbatim(ip: InteractiveShell, simulator: Any) -> None:
    assert run(ip, """%ollama_chat --temperature 0.5 What's "2+2"? it's -5 °C""").success
    body = _body(simulator, "/api/chat")
    assert body["messages"][-1] == {"role": "user", "content": """What's "2+2"? it's -5 °C"""}
    assert body["options"] == {"temperature": 0.5}


def test_chat_turns_build_history_and_reset_starts_over(ip: InteractiveShell, simulator: Any) -> None:
    run(ip, "%ollama_chat -s 'Be brief.' first question")
    run(ip, "%%ollama_chat\nsecond\nquestion")
    history = ollama_nb.get_session().history
    assert [m["role"] for m in history] == ["system", "user", "assistant", "user", "assistant"]
    assert history[3]["content"] == "second\nquestion"
    assert len(_body(simulator, "/api/chat")["messages"]) == 4
    run(ip, "%ollama_chat --reset third")
    assert [m["role"] for m in ollama_nb.get_session().history] == ["system", "user", "assistant"]


def test_output_option_stores_the_reply_text_as_str(ip: InteractiveShell) -> None:
    run(ip, "%%ollama -o answer\nhello [[echo]]")
    assert type(ip.user_ns["answer"]) is str
    assert ip.user_ns["answer"] == "hello"


def test_every_sampling_option_reaches_the_request(ip: InteractiveShell, simulator: Any) -> None:
    run(ip, "%%ollama --temperature 0.1 --seed 7 --num-ctx 4096 --num-predict 20 --option top_k=5 --option 'stop=[\"x\"]' --keep-alive 5m\nhi")
    body = _body(simulator, "/api/generate")
    assert body["options"] == {"temperature": 0.1, "seed": 7, "num_ctx": 4096, "num_predict": 20, "top_k": 5, "stop": ["x"]}
    assert body["keep_alive"] == "5m"


def test_config_defaults_are_used_and_arguments_override_them(ip: InteractiveShell, simulator: Any) -> None:
    run(ip, "%config OllamaMagics.options = {'temperature': 0.9}")
    run(ip, "%config OllamaMagics.model = 'qwen3'")
    run(ip, "%%ollama\nhi")
    body = _body(simulator, "/api/generate")
    assert body["model"] == "qwen3" and body["options"] == {"temperature": 0.9}
    run(ip, "%%ollama -m gemma3 --temperature 0.2\nhi")
    body = _body(simulator, "/api/generate")
    assert body["model"] == "gemma3" and body["options"] == {"temperature": 0.2}


def test_think_flags_send_think_and_keep_thinking_apart(ip: InteractiveShell, simulator: Any, capsys: Any) -> None:
    run(ip, "%ollama_chat -m qwen3 --think what is 17*23")
    assert _body(simulator, "/api/chat")["think"] is True
    turn = ollama_nb.get_session().last
    assert turn.thinking and turn.thinking not in turn.text
    run(ip, "%ollama_chat -m qwen3 --think high again")
    assert _body(simulator, "/api/chat")["think"] == "high"
    run(ip, "%ollama_chat -m qwen3 --no-think again")
    assert _body(simulator, "/api/chat")["think"] is False


def test_think_on_a_model_that_cannot_think_shows_ollamas_error_in_one_line(ip: InteractiveShell, capsys: Any) -> None:
    result = run(ip, "%ollama_chat -m llama3.2 --think hi")
    assert isinstance(result.error_in_exec, ollama_nb.ResponseError)
    out = capsys.readouterr().out
    assert "does not support thinking" in out and "Traceback" not in out


def test_format_json_sends_format_and_output_stores_the_parsed_object(ip: InteractiveShell, simulator: Any) -> None:
    run(ip, "%%ollama --format json -o data\ngive me json")
    assert _body(simulator, "/api/generate")["format"] == "json"
    assert isinstance(ip.user_ns["data"], (dict, list))


def test_host_and_session_options_pick_server_and_conversation(ip: InteractiveShell, simulator: Any) -> None:
    from ollama_nb.simulator import Simulator

    with Simulator() as other:
        run(ip, f"%ollama_chat --host {other.url} --session side hello there")
        assert [r.path for r in other.requests if r.path == "/api/chat"]
    assert ollama_nb.get_session("side").last.prompt == "hello there"
    assert ollama_nb.get_session("default").turns == []


def test_interpolation_uses_namespace_and_no_interpolate_sends_braces_as_typed(ip: InteractiveShell, simulator: Any) -> None:
    ip.user_ns["doc"] = {"title": "Q3 report"}
    run(ip, "%%ollama\nSummarise {doc[title]} and keep {undefined} and {{x}} and {'a': 1}")
    assert _body(simulator, "/api/generate")["prompt"] == "Summarise Q3 report and keep {undefined} and {x} and {'a': 1}"
    run(ip, "%%ollama --no-interpolate\nSummarise {doc[title]}")
    assert _body(simulator, "/api/generate")["prompt"] == "Summarise {doc[title]}"


def test_magic_help_lists_the_options(ip: InteractiveShell) -> None:
    doc = ip.find_cell_magic("ollama").__doc__
    for option in ("--model", "--temperature", "--num-ctx", "--output", "--think", "--no-interpolate", "--plain"):
        assert option in doc
    assert "--reset" in ip.find_line_magic("ollama_chat").__doc__


def test_no_model_anywhere_says_how_to_choose_and_lists_server_models(ip: InteractiveShell, capsys: Any) -> None:
    ip.magics_manager.registry["OllamaMagics"].model = ""
    result = run(ip, "%%ollama\nhi")
    assert isinstance(result.error_in_exec, ollama_nb.NoModelError)
    out = capsys.readouterr().out
    assert "%config OllamaMagics.model" in out and "llama3.2:latest" in out and "Traceback" not in out


@pytest.mark.parametrize(
    "source, expected",
    [
        ("%%ollama -m missing-model\nhi", ollama_nb.ModelNotFoundError),
        ("%%ollama\nhi [[status=500]]", ollama_nb.ResponseError),
        ("%%ollama\nhi [[tokens=20]] [[error-after=5]]", ollama_nb.StreamError),
        ("%%ollama\nhi [[tokens=20]] [[drop-after=5]]", ollama_nb.ConnectionLostError),
    ],
)
def test_failures_fail_the_cell_with_a_short_message_and_keep_partial_text(
    ip: InteractiveShell, capsys: Any, source: str, expected: type
) -> None:
    result = run(ip, source)
    assert isinstance(result.error_in_exec, expected)
    out = capsys.readouterr().out
    error_part = out[out.index(expected.__name__):]
    assert "Traceback" not in out and 1 <= len(error_part.strip().splitlines()) <= 3
    turn = ollama_nb.get_session().last
    assert turn is not None and turn.error
    if expected in (ollama_nb.StreamError, ollama_nb.ConnectionLostError):
        assert turn.text.startswith("*(simulated reply)*")


def test_server_down_fails_with_a_message_naming_the_host(ip: InteractiveShell, capsys: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run(ip, f"%%ollama --host 127.0.0.1:{port}\nhi")
    assert isinstance(result.error_in_exec, ollama_nb.OllamaConnectionError)
    out = capsys.readouterr().out
    assert f"127.0.0.1:{port}" in out and "ollama serve" in out and "Traceback" not in out


@pytest.mark.parametrize("source", ["%%ollama --temprature 3\nhi", "%%ollama\n   \n", "%ollama_chat", "%ollama nonsense", "%%ollama --format nowhere\nhi"])
def test_bad_arguments_are_usage_errors(ip: InteractiveShell, source: str, capsys: Any) -> None:
    result = run(ip, source)
    from IPython.core.error import UsageError

    assert isinstance(result.error_in_exec, UsageError)


def test_nested_cell_uses_the_synchronous_path_and_still_streams(ip: InteractiveShell) -> None:
    result = run(ip, "%%capture captured\n%%ollama\nhello [[echo]]")
    assert result.success, result.error_in_exec
    assert "hello" in ip.user_ns["captured"].stdout


def test_line_magic_assignment_returns_the_text(ip: InteractiveShell) -> None:
    run(ip, "x = %ollama_chat say hi [[echo]]")
    assert ip.user_ns["x"] == "say hi"


def test_subcommands_models_history_timings_reset_save_load(ip: InteractiveShell, tmp_path: Any, capsys: Any) -> None:
    assert run(ip, "found = %ollama models").success
    assert "llama3.2:latest" in capsys.readouterr().out
    assert "llama3.2:latest" in [m.name for m in ip.user_ns["found"]]
    run(ip, "%ollama_chat hello")
    run(ip, "%ollama history")
    assert "hello" in capsys.readouterr().out
    result = run(ip, "t = %ollama timings")
    assert result.success and len(ip.user_ns["t"]) == 1
    path = tmp_path / "s.json"
    run(ip, f"%ollama save {path}")
    assert json.loads(path.read_text())["turns"][0]["prompt"] == "hello"
    run(ip, "%ollama reset")
    assert ollama_nb.get_session().turns == []
    run(ip, f"%ollama load {path}")
    assert ollama_nb.get_session().history[0]["content"] == "hello"
    capsys.readouterr()
    assert run(ip, "%ollama config").success
    assert "OllamaMagics.model" in capsys.readouterr().out
    assert run(ip, "%ollama help").success
    assert "%ollama pull NAME" in capsys.readouterr().out
    assert run(ip, "d = %ollama show llama3.2").success
    details = ip.user_ns["d"]
    assert (details.name, details.context_length, details.capabilities) == ("llama3.2", 8192, ("completion", "tools"))
    assert "8192" in capsys.readouterr().out
    assert run(ip, "loaded = %ollama ps").success
    assert [m.name for m in ip.user_ns["loaded"]] == ["llama3.2:latest"]  # the chat above loaded it
    assert "llama3.2:latest" in capsys.readouterr().out


def test_pull_subcommand_ends_with_success_and_a_missing_model_fails_short(ip: InteractiveShell, capsys: Any) -> None:
    assert run(ip, "p = %ollama pull tinyllama").success
    assert ip.user_ns["p"].status == "success"
    result = run(ip, "%ollama pull missing-thing")
    assert isinstance(result.error_in_exec, ollama_nb.StreamError)
    assert "file does not exist" in capsys.readouterr().out


def test_save_to_a_folder_that_does_not_exist_is_a_short_error(ip: InteractiveShell, tmp_path: Any, capsys: Any) -> None:
    run(ip, "%ollama_chat hello")
    result = run(ip, f"%ollama save {tmp_path}/no/such/folder/s.json")
    assert isinstance(result.error_in_exec, ollama_nb.OllamaError)
    out = capsys.readouterr().out
    assert "cannot write the session" in out and "Traceback" not in out
    result = run(ip, f"%ollama load {tmp_path}")  # a folder, not a file
    assert isinstance(result.error_in_exec, ollama_nb.OllamaError)


@pytest.mark.parametrize("written", ["127.0.0.1:{port}", "http://127.0.0.1:{port}/", " 127.0.0.1:{port} "])
def test_one_host_written_any_way_keeps_the_sessions_connection_pool(
    ip: InteractiveShell, simulator: Any, written: str
) -> None:
    magics = ip.magics_manager.registry["OllamaMagics"]
    magics.host = written.format(port=simulator.port)
    assert run(ip, "%ollama_chat hello").success
    session = _session.get_session()
    client = session.client
    for line in ["%ollama history", "%ollama timings", "%ollama models", "%ollama ps", "%ollama_chat again"]:
        assert run(ip, line).success, line
        assert _session.get_session() is session and session.client is client, line
        assert not client.is_closed, line
    assert session.host == simulator.url


def test_every_magic_finds_its_session_through_session_for(ip: InteractiveShell, simulator: Any) -> None:
    magics = ip.magics_manager.registry["OllamaMagics"]
    session = magics.session_for("other", simulator.url)
    assert session is _session.get_session("other") and session.host == simulator.url
    assert run(ip, "%ollama_chat --session other hi").success
    assert len(session.turns) == 1
    assert run(ip, "%ollama reset --session other").success
    assert session.turns == []


@pytest.mark.parametrize(
    ("source", "usage"),
    [
        ("%ollama save", "%ollama save PATH [--force] [--session NAME]"),
        ("%ollama history extra", "%ollama history [--session NAME]"),
        ("%ollama show a b", "%ollama show NAME [--session NAME]"),
        ("%ollama reset --session", "%ollama reset [--session NAME]"),
        ("%ollama models --bogus", "%ollama models [--session NAME]"),
        ("%ollama resume", "%ollama resume NAME"),
    ],
)
def test_every_subcommand_is_parsed_the_same_way(ip: InteractiveShell, source: str, usage: str) -> None:
    from IPython.core.error import UsageError

    error = run(ip, source).error_in_exec
    assert isinstance(error, UsageError)
    assert str(error).endswith(f"; usage is {usage}") and "\n" not in str(error)


def test_a_subcommands_data_is_returned_and_shown_once(ip: InteractiveShell, capsys: Any) -> None:
    result = run(ip, "%ollama models")
    assert result.success and "llama3.2:latest" in capsys.readouterr().out
    assert [m.name for m in result.result][:1] == ["llama3.2:latest"]
    from ollama_nb.magics._subcommands import QuietList

    assert type(result.result) is QuietList  # displayed as a table once, no Out[n] repr after it
    ip.display_formatter.format(result.result)  # and formatting it shows nothing more
    assert capsys.readouterr().out == ""
