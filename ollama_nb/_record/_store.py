"""The record: every turn in a SQLite file (stdlib ``sqlite3``), searchable, safe for many kernels.

WAL mode (readers never wait for a writer), a busy timeout (a writer waits for another instead of
failing with "database is locked"), and one short transaction per turn: a single ``INSERT``, with
the full-text index kept by a trigger in the same statement. Nothing is written per token.

The file is created private to the user (mode 0600; SQLite gives its ``-wal`` and ``-shm`` files
the same mode), in a folder created 0700. Every failure is a :class:`RecordError`, one line.

Open modes: a path; a SQLite URI (``file:/archive/record.db?mode=ro``, ``?immutable=1``,
``file::memory:?cache=shared``); ``:memory:`` (no file). A read-only record (by URI, by file
permissions, or written by a newer ollama_nb) is read as usual; a write is skipped with one
:class:`RecordWarning`. A row that does not decode is skipped with one warning per read.

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
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import parse_qs, urlsplit

from .._errors import RecordError, RecordWarning
from ._entry import RecordedTurn
from ._schema import migrate, unknown_migrations

__all__ = ["Record", "RecordError", "fts_query", "open_record"]

#: Seconds a write waits for another kernel's write before giving up.
DEFAULT_BUSY_TIMEOUT = 10.0


def fts_query(text: str) -> str:
    """Words of ``text`` as an FTS5 query that matches turns holding all of them, whatever
    punctuation they carry (each word is a quoted phrase, so ``-`` or ``:`` mean nothing). A NUL
    separates words (FTS5 reads a query as a C string: a NUL would end it mid-phrase).

    Example:
        >>> fts_query("sky-blue -x:y")
        '"sky-blue" "-x:y"'
        >>> fts_query("a\x00b")
        '"a" "b"'
    """
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.replace("\x00", " ").split())


def _not_a_file(text: str) -> bool:
    """True for a SQLite URI or ``:memory:``: given to SQLite as it is, no file made here."""
    return text == ":memory:" or text.startswith("file:")


def _read_only_uri(text: str) -> bool:
    """True for a URI that asks SQLite to only read (``mode=ro`` or ``immutable=1``)."""
    if not text.startswith("file:"):
        return False
    query = parse_qs(urlsplit(text).query)
    return "ro" in query.get("mode", []) or any(v not in ("0", "") for v in query.get("immutable", []))


def _in_memory(text: str) -> bool:
    return text == ":memory:" or text.startswith("file::memory:") or "mode=memory" in text


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
        text = os.fspath(path)
        self.path = Path(text) if _not_a_file(text) else Path(text).expanduser()
        self._target = text if _not_a_file(text) else str(self.path)  # what sqlite3.connect is given
        self.busy_timeout = busy_timeout
        #: True when turns are only read: a read-only URI or file, or a record from a newer ollama_nb.
        self.read_only = _read_only_uri(text)
        self._why_read_only = "opened with mode=ro or immutable=1" if self.read_only else ""
        self._warned_write = False
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
        uri = self._target.startswith("file:")  # e.g. file:/archive/record.db?mode=ro to only read
        if not _not_a_file(self._target):
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except FileExistsError:  # the folder's name is taken by a file
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)) from None
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(
            self._target, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False, uri=uri
        )
        try:
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            if not self.read_only and not _in_memory(self._target):
                self._use_wal(db)
            newer = unknown_migrations(db)
            if newer and not self.read_only:
                self._newer(len(newer))
            if not self.read_only:
                db.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable at checkpoints, safe from corruption
                migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _only_read(self, why: str) -> None:
        self.read_only, self._why_read_only = True, why

    def _newer(self, count: int) -> None:
        self._only_read(f"a newer ollama_nb wrote it ({count} unknown migrations)")
        self._warned_write = True  # this is the one warning; writes are then skipped quietly
        warnings.warn(
            f"the record at {str(self.path)!r} was written by a newer ollama_nb: it is only read, "
            "turns are not written to it (upgrade ollama_nb, or set OLLAMA_NB_DB to another file).",
            RecordWarning,
            stacklevel=5,
        )

    def _use_wal(self, db: sqlite3.Connection) -> None:
        """Switch a new file to WAL. SQLite does not call the busy handler when another process
        holds the file while doing the same, so wait here, within the busy timeout. A file SQLite
        can only read stays as it is (the record is then read-only)."""
        deadline = time.monotonic() + self.busy_timeout
        pause = 0.005
        while db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if "readonly" in str(exc).replace("-", "").replace(" ", ""):
                    self._only_read("SQLite can only read that file")
                    return
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
                continue
            if mode != "wal":  # SQLite kept its own mode (a read-only or special file): never loop on it
                if db.execute("PRAGMA query_only").fetchone()[0] or _cannot_write(db):
                    self._only_read("SQLite can only read that file")
                return

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
    def _skip_write(self) -> bool:
        """True when a write is to be skipped quietly (a newer ollama_nb's record: it warned once when
        opened); another read-only record raises :class:`RecordError` (a session warns once)."""
        self.connection()  # opening may find it read-only
        if not self.read_only:
            return False
        if self._warned_write:
            return True
        raise RecordError(f"cannot write to the record at {str(self.path)!r}: it is read-only ({self._why_read_only}).")

    def add(self, turn: RecordedTurn) -> int:
        """Write one turn in one short transaction; returns its id (0 when the record is read-only)."""
        if self._skip_write():
            return 0
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
        if self._skip_write():
            return
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
        return next(iter(self._turns(rows)), None)

    def get(self, turn_id: int) -> RecordedTurn | None:
        """The turn with this id, or None."""
        rows = self._run("read", "SELECT * FROM turns WHERE id = ?", (turn_id,))
        return next(iter(self._turns(rows)), None)

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
        query = fts_query(search or "")
        if query:
            where.append("id IN (SELECT rowid FROM turns_fts WHERE turns_fts MATCH ?)")
            params.append(query)
        sql = "SELECT * FROM turns" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if n is not None:
            sql += " LIMIT ?"
            params.append(int(n))
        return self._turns(self._run("search" if search else "read", sql, params))

    def conversation(self, session: str) -> list[RecordedTurn]:
        """The turns, oldest first, of the newest conversation of ``session`` (empty if none)."""
        rows = self._run(
            "read",
            "SELECT * FROM turns WHERE conversation = "
            "(SELECT conversation FROM turns WHERE session = ? AND conversation IS NOT NULL ORDER BY id DESC LIMIT 1) "
            "ORDER BY id",
            (session,),
        )
        return self._turns(rows)

    def _turns(self, rows: Iterable[sqlite3.Row]) -> list[RecordedTurn]:
        """The rows as turns; a row that does not decode is skipped, with one warning."""
        turns, bad = [], []
        for row in rows:
            try:
                turns.append(RecordedTurn.from_row(row))
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
                bad.append(_row_id(row))
        if bad:
            warnings.warn(
                f"skipped {len(bad)} turn(s) of the record at {str(self.path)!r} that do not decode (ids {bad[:5]}).",
                RecordWarning,
                stacklevel=3,
            )
        return turns

    def sessions(self) -> list[str]:
        """The names of the sessions recorded, newest first."""
        rows = self._run(
            "read", "SELECT session FROM turns WHERE session IS NOT NULL GROUP BY session ORDER BY max(id) DESC"
        )
        return [r[0] for r in rows]

    def count(self) -> int:
        """How many turns the record holds."""
        return int(self._run("read", "SELECT count(*) FROM turns")[0][0])


def _row_id(row: sqlite3.Row) -> Any:
    try:
        return row["id"]
    except (IndexError, KeyError):
        return None


def _cannot_write(db: sqlite3.Connection) -> bool:
    """True when a write to ``db`` fails because SQLite opened it read-only (nothing is changed)."""
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        return "readonly" in str(exc).replace(" ", "").replace("-", "")
    return False


_RECORDS: dict[Path, Record] = {}
_RECORDS_LOCK = threading.Lock()


def open_record(path: str | os.PathLike[str]) -> Record:
    """The process's one :class:`Record` for ``path`` (made on first use, opened lazily)."""
    text = os.fspath(path)
    key = Path(text) if _not_a_file(text) else Path(text).expanduser().absolute()
    with _RECORDS_LOCK:
        record = _RECORDS.get(key)
        if record is None:
            record = _RECORDS[key] = Record(text if _not_a_file(text) else key)
        return record
