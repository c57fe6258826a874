//! The conformance suite with this index: the in-memory store (the
//! reference model) plus a [`TantivyIndex`] on disk, so the reopen cases
//! reopen the index from its directory and catch it up from the feed.

use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
use kinfolk_memory::MemoryStore;
use kinfolk_search::TantivyIndex;

/// One in-memory store (a "reopen" hands back the same instance) and an
/// index directory that outlives the index handles.
struct MemoryWithTantivy {
    store: Arc<MemoryStore>,
    dir: tempfile::TempDir,
}

impl MemoryWithTantivy {
    fn new() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            dir: tempfile::tempdir().expect("a temporary directory for the index"),
        }
    }
}

#[async_trait::async_trait]
impl kinfolk_conformance::StoreFactory for MemoryWithTantivy {
    async fn open(&mut self) -> kinfolk::Result<Arc<dyn Store>> {
        Ok(self.store.clone())
    }
    fn persistent(&self) -> bool {
        false
    }
    async fn open_search(&mut self) -> kinfolk::Result<Option<Arc<dyn SearchIndex>>> {
        Ok(Some(Arc::new(TantivyIndex::open(self.dir.path())?)))
    }
}

kinfolk_conformance::conformance_tests!(MemoryWithTantivy::new());
