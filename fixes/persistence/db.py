"""Fixes persistence: the database engine and the sqlmodel tables (one source of truth).

Every table is created on start with ``CREATE TABLE IF NOT EXISTS`` semantics
(``SQLModel.metadata.create_all``), so a second start keeps all data. The same code runs
on SQLite (the default ``sqlite:///mendbot.db``) and PostgreSQL (``postgresql+psycopg://``).

Times go in as aware datetimes and come out as aware UTC (:class:`UTCDateTime`), whatever
the database does with time zones. Text goes in as UTF-8, which cannot hold a lone
surrogate (left in a ``str`` by undecodable bytes in a file name, an argument or an LM's
JSON): every text parameter has them replaced by U+FFFD on its way to the database, so
such a value is stored rather than failing the transaction.

There are no migrations: ``create_all`` never adds a column to a table that exists, so
the constructor checks that every table has every column it expects, then that it may
write (a row inserted and rolled back), and otherwise stops before anything is read or
consumed (errors from :mod:`fixes.persistence.errors`)::

    DatabaseUnusable    cannot connect (unreachable, refused, bad credentials), not a
    │                   database (a corrupt or foreign file), or read-only
    └── SchemaMismatch  a table lacks columns (an older mendbot created the database);
                        move the database aside (delete the SQLite file) and start again
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text, TypeDecorator, event, insert, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, create_engine

from core.clock import utcnow
from core.proposals import FixProposal
from core.redact import scrub_secrets
from core.text import one_line
from fixes.persistence.errors import DatabaseUnusable


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that accepts aware datetimes only and returns aware UTC.

    SQLite keeps no offset, so values are stored converted to UTC and read back with
    ``tzinfo=UTC`` attached; PostgreSQL stores ``timestamp with time zone``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def _time(**kwargs: Any) -> Any:
    """A sqlmodel field stored as :class:`UTCDateTime`."""
    return Field(sa_type=UTCDateTime, **kwargs)


class ProposalRow(SQLModel, table=True):
    """A fix proposal: the columns SQL filters, orders or updates in place, and ``body``.

    The shape of a proposal is written once, in :class:`~core.proposals.FixProposal`.
    This row names only the fields that need a column of their own (queried: ``id``,
    ``fingerprint``, ``status``, ``created_at``; set by an ``UPDATE``: the rest); every
    other field lives in ``body``, the JSON of ``model_dump(mode="json")``, so a field
    added to the model is stored without a change here. Column names must be model field
    names (checked at import); :meth:`from_proposal` and :meth:`to_proposal` map both ways.
    """

    __tablename__ = "proposals"

    id: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(index=True, max_length=64)
    status: str = Field(index=True, max_length=16)
    created_at: datetime = _time()
    updated_at: datetime = _time()
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: datetime | None = _time(default=None, nullable=True)
    commit_sha: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    thread_ref: str | None = Field(default=None, max_length=128)
    seen_again: int = 0
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))

    @classmethod
    def from_proposal(cls, proposal: FixProposal) -> ProposalRow:
        """The row for ``proposal``: its column fields as columns, the rest in ``body``.

        Raises:
            ValueError: ``updated_at`` is unset (the store sets it before inserting).
        """
        if proposal.updated_at is None:
            raise ValueError("a stored proposal needs updated_at")
        columns = {name: getattr(proposal, name) for name in PROPOSAL_COLUMNS}
        body = proposal.model_dump(mode="json", exclude=set(PROPOSAL_COLUMNS))
        return cls(**columns, body=body)

    def to_proposal(self) -> FixProposal:
        """The proposal this row holds: ``body`` and the columns, validated as one.

        A field added to the model later needs a default, or rows stored before it
        existed no longer validate.

        Raises:
            pydantic.ValidationError: the stored values no longer fit the model.
        """
        columns = {name: getattr(self, name) for name in PROPOSAL_COLUMNS}
        return FixProposal.model_validate({**self.body, **columns})


#: The :class:`FixProposal` fields that :class:`ProposalRow` keeps as columns.
PROPOSAL_COLUMNS: tuple[str, ...] = tuple(n for n in ProposalRow.model_fields if n != "body")
_strays = set(PROPOSAL_COLUMNS) - set(FixProposal.model_fields)
if _strays:  # pragma: no cover - a programming error, caught by any import
    raise TypeError(f"ProposalRow columns that are not FixProposal fields: {sorted(_strays)}")


class AnomalyRow(SQLModel, table=True):
    """Every anomaly fingerprint ever seen, with running totals."""

    __tablename__ = "anomalies"

    fingerprint: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    template: str = Field(sa_column=Column(Text, nullable=False))
    severity: str = Field(max_length=16)
    first_seen: datetime = _time()
    last_seen: datetime = _time()
    total_count: int = 0


class AuditRow(SQLModel, table=True):
    """Append-only audit trail: rows are inserted, never updated or deleted."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    proposal_id: str | None = Field(default=None, index=True, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class StateRow(SQLModel, table=True):
    """Small named JSON values: source cursors, template baselines, caches."""

    __tablename__ = "state"

    key: str = Field(primary_key=True, max_length=255)
    value: Any = Field(sa_column=Column(JSON, nullable=True))
    updated_at: datetime = _time()


class OnceRow(SQLModel, table=True):
    """Keys claimed exactly once (e.g. Slack ``event_id``s), for idempotent handling."""

    __tablename__ = "once_keys"

    key: str = Field(primary_key=True, max_length=255)
    at: datetime = _time(index=True)


