"""The simulated model catalogue: which names exist, what they can do, and what is loaded.

Every name exists except those starting with ``missing`` or ``no-such`` (after any
``namespace/``). Thinking models: names starting ``qwen3``, ``deepseek-r1``, ``gpt-oss``
or containing ``think``. Vision: ``gemma``, ``llava`` or names containing ``vision``.
Context length is 8192, or 512 for names containing ``ctx512``. Embedding-only models (``all-minilm``,
``nomic-embed-text``, ``mxbai-embed-large``, ``embeddinggemma``, ``bge-m3`` or any name containing
``embed``) report ``["embedding"]`` and refuse chat and generate, as Ollama does. ``my-gptoss`` is a legacy
remote model (see ``_cloud``); /api/tags lists it after the local built-ins.

Example:
    >>> shelf = ModelShelf()
    >>> shelf.exists("llama3.2"), shelf.exists("missing-model")
    (True, False)
    >>> capabilities("qwen3")
    ['completion', 'tools', 'thinking']
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from ._cloud import is_cloud_name, remote_details, remote_model, remote_show, remote_tag_fields
from ._wire import rfc3339_nano

__all__ = ["ModelShelf", "can_think", "canonical_name", "capabilities", "context_length", "embedding_length",
           "can_use_tools", "is_embedding_model", "registry_name"]

BUILT_IN = ("llama3.2:latest", "qwen3:latest", "gemma3:latest", "my-gptoss:latest", "nomic-embed-text:latest")

# Embedding models: prefix -> (family, parameter size, bytes, embedding length, context length); the lengths are
# the ones these models report on ollama.com (e.g. all-minilm: bert, 384 values, 512 tokens).
_EMBEDDERS: dict[str, tuple[str, str, int, int, int]] = {
    "all-minilm": ("bert", "23M", 45_960_996, 384, 512),
    "nomic-embed-text": ("nomic-bert", "137M", 274_302_450, 768, 2048),
    "mxbai-embed-large": ("bert", "334M", 669_615_493, 1024, 512),
    "embeddinggemma": ("gemma3", "307M", 621_875_526, 768, 2048),
    "bge-m3": ("bert", "567M", 1_157_672_605, 1024, 8192),
    "qwen3-embedding": ("qwen3", "7.6B", 4_675_000_000, 4096, 40960),
}

_KNOWN: dict[str, tuple[str, str, int]] = {  # prefix -> (family, parameter size, bytes)
    "llama3.2": ("llama", "3.2B", 2_019_393_189),
    "qwen3": ("qwen3", "8.2B", 5_225_387_923),
    "gemma3": ("gemma3", "4.3B", 3_338_801_804),
    "deepseek-r1": ("qwen2", "7.6B", 4_683_075_271),
    "gpt-oss": ("gptoss", "20.9B", 13_780_173_839),
    "mistral": ("llama", "7.2B", 4_113_301_824),
}


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1].lower()


def canonical_name(name: str) -> str:
    """The name with an explicit tag, as /api/tags and /api/ps show it.

    Example:
        >>> canonical_name("llama3.2")
        'llama3.2:latest'
    """
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _embedder(name: str) -> tuple[str, str, int, int, int] | None:
    base = _base(name).split(":", 1)[0]
    for prefix, facts in _EMBEDDERS.items():
        if base.startswith(prefix):
            return facts
    return ("bert", "137M", 274_302_450, 768, 2048) if "embed" in base else None


def is_embedding_model(name: str) -> bool:
    """Whether the model only embeds (its GGUF has ``pooling_type``: server/images.go:171-176).

    Example:
        >>> is_embedding_model("nomic-embed-text"), is_embedding_model("llama3.2")
        (True, False)
    """
    return remote_model(name) is None and _embedder(name) is not None


def embedding_length(name: str) -> int:
    """How many values the model's vectors have (``<family>.embedding_length``)."""
    facts = _embedder(name)
    return facts[3] if facts is not None else 3072


