//! Everything a store must pass, on the redb store: the conformance cases,
//! the race suite, the model-based property test and the SIGKILL test, all
//! stamped by `kinfolk_conformance::store_tests!` from how to open the store
//! (RELIABILITY.md §1, §2, §4). The cases and the race suite run on a file in
//! a temp dir with the tantivy index beside it (reopening reads both back
//! from disk: the service drops every handle first, and the store's threads
//! release the file when the last handle goes); the model test uses
//! `Durability::None` on tmpfs; the kill test runs redb's
//! `Database::check_integrity` after every kill.
//!
//! `cargo test -p kinfolk-redb --test conformance -- --list` lists them;
//! `KINFOLK_PROPTEST_CASES` (model), `KINFOLK_KILLS` / `KINFOLK_KILL_SEED`
//! (kill) make the long runs.

use std::path::Path;
use std::sync::Arc;

use kinfolk::Store;
use kinfolk_conformance::kit::Disk;
use kinfolk_redb::{Durability, Options};

/// `Durability::Immediate` as in production; fast: `Durability::None`, the
/// documented fast mode (closing the store makes a durable point, so a
/// reopen reads back everything).
fn open(file: &Path, fast: bool) -> kinfolk::Result<Arc<dyn Store>> {
    let durability = match fast {
        true => Durability::None,
        false => Durability::Immediate,
    };
    Ok(Arc::new(kinfolk_redb::open_with(
        file,
        Options::default().durability(durability),
    )?))
}

/// redb's `Database::check_integrity`. Opening repairs what a crash left
/// (redb's recovery); the check then verifies every page's checksum and the
/// allocator state.
fn check_integrity(file: &Path) -> Result<(), String> {
    let mut db = redb::Database::open(file).map_err(|e| format!("redb open: {e}"))?;
    match db.check_integrity() {
        Ok(true) => Ok(()),
        Ok(false) => Err("redb check_integrity failed (and repaired the file)".into()),
        Err(e) => Err(format!("redb check_integrity: {e}")),
    }
}

kinfolk_conformance::store_tests!(disk: Disk { file: "kinfolk.redb", open, check_integrity });
