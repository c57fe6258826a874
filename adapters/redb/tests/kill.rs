//! Kill test (RELIABILITY.md §2) against the redb store and its tantivy
//! index: a child process (this test binary, re-executed) applies a seeded
//! command stream and is SIGKILLed at random moments; after each kill the
//! parent reopens the files and checks every acknowledged command, nothing
//! half-done, the invariants, redb's `Database::check_integrity`, and that
//! the index catches up to exactly the store's content. `KINFOLK_KILLS` sets
//! the number of kills (default 200); `KINFOLK_KILL_SEED` replays a run.

use std::path::Path;
use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
use kinfolk_conformance::kill::{self, KillTarget};
use kinfolk_search::{IndexOptions, TantivyIndex};

struct Redb;

impl KillTarget for Redb {
    fn open_store(&self, dir: &Path) -> kinfolk::Result<Arc<dyn Store>> {
        Ok(kinfolk_redb::open(dir.join("kinfolk.redb"))?)
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
        let path = dir.join("kinfolk.redb");
        if !path.exists() {
            return Ok(());
        }
        // Opening repairs what a crash left (redb's recovery); the check
        // then verifies every page's checksum and the allocator state.
        let mut db = redb::Database::open(&path).map_err(|e| format!("redb open: {e}"))?;
        match db.check_integrity() {
            Ok(true) => Ok(()),
            Ok(false) => Err("redb check_integrity failed (and repaired the file)".into()),
            Err(e) => Err(format!("redb check_integrity: {e}")),
        }
    }
}

/// The child: does nothing unless re-executed by the parent with
/// `KINFOLK_KILL_CHILD` set.
#[test]
fn kill_child() {
    kill::child(&Redb);
}

#[test]
fn sigkill_loses_no_acknowledged_command_and_leaves_nothing_half_done() {
    let stats = kill::parent(&Redb, "kill_child");
    assert_eq!(stats.kills, kill::kills_wanted());
    assert!(stats.acked > 0, "the child acknowledged nothing: {stats:?}");
}
