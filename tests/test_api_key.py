"""The API key travels only where it is safe: to https:// hosts and to loopback. A server's
``signin_url`` is presented as the link to open only when it is https://ollama.com/…"""

from __future__ import annotations

import warnings
from typing import Any, Iterator

import pytest

from ollama_nb import Client, SignInRequiredError
from ollama_nb._errors import ApiKeyWithheldWarning
from ollama_nb.client._host import _WARNED, headers_with_api_key, key_is_safe_for
from tests.hostile_server import HostileServer, Request, chunked, headers, ndjson

SECRET = "sk-do-not-leak-0123456789"


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OLLAMA_API_KEY", SECRET)
    _WARNED.clear()
    yield
    _WARNED.clear()


def answer(request: Request, send: Any) -> None:
    send(headers(content_type="application/json"))
    send(chunked(ndjson({"version": "0.13.0"})))
    send(chunked(b""))


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_the_key_is_sent_to_loopback_over_http(name: str) -> None:
    with HostileServer(answer) as server:
        port = server.url.rsplit(":", 1)[1]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with Client(f"http://{name}:{port}") as client:
                client.version()
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    ("host", "safe"),
    [
        ("https://ollama.com:443", True),
        ("https://10.0.0.5:11434", True),
        ("http://127.0.0.1:11434", True),
        ("http://127.9.8.7:11434", True),
        ("http://[::1]:11434", True),
        ("http://localhost:11434", True),
        ("http://10.0.0.5:11434", False),
        ("http://ollama.com:80", False),
        ("http://127.0.0.1.evil.example:80", False),
        ("http://[::ffff:10.0.0.1]:11434", False),
    ],
)
def test_which_hosts_are_safe_for_the_key(host: str, safe: bool) -> None:
    assert key_is_safe_for(host) is safe


def test_over_plain_http_to_another_host_the_key_is_withheld_with_one_line() -> None:
    with pytest.warns(ApiKeyWithheldWarning) as caught:
        sent = headers_with_api_key({}, host="http://10.0.0.5:11434")
        again = headers_with_api_key({}, host="http://10.0.0.5:11434")
    assert "authorization" not in sent and "authorization" not in again
    (warning,) = caught  # once per host
    message = str(warning.message)
    assert len(message.splitlines()) == 1 and SECRET not in message
    assert "https://" in message and "headers=" in message


def test_a_client_for_a_remote_http_host_warns_and_never_sends_the_key() -> None:
    with pytest.warns(ApiKeyWithheldWarning):
        client = Client("http://192.0.2.10:11434")  # TEST-NET: built, never contacted
    assert SECRET not in repr(client) and SECRET not in repr(client.headers)
    client.close()


def test_an_explicit_header_is_the_opt_in() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sent = headers_with_api_key({"Authorization": "Bearer mine"}, host="http://10.0.0.5:11434")
    assert sent == {"authorization": "Bearer mine"}


def test_https_hosts_get_the_key() -> None:
    assert headers_with_api_key({}, host="https://ollama.com:443")["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    ("url", "shown_as_link"),
    [
        ("https://ollama.com/connect?name=me&key=abc", True),
        ("https://evil.example/ollama.com/connect", False),
        ("http://ollama.com/connect", False),
        ("https://ollama.com.evil.example/connect", False),
        ("javascript:alert(1)", False),
    ],
)
def test_a_signin_url_is_the_link_to_open_only_on_ollama_com(url: str, shown_as_link: bool) -> None:
    body = b'{"error": "unauthorized", "signin_url": "%s"}' % url.encode()

    def refuse(request: Request, send: Any) -> None:
        send(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
             b"Connection: close\r\n\r\n%s" % (len(body), body))

    with HostileServer(refuse) as server, Client(server.url) as client:
        with pytest.raises(SignInRequiredError) as caught:
            client.generate("m", "hi").read()
    message = str(caught.value)
    assert (f"open {url}" in message) is shown_as_link
    if not shown_as_link:
        assert "server asked to sign in at" in message and "not an ollama.com address" in message
    assert len(message.splitlines()) == 2
