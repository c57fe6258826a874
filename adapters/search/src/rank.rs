//! Exact top-k over tier queries: a bounded heap of [`RankKey`]s fed from
//! fast fields. Candidates of an exact tier query need no check; those of a
//! superset query (a term longer than the n-gram caps) are verified with
//! core's [`match_tier`](kinfolk::search::match_tier) on the stored fields.

use std::collections::{BinaryHeap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use kinfolk::search::{Boosts, MatchTier, RankKey, SearchHit, match_tier};
use kinfolk::{Error, Result, SearchQuery, UserId};
use tantivy::columnar::Column;
use tantivy::query::EnableScoring;
use tantivy::schema::Value;
use tantivy::{DocAddress, DocId, Searcher, SegmentOrdinal, SegmentReader, TantivyDocument};

use crate::schema::{F_FOLLOWERS, F_ID_HI, F_ID_LO, Fields, join_id};
use crate::storage;

/// The fast-field columns of one segment the ranker reads.
struct SegmentColumns {
    segment: SegmentOrdinal,
    id_hi: Column<u64>,
    id_lo: Column<u64>,
    followers: Column<u64>,
}

impl SegmentColumns {
    fn load(segment: SegmentOrdinal, reader: &SegmentReader) -> Result<Self> {
        let ff = reader.fast_fields();
        Ok(Self {
            segment,
            id_hi: ff.u64(F_ID_HI).map_err(storage)?,
            id_lo: ff.u64(F_ID_LO).map_err(storage)?,
            followers: ff.u64(F_FOLLOWERS).map_err(storage)?,
        })
    }

    fn id(&self, doc: DocId) -> Result<UserId> {
        match (self.id_hi.first(doc), self.id_lo.first(doc)) {
            (Some(hi), Some(lo)) => Ok(join_id(hi, lo)),
            _ => Err(Error::corrupt("search index document without an id")),
        }
    }

    fn followers(&self, doc: DocId) -> Result<u64> {
        self.followers
            .first(doc)
            .ok_or_else(|| Error::corrupt("search index document without followers_count"))
    }
}

/// The fast-field columns of every segment of the last searcher seen,
/// kept until the searcher changes (a commit or a merge): opening them per
/// query costs a column-directory lookup per column and segment.
#[derive(Default)]
pub(crate) struct ColumnCache {
    last: Mutex<Option<(u64, Arc<Vec<SegmentColumns>>)>>,
}

impl ColumnCache {
    /// The columns of `searcher`'s segments, by segment ordinal.
    fn get(&self, searcher: &Searcher) -> Result<Arc<Vec<SegmentColumns>>> {
        let generation = searcher.generation().generation_id();
        if let Some((g, cols)) = &*self.last.lock().unwrap_or_else(PoisonError::into_inner)
            && *g == generation
        {
            return Ok(Arc::clone(cols));
        }
        let cols = Arc::new(
            searcher
                .segment_readers()
                .iter()
                .enumerate()
                .map(|(ord, reader)| SegmentColumns::load(ord as SegmentOrdinal, reader))
                .collect::<Result<Vec<_>>>()?,
        );
        // A plain value: a panic elsewhere cannot leave it half-written.
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((generation, Arc::clone(&cols)));
        Ok(cols)
    }
}

impl std::fmt::Debug for ColumnCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnCache").finish_non_exhaustive()
    }
}

/// The bounded heap and what has been looked at.
struct Ranker<'a> {
    searcher: &'a Searcher,
    fields: &'a Fields,
    query: &'a SearchQuery,
    boosts: &'a Boosts,
    /// The highest boost in `boosts` (0 when there are none).
    max_boost: u8,
    k: usize,
    /// Max-heap: the worst kept key on top.
    heap: BinaryHeap<RankKey>,
    /// Users whose true key has been offered to the heap (pushed from an
    /// exact tier, or verified).
    seen: HashSet<UserId>,
}

impl<'a> Ranker<'a> {
    fn new(
        searcher: &'a Searcher,
        fields: &'a Fields,
        query: &'a SearchQuery,
        boosts: &'a Boosts,
        k: usize,
    ) -> Self {
        Self {
            searcher,
            fields,
            query,
            boosts,
            max_boost: boosts.values().copied().max().unwrap_or(0),
            k,
            heap: BinaryHeap::with_capacity(k.saturating_add(1).min(1024)),
            seen: HashSet::new(),
        }
    }

