"""Tests for ollama_nb._markdown: escaping untrusted Markdown, and freezing it while it streams."""

from __future__ import annotations

import html
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ollama_nb._markdown import _blocks
from ollama_nb._markdown import DEFAULT_THRESHOLD, MarkdownBlocks, escape_untrusted, url_is_safe

# ---------------------------------------------------------------------------------------------
# Helpers


def stream(
    text: str, sizes: list[int] | None, *, threshold: int, escape: bool = True, split_anywhere: bool = False
) -> tuple[list[str], MarkdownBlocks]:
    """Feed ``text`` in deltas of ``sizes`` (cycled; None: all at once); frozen blocks + final tail."""
    blocks = MarkdownBlocks(threshold, escape=escape, split_anywhere=split_anywhere)
    out: list[str] = []
    if sizes is None:
        out.extend(blocks.feed(text))
    else:
        pos = k = 0
        while pos < len(text):
            size = sizes[k % len(sizes)]
            out.extend(blocks.feed(text[pos : pos + size]))
            pos += size
            k += 1
    last = blocks.close()
    if last is not None:
        out.append(last)
    return out, blocks


def without_insertions(raw: str, inserted: list[tuple[int, str]]) -> str:
    """The raw text the stream received: the emitted text minus the lines a split added."""
    for at, added in sorted(inserted, reverse=True):
        assert raw[at : at + len(added)] == added
        raw = raw[:at] + raw[at + len(added) :]
    return raw


_OWN_TAG = re.compile(r"</?(?:pre|code)>")
_AUTOLINK = re.compile(r"<(?:https?://|mailto:)[^\s<>]*>|<[\w.+-]+@[\w.-]+>")


def live_markup(markdown: str) -> list[str]:
    """``<`` + letter, ``/``, ``!`` or ``?`` left in escaped prose (our own tags and safe autolinks aside)."""
    rest = _AUTOLINK.sub("", _OWN_TAG.sub("", markdown))
    return re.findall(r"<[A-Za-z/!?][^\s>]*", rest)


DOC = """# Reply

Some *prose* with `code`, a [link](https://ollama.com), a < b and x<y.

- item **one**
- item <b>two</b>

```python
def f(x):
    return "<b>" if x < 1 else x
```

| a | b |
|---|---|
| 1 | <i>2</i> |

1. first
2. second

~~~html
<img src=x onerror=alert(1)>
~~~

Done.
"""

# ---------------------------------------------------------------------------------------------
# escape_untrusted: HTML and URLs in prose

XSS = [
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x ONERROR=alert(1)>",
    "<script>alert(1)</script>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<details open ontoggle=alert(1)>",
    "<!-- comment --><img src=x onerror=alert(1)>",
    "<?xml x?>",
    "</p><img src=x onerror=alert(1)>",
    "<style>body{display:none}</style>",
    "line one\n<div onmouseover=alert(1)>\nline three",
    "    indented paragraph? <img src=x onerror=alert(1)>",
    "- list <img src=x onerror=alert(1)>",
    "> quote <img src=x onerror=alert(1)>",
    "# heading <img src=x onerror=alert(1)>",
    "| a | <img src=x onerror=alert(1)> |\n|---|---|",
    "<javascript:alert(1)>",
]


def reads_as(markdown: str) -> str:
    """The characters a reader sees, roughly: our tags dropped, entities decoded, blanks collapsed."""
    return " ".join(html.unescape(_OWN_TAG.sub("", markdown)).split())


@pytest.mark.parametrize("payload", XSS)
def test_raw_html_in_prose_is_shown_as_text(payload: str) -> None:
    escaped = escape_untrusted(payload)
    assert live_markup(escaped) == []
    assert reads_as(escaped) == " ".join(payload.split())


