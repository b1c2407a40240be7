"""The record: every turn in a SQLite file (stdlib ``sqlite3``), searchable, safe for many kernels.

WAL mode (readers never wait for a writer), a busy timeout (a writer waits for another instead of
failing with "database is locked"), and one short transaction per turn: a single ``INSERT``, with
the full-text index kept by a trigger in the same statement. Nothing is written per token.

The file is created private to the user (mode 0600; SQLite gives its ``-wal`` and ``-shm`` files
the same mode), in a folder created 0700. Every failure is a :class:`RecordError`, one line.

Example:
    >>> record = Record("/tmp/example-record.db")                      # doctest: +SKIP
    >>> record.add(RecordedTurn(host="h", endpoint="generate", model="m", prompt="hi", text="Hello"))  # doctest: +SKIP
    1
    >>> record.log(search="hello")                                      # doctest: +SKIP
    [<RecordedTurn #1 - m done: 'Hello'>]
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from .._errors import RecordError
from ._entry import RecordedTurn
from ._schema import migrate

__all__ = ["Record", "RecordError", "fts_query", "open_record"]

#: Seconds a write waits for another kernel's write before giving up.
DEFAULT_BUSY_TIMEOUT = 10.0


def fts_query(text: str) -> str:
    """Words of ``text`` as an FTS5 query that matches turns holding all of them, whatever
    punctuation they carry (each word is a quoted phrase, so ``-`` or ``:`` mean nothing).

    Example:
        >>> fts_query("sky-blue -x:y")
        '"sky-blue" "-x:y"'
    """
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


class Record:
    """A SQLite file of turns. Opened on first use; one connection, shared by the process's threads.

    The calls a batch (or any other writer) needs:

    - :meth:`add` writes one turn (a :class:`RecordedTurn`; ``batch=`` tags it, ``session=None``
      keeps it out of every conversation) and returns its id;
    - :meth:`find` returns the newest reusable answer for a request key
      (:func:`~ollama_nb._record.request_key`), or None;
    - :meth:`log`, :meth:`conversation` read turns back; :meth:`set_status` marks one afterwards.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = Path(path).expanduser() if not os.fspath(path).startswith("file:") else Path(os.fspath(path))
        self.busy_timeout = busy_timeout
        self._db: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<Record {str(self.path)!r}>"

    # -- the connection -------------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """The open connection (opening the file, creating and migrating it, on first use).

        For your own queries: ``record.connection().execute("SELECT model, count(*) FROM turns GROUP BY model")``.
        """
        with self._lock:
            if self._pid != os.getpid():  # a forked child never shares its parent's connection
                self._db, self._pid = None, os.getpid()
            if self._db is None:
                try:
                    self._db = self._open()
                except (sqlite3.Error, OSError) as exc:
                    raise self._error("open", exc) from exc
            return self._db

    def _open(self) -> sqlite3.Connection:
        uri = str(self.path).startswith("file:")  # e.g. file:/archive/record.db?mode=ro to only read
        if not uri:
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except FileExistsError:  # the folder's name is taken by a file
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)) from None
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(
            str(self.path), timeout=self.busy_timeout, isolation_level=None, check_same_thread=False, uri=uri
        )
        try:
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._use_wal(db)
            db.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable at checkpoints, safe from corruption
            migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _use_wal(self, db: sqlite3.Connection) -> None:
        """Switch a new file to WAL. SQLite does not call the busy handler when another process
        holds the file while doing the same, so wait here, within the busy timeout."""
        deadline = time.monotonic() + self.busy_timeout
        pause = 0.005
        while db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                db.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.1)

    def close(self) -> None:
        """Close the connection (a later call opens it again)."""
        with self._lock:
            db, self._db = self._db, None
            if db is not None:
                db.close()

    def _error(self, doing: str, exc: BaseException) -> RecordError:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return RecordError(f"cannot {doing} the record at {str(self.path)!r}: {reason}.")

    def _run(self, doing: str, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        db = self.connection()
        with self._lock:
            try:
                return db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error(doing, exc) from exc

    # -- writing ----------------------------------------------------------------------------------
    def add(self, turn: RecordedTurn) -> int:
        """Write one turn in one short transaction; returns its id."""
        row = turn.as_row()
        columns = ", ".join(row)
        marks = ", ".join(f":{c}" for c in row)
        db = self.connection()
        with self._lock:
            try:
                cursor = db.execute(f"INSERT INTO turns ({columns}) VALUES ({marks})", row)
            except sqlite3.Error as exc:
                raise self._error("write to", exc) from exc
        return int(cursor.lastrowid or 0)

    def set_status(self, turn_id: int, status: str) -> None:
        """Change a written turn's status (a stream that was stopped by an interrupt ends as
        ``stopped`` and becomes ``interrupted`` once the cell knows)."""
        self._run("write to", "UPDATE turns SET status = ? WHERE id = ?", (status, turn_id))

    # -- reading ----------------------------------------------------------------------------------
    def find(self, key: str | None) -> RecordedTurn | None:
        """The newest finished answer recorded for request ``key`` that can be reused, or None.

        Stopped, interrupted, failed and cut replies are never found, nor replies that called tools.
        """
        if not key:
            return None
        rows = self._run(
            "read",
            "SELECT * FROM turns WHERE request_key = ? AND status = 'done' AND tool_calls_json IS NULL "
            "ORDER BY id DESC LIMIT 1",
            (key,),
        )
        return RecordedTurn.from_row(rows[0]) if rows else None

    def get(self, turn_id: int) -> RecordedTurn | None:
        """The turn with this id, or None."""
        rows = self._run("read", "SELECT * FROM turns WHERE id = ?", (turn_id,))
        return RecordedTurn.from_row(rows[0]) if rows else None

    def log(
        self, n: int | None = 20, *, session: str | None = None, search: str | None = None, batch: str | None = None
    ) -> list[RecordedTurn]:
        """The ``n`` most recent turns, newest first; ``session``/``batch`` filter, ``search``
        keeps the turns whose prompt or reply holds every word (SQLite FTS5)."""
        where: list[str] = []
        params: list[Any] = []
        if session is not None:
            where.append("session = ?")
            params.append(session)
        if batch is not None:
            where.append("batch = ?")
            params.append(batch)
        if search and search.strip():
            where.append("id IN (SELECT rowid FROM turns_fts WHERE turns_fts MATCH ?)")
            params.append(fts_query(search))
        sql = "SELECT * FROM turns" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if n is not None:
            sql += " LIMIT ?"
            params.append(int(n))
        return [RecordedTurn.from_row(r) for r in self._run("search" if search else "read", sql, params)]

    def conversation(self, session: str) -> list[RecordedTurn]:
        """The turns, oldest first, of the newest conversation of ``session`` (empty if none)."""
        rows = self._run(
            "read",
            "SELECT * FROM turns WHERE conversation = "
            "(SELECT conversation FROM turns WHERE session = ? AND conversation IS NOT NULL ORDER BY id DESC LIMIT 1) "
            "ORDER BY id",
            (session,),
        )
        return [RecordedTurn.from_row(r) for r in rows]

    def sessions(self) -> list[str]:
        """The names of the sessions recorded, newest first."""
        rows = self._run(
            "read", "SELECT session FROM turns WHERE session IS NOT NULL GROUP BY session ORDER BY max(id) DESC"
        )
        return [r[0] for r in rows]

    def count(self) -> int:
        """How many turns the record holds."""
        return int(self._run("read", "SELECT count(*) FROM turns")[0][0])


_RECORDS: dict[Path, Record] = {}
_RECORDS_LOCK = threading.Lock()


def open_record(path: str | os.PathLike[str]) -> Record:
    """The process's one :class:`Record` for ``path`` (made on first use, opened lazily)."""
    text = os.fspath(path)
    key = Path(text) if text.startswith("file:") else Path(text).expanduser().absolute()
    with _RECORDS_LOCK:
        record = _RECORDS.get(key)
        if record is None:
            record = _RECORDS[key] = Record(key)
        return record
