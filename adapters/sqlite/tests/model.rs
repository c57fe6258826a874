//! Model-based property test (RELIABILITY.md §1): generated command
//! sequences run against the SQLite store and the in-memory reference store;
//! every result, the stored state and every caller's view must agree.
//!
//! `KINFOLK_PROPTEST_CASES=20000 cargo test -p kinfolk-sqlite --test model`
//! for a long run; shrunk failures land in `model.proptest-regressions`
//! next to this file (commit it).

use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
use kinfolk_conformance::StoreFactory;
use kinfolk_conformance::model::{ModelRun, run_model};
use kinfolk_memory::{MemorySearch, MemoryStore};
use kinfolk_sqlite::{Options, Synchronous};

/// The store under test: a file in a temp dir, opened with
/// `synchronous=NORMAL` (the documented fast mode; a reopen still reads back
/// everything, as only a power loss may lose commits in this mode).
struct SqliteFile {
    dir: tempfile::TempDir,
    search: Arc<MemorySearch>,
}

#[async_trait::async_trait]
impl StoreFactory for SqliteFile {
    async fn open(&mut self) -> kinfolk::Result<Arc<dyn Store>> {
        Ok(kinfolk_sqlite::open_with(
            self.dir.path().join("kinfolk.db"),
            Options::default().synchronous(Synchronous::Normal),
        )?)
    }
    fn persistent(&self) -> bool {
        true
    }
    async fn open_search(&mut self) -> kinfolk::Result<Option<Arc<dyn SearchIndex>>> {
        Ok(Some(self.search.clone()))
    }
}

/// The reference model: the memory store with the brute-force index.
struct Model {
    store: Arc<MemoryStore>,
    search: Arc<MemorySearch>,
}

#[async_trait::async_trait]
impl StoreFactory for Model {
    async fn open(&mut self) -> kinfolk::Result<Arc<dyn Store>> {
        Ok(self.store.clone())
    }
    fn persistent(&self) -> bool {
        false
    }
    async fn open_search(&mut self) -> kinfolk::Result<Option<Arc<dyn SearchIndex>>> {
        Ok(Some(self.search.clone()))
    }
}

/// A temp dir, on tmpfs (`/dev/shm`) when there is one: this test checks
/// logic, not durability, and on a disk each open and close costs tens of
/// milliseconds of fsync (a 20x difference measured on the CI machine).
fn temp_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    shm.is_dir()
        .then(|| tempfile::tempdir_in(shm).ok())
        .flatten()
        .map_or_else(tempfile::tempdir, Ok)
        .unwrap_or_else(|e| panic!("temp dir: {e}"))
}

#[test]
fn sqlite_store_agrees_with_memory_model() {
    run_model(
        ModelRun::new("sqlite", file!()),
        || {
            Box::new(SqliteFile {
                dir: temp_dir(),
                search: Arc::new(MemorySearch::new()),
            })
        },
        || {
            Box::new(Model {
                store: Arc::new(MemoryStore::new()),
                search: Arc::new(MemorySearch::new()),
            })
        },
    );
}
