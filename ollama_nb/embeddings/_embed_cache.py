"""Embedding vectors kept in the record (table ``embeddings``), looked up by text.

A vector is reused only when everything that decides it is the same: the model and its digest,
the Ollama version, ``dimensions``, ``truncate`` (together the *config*) and the text (its
blake2b-128 hash). Vectors are stored as float32 little-endian bytes; nothing here needs numpy.

Example:
    >>> import tempfile, pathlib
    >>> from ollama_nb import Record
    >>> record = Record(pathlib.Path(tempfile.mkdtemp()) / "record.db")
    >>> cache = EmbeddingCache(record, config_key("all-minilm", "sha256:ab", "0.33.0", None, None))
    >>> cache.store(["a cat"], [[0.6, 0.8]])
    >>> found = cache.lookup(["a cat", "a dog"])
    >>> len(found), found.vector_bytes("a cat").hex()  # float32 bytes of 0.6 and 0.8
    (1, '9a99193fcdcc4c3f')
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from .._record import Record

__all__ = ["Cached", "EmbeddingCache", "config_key", "text_hash"]

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


@dataclass(frozen=True)
class Cached:
    """What a lookup found: each text's (block, row), and the blocks as (width, float32 bytes)."""

    where: dict[str, tuple[int, int]]
    blocks: dict[int, tuple[int, bytes]]

    def __contains__(self, text: object) -> bool:
        return text in self.where

    def __len__(self) -> int:
        return len(self.where)

    def vector_bytes(self, text: str) -> bytes:
        """The float32 bytes of one text's vector."""
        block, row = self.where[text]
        width, vectors = self.blocks[block]
        return vectors[row * width * 4:(row + 1) * width * 4]


class EmbeddingCache:
    """Reads and writes the vectors of one config in a :class:`~ollama_nb.Record`."""

    def __init__(self, record: Record, config: str, model: str = "") -> None:
        self.record = record
        self.config = config
        self.model = model

    def lookup(self, texts: Sequence[str]) -> Cached:
        """Where the stored vector of each text that has one is (texts should be unique)."""
        db = self.record.connection()
        by_hash = {text_hash(text): text for text in texts}
        where: dict[str, tuple[int, int]] = {}
        stored = db.execute("SELECT count(*) FROM embeddings WHERE config = ?", [self.config]).fetchone()[0]
        if stored <= 4 * len(by_hash):  # most of this config's rows are wanted: one pass over them
            for key, block, row in db.execute("SELECT text_hash, block, row FROM embeddings WHERE config = ?",
                                              [self.config]):
                text = by_hash.get(key)
                if text is not None:
                    where[text] = (block, row)
        else:
            hashes = list(by_hash)
            for start in range(0, len(hashes), _CHUNK):
                part = hashes[start:start + _CHUNK]
                marks = ",".join("?" * len(part))
                sql = f"SELECT text_hash, block, row FROM embeddings WHERE config = ? AND text_hash IN ({marks})"
                for key, block, row in db.execute(sql, [self.config, *part]):
                    where[by_hash[key]] = (block, row)
        blocks: dict[int, tuple[int, bytes]] = {}
        ids = list({block for block, _ in where.values()})
        for start in range(0, len(ids), _CHUNK):
            some = ids[start:start + _CHUNK]
            sql = f"SELECT id, width, vectors FROM embedding_blocks WHERE id IN ({','.join('?' * len(some))})"
            for block, width, vectors in db.execute(sql, some):
                blocks[block] = (width, vectors)
        return Cached({text: spot for text, spot in where.items() if spot[0] in blocks}, blocks)

    def store(self, texts: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        """Keep ``vectors`` (one per text, one request's worth) as one block, in one short transaction."""
        if not texts:
            return
        width = len(vectors[0])
        if any(len(vector) != width for vector in vectors):
            raise ValueError("the vectors of one request have different lengths")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        blob = struct.pack(f"<{width * len(vectors)}f", *(value for vector in vectors for value in vector))
        db = self.record.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            block = db.execute("INSERT INTO embedding_blocks (model, width, recorded_at, vectors) VALUES (?, ?, ?, ?)",
                               (self.model, width, now, blob)).lastrowid
            db.executemany("INSERT OR REPLACE INTO embeddings (config, text_hash, block, row) VALUES (?, ?, ?, ?)",
                           [(self.config, text_hash(text), block, row) for row, text in enumerate(texts)])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