def test_image_with_onerror_becomes_text_that_reads_the_same() -> None:
    assert escape_untrusted("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)>"


@pytest.mark.parametrize(
    "markdown",
    [
        "[x](javascript:alert(1))",
        "![x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x]( javascript:alert(1) )",
        "[x](\njavascript:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](&#x6A;avascript:alert(1))",
        "[x](java&#x09;script:alert(1))",
        "[x](java&Tab;script:alert(1))",
        "[x](javascript&colon;alert(1))",
        "[x](<javascript:alert(1)>)",
        "[x](< javascript:alert(1)>)",
        "[x](\\javascript:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "![x](data:image/svg+xml,<svg onload=alert(1)>)",
        '[x](javascript:alert(1) "title")',
        "[x][1]\n\n[1]: javascript:alert(1)",
        "[x][1]\n\n[1]: <javascript:alert(1)>",
        "[x][1]\n\n[1]:\n  javascript:alert(1)",
        "[x][1]\n\n   [1]: JAVASCRIPT:alert(1) 'title'",
        "[x](ms-msdt:/id PCWDiagnostic)",
    ],
)
def test_unsafe_link_and_image_urls_stop_being_links(markdown: str) -> None:
    escaped = escape_untrusted(markdown)
    for m in re.finditer(r"\]\(|\]:", escaped):  # every link opener left points somewhere safe
        target = escaped[m.end() :].lstrip(" \t").removeprefix("\n").lstrip(" \t").split()[0]
        assert url_is_safe(target), (markdown, escaped)
    assert "]&#40;" in escaped or "]&#58;" in escaped


def test_unsafe_link_reads_the_same_but_is_not_a_link() -> None:
    assert escape_untrusted("[x](javascript:alert(1))") == "[x]&#40;javascript:alert(1))"
    assert escape_untrusted("[1]: javascript:alert(1)") == "[1]&#58; javascript:alert(1)"


@pytest.mark.parametrize(
    "markdown",
    [
        "[ok](https://ollama.com)",
        "[ok](http://example.com/a?b=1#c)",
        "[mail](mailto:me@example.com)",
        "[relative](./notes.md) and [fragment](#usage) and [root](/files/a.png)",
        "![plot](https://example.com/plot.png)",
        "[ref][1]\n\n[1]: https://ollama.com",
        "<https://ollama.com> and <me@example.com>",
        "Ratio: see https://ollama.com/library directly",
    ],
)
def test_safe_links_are_kept(markdown: str) -> None:
    assert escape_untrusted(markdown) == markdown


def test_link_title_keeps_working_without_a_raw_double_quote() -> None:
    assert escape_untrusted('[t](https://a.com "Title")') == "[t](https://a.com 'Title')"
    assert escape_untrusted('[1]: https://a.com "Title"') == "[1]: https://a.com 'Title'"


def test_url_is_safe_reads_urls_as_a_browser_does() -> None:
    for url in ["https://x", "HTTP://x", "mailto:a@b.c", "page.html", "./a:b", "#a:b", "?q=a:b", ""]:
        assert url_is_safe(url), url
    for url in ["javascript:x", " javascript:x", "\tjava\nscript:x", "JAVASCRIPT:x", "&#106;avascript:x",
                "javascript&colon;x", "java&#9;script:x", "jav\\ascript:x", "data:x", "vbscript:x",
                "file:///etc", "x:y"]:  # fmt: skip
        assert not url_is_safe(url), url


def test_reference_definition_that_could_run_over_lines_is_made_literal() -> None:
    # marked reads a label or title over several lines (a title even over blank lines), which
    # could swallow a following fence; such a line starts with \[ (it still shows "[").
    assert escape_untrusted("[a\nb]: /u") == "\\[a\nb]: /u"
    assert escape_untrusted("[a]: /u\n'title\ncontinued'").startswith("\\[a]: /u\n")
    assert escape_untrusted("[a]:\n/u").startswith("\\[a]")
    assert escape_untrusted("[a]: /u 'one line'") == "[a]: /u 'one line'"


# ---------------------------------------------------------------------------------------------
# escape_untrusted: ordinary Markdown reads the same


@pytest.mark.parametrize(
    "markdown",
    [
        "# Heading\n\n## Sub *emphasis* **strong** ~~gone~~",
        "- a\n- b\n  - nested\n\n1. one\n2. two",
        "| a | b |\n|:--|--:|\n| 1 | 2 |",
        "a < b, a <= b, 1 < 2, i < n, x -> y, <- left, a<2",
        "> quoted *text*\n> more",
        "Tom & Jerry, AT&T, &amp; &copy; &#60;script&#62;",
        "Math $x^2 + y$ and $$\\int f$$",
        "line with trailing spaces  \nnext\\\nthird",
        "---\n\n***",
        "Snake_case and 2*3*4",
    ],
)
def test_ordinary_markdown_is_unchanged(markdown: str) -> None:
    assert escape_untrusted(markdown) == markdown


def test_less_than_before_a_letter_becomes_an_entity_that_reads_the_same() -> None:
    assert escape_untrusted("x<y and a<b>c") == "x&lt;y and a&lt;b>c"


def test_double_quotes_in_prose_become_entities() -> None:
    assert escape_untrusted('He said "hi".') == "He said &quot;hi&quot;."


def test_ampersand_entities_are_left_alone_since_they_render_as_text() -> None:
    text = "&lt;script&gt;alert(1)&lt;/script&gt; and &#60;img src=x onerror=alert(1)&#62;"
    assert escape_untrusted(text) == text


def test_backslash_escaped_less_than_becomes_an_entity_too() -> None:
    # A bare URL just before it would swallow the backslash in marked (GFM autolink).
    assert escape_untrusted("https://x.y\\<b>bold</b>") == "https://x.y&lt;b>bold&lt;/b>"
    assert escape_untrusted("\\\\<b> stays a backslash") == "\\\\&lt;b> stays a backslash"
    assert escape_untrusted('say \\"hi\\"') == "say &quot;hi&quot;"


def test_line_endings_become_newlines() -> None:
    assert escape_untrusted("a\r\nb\rc") == "a\nb\nc"


# ---------------------------------------------------------------------------------------------
# escape_untrusted: code


@pytest.mark.parametrize(
    "markdown",
    [
        "```python\nx = '<b>' if a < b else \"<i>\"\n```",
        "```python\n<script>alert(1)</script>\n```\n",
        "````markdown\n```python\nprint('inner fence')\n```\n````",
        "~~~html\n<img src=x onerror=alert(1)>\n~~~",
        "~~~~ html {.class}\n<b>x</b>\n~~~~",
        "```js\n[x](javascript:alert(1))\n$a\" b$\n```",
        "text\n```c\n#include <stdio.h>\n```\nmore text",
        "```\nplain, no html\n```",
        "   ```\nindented fence, clean content\n   ```",
        "    indented code, clean\n    second line",
        "Use `x = 1` and `` a ` b `` and ```` ``` ````",
        "`[x](https://ok)` and `a & b`",
    ],
)
def test_code_is_kept_byte_for_byte(markdown: str) -> None:
    assert escape_untrusted(markdown) == markdown


def test_unclosed_fence_is_code_to_the_end_and_gets_its_closing_line() -> None:
    assert escape_untrusted("```python\nx = '<b>'\n") == "```python\nx = '<b>'\n```\n"
    assert escape_untrusted("~~~~js\n<b>") == "~~~~js\n<b>\n~~~~"
    assert escape_untrusted("text\n\n```") == "text\n\n```\n```"


def test_fence_closes_only_on_a_long_enough_run_of_its_own_character() -> None:
    text = "````md\n```\n~~~~\n<b>still code</b>\n````\n<b>prose</b>"
    escaped = escape_untrusted(text)
    assert escaped.endswith("\n&lt;b>prose&lt;/b>")
    assert "&lt;b&gt;still code&lt;/b&gt;" in escaped  # fence-like lines inside: written as HTML


def test_code_that_could_be_read_as_html_is_written_as_inert_html() -> None:
    # A fence-like line inside: marked might close some other fence there, so HTML inside is not kept.
    assert escape_untrusted("````md\n```html\n<b>x</b>\n```\n````") == (
        "<pre><code>&#96;&#96;&#96;html&#10;&lt;b&gt;x&lt;/b&gt;&#10;&#96;&#96;&#96;&#10;</code></pre>"
    )
    assert escape_untrusted("Use `<div>` here") == "Use <code>&lt;div&gt;</code> here"
    assert escape_untrusted("`` <a href=\"x\"> ``") == "<code>&lt;a href=&quot;x&quot;&gt;</code>"
    pre = "<pre><code>&lt;b&gt;x&lt;/b&gt;&#10;</code></pre>"
    assert escape_untrusted("```\n<b>x</b>\n```") == pre  # no language: not anchored
    assert escape_untrusted("  ```js\n  <b>x</b>\n  ```\n") == "  " + pre + "\n"  # indented
    assert escape_untrusted("para\n\n    <b>x</b>\n") == "para\n\n" + pre + "\n"  # indented code


def test_inert_html_code_holds_no_markdown_math_or_markup() -> None:
    out = escape_untrusted("`<b>` $x$ `<i>[a](javascript:b)*c*$\\(`")
    inert = "<code>&lt;i&gt;&#91;a&#93;(javascript:b)&#42;c&#42;&#36;&#92;(</code>"
    assert out == "<code>&lt;b&gt;</code> $x$ " + inert


def test_code_span_matching_follows_commonmark() -> None:
    assert escape_untrusted("`a``b` <i>") == "`a``b` &lt;i>"
    assert escape_untrusted("``a`` `<i>") == "``a`` `&lt;i>"  # unmatched backtick: prose
    assert escape_untrusted("\\`<i>`") == "\\`&lt;i>`"  # escaped backtick opens nothing
    assert escape_untrusted("``` `<i>` ```") == "<code>`&lt;i&gt;`</code>".replace("`", "&#96;")


def test_fence_info_string_cannot_break_out_of_jupyterlab_class_attribute() -> None:
    # JupyterLab 4.6 writes the info string into class="language-…" without escaping it.
    out = escape_untrusted('```x" onmouseover="alert(1)\ncode\n```')
    assert out == '```x&quot; onmouseover=&quot;alert(1)\ncode\n```'
    out = escape_untrusted("```py\\\\(\ncode\n```")
    assert out.splitlines()[0] == "```py&#92;&#92;("


def test_quoted_code_span_on_a_line_marked_may_read_as_a_fence_is_written_as_html() -> None:
    # "- - ~~~~…": marked reads a nested list with a tilde fence whose info string holds the span.
    out = escape_untrusted('- - ~~~~`" onerror="alert(1)//`')
    assert out == "- - ~~~~<code>&quot; onerror=&quot;alert(1)//</code>"


def test_kept_code_with_a_quoted_fence_opener_inside_is_written_as_html() -> None:
    # Read without our list context, the inner line would be a fence with a quote in its info.
    out = escape_untrusted('- item\n\n    ```\n    > ~~~ x" onmouseover="alert(1)\n    ```')
    assert '" onmouseover' not in out


# ---------------------------------------------------------------------------------------------
# escape_untrusted: JupyterLab's math pre-pass


def test_math_cannot_carry_a_quote_into_an_image_alt_attribute() -> None:
    # JupyterLab pastes $…$ back into the HTML after Markdown, into alt="…" here.
    assert escape_untrusted('![$" onerror="alert(1)//$](x)') == '![$&quot; onerror=&quot;alert(1)//$](x)'


def test_math_delimiters_around_quoted_code_are_escaped() -> None:
    out = escape_untrusted('Cost $5\n```python\nprint("x")\n```\nand $6')
    assert out == 'Cost \\$5\n```python\nprint("x")\n```\nand \\$6'


def test_math_cannot_reach_into_an_anchored_fence() -> None:
    out = escape_untrusted("see \\\\( here\n```py\nx \\\\) <img src=x onerror=alert(1)>\n```")
    assert out.startswith("see \\\\&#40; here\n```py\n")


def test_math_in_paragraphs_without_quotes_in_code_is_left_to_render() -> None:
    text = "Energy $E = mc^2$.\n\n```python\nprint(\"E\")\n```\n\n$$a$$"
    assert escape_untrusted(text) == text


# ---------------------------------------------------------------------------------------------
# MarkdownBlocks: freezing


def test_frozen_blocks_plus_tail_equal_the_escaped_whole_for_any_delta_sizes() -> None:
    expected = escape_untrusted(DOC)
    rng = random.Random(7)
    patterns: list[list[int] | None] = [None, [1], [2, 3, 5], [rng.randint(1, 40) for _ in range(50)]]
    for threshold in (100, 300, DEFAULT_THRESHOLD):  # no fence or table longer than that
        for sizes in patterns:
            out, _ = stream(DOC, sizes, threshold=threshold)
            assert "".join(out) == expected, (threshold, sizes)


def test_blocks_freeze_at_the_last_blank_line_once_the_tail_is_long() -> None:
    blocks = MarkdownBlocks(threshold=20)
    assert blocks.feed("para one\n\n") == []
    assert blocks.feed("para two\n\npara") == ["para one\n\npara two\n\n"]
    assert blocks.tail == "para"
    assert blocks.feed(" three") == []
    assert blocks.close() == "para three"


def test_reply_of_n_characters_gives_about_n_over_threshold_blocks() -> None:
    text = "".join(f"Paragraph {i} with some words in it.\n\n" for i in range(400))
    for threshold in (200, 1000):
        out, _ = stream(text, [3], threshold=threshold)
        assert len(text) / threshold * 0.5 <= len(out) <= len(text) / threshold * 1.5 + 1


def test_tail_escapes_and_the_frozen_blocks_never_change() -> None:
    blocks = MarkdownBlocks(threshold=10)
    frozen = blocks.feed("<b>one</b>\n\n<i>two</i>\n\nthr")
    assert frozen == ["&lt;b>one&lt;/b>\n\n&lt;i>two&lt;/i>\n\n"]
    assert blocks.tail == "thr"
    blocks.feed("<ee")
    assert blocks.tail == "thr&lt;ee"


def test_long_fence_is_closed_and_reopened_with_the_same_fence_and_info_string() -> None:
    code = "".join(f"print({i}, '<b>')\n" for i in range(40))
    text = f"Intro\n\n~~~~python title=x\n{code}~~~~\n\nAfter\n"
    out, raw_blocks = stream(text, [4], threshold=100)
    assert len(out) > 3
    middle = [b for b in out if b.startswith("\n~~~~python title=x\n")]
    assert middle, out
    for block in out[:-1]:
        if "print(" in block:
            assert block.rstrip("\n").endswith("~~~~")  # closed in the frozen part
            assert "&lt;b" not in block  # kept as code (an anchored fence)
    joined = "".join(out)
    assert joined.count("~~~~python title=x") == joined.count("\n~~~~\n") >= 2
    raw, blocks = stream(text, [4], threshold=100, escape=False)
    assert without_insertions("".join(raw), blocks.inserted) == text
    assert "".join(out) == escape_untrusted("".join(raw))


def test_fence_split_keeps_escaping_consistent_for_code_that_is_not_anchored() -> None:
    code = "".join(f"  <b>{i}</b>\n" for i in range(30))
    text = f"- item\n\n  ```\n{code}  ```\n\n<i>after</i>\n"
    out, _ = stream(text, [5], threshold=60)
    raw, blocks = stream(text, [5], threshold=60, escape=False)
    assert "".join(out) == escape_untrusted("".join(raw))
    assert all(live_markup(block) == [] for block in out)


def test_table_stays_in_the_tail_then_splits_with_its_header_repeated() -> None:
    rows = "".join(f"| {i} | <i>{i}</i> |\n" for i in range(60))
    text = f"| num | html |\n|---:|---|\n{rows}\nAfter.\n"
    blocks = MarkdownBlocks(threshold=100)
    out: list[str] = []
    for ch in text[:150]:
        out.extend(blocks.feed(ch))
    assert out == []  # under 4 x threshold: one open table
    for ch in text[150:]:
        out.extend(blocks.feed(ch))
    out.append(blocks.close() or "")
    assert len(out) >= 3
    for block in out[1:]:
        if "<i>" in block or "&lt;i>" in block:
            assert block.startswith("\n| num | html |\n|---:|---|\n")
    raw, raw_blocks = stream(text, [1], threshold=100, escape=False)
    assert without_insertions("".join(raw), raw_blocks.inserted) == text
    assert "".join(out) == escape_untrusted("".join(raw))


def test_open_length_counts_received_text_not_lines_a_split_added() -> None:
    code = "".join(f"x = {i}\n" for i in range(50))
    rows = "".join(f"| {i} | {i} |\n" for i in range(80))
    text = f"Intro\n\n```python\n{code}```\n\n| a | b |\n|---|---|\n{rows}\nEnd"
    blocks = MarkdownBlocks(threshold=60, escape=False)
    received = 0
    frozen_raw = ""
    for k in range(0, len(text), 7):
        delta = text[k : k + 7]
        frozen_raw += "".join(blocks.feed(delta))
        received += len(delta)
        added = sum(len(add[: max(0, len(frozen_raw) - at)]) for at, add in blocks.inserted)
        assert len(frozen_raw) - added == received - blocks.open_length
    assert blocks.inserted  # the fence and the table were both cut


def test_ordered_list_split_between_items_keeps_numbers() -> None:
    text = "".join(f"{i}. item number {i}\n\n" for i in range(1, 30))
    out, _ = stream(text, [7], threshold=50)
    assert len(out) > 3
    assert any(block.lstrip().startswith(("2.", "3.", "4.", "5.", "6.")) for block in out[1:])


def test_blank_lines_inside_a_fence_are_not_freeze_points() -> None:
    text = "```python\n" + "x = 1\n\n" * 10 + "```\n"
    blocks = MarkdownBlocks(threshold=10_000)
    for ch in text:
        assert blocks.feed(ch) == []
    assert blocks.close() == text


def test_carriage_returns_split_across_deltas_become_one_newline() -> None:
    out, _ = stream("a\r\n\r\nb\r", [1], threshold=1)
    assert "".join(out) == "a\n\nb\n"


def test_cursor_is_typed_into_the_open_fence() -> None:
    blocks = MarkdownBlocks()
    blocks.feed("Text\n\n```html\n<b>")
    assert blocks.tail == "Text\n\n```html\n<b>\n```"
    assert blocks.tail_with_cursor(" ▍") == "Text\n\n```html\n<b> ▍\n```"
    assert MarkdownBlocks().tail_with_cursor() == ""


def test_close_returns_none_when_nothing_is_open_and_feed_after_close_fails() -> None:
    blocks = MarkdownBlocks()
    assert blocks.close() is None
    with pytest.raises(RuntimeError, match="closed"):
        blocks.feed("more")
    blocks = MarkdownBlocks(threshold=5)
    blocks.feed("abc\n\ndefgh\n\n")
    assert blocks.close() is None


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold"):
        MarkdownBlocks(0)


def test_escape_false_keeps_blocks_raw() -> None:
    out, _ = stream("<b>x</b>\n\n<i>y</i>\n\nz", [2], threshold=5, escape=False)
    assert "".join(out) == "<b>x</b>\n\n<i>y</i>\n\nz"


# ---------------------------------------------------------------------------------------------
# split_anywhere: lists, quotes and long paragraphs freeze too (for a view that re-shows the whole).


def _max_open(text: str, threshold: int, size: int = 3) -> tuple[list[str], int]:
    blocks = MarkdownBlocks(threshold, escape=False, split_anywhere=True)
    out: list[str] = []
    most = 0
    for k in range(0, len(text), size):
        out.extend(blocks.feed(text[k : k + size]))
        most = max(most, blocks.open_length)
    out.append(blocks.close() or "")
    return out, most


@pytest.mark.parametrize(
    "text",
    [
        "".join(f"- item {i} with a few words\n" for i in range(300)),
        "".join(f"- item {i}\n  1. sub {i}\n     - subsub {i}\n" for i in range(150)),
        "".join(f"> quoted line {i} of the text\n" for i in range(300)),
        "".join(f"A sentence number {i} of one long line. " for i in range(300)),
        "".join(f"a line {i} of one paragraph\n" for i in range(300)),
        "| a | b |\n|---|---|\n" + "".join(f"| {i} | cell {i} |\n" for i in range(300)),
    ],
    ids=["list", "nested-list", "quote", "one-line-paragraph", "wrapped-paragraph", "table"],
)
def test_split_anywhere_keeps_the_open_tail_short_for_text_without_blank_lines(text: str) -> None:
    out, most = _max_open(text, 200)
    assert most <= 2 * 200 + 60, most
    assert len(out) >= len(text) // 400
    blocks = MarkdownBlocks(200, escape=False, split_anywhere=True)
    raw = [*(b for k in range(0, len(text), 5) for b in blocks.feed(text[k : k + 5])), blocks.close() or ""]
    assert without_insertions("".join(raw), blocks.inserted) == text


def test_without_split_anywhere_a_long_list_stays_open() -> None:
    text = "".join(f"- item {i} with a few words\n" for i in range(300))
    _, most = _max_open(text, 200)
    blocks = MarkdownBlocks(200, escape=False)
    for k in range(0, len(text), 3):
        assert blocks.feed(text[k : k + 3]) == []
    assert most < blocks.open_length == len(text)


def test_split_anywhere_never_cuts_before_a_table_delimiter_or_a_setext_underline() -> None:
    blocks = MarkdownBlocks(5, escape=False, split_anywhere=True)
    out = blocks.feed("Title line\n=====\n") + blocks.feed("| a | b |\n|---|---|\n| 1 | 2 |\n")
    out += blocks.freeze_now()
    joined = "".join(out) + (blocks.close() or "")
    assert without_insertions(joined, blocks.inserted) == "Title line\n=====\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    for block in out:
        assert not block.startswith(("=====", "|---|"))


def test_freeze_now_leaves_only_the_unfinished_sentence_open() -> None:
    blocks = MarkdownBlocks(split_anywhere=True)
    assert blocks.feed("One sentence here. Another one there. And the thi") == []
    assert blocks.freeze_now() == ["One sentence here. Another one there. "]
    assert blocks.tail == "And the thi"
    assert blocks.freeze_now() == []


@pytest.mark.parametrize("seed", range(40))
def test_split_anywhere_loses_nothing_for_random_texts_and_deltas(seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 200)))
    blocks = MarkdownBlocks(rng.randint(1, 40), escape=False, split_anywhere=True)
    raw: list[str] = []
    pos = 0
    while pos < len(text):
        size = rng.randint(1, 9)
        raw.extend(blocks.feed(text[pos : pos + size]))
        if rng.random() < 0.2:
            raw.extend(blocks.freeze_now())
        pos += size
    raw.append(blocks.close() or "")
    assert without_insertions("".join(raw), blocks.inserted) == text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------------------------------------
