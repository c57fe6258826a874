//! The conformance suite against the in-memory store (with the brute-force
//! reference search index).

use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
use kinfolk_memory::{MemorySearch, MemoryStore};

/// One in-memory store; "reopening" hands back the same instance (data
/// survives, as for a persistent store, but nothing touches disk).
struct Memory {
    store: Arc<MemoryStore>,
    search: Arc<MemorySearch>,
}

impl Memory {
    fn new() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            search: Arc::new(MemorySearch::new()),
        }
    }
}

#[async_trait::async_trait]
impl kinfolk_conformance::StoreFactory for Memory {
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

kinfolk_conformance::conformance_tests!(Memory::new());