    /// Considers a candidate of the `tier` query.
    ///
    /// A candidate not seen yet either has no tier better than `tier`, or
    /// could not enter the heap at its better tier (the heap was full and
    /// its key not better than the worst kept one, which only improves
    /// since): every doc of a better tier matched that tier's query, which
    /// ran before, and while the heap is not full every candidate offered
    /// is kept. So `tier` gives a lower bound on its key, checked first
    /// (followers alone, then with the id and boost).
    ///
    /// With `verify` false the tier query is exact (it matches exactly the
    /// docs whose [`match_tier`] is `tier` or better), so a candidate that
    /// passes the bound has tier `tier` and needs no stored-field load. With
    /// `verify` true (a superset query) the tier is computed from the stored
    /// username and name.
    fn consider(
        &mut self,
        tier: MatchTier,
        verify: bool,
        cols: &SegmentColumns,
        doc: DocId,
    ) -> Result<()> {
        let followers = cols.followers(doc)?;
        let full = self.is_full();
        if full
            && let Some(worst) = self.heap.peek()
            && (tier, u8::MAX - self.max_boost, u64::MAX - followers)
                > (worst.tier, worst.boost_inv, worst.followers_inv)
        {
            return Ok(());
        }
        let id = cols.id(doc)?;
        let boost = if self.boosts.is_empty() {
            0
        } else {
            self.boosts.get(&id).copied().unwrap_or(0)
        };
        if full {
            let bound = RankKey::new(tier, boost, followers, id);
            if self.heap.peek().is_some_and(|worst| bound >= *worst) {
                return Ok(());
            }
        }
        if self.seen.contains(&id) {
            return Ok(());
        }
        self.seen.insert(id);
        let actual = if verify {
            let stored: TantivyDocument = self
                .searcher
                .doc(DocAddress::new(cols.segment, doc))
                .map_err(storage)?;
            let text = |field| {
                stored
                    .get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
            };
            let Some(actual) = match_tier(
                self.query,
                text(self.fields.username),
                text(self.fields.name),
            ) else {
                return Ok(());
            };
            actual
        } else {
            tier
        };
        let key = RankKey::new(actual, boost, followers, id);
        if !self.is_full() {
            self.heap.push(key);
        } else if self.heap.peek().is_some_and(|worst| key < *worst) {
            self.heap.pop();
            self.heap.push(key);
        }
        Ok(())
    }

    fn is_full(&self) -> bool {
        self.heap.len() >= self.k
    }

    /// Whether nothing from a tier after `tier` can enter any more.
    fn settled_after(&self, tier: MatchTier) -> bool {
        self.is_full() && self.heap.peek().is_some_and(|worst| worst.tier <= tier)
    }

    fn into_hits(self) -> Vec<SearchHit> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|key| SearchHit {
                id: key.id,
                tier: key.tier,
                followers_count: u64::MAX - key.followers_inv,
            })
            .collect()
    }
}

/// The true top `k` of `query` on `searcher`'s snapshot, in [`RankKey`] order.
pub(crate) fn top(
    searcher: &Searcher,
    cache: &ColumnCache,
    fields: &Fields,
    query: &SearchQuery,
    boosts: &Boosts,
    k: usize,
) -> Result<Vec<SearchHit>> {
    if k == 0 {
        return Ok(Vec::new());
    }
    let segments = searcher.segment_readers();
    let columns = cache.get(searcher)?;
    let mut ranker = Ranker::new(searcher, fields, query, boosts, k);
    for (tier, plan, verify) in fields.tier_queries(query) {
        let weight = plan
            .weight(EnableScoring::disabled_from_searcher(searcher))
            .map_err(storage)?;
        for (reader, cols) in segments.iter().zip(columns.iter()) {
            let alive = reader.alive_bitset();
            let mut failure: Option<Error> = None;
            weight
                .for_each_no_score(reader, &mut |docs| {
                    for &doc in docs {
                        if failure.is_some() {
                            return;
                        }
                        if alive.is_some_and(|a| !a.is_alive(doc)) {
                            continue;
                        }
                        if let Err(e) = ranker.consider(tier, verify, cols, doc) {
                            failure = Some(e);
                        }
                    }
                })
                .map_err(storage)?;
            if let Some(e) = failure {
                return Err(e);
            }
        }
        if ranker.settled_after(tier) {
            break;
        }
    }
    Ok(ranker.into_hits())
}
