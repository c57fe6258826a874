//! The shared conformance suite against the SQLite store on a temp file.
//! Reopening opens the same file again (persistent), so the reopen cases
//! read back from disk. Search cases use the tantivy index in a directory
//! beside the database (the production pairing), reopened with the store.

use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
use kinfolk_search::TantivyIndex;

/// A temp directory holding the database file and the index directory;
/// removed when the case ends.
struct SqliteFile {
    dir: tempfile::TempDir,
}

impl SqliteFile {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
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
        Ok(Some(Arc::new(TantivyIndex::open(
            self.dir.path().join("search"),
        )?)))
    }
}

kinfolk_conformance::conformance_tests!(SqliteFile::new());