class VerificationRow(SQLModel, table=True):
    """Following one pushed fix (:class:`~core.verification.Verification`): the columns
    queried or compared (``phase``, ``version``), the rest in ``body`` (its JSON)."""

    __tablename__ = "verifications"

    proposal_id: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(index=True, max_length=64)
    phase: str = Field(index=True, max_length=16)
    version: int = 0
    updated_at: datetime = _time()
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ActionRunRow(SQLModel, table=True):
    """One operational action of a proposal: its retry queue, its verification watch and
    its outcome (``fixes.actions.runs``). ``phase``: running, queued, watching, done;
    ``result`` once done: cleared, not_cleared, failed, refused."""

    __tablename__ = "action_runs"

    proposal_id: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(index=True, max_length=64)
    target: str = Field(index=True, max_length=200)
    action_kind: str = Field(max_length=32)
    anomaly_kind: str = Field(max_length=32)
    rule: str = Field(default="", max_length=100)
    automatic: bool = False
    phase: str = Field(index=True, max_length=16)
    result: str | None = Field(default=None, max_length=16)
    attempts: int = 0
    told_queued: bool = False
    due_at: datetime | None = _time(default=None, nullable=True)
    started_at: datetime = _time()
    acted_at: datetime | None = _time(default=None, nullable=True)
    finished_at: datetime | None = _time(default=None, nullable=True, index=True)
    seconds_to_clear: float | None = None
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CompiledProgramRow(SQLModel, table=True):
    """A compiled diagnosis program (``mendbot learn``): the demos DSPy's optimizer chose,
    as JSON (``state``, secrets masked), and what it was compiled from. Rows are inserted,
    never updated; the newest is the one the diagnoser uses."""

    __tablename__ = "compiled_programs"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _time(index=True)
    optimizer: str = Field(max_length=32)
    model: str | None = Field(default=None, max_length=200)
    proposal_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class Database:
    """An engine plus the schema; hand one instance to every store in the process.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///mendbot.db`` or
            ``postgresql+psycopg://user@127.0.0.1:5432/db``.

    The constructor checks the columns of the tables that exist, creates the missing
    ones, and checks that a row can be written.

    Raises:
        SchemaMismatch: an existing table lacks columns this version needs.
        DatabaseUnusable: the database cannot be reached, is not a database, or is
            read-only (the connections are released first).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        try:
            _check_columns(self.engine)  # before creating anything in an older database
            _create_schema(self.engine)
            _check_writable(self.engine)
        except SQLAlchemyError as error:
            self.engine.dispose()
            raise DatabaseUnusable(f"{_where(self.engine)}: {driver_reason(error)}") from error
        except DatabaseUnusable:
            self.engine.dispose()
            raise

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the commit failed (after a rollback); any
                error of the block is re-raised after the rollback.
        """
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def ping(self) -> bool:
        """True when a trivial query succeeds (for ``/health``)."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


class SchemaMismatch(DatabaseUnusable):
    """A table in the database lacks columns that this version of mendbot needs."""


def driver_reason(error: BaseException) -> str:
    """The driver's reason for a database error, as one line without SQLAlchemy's SQL,
    parameters (which may quote log text) and links, secrets masked: e.g.
    ``OperationalError: attempt to write a readonly database``."""
    orig = getattr(error, "orig", None)
    cause = orig if orig is not None else error
    text = str(cause).split("\n[SQL:")[0].split("\n(Background")[0]
    return f"{type(cause).__name__}: {one_line(scrub_secrets(text), 400)}"


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _check_writable(engine: Engine) -> None:
    """Insert a row and roll it back: a read-only database fails here, before any work."""
    probe = insert(OnceRow).values(key="mendbot:write-probe", at=utcnow())
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            connection.execute(probe)
        finally:
            transaction.rollback()


def _check_columns(engine: Engine) -> None:
    """Refuse a database whose tables were created by an older mendbot (no migrations);
    tables not there yet are created afterwards, whole."""
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing = [column.name for column in table.columns if column.name not in present]
        if missing:
            where = _where(engine)
            raise SchemaMismatch(
                f"table {table.name!r} in {where} lacks column(s) {', '.join(missing)}: "
                "an older mendbot created it and there are no migrations; move that "
                "database aside (for SQLite, delete or rename the file) and start again"
            )


def _create_schema(engine: Engine, attempts: int = 10) -> None:
    """Create missing tables. Processes starting together may each see a table missing
    and race to create it; the loser's "already exists" is not an error: look again."""
    for attempt in range(attempts):
        try:
            SQLModel.metadata.create_all(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError) as error:
            text = str(error).lower()
            if attempt == attempts - 1 or ("exist" not in text and "duplicate" not in text):
                raise
            time.sleep(0.05 * (attempt + 1))


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "before_cursor_execute", _storable_parameters, retval=True)
    return engine


_SURROGATE = re.compile("[\ud800-\udfff]")


def _storable_parameters(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    """Lone surrogates in text parameters replaced by U+FFFD (UTF-8 cannot encode them)."""
    return statement, _storable(parameters)


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, tuple | list):
        return type(value)(_storable(item) for item in value)
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    return value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # busy_timeout first: every later statement waits for a lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        _enable_wal(cursor)
    finally:
        cursor.close()


def _enable_wal(cursor: Any, attempts: int = 50) -> None:
    """Switch to WAL, which lets readers run beside the one writer (the bot and a CLI).

    Switching a fresh database needs a moment alone with it, and SQLite answers "locked"
    at once, without its busy handler, while other connections are opening it too. WAL is
    persistent, so the first connection that gets through switches it for everyone.
    """
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
