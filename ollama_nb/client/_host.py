"""Where Ollama lives and how to sign requests: the same rules as the official ollama-python client.

The argument wins, else ``OLLAMA_HOST``, else ``http://127.0.0.1:11434``. A bare ``host`` or
``host:port`` gets ``http://`` and port 11434; a bind-all address (``0.0.0.0``, ``::``) is
contacted on the loopback address. ``OLLAMA_API_KEY``, when set, is sent as
``Authorization: Bearer <key>`` unless the caller passed an Authorization header (ollama-python's
``BaseClient.__init__``) — but only where it is safe: to ``https://`` hosts and to loopback. Over
plain ``http://`` to any other host it is not sent, and one warning says why and how to send it
anyway (pass the header yourself: ``Client(host, headers={"Authorization": "Bearer ..."})``).
The key is never part of a repr, an error or a saved file.

Example:
    >>> parse_host("0.0.0.0")
    'http://127.0.0.1:11434'
    >>> parse_host("example:8080")
    'http://example:8080'
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
import warnings
from typing import Mapping

from .._errors import ApiKeyWithheldWarning

__all__ = ["API_KEY_VARIABLE", "DEFAULT_HOST", "headers_with_api_key", "key_is_safe_for", "parse_host", "resolve_host"]

#: The environment variable holding an ollama.com API key (as ollama-python reads it).
API_KEY_VARIABLE = "OLLAMA_API_KEY"

DEFAULT_HOST = "http://127.0.0.1:11434"
_BIND_ALL = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def parse_host(host: str | None) -> str:
    """Normalise ``host`` to ``scheme://host:port[/path]`` (empty means the default)."""
    host = (host or "").strip()
    port = 11434
    scheme, sep, hostport = host.partition("://")
    if not sep:
        scheme, hostport = "http", host
    elif scheme == "http":
        port = 80
    elif scheme == "https":
        port = 443
    split = urllib.parse.urlsplit(f"{scheme}://{hostport}")
    name = split.hostname or "127.0.0.1"
    name = _BIND_ALL.get(name, name)
    try:
        port = split.port or port
    except ValueError as exc:
        raise ValueError(f"bad port in Ollama host {host!r}: {exc}") from None
    try:
        if isinstance(ipaddress.ip_address(name), ipaddress.IPv6Address):
            name = f"[{name}]"
    except ValueError:
        pass
    path = split.path.strip("/")
    return f"{scheme}://{name}:{port}" + (f"/{path}" if path else "")


def resolve_host(host: str | None = None) -> str:
    """The host to use: ``host``, else ``$OLLAMA_HOST``, else the default."""
    return parse_host(host or os.environ.get("OLLAMA_HOST") or "")


def key_is_safe_for(host: str) -> bool:
    """True when a secret may travel to ``host``: an ``https://`` URL, or a loopback address.

    Example:
        >>> key_is_safe_for("https://ollama.com:443"), key_is_safe_for("http://127.0.0.1:11434")
        (True, True)
        >>> key_is_safe_for("http://10.0.0.5:11434")
        False
    """
    split = urllib.parse.urlsplit(host)
    if split.scheme == "https":
        return True
    name = (split.hostname or "").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_WARNED: set[str] = set()  # hosts already told that the key stays home (once per process)


def headers_with_api_key(headers: Mapping[str, str] | None = None, *, host: str = DEFAULT_HOST) -> dict[str, str]:
    """``headers`` with lower-cased names, plus ``authorization: Bearer $OLLAMA_API_KEY`` when the
    variable is set, no Authorization header was given, and ``host`` is safe for it
    (:func:`key_is_safe_for`); else one :class:`ApiKeyWithheldWarning` per host.

    Example:
        >>> headers_with_api_key({"Authorization": "Bearer mine"})
        {'authorization': 'Bearer mine'}
    """
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    key = os.environ.get(API_KEY_VARIABLE)
    if key and not lowered.get("authorization"):
        if key_is_safe_for(host):
            lowered["authorization"] = f"Bearer {key}"
        elif host not in _WARNED:
            _WARNED.add(host)
            warnings.warn(
                f"{API_KEY_VARIABLE} is not sent to {host}: plain http:// to a host that is not this machine "
                "would show it to the network. Use https://, "
                "or pass headers={'Authorization': 'Bearer ...'} to send it anyway.",
                ApiKeyWithheldWarning,
                stacklevel=4,
            )
    return lowered