# Property: for any text and any deltas, frozen + tail == escape of what was emitted.

FRAGMENTS = [
    "a", "b c", " ", "  ", "    ", "\t", "\n", "\n", "\n\n", "`", "``", "```", "```py", "~~~", "~~~~ sh",
    "  ```", "- ", "1. ", "> ", "# ", "|", "|---|", "<", "<b>", "<img src=x onerror=alert(1)>", "&", "&#106;",
    '"', "'", "$", "$$", "\\", "\\\\(", "\\\\)", "[", "]", "](", "]:", "(", ")", "javascript:alert(1)",
    "https://x.y", "*", "_", "---", "===", "\u00e9", "\r\n",
]  # fmt: skip


def _text_from(rng: random.Random) -> str:
    return "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 60)))


def _check_stream_property(text: str, sizes: list[int], threshold: int) -> None:
    out, _ = stream(text, sizes, threshold=threshold)
    raw, blocks = stream(text, sizes, threshold=threshold, escape=False)
    emitted = "".join(raw)
    assert without_insertions(emitted, blocks.inserted) == text.replace("\r\n", "\n").replace("\r", "\n")
    assert "".join(out) == escape_untrusted(emitted)
    if not blocks.inserted:
        assert "".join(out) == escape_untrusted(text)


try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is in the test extra
    given = None

