//! Exact top-k over tier queries: a bounded heap of [`RankKey`]s fed from
//! fast fields. Candidates of an exact tier query need no check; those of a
//! superset query (a term longer than the n-gram caps) are verified with
//! core's [`match_tier`](kinfolk::search::match_tier) on the stored fields.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use kinfolk::search::{Boosts, MatchTier, RankKey, SearchHit, match_tier};
use kinfolk::{Error, Result, SearchQuery, UserId};
use tantivy::columnar::Column;
use tantivy::index::SegmentId;
use tantivy::query::EnableScoring;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{
    BitSet, DocAddress, DocId, DocSet, Searcher, SegmentOrdinal, SegmentReader, TERMINATED,
    TantivyDocument,
};

use crate::schema::{F_FOLLOWERS, F_ID_HI, F_ID_LO, Fields, join_id};
use crate::storage;

/// The fast-field columns of one segment the ranker reads.
struct SegmentColumns {
    id_hi: Column<u64>,
    id_lo: Column<u64>,
    followers: Column<u64>,
}

impl SegmentColumns {
    fn load(reader: &SegmentReader) -> Result<Self> {
        let ff = reader.fast_fields();
        Ok(Self {
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

/// A segment gets a [`SegmentCache::order`] once it holds this many docs:
/// below, ranking every match costs little.
const ORDER_MIN_DOCS: DocId = 65_536;

/// What the ranker keeps of one segment. A segment's documents never
/// change (deletes are the reader's alive bitset), so this lives as long as
/// the segment: a commit adds segments, a merge replaces some.
struct SegmentCache {
    columns: SegmentColumns,
    /// The segment's docs by followers count, highest first (ties by doc),
    /// built on first need for segments of at least [`ORDER_MIN_DOCS`]:
    /// 4 bytes per doc.
    order: OnceLock<Arc<[DocId]>>,
}

impl SegmentCache {
    /// The followers order of the segment (built now if missing).
    fn order(&self, max_doc: DocId) -> Result<Arc<[DocId]>> {
        if let Some(order) = self.order.get() {
            return Ok(Arc::clone(order));
        }
        let mut keyed = Vec::with_capacity(usize::try_from(max_doc).unwrap_or(0));
        for doc in 0..max_doc {
            keyed.push((u64::MAX - self.columns.followers(doc)?, doc));
        }
        keyed.sort_unstable();
        let order: Arc<[DocId]> = keyed.into_iter().map(|(_, doc)| doc).collect();
        Ok(Arc::clone(self.order.get_or_init(|| order)))
    }
}

/// Per segment (by id) what the ranker reads: the fast-field columns
/// (opening them per query costs a column-directory lookup per column and
/// segment) and, for large segments, the docs in followers order. Entries
/// of segments no longer searched are dropped when a newer searcher is
/// seen.
#[derive(Default)]
pub(crate) struct ColumnCache {
    segments: Mutex<(u64, HashMap<SegmentId, Arc<SegmentCache>>)>,
}

impl ColumnCache {
    /// The caches of `searcher`'s segments, by segment ordinal.
    fn get(&self, searcher: &Searcher) -> Result<Vec<Arc<SegmentCache>>> {
        let generation = searcher.generation().generation_id();
        let mut out = Vec::with_capacity(searcher.segment_readers().len());
        let mut missing = Vec::new();
        {
            let guard = self.segments.lock().unwrap_or_else(PoisonError::into_inner);
            for (ord, reader) in searcher.segment_readers().iter().enumerate() {
                match guard.1.get(&reader.segment_id()) {
                    Some(c) => out.push(Some(Arc::clone(c))),
                    None => {
                        out.push(None);
                        missing.push(ord);
                    }
                }
            }
        }
        for ord in &missing {
            let reader = &searcher.segment_readers()[*ord];
            out[*ord] = Some(Arc::new(SegmentCache {
                columns: SegmentColumns::load(reader)?,
                order: OnceLock::new(),
            }));
        }
        let out: Vec<Arc<SegmentCache>> = out.into_iter().flatten().collect();
        let mut guard = self.segments.lock().unwrap_or_else(PoisonError::into_inner);
        if generation >= guard.0 {
            if generation > guard.0 || !missing.is_empty() {
                // A newer searcher: forget the segments it no longer has.
                let live: HashSet<SegmentId> = searcher
                    .segment_readers()
                    .iter()
                    .map(SegmentReader::segment_id)
                    .collect();
                guard.1.retain(|id, _| live.contains(id));
            }
            guard.0 = generation;
            for (reader, cache) in searcher.segment_readers().iter().zip(&out) {
                guard
                    .1
                    .entry(reader.segment_id())
                    .or_insert_with(|| Arc::clone(cache));
            }
        }
        Ok(out)
    }

    /// Builds, ahead of the searches that need it, the followers order of
    /// each large segment of `searcher` that has none yet (the index's
    /// writer thread calls it after each reload, off the query path).
    pub(crate) fn warm(&self, searcher: &Searcher, enabled: bool) -> Result<()> {
        if !enabled {
            return Ok(());
        }
        let caches = self.get(searcher)?;
        for (reader, cache) in searcher.segment_readers().iter().zip(&caches) {
            if reader.max_doc() >= ORDER_MIN_DOCS {
                cache.order(reader.max_doc())?;
            }
        }
        Ok(())
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
        segment: SegmentOrdinal,
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
                .doc(DocAddress::new(segment, doc))
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

    /// Whether no doc of `tier` with no boost and at most `followers`
    /// followers can enter any more (the heap only gets better).
    fn closed_below(&self, tier: MatchTier, followers: u64) -> bool {
        self.is_full()
            && self.heap.peek().is_some_and(|worst| {
                (tier, u8::MAX, u64::MAX - followers)
                    > (worst.tier, worst.boost_inv, worst.followers_inv)
            })
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
///
/// When a tier query's matches in a segment are walked in followers order
/// ([`walk_in_order`]) rather than ranked one by one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Walk {
    /// Never (no followers order kept).
    Never,
    /// When [`walk_pays`].
    WhenItPays,
    /// Always (tests: the same results as `Never` on small segments).
    #[cfg_attr(not(test), allow(dead_code))]
    Always,
}

/// `walk`: a tier query matching many docs of a large segment walks the
/// segment's docs in followers order (see [`walk_in_order`]) instead of
/// ranking every match.
pub(crate) fn top(
    searcher: &Searcher,
    cache: &ColumnCache,
    fields: &Fields,
    query: &SearchQuery,
    boosts: &Boosts,
    k: usize,
    walk: Walk,
) -> Result<Vec<SearchHit>> {
    if k == 0 {
        return Ok(Vec::new());
    }
    let segments = searcher.segment_readers();
    let caches = cache.get(searcher)?;
    let mut ranker = Ranker::new(searcher, fields, query, boosts, k);
    let mut docs = Vec::new();
    for (tier, plan, verify) in fields.tier_queries(query) {
        let weight = plan
            .weight(EnableScoring::disabled_from_searcher(searcher))
            .map_err(storage)?;
        for (ord, (reader, seg)) in segments.iter().zip(caches.iter()).enumerate() {
            let ord = ord as SegmentOrdinal;
            docs.clear();
            weight
                .for_each_no_score(reader, &mut |batch| docs.extend_from_slice(batch))
                .map_err(storage)?;
            let walked = match walk {
                Walk::Never => false,
                Walk::WhenItPays => walk_pays(docs.len(), reader.max_doc(), k, boosts.len()),
                Walk::Always => true,
            };
            if walked {
                let order = seg.order(reader.max_doc())?;
                walk_in_order(&mut ranker, (tier, verify), reader, ord, seg, &order, &docs)?;
                continue;
            }
            let alive = reader.alive_bitset();
            for &doc in &docs {
                if alive.is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                ranker.consider(tier, verify, ord, &seg.columns, doc)?;
            }
        }
        if ranker.settled_after(tier) {
            break;
        }
    }
    Ok(ranker.into_hits())
}

/// Whether walking a segment in followers order beats ranking its
/// `matches` docs one by one: the segment is large, the matches are at
/// least one in 64 of its docs (so about `64 * k` docs of the order are
/// looked at before `k` matches are found), many more than `k`, and the
/// boosted users (looked up by id in the segment first) are few.
fn walk_pays(matches: usize, max_doc: DocId, k: usize, boosts: usize) -> bool {
    max_doc >= ORDER_MIN_DOCS
        && (matches as u64).saturating_mul(64) >= u64::from(max_doc)
        && matches >= k.saturating_mul(64)
        && matches >= boosts.saturating_mul(16)
}

/// Offers the `docs` of one segment that match `tier` to `ranker`: first
/// the boosted users among them (a boost ranks before any followers
/// count), then the others in followers order, stopping at the first whose
/// key cannot enter the heap, since every doc after it in the order has at
/// most as many followers. Offers the same docs [`Ranker::consider`] would
/// keep when given every match.
fn walk_in_order(
    ranker: &mut Ranker<'_>,
    (tier, verify): (MatchTier, bool),
    reader: &SegmentReader,
    ord: SegmentOrdinal,
    seg: &SegmentCache,
    order: &[DocId],
    docs: &[DocId],
) -> Result<()> {
    let max_doc = reader.max_doc();
    let alive = reader.alive_bitset();
    let mut matched = BitSet::with_max_value(max_doc);
    for &doc in docs {
        if doc < max_doc {
            matched.insert(doc);
        }
    }
    let mut boosted = HashSet::new();
    if !ranker.boosts.is_empty() {
        let ids = reader.inverted_index(ranker.fields.id).map_err(storage)?;
        for id in ranker.boosts.keys() {
            let term = ranker.fields.id_term(*id);
            let Some(mut postings) = ids
                .read_postings(&term, IndexRecordOption::Basic)
                .map_err(storage)?
            else {
                continue;
            };
            while postings.doc() != TERMINATED {
                let doc = postings.doc();
                if doc < max_doc && matched.contains(doc) {
                    boosted.insert(doc);
                }
                postings.advance();
            }
        }
    }
    let is_alive = |doc: DocId| alive.is_none_or(|a| a.is_alive(doc));
    for &doc in &boosted {
        if is_alive(doc) {
            ranker.consider(tier, verify, ord, &seg.columns, doc)?;
        }
    }
    for &doc in order {
        if doc >= max_doc || !matched.contains(doc) || boosted.contains(&doc) || !is_alive(doc) {
            continue;
        }
        if ranker.closed_below(tier, seg.columns.followers(doc)?) {
            break;
        }
        ranker.consider(tier, verify, ord, &seg.columns, doc)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use kinfolk::SearchIndex;
    use kinfolk::search::{IndexBatch, SearchDoc};

    use super::*;
    use crate::TantivyIndex;

    /// A small deterministic generator.
    fn next(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *state >> 33
    }

    /// Walking every segment in followers order gives exactly the hits of
    /// ranking every match: several segments, replaced and deleted docs,
    /// tied followers counts, with and without boosts, several `k`.
    #[tokio::test]
    async fn the_followers_order_walk_ranks_like_every_match() {
        let index = TantivyIndex::open_in_ram().unwrap();
        let mut rng = 7_u64;
        let letters = ["a", "b", "c", "ab", "ba", "ca", "abc"];
        let mut docs = Vec::new();
        for i in 0..1500_u64 {
            let a = letters[(next(&mut rng) % 7) as usize];
            let b = letters[(next(&mut rng) % 7) as usize];
            docs.push(SearchDoc {
                id: UserId::new(),
                username: format!("{a}{b}{i}"),
                name: format!("{b} {a}"),
                // Few distinct counts: many ties.
                followers_count: next(&mut rng) % 40,
            });
        }
        let mut seq = 0;
        for chunk in docs.chunks(500) {
            seq += 1;
            let batch = IndexBatch {
                upserts: chunk.to_vec(),
                removals: vec![],
                upto_seq: seq,
            };
            index.apply(batch).await.unwrap();
            index.refresh().await.unwrap();
        }
        // Replace some (new followers) and delete some, in a fourth commit.
        let mut upserts = Vec::new();
        let mut removals = Vec::new();
        for d in docs.iter().step_by(7) {
            let mut changed = d.clone();
            changed.followers_count = next(&mut rng) % 60;
            upserts.push(changed);
        }
        for d in docs.iter().skip(3).step_by(11) {
            removals.push(d.id);
        }
        seq += 1;
        let batch = IndexBatch {
            upserts,
            removals,
            upto_seq: seq,
        };
        index.apply(batch).await.unwrap();
        index.refresh().await.unwrap();

        let shared = &index.shared;
        let searcher = shared.reader.searcher();
        // (Background merges may have joined some segments by now.)
        let mut boosted = Boosts::new();
        for d in docs.iter().step_by(13) {
            boosted.insert(d.id, 1 + (next(&mut rng) % 2) as u8);
        }
        let mut compared = 0;
        for q in ["a", "b", "c", "ab", "ca", "b a", "abc", "z"] {
            let query = SearchQuery::parse(q).unwrap();
            for boosts in [Boosts::new(), boosted.clone()] {
                for k in [1, 5, 20, 64, 400, 5000] {
                    let run = |walk| {
                        top(
                            &searcher,
                            &shared.columns,
                            &shared.fields,
                            &query,
                            &boosts,
                            k,
                            walk,
                        )
                        .unwrap()
                    };
                    let every = run(Walk::Never);
                    let walked = run(Walk::Always);
                    assert_eq!(walked, every, "query {q:?}, k {k}, boosts {}", boosts.len());
                    compared += every.len();
                }
            }
        }
        assert!(compared > 10_000, "too few hits compared: {compared}");
    }
}
