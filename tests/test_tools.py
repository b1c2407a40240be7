"""Tests for ollama_nb._tools: function -> tool schema, wire tool calls, running them safely."""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import pathlib
import subprocess
import sys
from typing import Annotated, Any, Dict, List, Literal, Optional, Sequence, TypedDict, Union

import pytest

from ollama_nb._errors import OllamaError
from ollama_nb._tools import (
    DEFAULT_MAX_TOOL_ROUNDS,
    ToolCall,
    ToolError,
    ToolResult,
    run_tool_call,
    tool_schema,
    tools_by_name,
)

# The tool in the Ollama docs (chat_stream_with_tools_request.json / chat_tool_result_request.json).
DOCS_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a given city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city to get the weather for"}
            },
            "required": ["city"],
        },
    },
}


def get_weather(city: str) -> str:
    """Get the weather in a given city

    Args:
        city: The city to get the weather for
    """
    return "11 degrees celsius"


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Shape(enum.Enum):
    SQUARE = (4, "sides")
    TRIANGLE = (3, "sides")


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str = ""


class Address(TypedDict):
    street: str
    number: int


def params_of(func: Any) -> dict[str, Any]:
    return tool_schema(func)["function"]["parameters"]


# ---------------------------------------------------------------- tool_schema: shape and docs


def test_schema_matches_the_ollama_docs_example_exactly() -> None:
    assert tool_schema(get_weather) == DOCS_TOOL
    assert json.dumps(tool_schema(get_weather)) == json.dumps(DOCS_TOOL)  # key order too


def test_description_is_the_first_paragraph_joined_on_one_line() -> None:
    def search(query: str) -> str:
        """Search the notes
        for a phrase.

        More detail that the model does not need.
        """
        return ""

    assert tool_schema(search)["function"]["description"] == "Search the notes for a phrase."


def test_missing_docstring_gives_empty_description_and_no_parameter_descriptions() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    schema = tool_schema(add)
    assert schema["function"]["description"] == ""
    assert schema["function"]["parameters"]["properties"] == {
        "a": {"type": "integer"},
        "b": {"type": "integer"},
    }


def test_docstring_that_is_only_an_args_section_has_empty_description() -> None:
    def f(x: int) -> int:
        """Args:
        x: the x
        """
        return x

    assert tool_schema(f)["function"]["description"] == ""


def test_google_args_with_types_in_parentheses_and_continuation_lines() -> None:
    def book(city: str, nights: int = 1, *, late: bool = False) -> str:
        """Book a hotel.

        Args:
            city (str): Where to stay,
                for example Paris.
            nights (int, optional): How many nights.
            late: Whether check-in is after 22:00.

        Returns:
            A confirmation code.
        """
        return ""

    props = params_of(book)["properties"]
    assert props["city"]["description"] == "Where to stay, for example Paris."
    assert props["nights"]["description"] == "How many nights."
    assert props["late"]["description"] == "Whether check-in is after 22:00."
    assert tool_schema(book)["function"]["description"] == "Book a hotel."


def test_rest_param_fields_are_parsed() -> None:
    def convert(amount: float, currency: str) -> float:
        """Convert money to euros.

        :param amount: How much money.
        :param str currency: ISO code,
            such as USD.
        :returns: the amount in euros
        """
        return amount

    props = params_of(convert)["properties"]
    assert props["amount"]["description"] == "How much money."
    assert props["currency"]["description"] == "ISO code, such as USD."
    assert tool_schema(convert)["function"]["description"] == "Convert money to euros."


def test_numpy_parameters_section_is_parsed() -> None:
    def area(width: float, height: float) -> float:
        """Area of a rectangle.

        Parameters
        ----------
        width : float
            Width in metres.
        height : float
            Height in metres,
            never negative.

        Returns
        -------
        float
            The area.
        """
        return width * height

    props = params_of(area)["properties"]
    assert props["width"]["description"] == "Width in metres."
    assert props["height"]["description"] == "Height in metres, never negative."
    assert tool_schema(area)["function"]["description"] == "Area of a rectangle."


