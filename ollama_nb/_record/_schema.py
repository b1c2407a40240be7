"""The record's tables, created and upgraded by migrations applied once each, in order.

The shape is simonw/llm's ``llm/migrations.py``: an ordered list of small functions, each run once
and recorded by name in a ``migrations`` table, so a database written by an older ollama_nb is
upgraded in place and a newer one is never downgraded. To change the schema, append a function;
never edit one that has shipped.

Example:
    >>> import sqlite3
    >>> db = sqlite3.connect(":memory:")
    >>> migrate(db)
    >>> schema_version(db) == len(MIGRATIONS)
    True
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Callable

__all__ = ["MIGRATIONS", "migrate", "schema_version", "unknown_migrations"]

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []
migration = MIGRATIONS.append


def _applied(db: sqlite3.Connection) -> set[str]:
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'migrations'").fetchone():
        db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    return {name for (name,) in db.execute("SELECT name FROM migrations")}


def _run(db: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` (not ``executescript``: that would commit the open
    transaction first)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""


def unknown_migrations(db: sqlite3.Connection) -> set[str]:
    """Migrations this database has had that this ollama_nb does not know: a newer one wrote it
    (it is then only read, never written). Reads only; none on a database without the table."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'migrations'").fetchone():
        return set()
    known = {step.__name__ for step in MIGRATIONS}
    return {name for (name,) in db.execute("SELECT name FROM migrations")} - known


def schema_version(db: sqlite3.Connection) -> int:
    """How many migrations this database has had."""
    return len(_applied(db))


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations this database has not had, each in its own transaction.

    ``BEGIN IMMEDIATE`` takes the write lock first, so two kernels opening a new file at once do
    not both create the tables: the second waits (busy timeout), then sees them applied.
    """
    if len(_applied(db)) == len(MIGRATIONS):
        return
    for step in MIGRATIONS:
        db.execute("BEGIN IMMEDIATE")
        try:
            if step.__name__ not in _applied(db):
                step(db)
                db.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                    (step.__name__, datetime.now(timezone.utc).isoformat(timespec="seconds")),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


@migration
def m001_turns(db: sqlite3.Connection) -> None:
    """One row per turn: what was sent, what came back, how it went, where and when."""
    _run(
        db,
        """
        CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            recorded_at TEXT NOT NULL,      -- ISO 8601 UTC, when the reply ended
            started_at TEXT,                -- when it was sent
            session TEXT,                   -- the session's name (NULL for an unnamed Session)
            conversation TEXT,              -- one conversation of that session (a reset starts a new one)
            batch TEXT,                     -- the batch this turn belongs to, if any
            notebook TEXT,                  -- the notebook's path, when the kernel knows it
            cell INTEGER,                   -- the execution count of the cell
            host TEXT NOT NULL,
            endpoint TEXT NOT NULL,         -- 'chat' or 'generate'
            model TEXT NOT NULL,
            digest TEXT,                    -- the model's digest (from /api/tags), NULL when unknown
            system TEXT,
            prompt TEXT NOT NULL,
            messages_json TEXT,             -- this turn's messages: user, tool rounds, answer
            options_json TEXT,
            format_json TEXT,
            tools_json TEXT,                -- the tool schemas sent
            think TEXT,
            text TEXT NOT NULL,
            thinking TEXT,
            tool_calls_json TEXT,
            tool_results_json TEXT,
            status TEXT NOT NULL,           -- done | stopped | interrupted | error | cut at length
            error TEXT,
            done_reason TEXT,
            in_context INTEGER NOT NULL DEFAULT 1,
            ttft_s REAL,
            wall_s REAL,
            prompt_tokens INTEGER,
            output_tokens INTEGER,
            tokens_per_s REAL,
            timing_json TEXT,
            request_key TEXT,               -- what determines the answer (see _cache.py)
            reused_from INTEGER             -- the turn whose answer was replayed, for a cache hit
        );
        CREATE INDEX turns_by_key ON turns (request_key, id) WHERE status = 'done';
        CREATE INDEX turns_by_session ON turns (session, id);
        CREATE INDEX turns_by_conversation ON turns (conversation, id) WHERE conversation IS NOT NULL;
        CREATE INDEX turns_by_batch ON turns (batch, id) WHERE batch IS NOT NULL;
        """
    )


@migration
def m002_turns_fts(db: sqlite3.Connection) -> None:
    """Full-text search (FTS5) over the prompt and the reply, kept in step by triggers."""
    _run(
        db,
        """
        CREATE VIRTUAL TABLE turns_fts USING fts5(prompt, text, content='turns', content_rowid='id');
        CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
            INSERT INTO turns_fts (rowid, prompt, text) VALUES (new.id, new.prompt, new.text);
        END;
        CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
            INSERT INTO turns_fts (turns_fts, rowid, prompt, text) VALUES ('delete', old.id, old.prompt, old.text);
        END;
        CREATE TRIGGER turns_fts_update AFTER UPDATE OF prompt, text ON turns BEGIN
            INSERT INTO turns_fts (turns_fts, rowid, prompt, text) VALUES ('delete', old.id, old.prompt, old.text);
            INSERT INTO turns_fts (rowid, prompt, text) VALUES (new.id, new.prompt, new.text);
        END;
        """
    )


@migration
def m003_labels(db: sqlite3.Connection) -> None:
    """Human judgements of an experiment: on one item, one variant beat another (or a tie)."""
    _run(
        db,
        """
        CREATE TABLE labels (
            id INTEGER PRIMARY KEY,
            recorded_at TEXT NOT NULL,      -- ISO 8601 UTC
            experiment TEXT NOT NULL,       -- the experiment's name
            item TEXT NOT NULL,             -- the item's index label, as text
            winner TEXT NOT NULL,           -- a variant: 'prompt · model'
            loser TEXT NOT NULL,
            tie INTEGER NOT NULL DEFAULT 0, -- 1: neither was better (winner and loser are just the pair)
            session TEXT,
            notebook TEXT
        );
        CREATE INDEX labels_by_experiment ON labels (experiment, id);
        """
    )


@migration
def m004_embeddings(db: sqlite3.Connection) -> None:
    """Embedding vectors by text, so a column embedded once is never sent again (``Session.embed``).

    The vectors of one request are one block (a float32 matrix), and each text points at its row: reading
    100,000 cached vectors is then a few thousand large reads, not 100,000 small ones.
    """
    _run(
        db,
        """
        CREATE TABLE embedding_blocks (
            id INTEGER PRIMARY KEY,
            model TEXT NOT NULL,
            width INTEGER NOT NULL,         -- values per vector
            recorded_at TEXT NOT NULL,
            vectors BLOB NOT NULL           -- rows x width float32 values, little-endian
        );
        CREATE TABLE embeddings (
            config TEXT NOT NULL,           -- sha256 of model, model digest, Ollama version, dimensions, truncate
            text_hash BLOB NOT NULL,        -- blake2b-128 of the text (UTF-8)
            block INTEGER NOT NULL REFERENCES embedding_blocks (id),
            row INTEGER NOT NULL,           -- the text's row in that block
            PRIMARY KEY (config, text_hash)
        ) WITHOUT ROWID;
        """
    )
