"""The tool-round loop of a chat reply, as its own object (simonw/llm's ``ChainResponse`` is the
model): after a round whose answer asked for tools, run them and extend the conversation that the
next round sends. The reply streams each round; :class:`ToolRounds` decides whether there is a next
one and what it sends.

Example:
    >>> from ollama_nb import ToolCall
    >>> rounds = ToolRounds({"add": lambda a, b: a + b}, max_rounds=2)
    >>> body = {"model": "m", "messages": [{"role": "user", "content": "1+2?"}]}
    >>> notes: list[str] = []
    >>> body, results = rounds.next(body, [ToolCall("call_1", "add", {"a": 1, "b": 2})], "", notes)
    >>> results[0].content, rounds.count, len(body["messages"])
    ('3', 2, 3)
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from .._tools import DEFAULT_MAX_TOOL_ROUNDS, ToolCall, ToolResult, run_tool_call

__all__ = ["ToolRounds"]


class ToolRounds:
    """The rounds of one reply: the functions the model may call, the bound, and what each round added."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None, *,
                 max_rounds: int = DEFAULT_MAX_TOOL_ROUNDS) -> None:
        #: The Python functions the model may call (none: its calls are only reported).
        self.functions: dict[str, Callable[..., Any]] = dict(functions or {})
        self.max_rounds = max_rounds
        #: Every tool's result, in order, over all rounds.
        self.results: list[ToolResult] = []
        #: The assistant and tool messages the rounds added to the conversation.
        self.messages: list[dict[str, Any]] = []
        #: Rounds streamed so far (1 while the first streams).
        self.count = 1

    def wants_another(self, calls: Sequence[ToolCall], notes: list[str]) -> bool:
        """True when the last round's ``calls`` can be run: there are some, functions to run them,
        and the bound is not reached (then a note says so)."""
        if not calls or not self.functions:
            return False
        if self.count > self.max_rounds:
            notes.append(f"stopped after {self.max_rounds} rounds of tool calls")
            return False
        return True

    def next(self, body: Mapping[str, Any], calls: Sequence[ToolCall], text: str,
             notes: list[str]) -> tuple[dict[str, Any], tuple[ToolResult, ...]] | None:
        """Run the last round's ``calls`` (whose answer text was ``text``) and return the body the
        next round sends with their results; None when there is no next round."""
        if not self.wants_another(calls, notes):
            return None
        results = tuple(run_tool_call(call, self.functions) for call in calls)
        self.results.extend(results)
        assistant: dict[str, Any] = {"role": "assistant", "content": text, "tool_calls": [c.as_wire() for c in calls]}
        added = [assistant, *(r.as_message() for r in results)]
        self.messages.extend(added)
        self.count += 1
        return {**body, "messages": [*body["messages"], *added]}, results
