"""The async twins match their blocking originals: same public names, same parameters, awaitable
where they do IO, and the same request on the wire (as llm's ``test_async_parity.py`` checks).

A method added to one twin and not the other fails here, with its name.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from ollama_nb import AsyncClient, AsyncReply, Client, Reply, Session
from ollama_nb.simulator import Simulator

#: Names that differ only by the ``a`` of the async twin.
RENAMED = {"close": "aclose", "read": "aread"}


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def _parameters(func: Any) -> list[tuple[str, Any, Any]]:
    """Names, kinds and defaults of ``func``'s parameters (return annotations differ by design)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()]


def _is_async(func: Any) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)


@pytest.mark.parametrize(("sync", "twin"), [(Client, AsyncClient), (Reply, AsyncReply)])
def test_the_twins_have_the_same_public_names(sync: type, twin: type) -> None:
    expected = {RENAMED.get(name, name) for name in _public(sync)}
    assert sorted(expected - _public(twin)) == [], f"{twin.__name__} lacks these"
    assert sorted(_public(twin) - expected) == [], f"{sync.__name__} lacks these"


@pytest.mark.parametrize(("sync", "twin"), [(Client, AsyncClient), (Reply, AsyncReply)])
def test_the_twins_take_the_same_parameters(sync: type, twin: type) -> None:
    for name in sorted(_public(sync)):
        original = inspect.getattr_static(sync, name)
        if isinstance(original, property) or not callable(getattr(sync, name)):
            continue
        other = getattr(twin, RENAMED.get(name, name))
        assert _parameters(getattr(sync, name)) == _parameters(other), name


IO_METHODS = {
    AsyncClient: {"chat", "embed", "generate", "models", "ps", "pull", "show", "version", "aclose"},
    AsyncReply: {"aread", "aclose"},
}


@pytest.mark.parametrize("twin", [AsyncClient, AsyncReply])
def test_the_async_twin_awaits_exactly_its_io(twin: type) -> None:
    awaited = {name for name in _public(twin) if callable(getattr(twin, name)) and _is_async(getattr(twin, name))}
    assert awaited == IO_METHODS[twin]


SESSION_TWINS = [("chat", "achat"), ("generate", "agenerate"), ("map", "amap")]


@pytest.mark.parametrize(("sync", "twin"), SESSION_TWINS)
def test_each_session_method_has_an_async_twin_with_the_same_parameters(sync: str, twin: str) -> None:
    assert not _is_async(getattr(Session, sync)) and _is_async(getattr(Session, twin))
    assert _parameters(getattr(Session, sync)) == _parameters(getattr(Session, twin))


def test_every_async_session_method_has_a_blocking_twin() -> None:
    awaited = {name for name in _public(Session) if callable(getattr(Session, name)) and _is_async(getattr(Session, name))}
    assert awaited == {twin for _, twin in SESSION_TWINS}


def test_the_twins_send_the_same_requests(simulator: Simulator) -> None:
    params: dict[str, Any] = {"temperature": 0.3, "think": False, "keep_alive": "1m", "truncate": False}
    blocking = Session(model="llama3.2", system="Be brief.", host=simulator.url, record=False)
    blocking.chat("one", **params).read()
    blocking.chat("two", **params).read()
    blocking.generate("three", **params).read()

    async def run() -> None:
        session = Session(model="llama3.2", system="Be brief.", host=simulator.url, record=False)
        await (await session.achat("one", **params)).aread()
        await (await session.achat("two", **params)).aread()
        await (await session.agenerate("three", **params)).aread()

    asyncio.run(run())
    bodies = [(r.path, r.body) for r in simulator.requests if r.path in ("/api/chat", "/api/generate")]
    assert len(bodies) == 6
    assert bodies[:3] == bodies[3:]