def test_epytext_params_and_a_section_right_after_the_summary_are_parsed() -> None:
    def f(a: int, b: int) -> int:
        """Add numbers.
        Args:
            a: first one: the left side
        @param b: second one
        """
        return a + b

    schema = tool_schema(f)
    assert schema["function"]["description"] == "Add numbers."
    props = schema["function"]["parameters"]["properties"]
    assert props["a"]["description"] == "first one: the left side"
    assert props["b"]["description"] == "second one"


def test_parameters_missing_from_the_docstring_get_no_description() -> None:
    def f(a: int, b: int) -> int:
        """Add.

        Args:
            a: documented
        """
        return a + b

    assert params_of(f)["properties"]["b"] == {"type": "integer"}


def test_annotated_string_is_a_parameter_description_and_wins_over_the_docstring() -> None:
    def greet(name: Annotated[str, "Who to greet"], loud: Annotated[bool, 3] = False) -> str:
        """Greet someone.

        Args:
            name: docstring text
        """
        return name

    props = params_of(greet)["properties"]
    assert props["name"] == {"type": "string", "description": "Who to greet"}
    assert props["loud"] == {"type": "boolean"}


# ---------------------------------------------------------------- tool_schema: types


def test_unannotated_parameters_are_strings() -> None:
    def echo(text, times=2):  # type: ignore[no-untyped-def]
        return text

    params = params_of(echo)
    assert params["properties"] == {"text": {"type": "string"}, "times": {"type": "string"}}
    assert params["required"] == ["text"]


def test_scalar_types_map_to_json_schema_types() -> None:
    def f(s: str, i: int, x: float, b: bool, a: Any) -> None:
        """F."""

    assert params_of(f)["properties"] == {
        "s": {"type": "string"},
        "i": {"type": "integer"},
        "x": {"type": "number"},
        "b": {"type": "boolean"},
        "a": {"type": "string"},
    }


