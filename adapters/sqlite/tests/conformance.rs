//! Everything a store must pass, on the SQLite store: the conformance cases,
//! the race suite, the model-based property test and the SIGKILL test, all
//! stamped by `kinfolk_conformance::store_tests!` from how to open the store
//! (RELIABILITY.md §1, §2, §4). The cases and the race suite run on a file in
//! a temp dir with the tantivy index beside it (the production pairing;
//! reopening reads both back from disk); the model test uses
//! `synchronous=NORMAL` on tmpfs; the kill test checks `PRAGMA
//! integrity_check` and `foreign_key_check` after every kill.
//!
//! `cargo test -p kinfolk-sqlite --test conformance -- --list` lists them;
//! `KINFOLK_PROPTEST_CASES` (model), `KINFOLK_KILLS` / `KINFOLK_KILL_SEED`
//! (kill) make the long runs.

use std::path::Path;
use std::sync::Arc;

use kinfolk::Store;
use kinfolk_conformance::kit::Disk;
use kinfolk_sqlite::{Options, Synchronous};

/// `synchronous=FULL` as in production; fast: `NORMAL`, the documented fast
/// mode (a reopen still reads back everything, as only a power loss may lose
/// commits in this mode).
fn open(file: &Path, fast: bool) -> kinfolk::Result<Arc<dyn Store>> {
    let mut options = Options::default();
    if fast {
        options = options.synchronous(Synchronous::Normal);
    }
    Ok(Arc::new(kinfolk_sqlite::open_with(file, options)?))
}

/// `PRAGMA integrity_check` and `PRAGMA foreign_key_check`.
fn check_integrity(file: &Path) -> Result<(), String> {
    let conn = rusqlite::Connection::open(file).map_err(|e| format!("open: {e}"))?;
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

kinfolk_conformance::store_tests!(disk: Disk { file: "kinfolk.db", open, check_integrity });
