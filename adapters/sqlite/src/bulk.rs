//! Bulk-load fast paths of the port (`docs/adr/0011-transfer-format.md`):
//! the feed counter raised without events, and the edge tables' secondary
//! indexes dropped for the load and built once after it (`CREATE INDEX`
//! sorts once instead of inserting 20M keys at random places).
//!
//! The dropped indexes' own `CREATE INDEX` text is kept in a table,
//! `bulk_load_indexes`, in the same transaction that drops them, so
//! `Finish` rebuilds exactly what the schema had — also after a crash
//! between the two, and whatever the schema's indexes are by then.

use kinfolk::store::BulkLoad;
use kinfolk::{Error, Result};
use rusqlite::Connection;

use crate::codec;
use crate::error::map;

/// Tables whose secondary indexes a bulk load drops and rebuilds.
const TABLES: [&str; 2] = ["edges", "memberships"];

/// [`kinfolk::WriteTx::raise_seq`]: moves the counter, no events.
pub(crate) fn raise_seq(conn: &Connection, upto: u64) -> Result<()> {
    conn.prepare_cached("UPDATE meta SET last_seq = max(last_seq, ?1) WHERE id = 1")
        .map_err(map)?
        .execute([codec::seq(upto)?])
        .map_err(map)?;
    Ok(())
}

/// [`kinfolk::WriteTx::reserve_seqs`]: moves the counter by `n`, no events.
pub(crate) fn reserve_seqs(conn: &Connection, n: usize) -> Result<Vec<u64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let count = u64::try_from(n).map_err(|_| Error::storage("too many sequence numbers"))?;
    let last: i64 = conn
        .prepare_cached("UPDATE meta SET last_seq = last_seq + ?1 WHERE id = 1 RETURNING last_seq")
        .map_err(map)?
        .query_row([codec::seq(count)?], |r| r.get(0))
        .map_err(map)?;
    let last = u64::try_from(last).map_err(|_| Error::corrupt("meta: negative last_seq"))?;
    // The counter was at least 0 before, so `last >= count`.
    let first = last
        .checked_sub(count - 1)
        .ok_or_else(|| Error::corrupt("meta: last_seq went backwards"))?;
    Ok((first..=last).collect())
}

/// [`kinfolk::WriteTx::bulk_load`]: `Start` drops the secondary indexes of
/// [`TABLES`] (remembering their definitions), `Finish` builds them again.
pub(crate) fn bulk_load(conn: &Connection, step: BulkLoad) -> Result<()> {
    match step {
        BulkLoad::Start => {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS bulk_load_indexes (name TEXT PRIMARY KEY, sql TEXT NOT NULL) STRICT",
            )
            .map_err(map)?;
            let found: Vec<(String, String)> = {
                let mut stmt = conn
                    .prepare(
                        "SELECT name, sql FROM sqlite_schema \
                         WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (?1, ?2)",
                    )
                    .map_err(map)?;
                let rows = stmt
                    .query_map(TABLES, |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(map)?;
                rows.collect::<std::result::Result<_, _>>().map_err(map)?
            };
            for (name, sql) in found {
                conn.execute(
                    "INSERT OR REPLACE INTO bulk_load_indexes (name, sql) VALUES (?1, ?2)",
                    [&name, &sql],
                )
                .map_err(map)?;
                conn.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))
                    .map_err(map)?;
            }
            Ok(())
        }
        BulkLoad::Finish => {
            let kept: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'bulk_load_indexes'",
                    [],
                    |r| r.get(0),
                )
                .map_err(map)?;
            if kept == 0 {
                return Ok(());
            }
            let found: Vec<String> = {
                let mut stmt = conn
                    .prepare("SELECT sql FROM bulk_load_indexes ORDER BY name")
                    .map_err(map)?;
                let rows = stmt.query_map([], |r| r.get(0)).map_err(map)?;
                rows.collect::<std::result::Result<_, _>>().map_err(map)?
            };
            for sql in found {
                conn.execute_batch(&sql).map_err(map)?;
            }
            conn.execute_batch("DROP TABLE bulk_load_indexes")
                .map_err(map)?;
            Ok(())
        }
    }
}
