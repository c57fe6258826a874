//! Model-based property test (RELIABILITY.md §1) for search: generated
//! command sequences run against two memory stores, one searched by the
//! tantivy index (`kinfolk-search`) and one by the brute-force reference
//! (`MemorySearch`); every result — search pages above all, with tiers,
//! ranking and relationships — must agree.
//!
//! 300 cases by default;
//! `KINFOLK_PROPTEST_CASES=20000 cargo test -p kinfolk-memory --test model`
//! for a long run; shrunk failures land in `model.proptest-regressions`
//! next to this file (commit it).

use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
use kinfolk_conformance::StoreFactory;
use kinfolk_conformance::model::{ModelRun, run_model};
use kinfolk_memory::{MemorySearch, MemoryStore};
use kinfolk_search::TantivyIndex;

/// A memory store with a search index; "reopening" hands back the same
/// store and index, as a persistent store would.
struct Memory {
    store: Arc<MemoryStore>,
    search: Arc<dyn SearchIndex>,
}

#[async_trait::async_trait]
impl StoreFactory for Memory {
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

#[test]
fn tantivy_index_agrees_with_brute_force_search() {
    run_model(
        // Fewer cases than for a store: each one drives tantivy commits.
        ModelRun::new("memory+tantivy", file!()).default_cases(300),
        || {
            let index = TantivyIndex::open_in_ram().unwrap_or_else(|e| panic!("tantivy: {e}"));
            Box::new(Memory {
                store: Arc::new(MemoryStore::new()),
                search: Arc::new(index),
            })
        },
        || {
            Box::new(Memory {
                store: Arc::new(MemoryStore::new()),
                search: Arc::new(MemorySearch::new()),
            })
        },
    );
}