def test_containers_map_to_array_and_object_with_item_types() -> None:
    def f(
        tags: list[str],
        ids: List[int],
        pair: tuple[float, ...],
        seen: set[str],
        names: Sequence[str],
        raw: list,  # type: ignore[type-arg]
        meta: dict[str, int],
        extra: Dict[str, Any],
        mixed: tuple[int, str],
    ) -> None:
        """F."""

    props = params_of(f)["properties"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["ids"] == {"type": "array", "items": {"type": "integer"}}
    assert props["pair"] == {"type": "array", "items": {"type": "number"}}
    assert props["seen"] == {"type": "array", "items": {"type": "string"}}
    assert props["names"] == {"type": "array", "items": {"type": "string"}}
    assert props["raw"] == {"type": "array"}
    assert props["meta"] == {"type": "object"}
    assert props["extra"] == {"type": "object"}
    assert props["mixed"] == {"type": "array"}


def test_optional_and_none_union_are_not_required_and_keep_the_inner_type() -> None:
    def f(a: Optional[int], b: str | None, c: Union[None, float], d: int) -> None:
        """F."""

    params = params_of(f)
    assert params["properties"]["a"] == {"type": "integer"}
    assert params["properties"]["b"] == {"type": "string"}
    assert params["properties"]["c"] == {"type": "number"}
    assert params["required"] == ["d"]


def test_union_of_several_types_becomes_a_type_list() -> None:
    def f(x: int | str, y: Union[int, float, None]) -> None:
        """F."""

    props = params_of(f)["properties"]
    assert props["x"] == {"type": ["integer", "string"]}
    assert props["y"] == {"type": ["integer", "number"]}


def test_defaults_make_parameters_optional_and_required_keeps_signature_order() -> None:
    def f(b: int, a: int, c: int = 3, *, d: str, e: str = "x") -> None:
        """F."""

    assert params_of(f)["required"] == ["b", "a", "d"]


def test_keyword_only_and_positional_only_parameters_are_included() -> None:
    def f(a: int, /, b: int, *, c: int) -> None:
        """F."""

    params = params_of(f)
    assert list(params["properties"]) == ["a", "b", "c"]
    assert params["required"] == ["a", "b", "c"]


def test_star_args_and_star_kwargs_are_skipped() -> None:
    def f(a: int, *args: int, b: int = 0, **kwargs: Any) -> None:
        """F."""

    assert list(params_of(f)["properties"]) == ["a", "b"]


def test_literal_becomes_an_enum_with_its_value_type() -> None:
    def f(unit: Literal["c", "f"], level: Literal[1, 2, 3], maybe: Literal["a", None] = None) -> None:
        """F."""

    props = params_of(f)["properties"]
    assert props["unit"] == {"type": "string", "enum": ["c", "f"]}
    assert props["level"] == {"type": "integer", "enum": [1, 2, 3]}
    assert props["maybe"] == {"type": "string", "enum": ["a"]}


def test_enum_subclasses_become_enums_of_values_or_names() -> None:
    def f(color: Color, level: Level, shape: Shape) -> None:
        """Paint.

        Args:
            color: The paint colour.
        """

    props = params_of(f)["properties"]
    assert props["color"] == {"type": "string", "description": "The paint colour.", "enum": ["red", "green"]}
    assert props["level"] == {"type": "integer", "enum": [1, 2]}
    assert props["shape"] == {"type": "string", "enum": ["SQUARE", "TRIANGLE"]}


def test_dataclass_and_typeddict_parameters_become_nested_objects() -> None:
    def f(where: Point, address: Address) -> None:
        """F."""

    props = params_of(f)["properties"]
    assert props["where"] == {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number"}, "label": {"type": "string"}},
        "required": ["x", "y"],
    }
    assert props["address"] == {
        "type": "object",
        "properties": {"street": {"type": "string"}, "number": {"type": "integer"}},
        "required": ["street", "number"],
    }


def test_schema_is_plain_json_that_survives_a_round_trip_unchanged() -> None:
    def f(color: Color, where: Point, tags: list[str] | None = None) -> None:
        """F."""

    schema = tool_schema(f)
    # equal after a JSON round trip: no tuples, Enum members or other Python-only values inside
    assert json.loads(json.dumps(schema)) == schema
    props = schema["function"]["parameters"]["properties"]
    assert props["color"]["enum"] == ["red", "green"] and all(type(v) is str for v in props["color"]["enum"])
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}


def test_future_annotations_module_hints_resolve() -> None:
    # This test module uses `from __future__ import annotations`: every hint is a string.
    def f(color: Color, n: Optional[int] = None) -> None:
        """F."""

    assert f.__annotations__["color"] == "Color"
    assert params_of(f)["properties"]["color"]["enum"] == ["red", "green"]


def test_unresolvable_return_hint_does_not_stop_the_parameters_resolving() -> None:
    def f(n: int) -> NotDefinedAnywhere:  # type: ignore[name-defined]  # noqa: F821
        """F."""

    assert params_of(f)["properties"] == {"n": {"type": "integer"}}


def test_unresolvable_parameter_hint_is_a_clear_tool_error() -> None:
    class Local(enum.Enum):
        A = "a"

    def f(x: Local) -> None:
        """F."""

    with pytest.raises(ToolError, match=r"cannot resolve the type hint 'Local' of parameter 'x' of f\(\)"):
        tool_schema(f)


def test_type_a_model_cannot_send_is_a_clear_tool_error() -> None:
    import datetime

    def f(when: datetime.datetime) -> None:
        """F."""

    f.__annotations__["when"] = datetime.datetime  # resolved, so the type itself is the problem
    with pytest.raises(ToolError, match=r"parameter 'when' of f\(\) has type datetime, which a model cannot send"):
        tool_schema(f)