if given is not None:

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        text=st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join),
        sizes=st.lists(st.integers(1, 25), min_size=1, max_size=8),
        threshold=st.integers(1, 80),
    )
    def test_any_text_streams_to_the_escape_of_what_was_emitted(text: str, sizes: list[int], threshold: int) -> None:
        _check_stream_property(text, sizes, threshold)


def test_seeded_random_texts_stream_to_the_escape_of_what_was_emitted() -> None:
    rng = random.Random(2024)
    for _ in range(300):
        text = _text_from(rng)
        sizes = [rng.randint(1, 25) for _ in range(rng.randint(1, 6))]
        _check_stream_property(text, sizes, rng.randint(1, 80))


# ---------------------------------------------------------------------------------------------
# Cost


def _tokens(count: int) -> list[str]:
    rng = random.Random(3)
    text = DOC * (count // 100 + 1)
    deltas, pos = [], 0
    while len(deltas) < count:
        size = rng.randint(1, 6)
        deltas.append(text[pos : pos + size])
        pos += size
    return deltas


def test_streaming_work_grows_linearly_with_the_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    escaped_chars = 0
    real = _blocks.escape_unit

    def counting(text: str, state: object) -> str:
        nonlocal escaped_chars
        escaped_chars += len(text)
        return real(text, state)  # type: ignore[arg-type]

    monkeypatch.setattr(_blocks, "escape_unit", counting)  # where MarkdownBlocks looks it up
    deltas = _tokens(100_000)
    blocks = MarkdownBlocks()
    frozen = 0
    for delta in deltas:
        frozen += len(blocks.feed(delta))
    blocks.close()
    total = sum(map(len, deltas))
    assert escaped_chars <= 1.05 * total + 200  # each character is escaped once, not once per delta
    assert total / DEFAULT_THRESHOLD * 0.5 <= frozen <= total / DEFAULT_THRESHOLD * 1.5


def test_core_module_does_not_import_ipython() -> None:
    code = "import sys, ollama_nb._markdown; print(any(m.split('.')[0] in ('IPython', 'ipywidgets') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------
# Optional: render through JupyterLab's own pipeline (marked + math pre-pass) with Node.

_STATIC = Path(sys.prefix) / "share" / "jupyter" / "lab" / "static"
_ORACLE_JS = r"""
// JupyterLab 4.x renderMarkdown for a trusted output: removeMath -> marked (+ gfmHeadingId,
// mangle, highlighting renderer that writes class="language-${lang}") -> replaceMath.
global.self = global;
const dir = process.argv[2];
const fs = require('fs');
for (const f of fs.readdirSync(dir)) if (f.endsWith('.js') && !f.startsWith('jlab_core') && !f.startsWith('main') && !f.startsWith('index') && !f.startsWith('style') && !f.startsWith('remoteEntry')) {
  const src = fs.readFileSync(dir + '/' + f, 'utf8');
  if (src.includes('gfmHeadingId:()=>') || src.includes('mangle:()=>') || src.includes('Lexer:()=>')) require(dir + '/' + f);
}
const modules = {};
for (const chunk of (self.rspackChunk_jupyterlab_application_top || self.webpackChunk_jupyterlab_application_top || [])) Object.assign(modules, chunk[1]);
const cache = {};
function load(id) {
  if (cache[id]) return cache[id];
  const exports = {}; cache[id] = exports;
  modules[id]({ exports }, exports, { r: () => {}, d: (t, defs) => { for (const k in defs) Object.defineProperty(t, k, { get: defs[k], enumerable: true }); } });
  return exports;
}
let markedModule = null, extensions = [];
for (const id of Object.keys(modules)) {
  const src = modules[id].toString();
  if (src.includes('Lexer:()=>') && src.includes('Renderer:()=>') && !markedModule) markedModule = load(id);
  else if (src.includes('gfmHeadingId:()=>')) extensions.push(load(id).gfmHeadingId());
  else if (src.includes('mangle:()=>')) extensions.push(load(id).mangle());
}
const { marked, Renderer } = markedModule;
for (const e of extensions) marked.use(e);
const esc = s => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const highlights = new Map();
const renderer = new Renderer(); const original = renderer.code;
renderer.code = e => { const h = highlights.get(e.lang + '\u0000' + e.text); return h != null ? h : original.call(renderer, e); };
const options = { async: true, gfm: true, renderer, walkTokens: async e => {
  if (e.type === 'code' && e.lang) highlights.set(e.lang + '\u0000' + e.text, `<pre><code class="language-${e.lang}">${esc(e.text)}</code></pre>`);
} };
const inline = '$';
const MATHSPLIT = /(\$\$?|\\(?:begin|end)\{[a-z]*\*?\}|\\[{}$]|[{}]|(?:\n\s*)+|@@\d+@@|\\\\(?:\(|\)|\[|\]))/i;
function processMath(i, j, pre, math, blocks) {
  let block = blocks.slice(i, j + 1).join('').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  while (j > i) { blocks[j] = ''; j--; }
  blocks[i] = '@@' + math.length + '@@'; math.push(pre(block)); return blocks;
}
function removeMath(text) {
  const math = []; let start = null, end = null, last = null, braces = 0, deTilde = t => t;
  if (text.includes('`') || text.includes('~~~')) {
    text = text.replace(/~/g, '~T')
      .replace(/^(?<fence>`{3,}|(~T){3,})[^`\n]*\n([\s\S]*?)^\k<fence>`*$/gm, w => w.replace(/\$/g, '~D'))
      .replace(/(^|[^\\])(`+)([^\n]*?[^`\n])\2(?!`)/gm, w => w.replace(/\$/g, '~D'));
    deTilde = t => t.replace(/~([TD])/g, (w, c) => c === 'T' ? '~' : inline);
  }
  let blocks = text.replace(/\r\n?/g, '\n').split(MATHSPLIT);
  for (let i = 1, m = blocks.length; i < m; i += 2) {
    const block = blocks[i];
    if (block.charAt(0) === '@') { blocks[i] = '@@' + math.length + '@@'; math.push(block); }
    else if (start !== null) {
      if (block === end) { if (braces) { last = i; } else { blocks = processMath(start, i, deTilde, math, blocks); start = end = last = null; } }
      else if (block.match(/\n.*\n/)) { if (last !== null) { i = last; blocks = processMath(start, i, deTilde, math, blocks); } start = end = last = null; braces = 0; }
      else if (block === '{') braces++; else if (block === '}' && braces) braces--;
    } else if (block === inline || block === '$$') { start = i; end = block; braces = 0; }
    else if (block === '\\\\(' || block === '\\\\[') { start = i; end = block.slice(-1) === '(' ? '\\\\)' : '\\\\]'; braces = 0; }
    else if (block.substr(1, 5) === 'begin') { start = i; end = '\\end' + block.substr(6); braces = 0; }
  }
  if (start !== null && last !== null) blocks = processMath(start, last, deTilde, math, blocks);
  return { text: deTilde(blocks.join('')), math };
}
function replaceMath(text, math) {
  return text.replace(/@@(\d+)@@/g, (m, n) => { let g = math[n];
    if (g.substr(0, 3) === '\\\\(' && g.substr(g.length - 3) === '\\\\)') g = '\\(' + g.substring(3, g.length - 3) + '\\)';
    else if (g.substr(0, 3) === '\\\\[' && g.substr(g.length - 3) === '\\\\]') g = '\\[' + g.substring(3, g.length - 3) + '\\]';
    return g; });
}
let input = '';
process.stdin.on('data', d => input += d);
process.stdin.on('end', async () => {
  const out = [];
  for (const s of JSON.parse(input)) { const p = removeMath(s); out.push(replaceMath(await marked(p.text, options), p.math)); }
  process.stdout.write(JSON.stringify(out));
});
"""

_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "code", "pre", "blockquote",
         "ul", "ol", "li", "input", "table", "thead", "tbody", "tr", "th", "td", "a", "img"}  # fmt: skip
