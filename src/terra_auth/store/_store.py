"""The store: connections, webhook events and idempotency over SQLAlchemy 2 (sync).

SQLite (a file, WAL mode, busy timeout) by default; PostgreSQL through psycopg 3 when several
service processes share one database.

Example:
    >>> store = Store("sqlite:///terra-auth.db")          # doctest: +SKIP
    >>> store.upgrade()                                    # doctest: +SKIP
    >>> result = store.ingest(verified, received_at=now)  # doctest: +SKIP
    >>> result.duplicate, [c.kind for c in result.changes]  # doctest: +SKIP
    (False, ['connected'])
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from terra_auth.environments import Environment
from terra_auth.errors import InvalidRequestError
from terra_auth.secret import get_logger, mask
from terra_auth.store import _sqlite_fast
from terra_auth.store._errors import StoreUnavailable
from terra_auth.store._paths import check_sqlite_path, sqlite_file
from terra_auth.store._records import (
    HEADERS_KEPT,
    IngestResult,
    LocalAction,
    ReplayResult,
    StoredEvent,
    _canonical,
    _involved,
    _primary_user,
    _row_values,
    _to_state,
    delivery_key,
)
from terra_auth.store._urls import DEFAULT_DATABASE_URL, mask_url, normalize_url
from terra_auth.store.models import (
    ConnectionRow,
    IdempotencyRow,
    LocalActionRow,
    WebhookEventRow,
)

if TYPE_CHECKING:
    from terra_auth.webhooks import VerifiedSignature, VerifiedWebhook
    from terra_auth.webhooks.lifecycle import ConnectionState

__all__ = ["IngestResult", "LocalAction", "ReplayResult", "Store", "StoredEvent"]

_log = get_logger("terra_auth.store")

_connections = cast(sa.Table, ConnectionRow.__table__)
_events = cast(sa.Table, WebhookEventRow.__table__)
_idempotency = cast(sa.Table, IdempotencyRow.__table__)
_local_actions = cast(sa.Table, LocalActionRow.__table__)

_MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK_KEY = 0x7465727261  # "terra": one PostgreSQL advisory lock for migrations
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
_MAX_ATTEMPTS = 5
_MAX_BATCH = 128  # deliveries per SQLite group commit (bounds one transaction's size)
_CHECKPOINT_BYTES = 4 * 1024 * 1024  # about SQLite's own autocheckpoint (1000 pages)
#: the stored type of a signed body that does not parse (see :meth:`Store.ingest_unparsed`)
UNPARSED_TYPE = "invalid_body"


class _Duplicate(Exception):
    """Raised inside the ingest transaction to roll it back on a duplicate delivery."""


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Persistence of connections and webhook events; see ``docs/persistence.md``.

    A bad URL or an unusable SQLite path (missing directory, a file where a directory should
    be, no write permission) raises :class:`~terra_auth.errors.ConfigurationError` here, in
    the constructor; a database that cannot be reached raises :class:`StoreUnavailable` when
    first used. Directories are never created.

    >>> store = Store("sqlite:///:memory:")
    >>> store.upgrade()
    >>> store.all_connections()
    []
    """

    def __init__(
        self,
        database_url: str = DEFAULT_DATABASE_URL,
        *,
        busy_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        pool_size: int = 10,
        echo: bool = False,
        fast_path: bool = True,
    ) -> None:
        self.url = normalize_url(database_url)
        self.masked_url = mask_url(self.url)
        self.dialect = self.url.get_backend_name()
        check_sqlite_path(self.url)  # ConfigurationError now, not an OSError later
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        self._pending_lock = threading.Lock()
        self._pending: list[_sqlite_fast.Job] = []
        self._writer: _GroupWriter | None = None
        self.engine: Engine = self._create_engine(busy_timeout, connect_timeout, pool_size, echo)
        #: PostgreSQL: ingest's own pool, without the pre-ping round trip (the pipeline's first
        #: statement finds a dead connection; ingest then retries once on a fresh one)
        self._ingest_engine: Engine = (
            self._create_engine(busy_timeout, connect_timeout, pool_size, echo, pre_ping=False)
            if self.dialect == "postgresql"
            else self.engine
        )
        self._build_statements()
        #: SQLite only: run ingest on the raw sqlite3 connection (see ``_sqlite_fast``)
        self.fast_path = fast_path and self.dialect == "sqlite" and _sqlite_fast.SUPPORTED

    def __repr__(self) -> str:
        return f"Store({self.masked_url!r})"

    # -- engine -----------------------------------------------------------------------------
    def _create_engine(
        self,
        busy_timeout: float,
        connect_timeout: float,
        pool_size: int,
        echo: bool,
        *,
        pre_ping: bool = True,
    ) -> Engine:
        if self.dialect == "sqlite":
            database = self.url.database or ""
            memory = database in ("", ":memory:") or database.startswith("file::memory:")
            kwargs: dict[str, Any] = {
                "connect_args": {"timeout": busy_timeout, "check_same_thread": False}
            }
            if memory:
                kwargs["poolclass"] = sa.StaticPool
            engine = sa.create_engine(self.url, hide_parameters=True, echo=echo, **kwargs)
            busy_ms = int(busy_timeout * 1000)

            @sa_event.listens_for(engine, "connect")
            def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
                cursor = dbapi_connection.cursor()
                if not memory:
                    cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

            @sa_event.listens_for(engine, "begin")
            def _sqlite_begin(conn: Connection) -> None:
                immediate = conn.get_execution_options().get("terra_write", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

            return engine
        return sa.create_engine(
            self.url,
            hide_parameters=True,
            echo=echo,
            pool_pre_ping=pre_ping,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=connect_timeout,
            connect_args={"connect_timeout": max(1, round(connect_timeout))},
        )

    def close(self) -> None:
        """Finish queued deliveries, stop the SQLite writer thread, close pooled connections."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()
        self.engine.dispose()
        if self._ingest_engine is not self.engine:
            self._ingest_engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- errors -----------------------------------------------------------------------------
    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        orig = getattr(exc, "orig", None) or exc
        text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        text = mask(text)[:200]
        sqlstate = getattr(orig, "sqlstate", None)
        if "no such table" in text or sqlstate == "42P01":
            return StoreUnavailable(
                f"the database at {self.masked_url} has no terra-auth tables ({text})",
                hint="run `terra-auth db upgrade --database-url URL` (or Store.upgrade()) first",
            )
        hint = "check that the database server is running and reachable, then retry"
        if self.dialect == "sqlite":
            hint = (
                "check that the directory of the SQLite file exists and is writable, and that "
                "no other program holds a long write lock on it"
            )
        return StoreUnavailable(
            f"the database at {self.masked_url} is unavailable: {text}", hint=hint
        )

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except StoreUnavailable:
            raise
        except (
            sa_exc.OperationalError,
            sa_exc.InterfaceError,
            sa_exc.DisconnectionError,
            sa_exc.TimeoutError,
        ) as exc:
            raise self._unavailable(exc) from None
        except sa_exc.ProgrammingError as exc:
            if getattr(getattr(exc, "orig", None), "sqlstate", None) == "42P01":
                raise self._unavailable(exc) from None
            raise
        except sa_exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise self._unavailable(exc) from None
            raise

    @contextmanager
    def _write(self, engine: Engine | None = None) -> Iterator[Connection]:
        """One write transaction (BEGIN IMMEDIATE on SQLite, serialised in this process)."""
        if self._write_lock is not None:
            with self._write_lock, self.engine.connect() as conn:
                conn.execution_options(terra_write=True)
                with conn.begin():
                    yield conn
        else:
            with (engine or self.engine).begin() as conn:
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._translate_errors(), self.engine.connect() as conn:
            yield conn

    def _sqlite_file(self) -> Path | None:
        return sqlite_file(self.url)

    # -- schema -----------------------------------------------------------------------------
    def _alembic_config(self, conn: Connection) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = conn
        return config

    def upgrade(self, revision: str = "head") -> None:
        """Run the packaged Alembic migrations up to ``revision`` (safe to run concurrently)."""
        from alembic import command

        with self._translate_errors(), self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                conn.commit()
            try:
                command.upgrade(self._alembic_config(conn), revision)
                conn.commit()
            finally:
                if self.dialect == "postgresql":
                    conn.execute(
                        sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY}
                    )
                    conn.commit()
        _log.info("database at %s upgraded to %s", self.masked_url, revision)

    def current_revision(self) -> str | None:
        """The migration the database is at (None when it has never been upgraded)."""
        from alembic.runtime.migration import MigrationContext

        path = self._sqlite_file()
        if path is not None and not path.exists():
            return None  # not created yet (and reading must not create it)
        with self._read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        """The newest migration shipped with this version of terra-auth."""
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        return ScriptDirectory.from_config(config).get_current_head()

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers."""
        with self._read() as conn:
            conn.execute(sa.text("SELECT 1"))

    # -- ingest -----------------------------------------------------------------------------
    def ingest(
        self,
        verified: VerifiedWebhook,
        *,
        received_at: datetime | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> IngestResult:
        """Store a verified webhook and apply it to the connections, in one transaction.

        A delivery whose key (environment + trace id as sent) was seen before returns
        ``IngestResult(duplicate=True)`` and changes nothing. Raises :class:`StoreUnavailable`
        when the database cannot be used; the caller answers 503 and Terra retries.
        """
        return self._ingest(
            verified.environment,
            verified.trace_id,
            verified.body,
            verified.signed_at,
            event=verified.event,
            type_name=str(verified.event.type),
            received_at=received_at,
            headers=headers,
        )

    def ingest_unparsed(
        self,
        checked: VerifiedSignature,
        *,
        received_at: datetime | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> IngestResult:
        """Keep a correctly signed body that is not a Terra event this version understands.

        Stored like any delivery (raw bytes, headers, idempotency key) with the type
        ``invalid_body``, and applied to nothing: the receiver answers 200 so Terra does not
        retry bytes that will never parse, and ``terra-auth events replay`` applies the event
        once a newer terra-auth understands it. ``checked`` comes from
        :func:`terra_auth.webhooks.verify_signature`.
        """
        return self._ingest(
            checked.environment,
            checked.trace_id,
            checked.body,
            checked.signed_at,
            event=None,
            type_name=UNPARSED_TYPE,
            received_at=received_at,
            headers=headers,
        )

    async def ingest_async(
        self,
        verified: VerifiedWebhook,
        *,
        received_at: datetime | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> IngestResult:
        """:meth:`ingest` for an event loop: on SQLite (:attr:`fast_path`) the delivery joins
        the next group commit of a dedicated writer thread and the loop is woken once per
        batch; otherwise :meth:`ingest` runs in the loop's default executor.

        >>> result = await store.ingest_async(verified)  # doctest: +SKIP
        """
        return await self._ingest_async(
            verified.environment,
            verified.trace_id,
            verified.body,
            verified.signed_at,
            event=verified.event,
            type_name=str(verified.event.type),
            received_at=received_at,
            headers=headers,
        )

    async def ingest_unparsed_async(
        self,
        checked: VerifiedSignature,
        *,
        received_at: datetime | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> IngestResult:
        """:meth:`ingest_unparsed` for an event loop (see :meth:`ingest_async`)."""
        return await self._ingest_async(
            checked.environment,
            checked.trace_id,
            checked.body,
            checked.signed_at,
            event=None,
            type_name=UNPARSED_TYPE,
            received_at=received_at,
            headers=headers,
        )

    def _prepare(
        self,
        environment_name: Environment | str | None,
        trace_id: str | None,
        body: bytes,
        signed_at: datetime | None,
        *,
        event: Any,
        type_name: str,
        received_at: datetime | None,
        headers: Mapping[str, str] | None,
    ) -> _Prepared:
        if environment_name is None:
            raise InvalidRequestError(
                "the webhook was verified without knowing its environment",
                hint="verify with a mapping of environment to signing secrets",
            )
        environment = Environment.parse(environment_name)
        received = (received_at or _now()).astimezone(UTC)
        key = delivery_key(trace_id, body)
        canonical = key if key.startswith("sha256:") else _canonical(key)
        raw = getattr(event, "raw", None)
        if not isinstance(raw, Mapping):
            try:
                raw = json.loads(body)
            except (ValueError, RecursionError):
                raw = None
        kept = {}
        if headers:
            lowered = {k.lower(): v for k, v in headers.items()}
            kept = {h: str(lowered[h])[:500] for h in HEADERS_KEPT if h in lowered}
        event_values = {
            "trace_id": key,
            "canonical_trace_id": canonical,
            "environment": environment.value,
            "type": type_name[:64],
            "terra_user_id": _primary_user(raw),
            "raw_body": body,
            "headers": kept,
            "signed_at": signed_at,
            "received_at": received,
        }
        users, refs = _involved(raw) if event is not None else (set(), set())
        return _Prepared(environment, key, canonical, event_values, event, users, refs)

    def _ingest(
        self,
        environment_name: Environment | str | None,
        trace_id: str | None,
        body: bytes,
        signed_at: datetime | None,
        *,
        event: Any,
        type_name: str,
        received_at: datetime | None,
        headers: Mapping[str, str] | None,
    ) -> IngestResult:
        prepared = self._prepare(
            environment_name,
            trace_id,
            body,
            signed_at,
            event=event,
            type_name=type_name,
            received_at=received_at,
            headers=headers,
        )
        if self.fast_path:
            return self._ingest_fast(prepared)
        key = prepared.key
        with self._translate_errors():
            for attempt in range(1, _MAX_ATTEMPTS + 1):
                try:
                    return self._ingest_once(
                        environment=prepared.environment,
                        key=key,
                        canonical=prepared.canonical,
                        event_values=prepared.event_values,
                        event=prepared.event,
                        users=prepared.users,
                        refs=prepared.refs,
                    )
                except _Duplicate:
                    return IngestResult(duplicate=True)
                except sa_exc.DBAPIError as exc:
                    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
                    retryable = (
                        isinstance(exc, sa_exc.IntegrityError)
                        or sqlstate in _RETRYABLE_SQLSTATES
                        # a pooled connection found dead (no pre-ping on ingest's pool): once
                        # more on a fresh one; safe, a delivery that did commit is a duplicate
                        or (exc.connection_invalidated and attempt == 1)
                    )
                    if not retryable or attempt == _MAX_ATTEMPTS:
                        raise
                    _log.info("ingest of %s retried after a conflict (attempt %d)", key, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _ingest_async(
        self,
        environment_name: Environment | str | None,
        trace_id: str | None,
        body: bytes,
        signed_at: datetime | None,
        *,
        event: Any,
        type_name: str,
        received_at: datetime | None,
        headers: Mapping[str, str] | None,
    ) -> IngestResult:
        loop = asyncio.get_running_loop()
        if not self.fast_path:
            return await loop.run_in_executor(
                None,
                functools.partial(
                    self._ingest,
                    environment_name,
                    trace_id,
                    body,
                    signed_at,
                    event=event,
                    type_name=type_name,
                    received_at=received_at,
                    headers=headers,
                ),
            )
        prepared = self._prepare(
            environment_name,
            trace_id,
            body,
            signed_at,
            event=event,
            type_name=type_name,
            received_at=received_at,
            headers=headers,
        )
        job = self._fast_job(prepared)
        job.loop, job.future = loop, loop.create_future()
        with self._pending_lock:
            self._pending.append(job)
        self._group_writer().wake()
        await job.future  # resolved by _settle once the batch has committed (or failed)
        return _outcome(job)

    def _fast_job(self, prepared: _Prepared) -> _sqlite_fast.Job:
        from terra_auth.webhooks.lifecycle import apply_changes, reduce_event

        environment, event = prepared.environment, prepared.event
        received = prepared.event_values["received_at"]

        def reduce(
            before: dict[str, ConnectionState],
        ) -> tuple[list[Any], dict[str, ConnectionState]]:
            if event is None:  # stored, applied to nothing
                return [], before
            changes = reduce_event(before, event, environment=environment, received_at=received)
            return changes, (apply_changes(before, changes) if changes else before)

        return _sqlite_fast.Job(
            claim={
                "environment": environment.value,
                "trace_id": prepared.key,
                "canonical_trace_id": prepared.canonical,
            },
            event=prepared.event_values,
            users=sorted(prepared.users),
            refs=sorted(prepared.refs),
            reduce=reduce,
        )

    def _ingest_fast(self, prepared: _Prepared) -> IngestResult:
        job = self._fast_job(prepared)
        with self._pending_lock:
            self._pending.append(job)
        assert self._write_lock is not None
        with self._write_lock:
            if not job.done:  # lead a batch: the jobs queued so far, one transaction
                batch = self._take_batch()
                self._run_batch(batch)
                _settle(batch)  # wake any event loop whose deliveries rode along
        return _outcome(job)

    def _take_batch(self) -> list[_sqlite_fast.Job]:
        """Up to ``_MAX_BATCH`` queued jobs, oldest first (call with the write lock held)."""
        with self._pending_lock:
            batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
            more = bool(self._pending)
        if more and self._writer is not None:
            self._writer.wake()
        return batch

    def _group_writer(self) -> _GroupWriter:
        writer = self._writer
        if writer is None:
            with self._pending_lock:
                if self._writer is None:
                    self._writer = _GroupWriter(self)
                writer = self._writer
        return writer

    def _run_batch(
        self, batch: list[_sqlite_fast.Job], raw: sqlite3.Connection | None = None
    ) -> None:
        """Run a group commit (on ``raw``, else a pooled connection); a failure of the whole
        transaction becomes each job's error."""
        try:
            with self._translate_errors(), contextlib.ExitStack() as stack:
                if raw is None:
                    conn = stack.enter_context(self.engine.connect())
                    raw = cast(sqlite3.Connection, conn.connection.driver_connection)
                try:
                    _sqlite_fast.run_batch(
                        raw, batch, now=_now, to_state=_to_state, row_values=_row_values
                    )
                except sqlite3.DatabaseError as exc:  # locked, no such table, disk...
                    raise self._unavailable(exc) from None
        except Exception as exc:
            for job in batch:
                job.error = exc if job is batch[0] else _copy_error(exc)
                job.done = True
            return
        for job in batch:
            if isinstance(job.error, sqlite3.DatabaseError):
                job.error = self._unavailable(job.error)

    def _insert(self, table: sa.Table) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def _build_statements(self) -> None:
        """The hot path's statements, built once (building them per call costs more than
        running them on SQLite)."""
        self._claim = (
            self._insert(_idempotency)
            .on_conflict_do_nothing(index_elements=["environment", "trace_id"])
            .returning(_idempotency.c.id)
        )
        self._add_event = sa.insert(_events).returning(_events.c.id)
        load = sa.select(_connections).where(
            sa.or_(
                _connections.c.terra_user_id.in_(sa.bindparam("users", expanding=True)),
                _connections.c.reference_id.in_(sa.bindparam("refs", expanding=True)),
            )
        )
        self._load_rows = load.with_for_update() if self.dialect == "postgresql" else load
        upsert = self._insert(_connections)
        self._upsert = upsert.on_conflict_do_update(
            index_elements=["terra_user_id"],
            set_={
                c.name: upsert.excluded[c.name]
                for c in _connections.columns
                if c.name not in ("terra_user_id", "deauth_requested_at")
            },
        )
        self._delete = sa.delete(_connections).where(
            _connections.c.terra_user_id == sa.bindparam("uid")
        )
        self._lock = sa.text(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
            "FROM (SELECT unnest(CAST(:keys AS text[])) AS k ORDER BY 1) AS sorted_keys"
        )

    def _lock_keys(self, conn: Connection, users: Iterable[str], refs: Iterable[str]) -> None:
        """PostgreSQL: serialise transactions touching the same users, even rows not yet there."""
        if self.dialect != "postgresql":
            return
        keys = sorted({f"u:{u}" for u in users} | {f"r:{r}" for r in refs})
        if keys:  # one round trip, in key order (a deadlock, should one occur, is retried)
            conn.execute(self._lock, {"keys": keys})

    def _pg_claim_and_load(
        self,
        conn: Connection,
        claim: Mapping[str, Any],
        event_values: Mapping[str, Any],
        users: set[str],
        refs: set[str],
    ) -> tuple[int, dict[str, ConnectionState]] | None:
        """PostgreSQL: claim, advisory locks, event insert and ``SELECT ... FOR UPDATE`` in one
        psycopg pipeline (see ``_pg_fast``); psycopg's errors become SQLAlchemy's, so the
        retry and outage handling is the same as for every other statement."""
        import psycopg

        from terra_auth.store import _pg_fast

        keys = sorted({f"u:{u}" for u in users} | {f"r:{r}" for r in refs})
        raw = conn.connection.driver_connection
        try:
            got = _pg_fast.claim_and_load(
                raw, claim, event_values, lock_keys=keys, users=sorted(users), refs=sorted(refs)
            )
        except psycopg.Error as exc:
            invalidated = self.engine.dialect.is_disconnect(cast(Any, exc), raw, None)
            if invalidated:  # the server went away: this connection and the idle ones are stale
                conn.invalidate(exc)
                self._ingest_engine.dispose()
            raise sa_exc.DBAPIError.instance(
                "ingest pipeline",
                None,
                exc,
                psycopg.Error,
                hide_parameters=True,
                connection_invalidated=invalidated,
                dialect=self.engine.dialect,
            ) from None
        if got is None:
            return None
        event_id, rows = got
        return event_id, {row.terra_user_id: _to_state(row) for row in rows}

    def _load(self, conn: Connection, users: set[str], refs: set[str]) -> dict[str, Any]:
        if not users and not refs:
            return {}
        rows = conn.execute(self._load_rows, {"users": sorted(users), "refs": sorted(refs)})
        return {row.terra_user_id: _to_state(row) for row in rows}

    def _write_states(
        self,
        conn: Connection,
        before: Mapping[str, ConnectionState],
        after: Mapping[str, ConnectionState],
        only: Iterable[str] | None = None,
    ) -> int:
        """Write the rows that differ between ``before`` and ``after``; return how many."""
        written = 0
        keys = set(before) | set(after) if only is None else set(only)
        for uid in sorted(keys):
            state = after.get(uid)
            if state is None:
                if uid in before:
                    conn.execute(self._delete, {"uid": uid})
                    written += 1
                continue
            if before.get(uid) == state:
                continue
            conn.execute(self._upsert, _row_values(state))
            written += 1
        return written

    def _ingest_once(
        self,
        *,
        environment: Environment,
        key: str,
        canonical: str,
        event_values: dict[str, Any],
        event: Any,
        users: set[str],
        refs: set[str],
    ) -> IngestResult:
        from terra_auth.webhooks.lifecycle import apply_changes, reduce_event

        with self._write(self._ingest_engine) as conn:
            claim = {
                "environment": environment.value,
                "trace_id": key,
                "canonical_trace_id": canonical,
                "created_at": _now(),
            }
            event_values = {**event_values, "applied_at": _now()}
            if self.dialect == "postgresql":  # the same four statements, one round trip
                claimed = self._pg_claim_and_load(conn, claim, event_values, users, refs)
                if claimed is None:
                    raise _Duplicate  # rolls the transaction back: nothing else happens
                event_id, before = claimed
            else:
                if conn.execute(self._claim, claim).first() is None:
                    raise _Duplicate  # rolls the transaction back: nothing else happens
                event_id = conn.execute(self._add_event, event_values).scalar_one()
                before = self._load(conn, users, refs)
            changes = (
                []
                if event is None
                else reduce_event(
                    before,
                    event,
                    environment=environment,
                    received_at=event_values["received_at"],
                )
            )
            if changes:
                after = apply_changes(before, changes)
                self._write_states(conn, before, after)
            return IngestResult(duplicate=False, changes=tuple(changes), event_id=int(event_id))

    # -- reading ----------------------------------------------------------------------------
    def connections_for(self, reference_id: str) -> list[ConnectionState]:
        """Every connection of one end user (by reference id), oldest first."""
        query = (
            sa.select(_connections)
            .where(_connections.c.reference_id == reference_id)
            .order_by(_connections.c.connected_at, _connections.c.terra_user_id)
        )
        with self._read() as conn:
            return [_to_state(row) for row in conn.execute(query)]

    def get_connection(self, terra_user_id: str) -> ConnectionState | None:
        """One connection by Terra user id, or None."""
        query = sa.select(_connections).where(_connections.c.terra_user_id == terra_user_id)
        with self._read() as conn:
            row = conn.execute(query).first()
            return _to_state(row) if row is not None else None

    def all_connections(self) -> list[ConnectionState]:
        """Every stored connection, ordered by Terra user id."""
        query = sa.select(_connections).order_by(_connections.c.terra_user_id)
        with self._read() as conn:
            return [_to_state(row) for row in conn.execute(query)]

    def mark_deauth_requested(self, terra_user_id: str, at: datetime | None = None) -> bool:
        """Note that a deauthentication was asked of Terra (the ``deauth`` webhook follows).

        Returns False when no such connection is stored.
        """
        stmt = (
            sa.update(_connections)
            .where(_connections.c.terra_user_id == terra_user_id)
            .values(deauth_requested_at=(at or _now()))
        )
        with self._translate_errors(), self._write() as conn:
            return bool(conn.execute(stmt).rowcount)

    def mark_disconnected_locally(
        self,
        terra_user_id: str,
        *,
        reason: str = "terra_user_not_found",
        detail: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Mark a connection disconnected because of what happened here, not a webhook.

        For when Terra answers 404 to ``deauthenticateUser`` (it no longer knows the user), so
        no ``deauth`` webhook will ever come. In one transaction the row becomes
        ``disconnected`` and a :class:`LocalAction` is recorded (no fake webhook event is
        stored; ``last_event_at`` keeps the last real event). Idempotent: returns False, and
        records nothing, when the connection is unknown or already disconnected.

        >>> store = Store("sqlite:///:memory:"); store.upgrade()
        >>> store.mark_disconnected_locally("unknown-user")
        False
        """
        moment = (at or _now()).astimezone(UTC)
        with self._translate_errors(), self._write() as conn:
            self._lock_keys(conn, [terra_user_id], [])  # in line with ingests of this user
            old = self._load(conn, {terra_user_id}, set()).get(terra_user_id)
            if old is None or old.status == "disconnected":
                return False
            new = replace(old, status="disconnected", updated_at=moment)
            conn.execute(self._upsert, _row_values(new))
            newest = conn.execute(sa.select(sa.func.max(_events.c.id))).scalar()
            conn.execute(
                sa.insert(_local_actions).values(
                    environment=str(old.environment),
                    terra_user_id=terra_user_id,
                    action="disconnected",
                    reason=reason[:64],
                    detail=dict(detail or {}),
                    after_event_id=newest,
                    created_at=moment,
                )
            )
        _log.info("connection %s marked disconnected locally (%s)", terra_user_id, reason)
        return True

    def local_actions(self, *, terra_user_id: str | None = None) -> list[LocalAction]:
        """Changes this service made on its own (see :meth:`mark_disconnected_locally`)."""
        query = sa.select(_local_actions).order_by(_local_actions.c.id)
        if terra_user_id is not None:
            query = query.where(_local_actions.c.terra_user_id == terra_user_id)
        with self._read() as conn:
            return [
                LocalAction(**{k: getattr(row, k) for k in LocalAction.__slots__})
                for row in conn.execute(query)
            ]

    def events(
        self,
        *,
        since: datetime | None = None,
        trace_id: str | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """Stored events in the order they were applied (optionally filtered)."""
        query = sa.select(_events).order_by(_events.c.id)
        if since is not None:
            query = query.where(_events.c.received_at >= since)
        if trace_id is not None:
            query = query.where(_events.c.canonical_trace_id == _canonical(trace_id))
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [
                StoredEvent(**{k: getattr(row, k) for k in StoredEvent.__slots__})
                for row in conn.execute(query)
            ]

    def count_events(self) -> int:
        """How many webhook events are stored."""
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(_events)).scalar_one())

    # -- replay -----------------------------------------------------------------------------
    def replay_events(self, since: datetime | None = None) -> ReplayResult:
        """Re-apply stored events, in the order they were applied, idempotently.

        The reducer folds every stored event from an empty state (events it does not know
        change nothing); the connections touched by events received at or after ``since``
        (all of them when ``since`` is None) are rewritten from the result. Running it twice
        gives the same rows. New deliveries wait while it runs (one write transaction).
        """
        from terra_auth.webhooks import parse_event
        from terra_auth.webhooks.lifecycle import apply_changes, reduce_event

        since_utc = since.astimezone(UTC) if since is not None else None
        state: dict[str, ConnectionState] = {}
        touched: set[str] = set()
        replayed: list[int] = []
        n_changes = 0
        query = (
            sa.select(
                _events.c.id, _events.c.environment, _events.c.raw_body, _events.c.received_at
            )
            .order_by(_events.c.id)
            .execution_options(yield_per=200)
        )
        with self._translate_errors(), self._write() as conn:
            if self.dialect == "postgresql":  # ingest waits (its insert conflicts) until done
                conn.execute(sa.text("LOCK TABLE idempotency IN SHARE ROW EXCLUSIVE MODE"))
                conn.execute(sa.text("LOCK TABLE local_actions IN SHARE ROW EXCLUSIVE MODE"))
            local = _LocalQueue(conn)

            def apply_local(before_event_id: int | None) -> None:
                nonlocal state, n_changes
                for action in local.due(before_event_id):
                    old = state.get(action.terra_user_id)
                    if old is None or old.status == "disconnected":
                        continue
                    new = replace(old, status="disconnected", updated_at=action.created_at)
                    state = {**state, action.terra_user_id: new}
                    if since_utc is None or action.created_at >= since_utc:
                        touched.add(action.terra_user_id)
                        n_changes += 1

            for row in conn.execute(query):
                apply_local(row.id)
                try:
                    event = parse_event(row.raw_body)
                except Exception:  # a stored body the parser refuses: skip it, say so
                    _log.warning("replay: stored event %s could not be parsed; skipped", row.id)
                    continue
                changes = reduce_event(
                    state,
                    event,
                    environment=Environment.parse(row.environment),
                    received_at=row.received_at,
                )
                in_window = since_utc is None or row.received_at >= since_utc
                if changes:
                    state = apply_changes(state, changes)
                if in_window:
                    replayed.append(row.id)
                    n_changes += len(changes)
                    for change in changes:
                        if change.terra_user_id:
                            touched.add(change.terra_user_id)
                        if change.replaces_user_id:
                            touched.add(change.replaces_user_id)
            apply_local(None)  # the actions taken after the newest event
            before = self._load(conn, touched, set()) if touched else {}
            written = self._write_states(conn, before, state, only=touched)
            now = _now()
            for chunk in _chunks(replayed, 500):
                conn.execute(
                    sa.update(_events).where(_events.c.id.in_(chunk)).values(applied_at=now)
                )
        _log.info("replayed %d events (%d changes)", len(replayed), n_changes)
        return ReplayResult(events=len(replayed), changes=n_changes, connections_written=written)


class _LocalQueue:
    """The stored local actions, handed out in replay order (before the first event whose id
    is greater than their ``after_event_id``)."""

    def __init__(self, conn: Connection) -> None:
        query = sa.select(
            _local_actions.c.terra_user_id,
            _local_actions.c.action,
            _local_actions.c.after_event_id,
            _local_actions.c.created_at,
        ).order_by(sa.func.coalesce(_local_actions.c.after_event_id, 0), _local_actions.c.id)
        self._rows = [row for row in conn.execute(query) if row.action == "disconnected"]
        self._next = 0

    def due(self, before_event_id: int | None) -> list[Any]:
        """Actions to apply before the event ``before_event_id`` (all the rest for None)."""
        start = self._next
        while self._next < len(self._rows) and (
            before_event_id is None
            or (self._rows[self._next].after_event_id or 0) < before_event_id
        ):
            self._next += 1
        return self._rows[start : self._next]


class _Prepared(NamedTuple):
    """One delivery, ready for either ingest path."""

    environment: Environment
    key: str
    canonical: str
    event_values: dict[str, Any]
    event: Any
    users: set[str]
    refs: set[str]


def _outcome(job: _sqlite_fast.Job) -> IngestResult:
    """What a finished fast-path job did (raises its error)."""
    if job.error is not None:
        raise job.error
    if job.result is None:
        return IngestResult(duplicate=True)
    event_id, changes = job.result
    return IngestResult(duplicate=False, changes=tuple(changes), event_id=event_id)


def _settle(batch: Sequence[_sqlite_fast.Job]) -> None:
    """Wake the event loops waiting on jobs of a finished batch: one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_sqlite_fast.Job]] = {}
    for job in batch:
        if job.loop is not None:
            by_loop.setdefault(job.loop, []).append(job)
    for loop, jobs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve, jobs)


def _resolve(jobs: Sequence[_sqlite_fast.Job]) -> None:
    for job in jobs:
        if job.future is not None and not job.future.done():  # not cancelled meanwhile
            job.future.set_result(None)


class _GroupWriter:
    """The SQLite writer thread behind :meth:`Store.ingest_async`: it runs every queued
    delivery in batches (group commit: one transaction, one fsync per batch) and wakes the
    waiting event loops once per batch, so a request costs no thread-pool hop of its own.

    On a database file it writes through a connection of its own that never checkpoints
    the WAL itself: a second thread does (``PRAGMA wal_checkpoint(PASSIVE)``, which never
    blocks writers) every ``_CHECKPOINT_BYTES`` written, so no delivery waits for a
    checkpoint's copy and fsync of the database file (that was the p99 latency).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._event = threading.Event()
        self._stopping = False
        self._raw: sqlite3.Connection | None = None
        self._own_connection = store._sqlite_file() is not None  # not for :memory:
        self._checkpointer = _Checkpointer(store) if self._own_connection else None
        self._written = 0
        self._thread = threading.Thread(
            target=self._run, name="terra-auth-sqlite-writer", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Say there is work (cheap when the thread is already awake)."""
        if not self._event.is_set():
            self._event.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the queued work, then end the thread (and the checkpointer)."""
        self._stopping = True
        self._event.set()
        self._thread.join(timeout)
        if self._checkpointer is not None:
            self._checkpointer.stop(timeout)

    def _connection(self) -> sqlite3.Connection | None:
        if not self._own_connection:
            return None  # a pooled connection per batch
        if self._raw is None:
            self._raw = _detached_connection(self._store)
            self._raw.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer does it
        return self._raw

    def _run(self) -> None:
        store = self._store
        lock = store._write_lock
        assert lock is not None
        while True:
            self._event.wait()
            self._event.clear()  # before taking the batch: a later job sets it again
            with lock:
                batch = store._take_batch()
                if batch:
                    try:
                        store._run_batch(batch, self._connection())
                    except BaseException as exc:  # never leave a request waiting forever
                        error = (
                            exc if isinstance(exc, StoreUnavailable) else store._unavailable(exc)
                        )
                        _log.error("SQLite writer thread: batch failed: %s", error)
                        for job in batch:
                            if not job.done:
                                job.error, job.done = _copy_error(error), True
            if batch:
                _settle(batch)
                self._count(batch)
            if self._stopping and not store._pending:
                if self._raw is not None:
                    self._raw.close()
                return

    def _count(self, batch: Sequence[_sqlite_fast.Job]) -> None:
        if self._checkpointer is None:
            return
        self._written += sum(len(job.event["raw_body"]) + 1024 for job in batch)
        if self._written >= _CHECKPOINT_BYTES:
            self._written = 0
            self._checkpointer.wake()


class _Checkpointer:
    """A thread that checkpoints the WAL on request (PASSIVE: never blocks the writer)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._event = threading.Event()
        self._stopping = False
        #: set after each checkpoint (tests wait on it)
        self.ran = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="terra-auth-sqlite-checkpoint", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        self._event.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self._event.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        raw: sqlite3.Connection | None = None
        while True:
            self._event.wait()
            self._event.clear()
            if self._stopping:
                break
            try:
                if raw is None:
                    raw = _detached_connection(self._store)
                raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.ran.set()
            except Exception as exc:  # the next delivery's wake-up tries again
                _log.warning("background WAL checkpoint failed: %s", type(exc).__name__)
        if raw is not None:
            raw.close()


def _detached_connection(store: Store) -> sqlite3.Connection:
    """A connection set up like the pool's (WAL, synchronous=FULL, busy timeout), owned by
    the caller (taken out of the pool)."""
    with store._translate_errors():
        proxied = store.engine.raw_connection()
    raw = cast(sqlite3.Connection, proxied.driver_connection)
    proxied.detach()  # after reading driver_connection (detach forgets it)
    return raw


def _copy_error(exc: BaseException) -> BaseException:
    """A fresh exception of the same kind for another waiting thread (tracebacks differ)."""
    if isinstance(exc, StoreUnavailable):
        return StoreUnavailable(exc.message, hint=exc.hint)
    return exc


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
