//! Everything a store must pass, with this index: the in-memory store (the
//! reference model) searched by a [`TantivyIndex`], stamped by
//! `kinfolk_conformance::store_tests!`.
//!
//! - The conformance cases and the race suite use an index on disk, so the
//!   reopen cases reopen it from its directory and catch it up from the feed.
//! - The model-based property test (RELIABILITY.md §1) runs generated command
//!   sequences against a memory store searched by tantivy (in RAM) and the
//!   reference (a memory store searched by the brute-force `MemorySearch`):
//!   every result — search pages above all, with tiers, ranking and
//!   relationships — must agree. 300 sequences by default (each drives
//!   tantivy commits); `KINFOLK_PROPTEST_CASES=20000 cargo test -p
//!   kinfolk-search --test conformance model::` for a long run.

use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
use kinfolk_conformance::kit::Shared;
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

/// A memory store searched by a tantivy index in RAM.
fn memory_with_tantivy_in_ram() -> Shared {
    let index = TantivyIndex::open_in_ram().unwrap_or_else(|e| panic!("tantivy: {e}"));
    Shared::new(Arc::new(MemoryStore::new()), Arc::new(index))
}

kinfolk_conformance::store_tests! {
    store: MemoryWithTantivy::new(),
    model: memory_with_tantivy_in_ram(),
    model_cases: 300,
}