def can_think(name: str) -> bool:
    """Whether ``think`` is accepted for this model."""
    base = _base(name)
    remote = remote_model(name)
    if remote is not None:
        return "thinking" in remote.capabilities
    if is_embedding_model(name):
        return False
    return base.startswith(("qwen3", "deepseek-r1", "gpt-oss")) or "think" in base


def _has_vision(name: str) -> bool:
    base = _base(name)
    return base.startswith(("gemma", "llava")) or "vision" in base


def can_use_tools(name: str) -> bool:
    """False for gemma (1-3) and llava, whose templates have no tools section, and for embedding models.

    Real Ollama sets the ``tools`` capability from the template (server/images.go:96-160, CheckCapabilities).
    """
    base = _base(name)
    if is_embedding_model(name):
        return False
    remote = remote_model(name)
    if remote is not None:
        return "tools" in remote.capabilities
    return not (base.startswith(("gemma", "llava")) and not base.startswith("gemma4"))


def registry_name(name: str) -> str:
    """The full name Ollama's capability errors show: ``registry.ollama.ai/library/gemma3:latest``.

    Example:
        >>> registry_name("gemma3"), registry_name("me/tiny:1b")
        ('registry.ollama.ai/library/gemma3:latest', 'registry.ollama.ai/me/tiny:1b')
    """
    full = canonical_name(name)
    parts = full.split("/")
    if len(parts) == 1:
        return f"registry.ollama.ai/library/{full}"
    if len(parts) == 2:
        return f"registry.ollama.ai/{full}"
    return full


def capabilities(name: str) -> list[str]:
    """Capabilities as /api/show and /api/tags list them."""
    remote = remote_model(name)
    if remote is not None:
        return list(remote.capabilities)
    if is_embedding_model(name):
        return ["embedding"]
    caps = ["completion", "tools"] if can_use_tools(name) else ["completion"]
    if can_think(name):
        caps.append("thinking")
    if _has_vision(name):
        caps.append("vision")
    return caps


def context_length(name: str) -> int:
    """The model's trained context length (``<family>.context_length``)."""
    remote = remote_model(name)
    if remote is not None:
        return remote.context_length
    embedder = _embedder(name)
    if embedder is not None:
        return embedder[4]
    return 512 if "ctx512" in name.lower() else 8192


def _facts(name: str) -> tuple[str, str, int]:
    embedder = _embedder(name)
    if embedder is not None:
        return embedder[:3]
    base = _base(name).split(":", 1)[0]
    for prefix, facts in _KNOWN.items():
        if base.startswith(prefix):
            return facts
    family = "".join(ch for ch in base.split("-", 1)[0] if ch.isalnum()) or "llama"
    return family, "7B", 4_000_000_000 + int(_digest(name)[:6], 16)


def _digest(name: str) -> str:
    return hashlib.sha256(canonical_name(name).encode("utf-8")).hexdigest()


def details(name: str) -> dict[str, Any]:
    """``ModelDetails`` in Go field order."""
    family, size, _ = _facts(name)
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": size,
        "quantization_level": "Q4_K_M",
    }


