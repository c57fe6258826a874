//! The shared conformance suite against the SQLite store on a temp file.
//! Reopening opens the same file again (persistent), so the reopen cases
//! read back from disk. Search cases use the reference in-memory index.

use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
use kinfolk_memory::MemorySearch;

/// A temp directory holding the database file; removed when the case ends.
struct SqliteFile {
    dir: tempfile::TempDir,
    search: Arc<MemorySearch>,
}

impl SqliteFile {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
            search: Arc::new(MemorySearch::new()),
        }
    }
}

#[async_trait::async_trait]
impl kinfolk_conformance::StoreFactory for SqliteFile {
    async fn open(&mut self) -> kinfolk::Result<Arc<dyn Store>> {
        Ok(kinfolk_sqlite::open(self.dir.path().join("kinfolk.db"))?)
    }
    fn persistent(&self) -> bool {
        true
    }
    async fn open_search(&mut self) -> kinfolk::Result<Option<Arc<dyn SearchIndex>>> {
        Ok(Some(self.search.clone()))
    }
}

kinfolk_conformance::conformance_tests!(SqliteFile::new());
