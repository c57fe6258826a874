//! The shared conformance suite against the redb store on a temp file.
//! Reopening opens the same file again (persistent), so the reopen cases read
//! back from disk: the service drops every handle first, and the store's
//! threads release the file when the last handle goes. Search cases use the
//! reference in-memory index.

use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
use kinfolk_memory::MemorySearch;

/// A temp directory holding the database file; removed when the case ends.
struct RedbFile {
    dir: tempfile::TempDir,
    search: Arc<MemorySearch>,
}

impl RedbFile {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
            search: Arc::new(MemorySearch::new()),
        }
    }
}

#[async_trait::async_trait]
impl kinfolk_conformance::StoreFactory for RedbFile {
    async fn open(&mut self) -> kinfolk::Result<Arc<dyn Store>> {
        Ok(kinfolk_redb::open(self.dir.path().join("kinfolk.redb"))?)
    }
    fn persistent(&self) -> bool {
        true
    }
    async fn open_search(&mut self) -> kinfolk::Result<Option<Arc<dyn SearchIndex>>> {
        Ok(Some(self.search.clone()))
    }
}

kinfolk_conformance::conformance_tests!(RedbFile::new());
