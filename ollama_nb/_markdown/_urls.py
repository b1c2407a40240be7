"""Link and image URLs as a browser reads them: which may stay links.

Example:
    >>> text = "[a](https://x.y) [b](\tjava&#115;cript:alert(1))"
    >>> [destination_is_safe(text, m.end()) for m in LINK_MARK_RE.finditer(text)]
    [True, False]
"""

from __future__ import annotations

import html
import re

#: URL schemes a link or image may keep; relative URLs (no scheme) are kept too.
SAFE_URL_SCHEMES = frozenset({"http", "https", "mailto"})

#: Where a link destination or a reference definition's URL starts: ``](`` or ``]:``.
LINK_MARK_RE = re.compile(r"\](?:\(|:)")
_CONTROL_RE = re.compile(r"[\t\n\r]")
_BACKSLASH_ESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])")
_NON_SPACE_RE = re.compile(r"\S*")
_URL_LEADING = "".join(map(chr, range(33))) + "<"  # a browser drops C0 controls and spaces


def url_is_safe(url: str) -> bool:
    """True if a browser would not run or hand off ``url`` (http, https, mailto or relative).

    Example:
        >>> url_is_safe("https://ollama.com"), url_is_safe("#notes"), url_is_safe("JaVa&#115;cript:x")
        (True, True, False)
    """
    if "&" not in url and "\\" not in url:
        variants = {url}
    else:
        once = html.unescape(url)
        variants = {
            url,
            once,
            html.unescape(once),
            _BACKSLASH_ESCAPE_RE.sub(r"\1", url),
            html.unescape(_BACKSLASH_ESCAPE_RE.sub(r"\1", url)),
            _BACKSLASH_ESCAPE_RE.sub(r"\1", once),
        }
    for variant in variants:
        text = _CONTROL_RE.sub("", variant).lstrip(_URL_LEADING).lower()
        colon = text.find(":")
        if colon < 0:
            continue
        path = min((p for p in (text.find("/"), text.find("?"), text.find("#")) if p >= 0), default=len(text))
        if colon < path and text[:colon] not in SAFE_URL_SCHEMES:
            return False
    return True


def destination_is_safe(text: str, pos: int) -> bool:
    """Check the URL after ``](`` or ``]:`` ending at ``pos`` (it may start on the next line)."""
    n = len(text)
    while pos < n and text[pos] in " \t":
        pos += 1
    if pos < n and text[pos] == "\n":
        pos += 1
        while pos < n and text[pos] in " \t":
            pos += 1
    word = _NON_SPACE_RE.match(text, pos)
    candidates = [word.group() if word else ""]
    if text.startswith("<", pos):
        end = text.find(">", pos)
        stop = text.find("\n", pos)
        if end < 0 or (0 <= stop < end):
            end = stop if stop >= 0 else n
        candidates.append(text[pos : end + 1])
    return all(url_is_safe(candidate) for candidate in candidates)