def test_partial_uses_the_wrapped_name_and_docstring_and_hides_bound_arguments() -> None:
    def convert(amount: float, rate: float) -> float:
        """Convert with a rate."""
        return amount * rate

    schema = tool_schema(functools.partial(convert, rate=0.9))
    assert schema["function"]["name"] == "convert"
    assert schema["function"]["description"] == "Convert with a rate."
    assert schema["function"]["parameters"]["required"] == ["amount"]


def test_bound_method_leaves_out_self() -> None:
    class Shop:
        def price(self, item: str) -> float:
            """Price of an item."""
            return 1.0

    assert params_of(Shop().price) == {
        "type": "object",
        "properties": {"item": {"type": "string"}},
        "required": ["item"],
    }


# ---------------------------------------------------------------- tool_schema: what cannot be a tool


def test_lambda_is_refused_because_it_has_no_name() -> None:
    with pytest.raises(ToolError, match="lambda has no name"):
        tool_schema(lambda x: x)


def test_builtin_without_signature_is_refused_with_a_hint() -> None:
    with pytest.raises(ToolError, match=r"cannot read the signature of .*wrap it in a def"):
        tool_schema(_builtin_without_signature())


def _builtin_without_signature() -> Any:
    import inspect

    for candidate in (getattr, min, max, iter, next, vars):
        try:
            inspect.signature(candidate)
        except ValueError:
            return candidate
    pytest.skip("every candidate builtin has a signature on this Python")


def test_class_not_callable_object_nameless_callable_and_async_are_refused() -> None:
    class Thing:
        pass

    class Callable_:
        def __call__(self, x: int) -> int:
            return x

    async def fetch(url: str) -> str:
        return url

    with pytest.raises(ToolError, match="is a class"):
        tool_schema(Thing)
    with pytest.raises(ToolError, match="must be a function"):
        tool_schema(42)  # type: ignore[arg-type]
    with pytest.raises(ToolError, match="no __name__"):
        tool_schema(Callable_())
    with pytest.raises(ToolError, match="async function"):
        tool_schema(fetch)


def test_tool_error_is_an_ollama_error_and_a_value_error() -> None:
    assert issubclass(ToolError, OllamaError)
    assert issubclass(ToolError, ValueError)


def test_tools_by_name_maps_names_and_refuses_duplicates() -> None:
    def ping() -> str:
        """Pong."""
        return "pong"

    assert tools_by_name([get_weather, ping]) == {"get_weather": get_weather, "ping": ping}

    def make() -> Any:
        def ping() -> str:
            return "other"

        return ping

    with pytest.raises(ToolError, match="two tools are named 'ping'"):
        tools_by_name([ping, make()])


def test_default_max_tool_rounds_is_a_small_positive_int() -> None:
    assert isinstance(DEFAULT_MAX_TOOL_ROUNDS, int) and 1 <= DEFAULT_MAX_TOOL_ROUNDS <= 10


# ---------------------------------------------------------------- ToolCall.from_wire / as_wire

DERIVED_LINE = (
    '{"model":"qwen3","created_at":"2025-01-01T00:00:00.2Z","message":{"role":"assistant","content":"",'
    '"tool_calls":[{"id":"call_a1b2c3d4","function":{"index":0,"name":"get_weather",'
    '"arguments":{"city":"Tokyo"}}}]},"done":false}'
)
DOCS_CALL = {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}


def test_from_wire_reads_the_current_server_shape_with_id_and_index() -> None:
    wire = json.loads(DERIVED_LINE)["message"]["tool_calls"][0]
    call = ToolCall.from_wire(wire)
    assert call == ToolCall(id="call_a1b2c3d4", name="get_weather", arguments={"city": "Tokyo"}, index=0)
    assert call.as_wire() == wire
    assert json.dumps(call.as_wire(), separators=(",", ":")) in DERIVED_LINE


def test_from_wire_reads_the_docs_shape_without_id_or_index() -> None:
    call = ToolCall.from_wire(DOCS_CALL)
    assert (call.id, call.index, call.name, call.arguments) == (None, None, "get_weather", {"city": "Tokyo"})
    assert call.as_wire() == DOCS_CALL


