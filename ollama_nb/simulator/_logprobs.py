"""Token log-probabilities as Ollama sends them (``logprobs`` / ``top_logprobs`` requests).

Each streamed content or thinking chunk carries a top-level ``logprobs`` array with one
element per token, in ``api.Logprob`` field order: ``token``, ``logprob``, ``bytes`` (the
UTF-8 bytes of the token, omitted for an empty token) and ``top_logprobs`` (omitted when
``top_logprobs`` is 0), each alternative ``{"token","logprob","bytes"}``
(api/types.go:497-516, server/logprob.go:9-44). Numbers are written like Go's float64
(``-2.3841855e-7``, ``-0.1053``).

Values are deterministic: the same token at the same position always gets the same
logprob; the sampled token is the first alternative, and the alternatives' probabilities
add up to less than 1. A ``[[script=...]]`` token can fix its logprob and alternatives.

Example:
    >>> logprob_entry("Hi", 0, 0, ScriptToken("Hi", -2.3841855e-07))
    b'{"token":"Hi","logprob":-2.3841855e-7,"bytes":[72,105]}'
    >>> logprob_entry("<b>", 0, 1, ScriptToken("<b>", -0.1053)).count(b'"token"')
    2
"""

from __future__ import annotations

import hashlib
import math
import random

from ._directives import ScriptToken
from ._wire import go_float, json_string

__all__ = ["MAX_TOP_LOGPROBS", "logprob_entry", "logprobs_array"]

MAX_TOP_LOGPROBS = 20
_POOL = (" the", " a", " and", ".", ",", " of", " to", " is", " it", " that", " in", " you", " I",
         " simulated", " notebook", " cell", " sky", " blue", "!", "?", "\n", " model", " text",
         " value", " yes", " no", " on", " with", " for", " this", " The", " A", " We")


def _seed(token: str, position: int) -> int:
    digest = hashlib.sha256(f"{position}\0{token}".encode("utf-8", "replace")).digest()
    return int.from_bytes(digest[:8], "big")


def _generated(token: str, position: int, count: int) -> tuple[float, list[tuple[str, float]]]:
    """The token's logprob and ``count`` alternatives (the token first), all deterministic."""
    rng = random.Random(_seed(token, position))
    chosen = -round(0.0001 + rng.random() ** 3 * 1.05, 4)  # p >= 0.35: the sampled token leads
    if position % 11 == 5:
        chosen = -float(f"{rng.uniform(1.0, 9.9):.7f}e-7")  # some near-certain tokens: exponent form
    rest = 1.0 - math.exp(chosen)
    others = [t for t in _POOL if t != token]
    rng.shuffle(others)
    alternatives = [(token, chosen)]
    for k in range(1, count):
        alternatives.append((others[(k - 1) % len(others)], round(math.log(rest * 0.45 * 0.5 ** (k - 1)), 4)))
    return chosen, alternatives[:count]


def _item(token: str, logprob: float) -> bytes:
    head = b'{"token":' + json_string(token) + b',"logprob":' + go_float(logprob)
    if not token:
        return head + b"}"
    return head + b',"bytes":[' + b",".join(b"%d" % byte for byte in token.encode("utf-8")) + b"]}"


def logprob_entry(token: str, position: int, top_n: int, script: ScriptToken | None = None) -> bytes:
    """One ``logprobs`` element for ``token`` at ``position`` with ``top_n`` alternatives.

    Example:
        >>> logprob_entry("", 3, 0)
        b'{"token":"","logprob":-0.1847}'
    """
    chosen, alternatives = _generated(token, position, max(top_n, 1))
    if script is not None and script.logprob is not None:
        chosen = script.logprob
        alternatives[0] = (token, chosen)
    if script is not None and script.top is not None:
        given = list(script.top[:top_n])
        seen = {alt for alt, _ in given}
        alternatives = given + [alt for alt in alternatives if alt[0] not in seen][: top_n - len(given)]
    entry = _item(token, chosen)
    if top_n <= 0:
        return entry
    tops = b",".join(_item(alt, value) for alt, value in alternatives[:top_n])
    return entry[:-1] + b',"top_logprobs":[' + tops + b"]}"


def logprobs_array(entries: list[bytes]) -> bytes:
    """The ``[...]`` JSON array of already encoded elements.

    Example:
        >>> logprobs_array([b'{"token":"a","logprob":-1}'])
        b'[{"token":"a","logprob":-1}]'
    """
    return b"[" + b",".join(entries) + b"]"