_ATTRS = {"href", "src", "alt", "title", "id", "class", "start", "type", "checked", "disabled", "align"}


class _HtmlCheck(HTMLParser):
    """Everything in rendered HTML that is not plain Markdown output."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name not in _ATTRS:
                self.problems.append(f"{name}= on <{tag}>")
            elif name in ("href", "src") and value and not url_is_safe(value):
                self.problems.append(f"{name}={value!r}")

    handle_startendtag = handle_starttag


def _cannot_render(why: str) -> None:
    """Skip on a developer machine; fail under CI (CI=true), where scripts/test.sh installs node."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI=true and {why} (scripts/test.sh installs Debian's nodejs)", pytrace=False)
    pytest.skip(why)


def _render_in_jupyterlab(sources: list[str]) -> list[str]:
    """Render Markdown with JupyterLab's own marked and math pass (node); one HTML per source."""
    node = shutil.which("node")
    if node is None or not _STATIC.is_dir():
        _cannot_render("rendering through JupyterLab needs node and JupyterLab's static files")
    script = Path(os.environ.get("TMPDIR", "/tmp")) / f"ollama_nb_marked_oracle_{os.getpid()}.js"
    script.write_text(_ORACLE_JS)
    try:
        result = subprocess.run([node, str(script), str(_STATIC)], input=json.dumps(sources),
                                capture_output=True, text=True, timeout=60)
    finally:
        script.unlink(missing_ok=True)
    if result.returncode != 0:
        _cannot_render(f"could not load JupyterLab's marked: {result.stderr[-300:]}")
    return json.loads(result.stdout)


