//! Kill test (RELIABILITY.md §2) against the SQLite store and its tantivy
//! index: a child process (this test binary, re-executed) applies a seeded
//! command stream and is SIGKILLed at random moments; after each kill the
//! parent reopens the files and checks every acknowledged command, nothing
//! half-done, the invariants, `PRAGMA integrity_check`, and that the index
//! catches up to exactly the store's content. `KINFOLK_KILLS` sets the
//! number of kills (default 200); `KINFOLK_KILL_SEED` replays a run.

use std::path::Path;
use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
use kinfolk_conformance::kill::{self, KillTarget};
use kinfolk_search::{IndexOptions, TantivyIndex};

struct Sqlite;

impl KillTarget for Sqlite {
    fn open_store(&self, dir: &Path) -> kinfolk::Result<Arc<dyn Store>> {
        Ok(kinfolk_sqlite::open(dir.join("kinfolk.db"))?)
    }
    fn open_search(&self, dir: &Path) -> kinfolk::Result<Arc<dyn SearchIndex>> {
        let mut options = IndexOptions::default();
        if let Some(interval) = kill::index_commit_interval() {
            options = options.commit_interval(interval);
        }
        Ok(Arc::new(TantivyIndex::open_with(
            dir.join("search"),
            options,
        )?))
    }
    fn open_model(&self) -> Arc<dyn Store> {
        Arc::new(kinfolk_memory::MemoryStore::new())
    }
    fn check_integrity(&self, dir: &Path) -> Result<(), String> {
        let path = dir.join("kinfolk.db");
        if !path.exists() {
            return Ok(());
        }
        let conn = rusqlite::Connection::open(&path).map_err(|e| format!("open: {e}"))?;
        let mut stmt = conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| e.to_string())?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| format!("integrity_check: {e}"))?;
        if rows != ["ok"] {
            return Err(format!("PRAGMA integrity_check: {rows:?}"));
        }
        let fk: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .map_err(|e| format!("foreign_key_check: {e}"))?;
        if fk != 0 {
            return Err(format!("PRAGMA foreign_key_check: {fk} violations"));
        }
        Ok(())
    }
}

/// The child: does nothing unless re-executed by the parent with
/// `KINFOLK_KILL_CHILD` set.
#[test]
fn kill_child() {
    kill::child(&Sqlite);
}

#[test]
fn sigkill_loses_no_acknowledged_command_and_leaves_nothing_half_done() {
    let stats = kill::parent(&Sqlite, "kill_child");
    assert_eq!(stats.kills, kill::kills_wanted());
    assert!(stats.acked > 0, "the child acknowledged nothing: {stats:?}");
}
