"""Prepared single statements on PostgreSQL: one round trip for the hottest paths.

The ORM session spends three round trips on a one-statement request (BEGIN, the statement, then COMMIT
or ROLLBACK), and PostgreSQL parses and plans the statement every time. The statements on the hot paths
(the token check, check-in, lock acquire and release, the database-encoded report lists) are single
statements, so on PostgreSQL they run:
- on the thread's own connection in autocommit (ThreadConnections): the statement is its own
  transaction, one round trip (psycopg2's autocommit flag is client-side; SQLAlchemy's
  isolation_level="AUTOCOMMIT" would set and reset the isolation level on every use);
- as server-side prepared statements, prepared once per connection, so PostgreSQL skips parse
  and plan (measured: the token check cost the database 0.060 ms of CPU prepared, 0.097 ms not).

Callers keep their session path for SQLite (`available()` says which to take) and must not run one of
these while their own session holds locks on the same rows: it is another connection.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
import weakref
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psycopg2
from flask import current_app
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.exc import DBAPIError

from extensions import db

# Commit without waiting for the WAL flush: a crash may lose the last few such commits, never corrupt.
ASYNC_COMMIT = "SET LOCAL synchronous_commit TO OFF"


@dataclass(frozen=True)
class Statement:
    """One SQL statement in PostgreSQL's text: parameters $1..$n of the given types."""

    name: str
    sql: str
    types: tuple[str, ...]
    async_commit: bool = False
    # Safe to run twice: then one whose connection turns out dead is run again on a fresh connection.
    idempotent: bool = True

    @property
    def prepare(self) -> str:
        types = f" ({', '.join(self.types)})" if self.types else ""
        return f"PREPARE {self.name}{types} AS {self.sql}"

    @property
    def execute(self) -> str:
        call = f"EXECUTE {self.name} ({', '.join(['%s'] * len(self.types))})" if self.types else f"EXECUTE {self.name}"
        # A multi-statement string runs as one implicit transaction, so SET LOCAL covers the EXECUTE.
        return f"{ASYNC_COMMIT}; {call}" if self.async_commit else call


@dataclass(frozen=True)
class Compiled:
    """A SQLAlchemy statement compiled once into a prepared Statement: which bind parameter is $1..$n, and
    the values of those that are constants of the statement itself."""

    statement: Statement
    names: tuple[str, ...]
    constants: dict

    def args(self, values: dict) -> list:
        # UUIDs go as text: raw psycopg2 runs no SQLAlchemy bind processors
        return [_plain(values[name]) if name in values else self.constants.get(name) for name in self.names]

    def first_row(self, values: dict) -> tuple | None:
        """fetch_one() with the bind parameters' values by name."""
        return fetch_one(self.statement, *self.args(values))


def _plain(value):
    return str(value) if isinstance(value, uuid.UUID) else value


def compile_select(name: str, select, **options) -> Compiled:
    """`select` (any SQLAlchemy statement) with its bind parameters as $n, each declared with its SQL type
    (so PostgreSQL never has to guess one): the session path's own statement serves the prepared path.
    `options`: Statement's `async_commit` and `idempotent`."""
    dialect = PGDialect_psycopg2(paramstyle="numeric_dollar")
    compiled = select.compile(dialect=dialect)
    names = tuple(compiled.positiontup)
    types = tuple(compiled.binds[n].type.compile(dialect=dialect) for n in names)
    constants = {n: compiled.binds[n].value for n in names if compiled.binds[n].value is not None}
    return Compiled(Statement(name, str(compiled), types, **options), names, constants)


def available() -> bool:
    return db.engine.dialect.name == "postgresql"


def fetch_one(statement: Statement, *args) -> tuple | None:
    """Run `statement` in autocommit on this thread's connection; its first row, or None.

    An idempotent statement whose connection turns out dead (a database restart) is run once more on a
    fresh one. Errors come out as SQLAlchemy's exceptions, as the session's would.
    """
    return _fetch_one(statement, args, retry_lost_connection=statement.idempotent)


# A pooled connection idle this long is pinged before use (app._ping_if_idle), and so is a thread's own.
IDLE_PING_SECONDS = 10.0


def ping(connection) -> None:
    """One round trip on a psycopg2 connection; raises psycopg2.Error if the server is gone. Ends the
    transaction the SELECT opened on a connection not in autocommit (a no-op in autocommit)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.rollback()


class _Owned:
    """One thread's own connection, and the statements prepared on it."""

    __slots__ = ("connection", "prepared", "generation", "pid", "last_used", "__weakref__")

    def __init__(self, connection, generation: int) -> None:
        self.connection = connection
        self.prepared: set[str] = set()
        self.generation = generation
        self.pid = os.getpid()
        self.last_used = time.monotonic()