def _problems(html: str) -> list[str]:
    check = _HtmlCheck()
    check.feed(html)
    check.close()
    return check.problems


ATTACKS = XSS + [
    "[x](javascript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[1]: javascript:alert(1)\n\n[x][1]",
    '![$" onerror="alert(1)//$](x)',
    '```x" onmouseover="alert(1)\ncode\n```',
    "see \\\\( here\n```py\nx \\\\) <img src=x onerror=alert(1)>\n```",
    '[a]: /u "x\n```\n"\n<img src=x onerror=alert(1)>\n```',
    "[a]:\n```\n<img src=x onerror=alert(1)>\n```",
    "- a\n  ```\n<img src=x onerror=alert(1)>\n  ```",
    "`a\n# <img src=x onerror=alert(1)>\n`",
    '- item\n\n    ```\n    > ~~~ x" onmouseover="alert(1)\n    ```',
    "$a\n```$\n<img src=x onerror=alert(1)>",
    "`<img src=x onerror=alert(1)>` and ``<svg onload=alert(1)>``",
    "https://x.y\\<b onmouseover=alert(1)>bold</b>",
    "- - ~~~~`\" onerror=\"alert(1)//'  `",
]


def test_attacks_render_inert_through_jupyterlabs_own_markdown_pipeline() -> None:
    raw = _render_in_jupyterlab(ATTACKS)
    assert sum(1 for html in raw if _problems(html)) >= len(ATTACKS) // 2  # the check does see attacks
    escaped = _render_in_jupyterlab([escape_untrusted(a) for a in ATTACKS])
    assert {a: _problems(h) for a, h in zip(ATTACKS, escaped) if _problems(h)} == {}


