//! Connections, pragmas and numbered migrations.
//!
//! The schema lives in `migrations/NNNN_*.sql`, applied in order inside ONE
//! `BEGIN IMMEDIATE` transaction together with the new `PRAGMA user_version`,
//! so a crash mid-migration leaves the previous version intact. A database
//! whose `user_version` is newer than [`VERSION`] is refused, as is a
//! non-empty database that kinfolk did not create (`PRAGMA application_id`).
//!
//! Users, rooms and feed events are stored as serde JSON next to their key
//! columns: no query filters on any of their other fields (search has its own
//! index), decoding re-validates every newtype so corrupt data becomes
//! `Error::Storage`, and a field core adds later (with a serde default) needs
//! no migration. Everything that is looked up or ordered on — ids, folded
//! names, edge ends, sequence numbers — is a real, indexed column.
//!
//! Foreign keys (memberships → rooms and users, connected accounts → users)
//! are on and immediate: a deferred check would only fire at `COMMIT`, which
//! under group commit would fail every job sharing that commit. Edges and
//! claims carry none: the checks would need extra indexes on the largest
//! table, and the port lets the service delete them in any order.

use std::path::Path;
use std::time::Duration;

use kinfolk::{Error, Result};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::Synchronous;
use crate::error::map;

/// The migrations, in order; migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/0001_init.sql")];

/// The schema version this crate writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// `PRAGMA application_id` of a kinfolk database ("kinf").
const APPLICATION_ID: i64 = 0x6b69_6e66;

/// Enough cached statements for every statement in [`crate::sql`].
const STATEMENT_CACHE: usize = 64;

/// Settings shared by every connection.
fn configure(conn: &Connection, busy_timeout: Duration) -> Result<()> {
    conn.busy_timeout(busy_timeout).map_err(map)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    rusqlite::vtab::array::load_module(conn).map_err(map)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(map)?;
    // Query planner stability: a plan never depends on a bound value. Without
    // it SQLite marks parameters the planner compared with constants (as in
    // `edges_between`) and re-prepares the cached statement on every rebind
    // — a parse and plan per call (perf: ~6 % of a list page's reader time).
    // The statements here have one good plan (`EXPLAIN QUERY PLAN` test).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(map)?;
    Ok(())
}

/// Opens the writer connection on a file: refuses newer schemas, switches to
/// WAL, sets its page cache to `writer_cache` bytes, migrates.
pub(crate) fn open_writer(
    path: &Path,
    synchronous: Synchronous,
    busy_timeout: Duration,
    writer_cache: usize,
) -> Result<Connection> {
    let conn = Connection::open(path).map_err(map)?;
    configure(&conn, busy_timeout)?;
    // Refuse a newer schema before changing anything in the file.
    check_version(version(&conn)?)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
        .map_err(map)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::storage(format!(
            "SQLite refused WAL mode (journal_mode is {mode}); the file system may not support it"
        )));
    }
    let sync = match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync).map_err(map)?;
    // A negative cache_size is in KiB.
    let kib = i64::try_from(writer_cache / 1024)
        .unwrap_or(i64::MAX)
        .max(1);
    conn.pragma_update(None, "cache_size", -kib).map_err(map)?;
    migrate(conn)
}

/// Opens a reader connection on a file the writer has opened and migrated.
pub(crate) fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(map)?;
    configure(&conn, busy_timeout)?;
    Ok(conn)
}

/// Opens a private in-memory database (one connection) and creates the schema.
pub(crate) fn open_memory() -> Result<Connection> {
    let conn = Connection::open_in_memory().map_err(map)?;
    configure(&conn, Duration::ZERO)?;
    migrate(conn)
}

fn version(conn: &Connection) -> Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(map)
}

fn check_version(found: i64) -> Result<()> {
    if found > VERSION {
        return Err(Error::storage(format!(
            "the database has schema version {found}, newer than the version {VERSION} this \
             kinfolk-sqlite knows; open it with a newer kinfolk-sqlite"
        )));
    }
    if found < 0 {
        return Err(Error::storage(format!(
            "the database has schema version {found}; it was not written by kinfolk-sqlite"
        )));
    }
    Ok(())
}

/// Brings the schema to [`VERSION`] in one transaction.
fn migrate(mut conn: Connection) -> Result<Connection> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map)?;
    // Read again under the write lock: another process may have migrated meanwhile.
    let found = version(&tx)?;
    check_version(found)?;
    let app_id: i64 = tx
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(map)?;
    let objects: i64 = tx
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .map_err(map)?;
    let ours = app_id == APPLICATION_ID || (app_id == 0 && found == 0 && objects == 0);
    if !ours {
        return Err(Error::storage(
            "the database was not created by kinfolk-sqlite (it holds other tables or another \
             application id); refusing to change it",
        ));
    }
    if found < VERSION {
        for sql in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
            tx.execute_batch(sql).map_err(map)?;
        }
        tx.pragma_update(None, "user_version", VERSION)
            .map_err(map)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(map)?;
    }
    tx.commit().map_err(map)?;
    Ok(conn)
}
