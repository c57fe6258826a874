//! The shared conformance suite against the redb store on a temp file.
//! Reopening opens the same file again (persistent), so the reopen cases read
//! back from disk: the service drops every handle first, and the store's
//! threads release the file when the last handle goes. Search cases use the
//! tantivy index in a directory beside the database, reopened with the store.

use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
use kinfolk_search::TantivyIndex;

/// A temp directory holding the database file and the index directory;
/// removed when the case ends.
struct RedbFile {
    dir: tempfile::TempDir,
}

impl RedbFile {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
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
        Ok(Some(Arc::new(TantivyIndex::open(
            self.dir.path().join("search"),
        )?)))
    }
}

kinfolk_conformance::conformance_tests!(RedbFile::new());