def test_random_texts_render_inert_through_jupyterlab_in_every_frozen_block() -> None:
    rng = random.Random(11)
    units: list[str] = []
    for _ in range(150):
        text = _text_from(rng)
        units.append(escape_untrusted(text))
        out, blocks = stream(text, [rng.randint(1, 9)], threshold=rng.randint(5, 60))
        units.extend(out)
        out, blocks = stream(text, [rng.randint(1, 9)], threshold=rng.randint(5, 60), split_anywhere=True)
        units.extend(out)  # each piece is shown in an output of its own
        units.append("\n\n".join(out))  # or several, frozen by one drain of chunks, in one output
    rendered = _render_in_jupyterlab(units)
    assert [(u, _problems(h)) for u, h in zip(units, rendered) if _problems(h)] == []


# -- TeX that MathJax would turn into links and styles (measured in tests/browser) -----------------
#: MathJax typesets the rendered page: a command name right after a backslash is live there.
_LIVE_COMMAND = re.compile(r"\\(bbox|class|cssId|data|href|mmlToken|require|style|unicode)(?![A-Za-z])")
_SKIPPED_BY_MATHJAX = re.compile(r"<(code|pre)\b.*?</\1>", re.S)


def _live_commands(rendered: str) -> list[str]:
    """Attribute commands MathJax would read on the page (it skips ``<code>`` and ``<pre>``)."""
    return _LIVE_COMMAND.findall(html.unescape(_SKIPPED_BY_MATHJAX.sub("", rendered)))

