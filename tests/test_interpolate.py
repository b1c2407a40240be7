"""``{name}`` interpolation: look-ups only, everything else left exactly as typed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ollama_nb._interpolate import interpolate

NS: dict[str, Any] = {
    "name": "Ada",
    "n": 3,
    "user": SimpleNamespace(name="Grace", _secret="hidden", profile=SimpleNamespace(city="Paris")),
    "doc": {"title": "Q3 report", "tags": ["a", "b"], "7": "seven-str"},
    "items": ["zero", "one", "two"],
    "nested": {"a": {"b": "deep"}},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello {name}", "Hello Ada"),
        ("{name}{name}", "AdaAda"),
        ("{n} items", "3 items"),
        ("{user.name}", "Grace"),
        ("{user.profile.city}", "Paris"),
        ("{doc[title]}", "Q3 report"),
        ("{doc['title']}", "Q3 report"),
        ('{doc["title"]}', "Q3 report"),
        ("{items[1]}", "one"),
        ("{doc[tags][0]}", "a"),
        ("{nested[a][b]}", "deep"),
        ("{doc['7']}", "seven-str"),
    ],
)
def test_names_attributes_and_items_are_replaced(text: str, expected: str) -> None:
    assert interpolate(text, NS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{literal}}", "{literal}"),
        ("{{name}}", "{name}"),
        ("{{ {name} }}", "{ Ada }"),
        ("a {{ b", "a { b"),
    ],
)
def test_doubled_braces_give_literal_braces(text: str, expected: str) -> None:
    assert interpolate(text, NS) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{undefined}",
        "{user.missing}",
        "{user._secret}",  # private attributes are never read
        "{user.__class__}",
        "{doc[nope]}",
        "{items[9]}",
        "{name.upper}x{nope}",
        "{1+1}",
        "{n + 1}",
        "{len(items)}",
        "{name!r}",
        "{n:>10}",
        "{a, b}",
        "{x for x in items}",
        "{}",
        "{ name }",
        "{",
        "}",
    ],
)
def test_undefined_names_and_expressions_are_left_as_typed(text: str) -> None:
    if text == "{name.upper}x{nope}":
        assert interpolate(text, NS).endswith("x{nope}")
    else:
        assert interpolate(text, NS) == text


def test_no_code_is_evaluated() -> None:
    calls: list[str] = []

    class Spy:
        @property
        def boom(self) -> str:  # a property is an attribute look-up: allowed
            calls.append("boom")
            return "ok"

        def method(self) -> str:
            calls.append("method")
            return "called"

    out = interpolate("{spy.boom} {spy.method()} {__import__('os')}", {"spy": Spy()})
    assert out == "ok {spy.method()} {__import__('os')}"
    assert calls == ["boom"]


def test_a_failing_lookup_is_left_as_typed_instead_of_raising() -> None:
    class Angry:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("nope")

        def __getitem__(self, key: Any) -> Any:
            raise KeyError(key)

    assert interpolate("{a.x} {a[1]}", {"a": Angry()}) == "{a.x} {a[1]}"


def test_values_are_inserted_once_not_interpolated_again() -> None:
    assert interpolate("{a}", {"a": "{b}", "b": "no"}) == "{b}"


@pytest.mark.parametrize(
    "text",
    [
        '{"model": "llama3.2", "stream": false}',
        'Return JSON like {"city": "Paris", "days": 2}',
        "def f(d):\n    return {k: v for k, v in d.items()}\n",
        "body { color: red; }",
        "s = {1, 2, 3}",
        "\\begin{document}",
        "for (int i = 0; i < n; i++) { total += i; }",
    ],
)
def test_json_and_code_with_braces_are_untouched(text: str) -> None:
    assert interpolate(text, NS) == text


@pytest.mark.parametrize(
    "text",
    [
        '{"a": {"b": 1}}',
        "cfg = {'outer': {'inner': 1}}",
        "if (x) { if (y) { run(); }}",
    ],
)
def test_nested_json_and_code_closing_two_braces_are_untouched(text: str) -> None:
    assert interpolate(text, NS) == text


def test_a_field_inside_json_is_still_replaced() -> None:
    assert interpolate('{"user": "{name}", "n": {n}}', NS) == '{"user": "Ada", "n": 3}'


def test_an_empty_namespace_changes_nothing_but_escapes() -> None:
    assert interpolate("{a} {b.c} {{d}}", {}) == "{a} {b.c} {d}"
