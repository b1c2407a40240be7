"""logprobs_html: tokens shaded by probability, alternatives in ``title``, hostile tokens stay text.

The output is parsed with the standard library's html.parser (the same tokenizer rules a browser
applies to tags and attributes): only the expected elements and attributes may exist, and every
token must come back, unescaped, as text or as part of a title.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest

from ollama_nb.view import logprobs_html
from ollama_nb.view._logprobs import _CONTAINER, _NOTE, token_probability

HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    '" onmouseover="window.__pwned=3" x="',
    "' onmouseover='window.__pwned=4' x='",
    "</span><img src=x onerror=window.__pwned=5>",
    "</div></div><script>window.__pwned=6</script>",
    "&lt;b&gt; &amp; &#60;",
    "line one\nline two",
    "  two spaces",
    "<!-- comment -->",
    "<style>*{display:none}</style>",
    "javascript:alert(1)",
]
SPAN_STYLE = re.compile(r"background-color: rgba\(255, 136, 0, [01](\.\d{1,2})?\); border-radius: 3px")
ALLOWED_STYLES = {"div": {_CONTAINER, _NOTE}}


@dataclass
class Parsed(HTMLParser):
    """Every start tag with its attributes, and the text of each token span."""

    tags: list[tuple[str, list[tuple[str, str | None]]]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    _open: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        HTMLParser.__init__(self, convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "span":
            self.spans.append({"attrs": dict(attrs), "text": ""})
        if tag == "br" and self._open and self._open[-1] == "span":
            self.spans[-1]["text"] += "\n"
        if tag != "br":
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self._open and self._open[-1] == tag, f"unbalanced </{tag}>"
        self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] == "span":
            self.spans[-1]["text"] += data

    def handle_comment(self, data: str) -> None:
        self.other.append(f"comment {data}")

    def handle_decl(self, decl: str) -> None:
        self.other.append(f"decl {decl}")

    def handle_pi(self, data: str) -> None:
        self.other.append(f"pi {data}")


def parse(markup: str) -> Parsed:
    parser = Parsed()
    parser.feed(markup)
    parser.close()
    assert not parser._open, "every element is closed"
    return parser


def item(token: str, logprob: float, *alternatives: tuple[str, float]) -> dict[str, Any]:
    return {"token": token, "logprob": logprob,
            "top_logprobs": [{"token": t, "logprob": lp} for t, lp in alternatives]}


def test_hostile_tokens_create_no_element_and_cannot_leave_the_title_attribute() -> None:
    items = [item(token, -0.5, (token, -0.5), (HOSTILE[(i + 1) % len(HOSTILE)], -1.5))
             for i, token in enumerate(HOSTILE)]
    parsed = parse(logprobs_html(items))
    assert {tag for tag, _ in parsed.tags} == {"div", "span", "br"}
    assert parsed.other == []
    for tag, attrs in parsed.tags:
        names = [name for name, _ in attrs]
        assert names == {"div": ["style"], "span": ["style", "title"], "br": []}[tag]
        for name, value in attrs:
            if name == "style" and tag == "span":
                assert value is not None and SPAN_STYLE.fullmatch(value), value
            elif name == "style":
                assert value in ALLOWED_STYLES[tag], value
    assert len(parsed.spans) == len(HOSTILE)
    for span, token, i in zip(parsed.spans, HOSTILE, range(len(HOSTILE)), strict=True):
        assert span["text"] == token  # the token comes back as text, exactly
        title = span["attrs"]["title"]
        next_token = HOSTILE[(i + 1) % len(HOSTILE)]
        assert title.startswith(_literal(token))  # the whole token is inside its own title
        assert _literal(next_token) in title and "alternatives:" in title


def _literal(token: str) -> str:
    import json

    return json.dumps(token, ensure_ascii=False)


def test_newlines_become_br_and_spaces_are_kept() -> None:
    markup = logprobs_html([item("a\nb", -0.1), item("  two", -0.1), item("c\r\nd", -0.1)])
    assert "a<br>b" in markup and "c<br>d" in markup and ">  two<" in markup
    assert "\n" not in markup.replace("&#10;", "")  # the titles carry newlines as &#10;


def test_shading_follows_probability_and_titles_show_percentages() -> None:
    parsed = parse(logprobs_html([item("sure", -0.0001), item("maybe", math.log(0.5)), item("odd", -9.0),
                                  {"token": "unknown", "logprob": None}]))
    alphas = [float(re.search(r", ([\d.]+)\)", s["attrs"]["style"]).group(1)) for s in parsed.spans]
    assert alphas[0] < alphas[1] < alphas[2] and alphas[3] == 0.0
    assert "50.0%" in parsed.spans[1]["attrs"]["title"]
    assert "1.2e-02%" in parsed.spans[2]["attrs"]["title"]  # exp(-9) = 0.0123 %
    assert "?" in parsed.spans[3]["attrs"]["title"]


def test_objects_with_attributes_work_like_wire_dicts() -> None:
    @dataclass(frozen=True)
    class Alt:
        token: str
        logprob: float

    @dataclass(frozen=True)
    class Tok:
        token: str
        logprob: float
        top_logprobs: tuple[Alt, ...] = ()

    as_objects = logprobs_html([Tok("Hi", -0.2, (Alt("Hi", -0.2), Alt("<b>", -3.0)))])
    as_dicts = logprobs_html([item("Hi", -0.2, ("Hi", -0.2), ("<b>", -3.0))])
    assert as_objects == as_dicts


@pytest.mark.parametrize("logprob,expected", [(0.0, 1.0), (0.5, 1.0), (None, None), (float("nan"), None),
                                              ("x", None), (True, None), (-math.inf, 0.0)])
def test_token_probability_of_odd_values(logprob: Any, expected: float | None) -> None:
    assert token_probability(logprob) == expected


def test_no_script_style_img_or_comment_markup_anywhere() -> None:
    markup = logprobs_html([item(t, -1.0, (t, -1.0)) for t in HOSTILE])
    lowered = markup.lower()
    assert "<script" not in lowered and "<style" not in lowered and "<img" not in lowered
    assert "<!--" not in lowered and "javascript:" in lowered  # the token is text, not a link