TEX_ATTACKS = [
    r"$\href{https://evil.example/}{x}$",
    r"$\style{border:3em solid red}{x}$ and $\bbox[background:blue]{y}$",
    r"\$\href{https://evil.example/}{x}\$",  # no math for the pre-pass, but $…$ on the page
    r"\\(\class{a}{b} \cssId{c}{d} \data{e=f}{g} \unicode{65} \mmlToken{mi}{h}\\)",
    r"$$\require{html}\href{https://evil.example/}{x}$$",
    "$x `\\href{https://evil.example/}{x}` y$",  # math around kept code: the code is cut out as math
]


def test_tex_link_and_style_commands_reach_the_page_as_text_not_as_commands() -> None:
    raw = _render_in_jupyterlab(TEX_ATTACKS)
    assert all(_live_commands(h) for h in raw)  # the check sees them raw
    escaped = [escape_untrusted(a) for a in TEX_ATTACKS]
    rendered = _render_in_jupyterlab(escaped)
    assert {a: h for a, h in zip(TEX_ATTACKS, rendered) if _live_commands(h)} == {}
    for attack, h in zip(TEX_ATTACKS, rendered):  # still readable: the words, the math delimiters
        assert "href" in h or "style" in h or "class" in h, attack
    assert escape_untrusted(r"$\hrefx + \colorbox{red}{y}$") == r"$\hrefx + \colorbox{red}{y}$"  # others untouched


def test_a_backslash_command_in_code_outside_math_is_kept_as_written() -> None:
    assert escape_untrusted("use `\\href{url}{text}` for links") == "use `\\href{url}{text}` for links"
