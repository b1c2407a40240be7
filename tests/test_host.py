"""Host rules, the same as ollama-python: argument, else OLLAMA_HOST, else http://127.0.0.1:11434."""

from __future__ import annotations

import socket

import pytest

from ollama_nb import AsyncClient, Client, Session
from ollama_nb.client._host import DEFAULT_HOST, parse_host, resolve_host
from ollama_nb.simulator import Simulator

pytestmark = pytest.mark.timeout(20)

# (input, expected) — the ollama-python doctest table, plus the bind-all rewrite.
HOST_TABLE = [
    ("", "http://127.0.0.1:11434"),
    ("1.2.3.4", "http://1.2.3.4:11434"),
    (":56789", "http://127.0.0.1:56789"),
    ("1.2.3.4:56789", "http://1.2.3.4:56789"),
    ("http://1.2.3.4", "http://1.2.3.4:80"),
    ("https://1.2.3.4", "https://1.2.3.4:443"),
    ("https://1.2.3.4:56789", "https://1.2.3.4:56789"),
    ("example.com", "http://example.com:11434"),
    ("example.com:56789", "http://example.com:56789"),
    ("http://example.com", "http://example.com:80"),
    ("https://example.com", "https://example.com:443"),
    ("https://example.com:56789", "https://example.com:56789"),
    ("example.com/", "http://example.com:11434"),
    ("example.com:56789/", "http://example.com:56789"),
    ("example.com/path", "http://example.com:11434/path"),
    ("example.com:56789/path", "http://example.com:56789/path"),
    ("https://example.com:56789/path", "https://example.com:56789/path"),
    ("example.com:56789/path/", "http://example.com:56789/path"),
    ("[0001:002:003:0004::1]", "http://[0001:002:003:0004::1]:11434"),
    ("[0001:002:003:0004::1]:56789", "http://[0001:002:003:0004::1]:56789"),
    ("http://[0001:002:003:0004::1]", "http://[0001:002:003:0004::1]:80"),
    ("https://[0001:002:003:0004::1]", "https://[0001:002:003:0004::1]:443"),
    ("https://[0001:002:003:0004::1]:56789", "https://[0001:002:003:0004::1]:56789"),
    ("[0001:002:003:0004::1]/", "http://[0001:002:003:0004::1]:11434"),
    ("[0001:002:003:0004::1]:56789/", "http://[0001:002:003:0004::1]:56789"),
    ("[0001:002:003:0004::1]/path", "http://[0001:002:003:0004::1]:11434/path"),
    ("[0001:002:003:0004::1]:56789/path", "http://[0001:002:003:0004::1]:56789/path"),
    ("https://[0001:002:003:0004::1]:56789/path", "https://[0001:002:003:0004::1]:56789/path"),
    ("[::1]", "http://[::1]:11434"),
    ("localhost", "http://localhost:11434"),
]


@pytest.mark.parametrize(("given", "expected"), HOST_TABLE)
def test_parse_host_follows_the_ollama_python_rules(given: str, expected: str) -> None:
    assert parse_host(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        ("http://0.0.0.0", "http://127.0.0.1:80"),
        ("https://0.0.0.0:9000/x", "https://127.0.0.1:9000/x"),
        ("[::]", "http://[::1]:11434"),
        ("[::]:8080", "http://[::1]:8080"),
    ],
)
def test_a_bind_all_address_is_contacted_on_loopback(given: str, expected: str) -> None:
    assert parse_host(given) == expected


def test_parse_host_agrees_with_the_official_ollama_client() -> None:
    ollama_client = pytest.importorskip("ollama._client")
    official = getattr(ollama_client, "_parse_host", None)
    if official is None:
        pytest.skip("this ollama-python has no _parse_host")
    for given, _ in HOST_TABLE:
        assert parse_host(given) == official(given), given


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_host("  127.0.0.1:8080 \n") == "http://127.0.0.1:8080"


def test_none_and_empty_mean_the_default_host() -> None:
    assert parse_host(None) == DEFAULT_HOST == "http://127.0.0.1:11434"
    assert parse_host("   ") == DEFAULT_HOST


@pytest.mark.parametrize("bad", ["127.0.0.1:99999", "example.com:port", "::1"])
def test_a_bad_port_is_a_value_error_that_quotes_the_host(bad: str) -> None:
    with pytest.raises(ValueError, match="Ollama host") as info:
        parse_host(bad)
    assert repr(bad) in str(info.value)


def test_the_argument_wins_over_ollama_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.9:1234")
    assert resolve_host("example.com") == "http://example.com:11434"
    assert Client("example.com").host == "http://example.com:11434"


def test_ollama_host_is_used_when_there_is_no_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0:5000")
    assert resolve_host() == "http://127.0.0.1:5000"
    assert resolve_host(None) == "http://127.0.0.1:5000"
    assert Client().host == "http://127.0.0.1:5000"
    assert AsyncClient().host == "http://127.0.0.1:5000"
    assert Session(model="m").host == "http://127.0.0.1:5000"


def test_without_argument_or_ollama_host_the_default_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert resolve_host() == "http://127.0.0.1:11434"
    assert Client().host == "http://127.0.0.1:11434"
    monkeypatch.setenv("OLLAMA_HOST", "")
    assert resolve_host() == "http://127.0.0.1:11434"


# -- over a real socket -------------------------------------------------------------------


def test_a_bare_host_and_port_reaches_the_server(simulator: Simulator) -> None:
    with Client(f"127.0.0.1:{simulator.port}") as client:
        assert client.host == simulator.url
        assert client.version()
    assert simulator.requests[-1].path == "/api/version"


def test_ollama_host_alone_reaches_the_server(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{simulator.port}")
    with Client() as client:
        assert client.version()
    assert [r.path for r in simulator.requests] == ["/api/version"]


def test_a_bind_all_ollama_host_reaches_the_server_on_loopback(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"0.0.0.0:{simulator.port}")
    with Client() as client:
        assert client.host == f"http://127.0.0.1:{simulator.port}"
        assert client.generate("llama3.2", "hi [[tokens=2]]").text


def _ipv6_loopback_works() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback_works(), reason="no IPv6 loopback on this machine")
def test_an_ipv6_host_in_brackets_reaches_the_server() -> None:
    with Simulator(host="::1") as sim, Client(f"[::1]:{sim.port}") as client:
        assert client.host == f"http://[::1]:{sim.port}" == sim.url
        reply = client.chat("llama3.2", [{"role": "user", "content": "hi [[tokens=3]]"}])
        assert reply.text
        assert reply.timing.output_tokens == 3
