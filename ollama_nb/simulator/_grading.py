"""Structured answers that are right more often for some prompt and model pairs than for others.

With a ``format`` schema whose value (or a top-level property) is an ``enum``, the simulator picks
one of its values instead of always the first, so comparing prompts and models shows differences:

- The *right* label of a sentiment enum (``positive``/``negative``/``mixed``/``neutral``) comes
  from a small word list applied to the prompt: praise only → positive, complaints only →
  negative, both → mixed (else neutral); for any other enum there is no right value.
- The chance of answering the right label, the *skill*, depends on the model name and on cue
  phrases in the prompt (``step by step``, ``think``, ``carefully``, ``one word``, ``example``):
  each cue helps some models and hurts others, fixed by a hash of the model and the cue.
- Which label comes out for a given (model, prompt, seed) is fixed by a hash of the three, so a
  repeat with another seed may differ while the same request always answers the same.

Nothing here is a model: the numbers only let a comparison show real, repeatable differences.

Example:
    >>> schema = {"type": "object", "properties": {"label": {"enum": ["positive", "negative", "mixed"]}}}
    >>> graded(schema, {"label": "positive"}, model="llama3.2", text="Love it, works great.", seed=0)["label"] in (
    ...     "positive", "negative", "mixed")
    True
    >>> right_label(["positive", "negative", "mixed"], "Leaking lid, returned it.")
    'negative'
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

__all__ = ["graded", "right_label", "skill"]

_PRAISE = (
    "exactly what", "great", "love", "lasts", "works", "bright", "stays where", "fits a", "solid", "consistent",
    "quiet", "easy", "easily", "comfortable", "no blisters", "survived", "keeps", "no leaks", "worth", "sturdy",
    "compact", "dries quickly", "every weekend", "excellent", "perfect", "recommend",
)
_COMPLAINTS = (
    "leaking", "returned", "hurt", "flickers", "never answered", "tore", "jam", "tiny", "wore through", "stiff",
    "yellowed", "no longer", "metallic taste", "squeaks", "wobble", "missing", "loud", "burnt", "inside out",
    "cheap", "broke", "terrible", "awful", "disappointed",
)
_CUES = ("step by step", "think", "carefully", "one word", "example")


def _unit(*parts: Any) -> float:
    """A number in [0, 1) fixed by ``parts``."""
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8", "replace")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def right_label(values: Sequence[Any], text: str) -> Any:
    """The right value of a sentiment enum for ``text`` (None when the enum is not one)."""
    by_name = {str(v).lower(): v for v in values}
    if "positive" not in by_name or "negative" not in by_name:
        return None
    lowered = text.lower()
    praise = any(word in lowered for word in _PRAISE)
    complaint = any(word in lowered for word in _COMPLAINTS)
    if praise and complaint:
        return by_name.get("mixed", by_name.get("neutral"))
    if praise or complaint:
        return by_name["positive" if praise else "negative"]
    return by_name.get("neutral", by_name.get("mixed"))


def skill(model: str, text: str) -> float:
    """How often ``model`` answers the right label to a prompt like ``text`` (0.2 to 0.97)."""
    lowered = text.lower()
    level = 0.5 + 0.3 * _unit("base", model)
    level += sum(-0.15 + 0.45 * _unit("cue", model, cue) for cue in _CUES if cue in lowered)
    return min(0.97, max(0.2, level))


def _choose(values: list[Any], model: str, text: str, seed: Any, slot: str) -> Any:
    rng = random.Random(_unit("label", model, text, seed, slot))
    right = right_label(values, text)
    if right is None:
        return rng.choice(values)
    if rng.random() < skill(model, text):
        return right
    wrong = [v for v in values if v != right]
    return rng.choice(wrong) if wrong else right


def graded(schema: Any, value: Any, *, model: str, text: str, seed: Any) -> Any:
    """``value`` (an example that fits ``schema``) with each enum slot, the root or a top-level
    property, set to a label chosen for this model, prompt and seed."""
    if not isinstance(schema, dict):
        return value
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return _choose(list(schema["enum"]), model, text, seed, "")
    props = schema.get("properties")
    if not isinstance(props, dict) or not isinstance(value, dict):
        return value
    out = dict(value)
    for name, prop in props.items():
        if name in out and isinstance(prop, dict) and isinstance(prop.get("enum"), list) and prop["enum"]:
            out[name] = _choose(list(prop["enum"]), model, text, seed, name)
    return out
