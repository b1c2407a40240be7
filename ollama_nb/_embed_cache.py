"""Embedding vectors kept in the record (table ``embeddings``), looked up by text.

A vector is reused only when everything that decides it is the same: the model and its digest,
the Ollama version, ``dimensions``, ``truncate`` (together the *config*) and the text (its
blake2b-128 hash). Vectors are stored as float32 little-endian bytes; nothing here needs numpy.

Example:
    >>> from ollama_nb import Record
    >>> cache = EmbeddingCache(Record(":memory:"), config_key("all-minilm", "sha256:ab", "0.33.0", None, None))
    >>> cache.store(["a cat"], [[0.6, 0.8]])
    >>> cache.lookup(["a cat", "a dog"])
    {'a cat': b'\\x9a\\x99\\x19?\\xcd\\xccL?'}
"""

from __future__ import annotations

import hashlib
import json
import struct
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from ._record import Record

__all__ = ["EmbeddingCache", "config_key", "text_hash"]

#: Host parameters per SELECT (SQLite's default limit is 999 on old builds).
_CHUNK = 900


def config_key(model: str, digest: str | None, version: str | None, dimensions: int | None,
               truncate: bool | None) -> str:
    """The part of a cache key shared by every text of one call."""
    parts = [model, digest or "", version or "", dimensions or 0, truncate is not False]
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


def text_hash(text: str) -> bytes:
    """The 16-byte key of one text."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class EmbeddingCache:
    """Reads and writes the vectors of one config in a :class:`~ollama_nb.Record`."""

    def __init__(self, record: Record, config: str, model: str = "") -> None:
        self.record = record
        self.config = config
        self.model = model

    def lookup(self, texts: Sequence[str]) -> dict[str, bytes]:
        """The stored float32 bytes of each text that has some (texts should be unique)."""
        db = self.record.connection()
        by_hash = {text_hash(text): text for text in texts}
        hashes = list(by_hash)
        found: dict[str, bytes] = {}
        for start in range(0, len(hashes), _CHUNK):
            part = hashes[start:start + _CHUNK]
            marks = ",".join("?" * len(part))
            rows = db.execute(f"SELECT text_hash, vector FROM embeddings WHERE config = ? AND text_hash IN ({marks})",
                              [self.config, *part]).fetchall()
            for key, vector in rows:
                found[by_hash[bytes(key)]] = bytes(vector)
        return found

    def store(self, texts: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        """Keep ``vectors`` (one per text) in one short transaction."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows = [(self.config, text_hash(text), struct.pack(f"<{len(vector)}f", *vector), self.model, now)
                for text, vector in zip(texts, vectors, strict=True)]
        db = self.record.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR REPLACE INTO embeddings (config, text_hash, vector, model, recorded_at) "
                           "VALUES (?, ?, ?, ?, ?)", rows)  # a text embedded again replaces its row
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
