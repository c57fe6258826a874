//! Connections and numbered migrations.
//!
//! The schema lives in `migrations/NNNN_*.sql`, applied in order inside ONE
//! transaction together with the new version in `kinfolk_schema`, under a
//! transaction-level advisory lock: several app instances starting at once
//! migrate one after another, and a crash mid-migration leaves the previous
//! version intact (PostgreSQL DDL is transactional). A database whose version
//! is newer than [`VERSION`] is refused, as is one that holds other tables
//! in the current schema but no `kinfolk_schema` (kinfolk did not create it).

use kinfolk::{Error, Result};
use postgres::{Client, Config, NoTls};

use crate::FeedOrder;
use crate::error::{Stage, map};

/// The migrations, in order; migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/0001_init.sql")];

/// The schema version this crate writes.
pub(crate) const VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory lock key that serialises migrations ("kinf" "migr").
const MIGRATION_LOCK: i64 = 0x6b69_6e66_6d69_6772;

/// Opens one connection.
pub(crate) fn connect(config: &Config) -> Result<Client> {
    config.connect(NoTls).map_err(|e| map(&e, Stage::Connect))
}

fn check_version(found: i32) -> Result<()> {
    if found > VERSION {
        return Err(Error::storage(format!(
            "the database has kinfolk schema version {found}, newer than the version {VERSION} \
             this kinfolk-postgres knows; run a newer kinfolk-postgres"
        )));
    }
    if found < 1 {
        return Err(Error::storage(format!(
            "the database has kinfolk schema version {found}; it was not written by kinfolk-postgres"
        )));
    }
    Ok(())
}

/// Brings the schema to [`VERSION`] in one transaction; returns the version
/// found before.
pub(crate) fn migrate(client: &mut Client, order: FeedOrder) -> Result<i32> {
    let st = |e: postgres::Error| map(&e, Stage::Statement);
    let mut tx = client.transaction().map_err(st)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(st)?;
    let row = tx
        .query_one(
            "SELECT to_regclass('kinfolk_schema') IS NOT NULL, \
             (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))",
            &[],
        )
        .map_err(st)?;
    let ours: bool = row.try_get(0).map_err(st)?;
    let objects: i64 = row.try_get(1).map_err(st)?;
    let found = if ours {
        let v: i32 = tx
            .query_one("SELECT version FROM kinfolk_schema", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| {
                Error::storage(format!(
                    "kinfolk_schema must hold exactly one version row: {e}"
                ))
            })?;
        check_version(v)?;
        v
    } else if objects == 0 {
        tx.batch_execute(
            "CREATE TABLE kinfolk_schema (version integer NOT NULL CHECK (version >= 1))",
        )
        .map_err(st)?;
        0
    } else {
        return Err(Error::storage(
            "the database's current schema holds tables but no kinfolk_schema: it was not \
             created by kinfolk-postgres; refusing to change it",
        ));
    };
    if found < VERSION {
        for sql in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
            tx.batch_execute(sql).map_err(st)?;
        }
        tx.execute("DELETE FROM kinfolk_schema", &[]).map_err(st)?;
        tx.execute(
            "INSERT INTO kinfolk_schema (version) VALUES ($1)",
            &[&VERSION],
        )
        .map_err(st)?;
    }
    if found == 0 {
        tx.execute("UPDATE feed_meta SET feed_order = $1", &[&order.as_str()])
            .map_err(st)?;
    }
    let stored: String = tx
        .query_one("SELECT feed_order FROM feed_meta WHERE id = 1", &[])
        .and_then(|r| r.try_get(0))
        .map_err(|e| Error::storage(format!("feed_meta must hold one row: {e}")))?;
    if stored != order.as_str() {
        return Err(Error::storage(format!(
            "the database was created with feed order '{stored}'; open it with that \
             FeedOrder, not '{}'",
            order.as_str()
        )));
    }
    tx.commit().map_err(|e| map(&e, Stage::Commit))?;
    Ok(found)
}