class ModelShelf:
    """Which models are pulled and which are loaded; thread-safe, touched once per request.

    Example:
        >>> shelf = ModelShelf()
        >>> shelf.touch("qwen3", keep_alive=300.0, num_ctx=None)
        >>> [m["name"] for m in shelf.ps()["models"]]
        ['qwen3:latest']
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pulled: list[str] = []
        self._loaded: dict[str, tuple[int, int]] = {}  # canonical -> (expires ns, ctx)
        self._started_ns = time.time_ns()

    @staticmethod
    def exists(name: str) -> bool:
        """False for names starting with ``missing`` or ``no-such`` (and for "")."""
        base = _base(name)
        return bool(base) and not base.startswith(("missing", "no-such"))

    def add_pulled(self, name: str) -> None:
        """Remember a pulled model so /api/tags lists it."""
        full = canonical_name(name)
        with self._lock:
            if full not in BUILT_IN and full not in self._pulled:
                self._pulled.append(full)

    def touch(self, name: str, keep_alive: float | None, num_ctx: int | None) -> None:
        """Mark a model loaded until ``keep_alive`` seconds from now (0 unloads, <0 forever)."""
        if remote_model(name) is not None or is_cloud_name(name):
            return  # /api/ps never lists cloud models (server/routes.go:2271-2303)
        full = canonical_name(name)
        seconds = 300.0 if keep_alive is None else keep_alive
        with self._lock:
            if seconds == 0:
                self._loaded.pop(full, None)
                return
            expires = time.time_ns() + int((seconds if seconds > 0 else 1e10) * 1e9)
            ctx = min(num_ctx or 4096, context_length(name))
            self._loaded[full] = (expires, ctx)

    def tags(self) -> dict[str, Any]:
        """The /api/tags body."""
        with self._lock:
            names = list(BUILT_IN) + self._pulled
        modified = rfc3339_nano(self._started_ns)
        return {"models": [self._tag_entry(name, modified) for name in names]}

    @staticmethod
    def _tag_entry(name: str, modified: str) -> dict[str, Any]:
        """One /api/tags entry, v0.30 shape: remote keys after ``model``, lengths in ``details``, capabilities."""
        remote = remote_model(name)
        if remote is not None:
            size, digest, facts = remote.size, remote.digest, remote_details(remote, with_lengths=True)
        else:
            size, digest = _facts(name)[2], _digest(name)
            facts = {**details(name), "context_length": context_length(name),
                     "embedding_length": embedding_length(name)}
        return {"name": name, "model": name, **remote_tag_fields(name), "modified_at": modified,
                "size": size, "digest": digest, "details": facts, "capabilities": capabilities(name)}

    def ps(self) -> dict[str, Any]:
        """The /api/ps body: loaded models, longest time left first."""
        now = time.time_ns()
        with self._lock:
            live = [(n, e, c) for n, (e, c) in self._loaded.items() if e > now]
        live.sort(key=lambda item: -item[1])
        models = []
        for name, expires, ctx in live:
            size = _facts(name)[2]
            models.append({
                "name": name,
                "model": name,
                "size": size + 400_000_000,
                "digest": _digest(name),
                "details": details(name),
                "expires_at": rfc3339_nano(expires),
                "size_vram": size + 400_000_000,
                "context_length": ctx,
            })
        return {"models": models}

    def show(self, name: str) -> dict[str, Any]:
        """The /api/show body in Go ``ShowResponse`` field order (model_info keys sorted)."""
        remote = remote_model(name)
        if remote is not None:
            return remote_show(name, remote, rfc3339_nano(self._started_ns))
        family = details(name)["family"]
        info = {
            "general.architecture": family,
            "general.file_type": 15,
            "general.parameter_count": _facts(name)[2] * 2,
            "general.quantization_version": 2,
            f"{family}.attention.head_count": 32,
            f"{family}.attention.head_count_kv": 8,
            f"{family}.block_count": 28,
            f"{family}.context_length": context_length(name),
            f"{family}.embedding_length": embedding_length(name),
            **({f"{family}.pooling_type": 1} if is_embedding_model(name) else {}),
            "tokenizer.ggml.bos_token_id": 1,
            "tokenizer.ggml.eos_token_id": 2,
            "tokenizer.ggml.merges": None,
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.tokens": None,
        }
        return {
            "license": "Simulated model: no weights, no license. Served by the ollama_nb simulator.",
            "modelfile": f"# Modelfile generated by the ollama_nb simulator\nFROM {canonical_name(name)}\n",
            # no num_ctx here: the Modelfile would then load every request at that length, which /api/ps shows
            "parameters": "temperature 0.7",
            "template": "{{ .Prompt }}",
            "details": details(name),
            "model_info": dict(sorted(info.items())),
            "capabilities": capabilities(name),
            "modified_at": rfc3339_nano(self._started_ns),
        }

    def layer_digests(self, name: str) -> list[tuple[str, int]]:
        """Deterministic (digest, size) layers a pull of ``name`` downloads."""
        root = _digest(name)
        sizes = [_facts(name)[2], 1_480, 7_711, 96]
        return [
            ("sha256:" + hashlib.sha256(f"{root}:{i}".encode()).hexdigest(), size)
            for i, size in enumerate(sizes)
        ]