def test_from_wire_accepts_arguments_as_a_json_string() -> None:
    call = ToolCall.from_wire(
        {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1, "b": "2"}'}}
    )
    assert call.arguments == {"a": 1, "b": "2"}
    assert call.as_wire()["function"]["arguments"] == {"a": 1, "b": "2"}


@pytest.mark.parametrize("raw", [None, "", {}])
def test_from_wire_treats_missing_or_empty_arguments_as_no_arguments(raw: Any) -> None:
    assert ToolCall.from_wire({"function": {"name": "ping", "arguments": raw}}).arguments == {}
    assert ToolCall.from_wire({"function": {"name": "ping"}}).arguments == {}


def test_from_wire_copies_arguments_so_later_changes_to_the_wire_dict_do_not_leak() -> None:
    wire = {"function": {"name": "f", "arguments": {"a": 1}}}
    call = ToolCall.from_wire(wire)
    wire["function"]["arguments"]["a"] = 2  # type: ignore[index]
    assert call.arguments == {"a": 1}


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"function": "get_weather"}, "'function' must be an object"),
        ({"function": {"arguments": {}}}, "without a function name"),
        ({"function": {"name": "", "arguments": {}}}, "without a function name"),
        ({"function": {"name": "f", "arguments": '{"a": 1'}}, "not valid JSON"),
        ({"function": {"name": "f", "arguments": "[1, 2]"}}, "must be a JSON object"),
        ({"function": {"name": "f", "arguments": 7}}, "must be a JSON object"),
    ],
)
def test_from_wire_rejects_malformed_calls_with_a_tool_error(wire: Any, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        ToolCall.from_wire(wire)


def test_from_wire_ignores_an_index_that_is_not_an_integer() -> None:
    assert ToolCall.from_wire({"function": {"name": "f", "index": "0"}}).index is None
    assert ToolCall.from_wire({"function": {"name": "f", "index": True}}).index is None


def test_tool_call_is_frozen() -> None:
    call = ToolCall.from_wire(DOCS_CALL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.name = "other"  # type: ignore[misc]


# ---------------------------------------------------------------- run_tool_call and ToolResult


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id=None, name=name, arguments=arguments)


def test_result_message_matches_the_ollama_docs_history_exactly() -> None:
    # chat_tool_result_request.json: the third message.
    result = run_tool_call(ToolCall.from_wire({"function": {"name": "get_weather", "arguments": {"city": "Toronto"}}}),
                           {"get_weather": get_weather})
    assert result.ok and result.error is None
    assert result.as_message() == {"role": "tool", "content": "11 degrees celsius", "tool_name": "get_weather"}
    assert list(result.as_message()) == ["role", "content", "tool_name"]


def test_result_message_carries_the_call_id_when_the_server_sent_one() -> None:
    wire = json.loads(DERIVED_LINE)["message"]["tool_calls"][0]
    result = run_tool_call(ToolCall.from_wire(wire), {"get_weather": get_weather})
    assert result.as_message() == {
        "role": "tool",
        "content": "11 degrees celsius",
        "tool_name": "get_weather",
        "tool_call_id": "call_a1b2c3d4",
    }


def test_unknown_tool_becomes_an_error_result_listing_the_tools() -> None:
    result = run_tool_call(call("get_time"), {"get_weather": get_weather})
    assert not result.ok
    assert result.error == "ToolError: there is no tool named 'get_time'; the tools are: get_weather"
    assert "get_weather" in result.content and result.content.startswith("Error:")
    assert result.as_message()["tool_name"] == "get_time"


def test_exception_inside_the_tool_becomes_one_line_error_text() -> None:
    def divide(a: float, b: float) -> float:
        """Divide."""
        return a / b

    result = run_tool_call(call("divide", a=1, b=0), {"divide": divide})
    assert result.error == "ZeroDivisionError: float division by zero"
    assert "divide failed: ZeroDivisionError: float division by zero" in result.content
    assert "\n" not in result.content


def test_multi_line_and_very_long_exception_messages_are_flattened_and_shortened() -> None:
    def boom() -> None:
        raise RuntimeError("first line\nsecond line " + "x" * 2000)

    result = run_tool_call(call("boom"), {"boom": boom})
    assert result.error is not None
    assert result.error.startswith("RuntimeError: first line second line x")
    assert "\n" not in result.error and len(result.error) <= 500


def test_exception_without_message_shows_its_type() -> None:
    def fail() -> None:
        raise LookupError

    assert run_tool_call(call("fail"), {"fail": fail}).error == "LookupError"


def test_keyboard_interrupt_inside_a_tool_is_not_swallowed() -> None:
    def stop() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_tool_call(call("stop"), {"stop": stop})


def test_missing_required_argument_is_an_error_result_not_an_exception() -> None:
    result = run_tool_call(call("get_weather"), {"get_weather": get_weather})
    assert result.error == "TypeError: get_weather(): missing a required argument: 'city'"
    assert "corrected arguments" in result.content


def test_unexpected_argument_is_an_error_result_naming_the_real_arguments() -> None:
    result = run_tool_call(call("get_weather", city="Oslo", unit="c"), {"get_weather": get_weather})
    assert result.error == (
        "TypeError: get_weather(): got unexpected argument(s) 'unit'; the arguments are 'city'"
    )


def test_extra_arguments_go_to_star_kwargs_when_the_function_takes_them() -> None:
    def f(a: int, **rest: Any) -> dict[str, Any]:
        """F."""
        return {"a": a, **rest}

    assert run_tool_call(call("f", a="1", z=2), {"f": f}).content == '{"a": 1, "z": 2}'


@pytest.mark.parametrize(
    ("annotation_value", "sent", "received"),
    [
        ("int", "3", 3),
        ("int", " -12 ", -12),
        ("int", 4.0, 4),
        ("int", "5.0", 5),
        ("float", "2.5", 2.5),
        ("float", 2, 2.0),
        ("bool", "true", True),
        ("bool", "False", False),
        ("bool", 1, True),
        ("str", 42, "42"),
        ("str", "hi", "hi"),
    ],
)
def test_scalar_arguments_are_coerced_to_the_annotated_type(annotation_value: str, sent: Any, received: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(f"def f(v: {annotation_value}):\n    return repr(v)", namespace)
    result = run_tool_call(call("f", v=sent), {"f": namespace["f"]})
    assert result.ok, result.error
    assert result.content == repr(received)


@pytest.mark.parametrize(
    ("annotation_value", "sent", "expected"),
    [
        ("int", "abc", "must be an integer, got \"abc\""),
        ("int", 2.5, "must be an integer, got 2.5"),
        ("int", True, "must be an integer, got true"),
        ("float", "fast", "must be a number"),
        ("bool", "maybe", "must be true or false"),
        ("str", {"a": 1}, "must be a string"),
        ("list[int]", "1, 2", "must be a list"),
        ("list[int]", ["a"], "must be a list"),
        ("dict", [1], "must be an object"),
    ],
)
def test_arguments_that_cannot_be_coerced_are_an_error_result_and_the_tool_is_not_called(
    annotation_value: str, sent: Any, expected: str
) -> None:
    calls: list[Any] = []
    namespace: dict[str, Any] = {"calls": calls}
    exec(f"def f(v: {annotation_value}):\n    calls.append(v)", namespace)
    result = run_tool_call(call("f", v=sent), {"f": namespace["f"]})
    assert calls == []
    assert result.error is not None and result.error.startswith("TypeError: f(): argument 'v' ")
    assert expected in result.error


def test_container_arguments_are_coerced_item_by_item_and_from_json_text() -> None:
    seen: dict[str, Any] = {}

    def f(ids: list[int], pair: tuple[int, str], tags: set[str], meta: dict[str, float], raw: dict) -> None:  # type: ignore[type-arg]
        """F."""
        seen.update(ids=ids, pair=pair, tags=tags, meta=meta, raw=raw)

    result = run_tool_call(
        call("f", ids=["1", 2], pair=["3", "x"], tags=["a", "a"], meta={"k": "1.5"}, raw='{"x": [1]}'),
        {"f": f},
    )
    assert result.ok, result.error
    assert seen == {"ids": [1, 2], "pair": (3, "x"), "tags": {"a"}, "meta": {"k": 1.5}, "raw": {"x": [1]}}


def test_optional_argument_accepts_null_and_is_filled_with_none_when_left_out() -> None:
    def f(a: Optional[int], b: int | None = 7) -> str:
        """F."""
        return f"{a!r} {b!r}"

    functions = {"f": f}
    assert run_tool_call(call("f"), functions).content == "None 7"
    assert run_tool_call(call("f", a=None, b=None), functions).content == "None None"
    assert run_tool_call(call("f", a="2", b="3"), functions).content == "2 3"


def test_union_prefers_the_arm_the_value_already_is() -> None:
    def f(v: int | str) -> str:
        """F."""
        return repr(v)

    assert run_tool_call(call("f", v="12"), {"f": f}).content == "'12'"
    assert run_tool_call(call("f", v=12), {"f": f}).content == "12"


def test_enum_and_literal_arguments_are_matched_by_value_name_or_text() -> None:
    def paint(color: Color, level: Level, shape: Shape, unit: Literal["c", "f"], n: Literal[1, 2]) -> str:
        """Paint."""
        return f"{color.name} {level.name} {shape.name} {unit} {n!r}"

    functions = {"paint": paint}
    result = run_tool_call(call("paint", color="red", level="2", shape="SQUARE", unit="f", n="1"), functions)
    assert result.content == "RED HIGH SQUARE f 1"
    result = run_tool_call(call("paint", color="GREEN", level=1, shape="TRIANGLE", unit="c", n=2), functions)
    assert result.content == "GREEN LOW TRIANGLE c 2"
    bad = run_tool_call(call("paint", color="blue", level=1, shape="SQUARE", unit="c", n=1), functions)
    assert bad.error == 'TypeError: paint(): argument \'color\' must be one of "red", "green", got "blue"'
    bad = run_tool_call(call("paint", color="red", level=1, shape="SQUARE", unit="k", n=1), functions)
    assert bad.error == 'TypeError: paint(): argument \'unit\' must be one of "c", "f", got "k"'


def test_dataclass_and_typeddict_arguments_are_built_from_objects() -> None:
    def f(where: Point, address: Address) -> str:
        """F."""
        return f"{where!r} {address!r}"

    result = run_tool_call(call("f", where={"x": "1", "y": 2}, address={"street": "Main", "number": "5"}), {"f": f})
    assert result.content == "Point(x=1.0, y=2.0, label='') {'street': 'Main', 'number': 5}"
    bad = run_tool_call(call("f", where={"x": 1}, address={"street": "Main", "number": 5}), {"f": f})
    assert bad.error is not None and "argument 'where' must be Point" in bad.error


def test_unannotated_and_any_arguments_are_passed_through_unchanged() -> None:
    def f(a, b: Any) -> str:  # type: ignore[no-untyped-def]
        """F."""
        return f"{a!r} {b!r}"

    assert run_tool_call(call("f", a=[1], b={"x": None}), {"f": f}).content == "[1] {'x': None}"


def test_positional_only_parameters_are_passed_positionally() -> None:
    def f(a: int, b: int = 10, /, c: int = 100) -> int:
        """F."""
        return a + b + c

    assert run_tool_call(call("f", a="1"), {"f": f}).content == "111"
    assert run_tool_call(call("f", a=1, b=2, c=3), {"f": f}).content == "6"


def test_bound_methods_and_partials_run() -> None:
    class Counter:
        def __init__(self) -> None:
            self.n = 0

        def add(self, k: int) -> int:
            """Add k."""
            self.n += k
            return self.n

    counter = Counter()
    assert run_tool_call(call("add", k="2"), {"add": counter.add}).content == "2"

    def scale(x: float, factor: float) -> float:
        """Scale."""
        return x * factor

    assert run_tool_call(call("scale", x="2"), {"scale": functools.partial(scale, factor=3)}).content == "6.0"


def test_function_with_unresolvable_hints_still_runs_without_coercion() -> None:
    def f(x: Missing) -> str:  # type: ignore[name-defined]  # noqa: F821
        return repr(x)

    assert run_tool_call(call("f", x="3"), {"f": f}).content == "'3'"


def test_pydantic_model_parameter_gets_its_schema_and_is_validated() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Pet(pydantic.BaseModel):  # type: ignore[name-defined, misc]
        name: str
        age: int = 0

    def adopt(pet: Any) -> str:
        """Adopt a pet."""
        return f"{pet.name} {pet.age}"

    adopt.__annotations__["pet"] = Pet  # a local class: give the resolved type directly
    props = params_of(adopt)["properties"]
    assert props["pet"]["type"] == "object" and props["pet"]["required"] == ["name"]
    assert run_tool_call(call("adopt", pet={"name": "Rex", "age": "3"}), {"adopt": adopt}).content == "Rex 3"
    bad = run_tool_call(call("adopt", pet={"age": 1}), {"adopt": adopt})
    assert bad.error is not None and "argument 'pet' must be Pet" in bad.error
    assert run_tool_call(call("f"), {"f": lambda: Pet(name="a")}).content == '{"name":"a","age":0}'


def test_async_tool_is_reported_not_left_as_an_unawaited_coroutine() -> None:
    async def fetch() -> str:
        return "x"

    result = run_tool_call(call("fetch"), {"fetch": fetch})
    assert result.error == "TypeError: the tool is async; tools must be regular functions"


@dataclasses.dataclass
class Reading:
    city: str
    celsius: float


class Pretty:
    def __str__(self) -> str:
        return "pretty!"


class Plain:
    pass


class BadStr:
    def __str__(self) -> str:
        raise ValueError("no text")


class ModelLike:
    def model_dump_json(self) -> str:
        return '{"from":"pydantic"}'


@pytest.mark.parametrize(
    ("value", "content"),
    [
        ("as is", "as is"),
        ("", ""),
        ({"temp": 11, "unit": "°C"}, '{"temp": 11, "unit": "°C"}'),
        ([1, "two", None], '[1, "two", null]'),
        ((1, 2), "[1, 2]"),
        (None, "null"),
        (True, "true"),
        (3, "3"),
        (2.5, "2.5"),
        (Reading("Oslo", 3.5), '{"city": "Oslo", "celsius": 3.5}'),
        (Color.RED, "red"),
        (Pretty(), "pretty!"),
        (ModelLike(), '{"from":"pydantic"}'),
        ({(1, 2): "tuple key"}, "{(1, 2): 'tuple key'}"),
    ],
)
def test_return_values_become_text_for_the_model(value: Any, content: str) -> None:
    result = run_tool_call(call("f"), {"f": lambda: value})
    assert result.ok, result.error
    assert result.content == content


def test_plain_objects_fall_back_to_their_repr() -> None:
    result = run_tool_call(call("f"), {"f": Plain})
    assert result.content.startswith("<") and "Plain object" in result.content


def test_a_return_value_that_cannot_become_text_is_an_error_result() -> None:
    result = run_tool_call(call("f"), {"f": BadStr})
    assert result.error == "ValueError: no text"


def test_tool_result_is_frozen_and_ok_follows_error() -> None:
    result = ToolResult(call("f"), "text")
    assert result.ok and result.error is None
    assert not ToolResult(call("f"), "Error: x", "ValueError: x").ok
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.content = "other"  # type: ignore[misc]


def test_importing_tools_does_not_import_ipython_or_widgets() -> None:
    code = (
        "import sys, ollama_nb._tools, ollama_nb._images, ollama_nb._structured; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('IPython', 'ipywidgets', 'ipykernel')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = pathlib.Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
