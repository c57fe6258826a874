//! A brute-force search index: the reference every engine is compared with.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;

use kinfolk::search::{Boosts, IndexBatch, RankKey, SearchDoc, SearchHit, match_tier};
use kinfolk::{Error, Result, SearchIndex, SearchQuery, UserId};

/// Scans every document on each query with core's reference matcher.
/// Right by construction, O(users) per query: for tests and small hosts.
///
/// It keeps names as given and folds them ([`kinfolk::fold`]) at query
/// time, so a change of the folding rule ([`kinfolk::fold::FOLD_VERSION`])
/// needs no rebuild here.
#[derive(Debug, Default)]
pub struct MemorySearch {
    state: Mutex<(BTreeMap<UserId, SearchDoc>, u64)>,
}

impl MemorySearch {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned() -> Error {
    Error::storage("memory search lock poisoned")
}

#[async_trait]
impl SearchIndex for MemorySearch {
    async fn apply(&self, batch: IndexBatch) -> Result<()> {
        let mut s = self.state.lock().map_err(|_| poisoned())?;
        for id in batch.removals {
            s.0.remove(&id);
        }
        for d in batch.upserts {
            s.0.insert(d.id, d);
        }
        s.1 = s.1.max(batch.upto_seq);
        Ok(())
    }

    async fn applied_seq(&self) -> Result<u64> {
        Ok(self.state.lock().map_err(|_| poisoned())?.1)
    }

    async fn refresh(&self) -> Result<()> {
        Ok(())
    }

    async fn clear(&self) -> Result<()> {
        let mut s = self.state.lock().map_err(|_| poisoned())?;
        s.0.clear();
        s.1 = 0;
        Ok(())
    }

    async fn top(&self, query: &SearchQuery, boosts: &Boosts, k: usize) -> Result<Vec<SearchHit>> {
        let s = self.state.lock().map_err(|_| poisoned())?;
        let mut hits: Vec<(RankKey, SearchHit)> =
            s.0.values()
                .filter_map(|d| {
                    let tier = match_tier(query, &d.username, &d.name)?;
                    let boost = boosts.get(&d.id).copied().unwrap_or(0);
                    Some((
                        RankKey::new(tier, boost, d.followers_count, d.id),
                        SearchHit {
                            id: d.id,
                            tier,
                            followers_count: d.followers_count,
                        },
                    ))
                })
                .collect();
        hits.sort_unstable_by_key(|(k, _)| *k);
        hits.truncate(k);
        Ok(hits.into_iter().map(|(_, h)| h).collect())
    }
}