class ThreadConnections:
    """Each thread's own autocommit connection to the engine's database, for this module's statements.

    Why not the pool: checking a connection out and in again takes the pool's lock, which gunicorn's
    threads contend for, and runs its hooks; a check-in request spent more on that than its statement
    cost the client (measured: check-in at 45-47% of the trivial endpoint's requests/s through the pool,
    48-50% with a connection per thread). gunicorn's threads live as long as their worker, so each keeps
    one connection, opened by the engine (its connect hooks run) and detached from the pool. It is:
    - closed when its thread ends (it is garbage then) or when the engine is disposed;
    - replaced when found lost (a database restart), together with every connection opened before that
      was noticed, as the pool recycles its own on a disconnect;
    - pinged first when it sat idle for IDLE_PING_SECONDS, as pooled connections are at checkout;
    - never used by a forked child: it shares the parent's socket.
    A worker therefore holds up to one connection per thread beyond what its pool holds.
    """

    def __init__(self, engine) -> None:
        self.engine = engine
        self.local = threading.local()
        self.generation = 0
        self._open: weakref.WeakSet[_Owned] = weakref.WeakSet()
        self._lock = threading.Lock()
        event.listen(engine, "engine_disposed", self.close_all)

    def acquire(self) -> _Owned:
        owned = getattr(self.local, "owned", None)
        if owned is None or not self._usable(owned):
            owned = self.local.owned = self._connect()
        return owned

    def lost(self, owned: _Owned) -> None:
        """`owned` found its server gone: each thread replaces its own connection at its next use (not
        closed from here: one may be running a statement). A database restart kills the pool's connections
        too, so they are recycled as SQLAlchemy does when a session meets a disconnect."""
        with self._lock:
            self.generation += 1
            self._open.discard(owned)
        if getattr(self.local, "owned", None) is owned:
            del self.local.owned
        # Still down, the database refuses even that: the caller's own error says so, the pool learns later.
        with suppress(DBAPIError):
            self.engine.pool._invalidate(self.engine.raw_connection())

    def close_all(self, _engine=None) -> None:
        """Engine.dispose(): every thread's connection is closed, as the pool's idle ones are."""
        with self._lock:
            self.generation += 1
            owned_now, self._open = list(self._open), weakref.WeakSet()
        for owned in owned_now:
            if owned.pid == os.getpid():
                owned.connection.close()

    def _usable(self, owned: _Owned) -> bool:
        if owned.pid != os.getpid():
            _INHERITED.append(owned)  # the parent's: closing it here would close the parent's session
            return False
        if owned.generation != self.generation or owned.connection.closed:
            owned.connection.close()
            return False
        if time.monotonic() - owned.last_used >= IDLE_PING_SECONDS:
            try:
                ping(owned.connection)
            except psycopg2.Error:
                owned.connection.close()
                return False
        return True

    def _connect(self) -> _Owned:
        pooled = self.engine.raw_connection()
        connection = pooled.dbapi_connection
        pooled.detach()  # ours from now on; the pool opens another in its place when it needs one
        connection.autocommit = True  # psycopg2's flag is client-side: no round trip, set once
        with self._lock:
            owned = _Owned(connection, self.generation)
            self._open.add(owned)
        return owned


_INHERITED: list[_Owned] = []


def _thread_connections() -> ThreadConnections:
    return current_app.extensions["concierge.thread_connections"]


@contextmanager
def autocommit_cursor():
    """A cursor on this thread's own connection, in autocommit (yields the connection's holder, whose
    `prepared` names the statements prepared on it, and the cursor)."""
    connections = _thread_connections()
    owned = connections.acquire()
    try:
        with owned.connection.cursor() as cursor:
            yield owned, cursor
    finally:
        owned.last_used = time.monotonic()
        if owned.connection.closed:
            connections.lost(owned)


def _fetch_one(statement: Statement, args: tuple, retry_lost_connection: bool) -> tuple | None:
    owned = None
    try:
        with autocommit_cursor() as (owned, cursor):
            if statement.name not in owned.prepared:
                cursor.execute(statement.prepare)
                owned.prepared.add(statement.name)
            cursor.execute(statement.execute, args)
            return cursor.fetchone()
    except psycopg2.Error as failure:
        lost = owned is not None and bool(owned.connection.closed)
        if lost and retry_lost_connection:
            return _fetch_one(statement, args, retry_lost_connection=False)
        raise DBAPIError.instance(statement.execute, args, failure, psycopg2.Error,
                                  connection_invalidated=lost) from failure
