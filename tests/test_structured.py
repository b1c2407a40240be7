"""Tests for ollama_nb._structured: the format argument and parsing the JSON a model wrote."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Optional, TypedDict

import pytest

from ollama_nb._errors import OllamaError
from ollama_nb._structured import StructuredOutputError, format_value, parse_json_reply

# generate_structured_outputs_response.json: "response" of the Ollama docs' structured-outputs example.
DOCS_REPLY = "{\n  \"age\": 22,\n  \"available\": true\n}"


# ---------------------------------------------------------------- parse_json_reply: good input


def test_docs_structured_reply_parses() -> None:
    assert parse_json_reply(DOCS_REPLY) == {"age": 22, "available": True}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  \n\t{\"a\": 1}\n\n", {"a": 1}),
        ("[1, 2, 3]", [1, 2, 3]),
        ('"just text"', "just text"),
        ("42", 42),
        ("-1.5", -1.5),
        ("true", True),
        ("null", None),
        ('{"emoji": "é 😀", "nested": {"list": [{}]}}', {"emoji": "é 😀", "nested": {"list": [{}]}}),
    ],
)
def test_any_json_value_with_surrounding_whitespace_parses(text: str, value: Any) -> None:
    assert parse_json_reply(text) == value


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"a": 1}\n```',
        '```JSON\n{"a": 1}\n```',
        '```\n{"a": 1}\n```',
        '  ```json\n{"a": 1}\n```  \n',
        '```json\r\n{"a": 1}\r\n```',
        'Here is the data you asked for:\n\n```json\n{"a": 1}\n```\nHope it helps.',
    ],
)
def test_a_single_fenced_block_is_unwrapped(text: str) -> None:
    assert parse_json_reply(text) == {"a": 1}


def test_json_containing_a_fence_inside_a_string_is_not_unwrapped() -> None:
    text = '{"code": "```json\\n{}\\n```"}'
    assert parse_json_reply(text) == {"code": "```json\n{}\n```"}


# ---------------------------------------------------------------- parse_json_reply: bad input


def test_invalid_json_reports_line_and_column_in_one_line_and_keeps_the_text() -> None:
    text = '{"a": 1 "b": 2}'
    with pytest.raises(StructuredOutputError) as info:
        parse_json_reply(text)
    error = info.value
    assert str(error) == (
        "the model's reply is not valid JSON (line 1, column 9): Expecting ',' delimiter near "
        "'\"b\": 2}'; try a lower temperature or a schema"
    )
    assert "\n" not in str(error)
    assert error.text == text
    assert (error.line, error.column) == (1, 9)  # type: ignore[attr-defined]
    assert isinstance(error.__cause__, json.JSONDecodeError)


def test_position_counts_lines_of_the_whole_reply_around_a_fence() -> None:
    text = 'Sure:\n```json\n{\n  "a": 1,\n  "b": oops\n}\n```'
    with pytest.raises(StructuredOutputError, match=r"\(line 5, column 8\): Expecting value near 'oops'") as info:
        parse_json_reply(text)
    assert info.value.text == text


def test_position_accounts_for_leading_whitespace() -> None:
    with pytest.raises(StructuredOutputError, match=r"\(line 3, column 9\): Expecting value near '}'"):
        parse_json_reply('\n\n  {"a": }')


def test_truncated_reply_says_it_ends_early() -> None:
    with pytest.raises(StructuredOutputError, match="the reply ends early .*num_predict"):
        parse_json_reply('{"name": "Ada", "born": 18')


def test_prose_instead_of_json_is_an_error_at_the_first_character() -> None:
    with pytest.raises(StructuredOutputError, match=r"\(line 1, column 1\): Expecting value near 'I think the answer is"):
        parse_json_reply("I think the answer is 42.")


def test_extra_data_after_the_json_is_an_error() -> None:
    with pytest.raises(StructuredOutputError, match="Extra data"):
        parse_json_reply('{"a": 1} {"b": 2}')


def test_two_fenced_blocks_are_not_guessed_between() -> None:
    text = '```json\n{"a": 1}\n```\nor\n```json\n{"a": 2}\n```'
    with pytest.raises(StructuredOutputError):
        parse_json_reply(text)


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_reply_is_an_error_keeping_the_text(text: str) -> None:
    with pytest.raises(StructuredOutputError, match="the model's reply is empty") as info:
        parse_json_reply(text)
    assert info.value.text == text


def test_non_string_reply_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="needs the reply text"):
        parse_json_reply(b'{"a": 1}')  # type: ignore[arg-type]


def test_structured_output_error_is_an_ollama_error_and_a_value_error() -> None:
    assert issubclass(StructuredOutputError, OllamaError)
    assert issubclass(StructuredOutputError, ValueError)


# ---------------------------------------------------------------- format_value


def test_json_and_none_pass_through() -> None:
    assert format_value("json") == "json"
    assert format_value(" JSON ") == "json"
    assert format_value(None) is None


def test_schema_dict_is_sent_as_a_plain_dict_copy() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    value = format_value(schema)
    assert value == schema and value is not schema


def test_schema_as_json_text_is_parsed() -> None:
    assert format_value('{"type": "object"}') == {"type": "object"}


class FakePydanticModel:
    """Looks like a pydantic v2 model class: a classmethod model_json_schema()."""

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        return {"title": "Pet", "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def test_pydantic_like_class_and_instance_give_their_schema() -> None:
    expected = FakePydanticModel.model_json_schema()
    assert format_value(FakePydanticModel) == expected
    assert format_value(FakePydanticModel()) == expected


@dataclasses.dataclass
class Person:
    name: str
    age: int
    email: Optional[str] = None


class Country(TypedDict):
    name: str
    capital: str


def test_dataclass_and_typeddict_give_object_schemas() -> None:
    assert format_value(Person) == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "email": {"type": "string"}},
        "required": ["name", "age"],
    }
    assert format_value(Country) == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "capital": {"type": "string"}},
        "required": ["name", "capital"],
    }


@pytest.mark.parametrize(
    ("fmt", "error", "message"),
    [
        ("yaml", ValueError, "format must be 'json', a JSON schema"),
        ("", ValueError, "format must be 'json'"),
        ('{"type": ', ValueError, "looks like a JSON schema but is not valid JSON"),
        ("[1]", ValueError, "format must be 'json'"),
        (42, TypeError, "format must be 'json', a JSON schema .* got int"),
        (["json"], TypeError, "got list"),
        ({"type": "object", "default": object()}, ValueError, "cannot be sent as JSON"),
    ],
)
def test_bad_format_values_are_refused_with_the_accepted_forms(fmt: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        format_value(fmt)


def test_model_json_schema_that_returns_a_non_dict_is_refused() -> None:
    class Broken:
        @classmethod
        def model_json_schema(cls) -> str:
            return "nope"

    with pytest.raises(TypeError, match=r"Broken.model_json_schema\(\) must be a JSON object"):
        format_value(Broken)


def test_real_pydantic_model_gives_its_schema() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Pet(pydantic.BaseModel):  # type: ignore[name-defined, misc]
        name: str

    assert format_value(Pet) == Pet.model_json_schema()
