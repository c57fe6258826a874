//! The exact fuzzy tier as one conjunction driven by its rarest term.
//!
//! Each query term has a few alternatives (a one-edit walk of a prefix
//! field, a few exact terms); a document matches when, for every query
//! term, one alternative matches. tantivy's `BooleanQuery` of
//! `AutomatonWeight`s reads the postings of every accepted term of every
//! query term into a bitset before intersecting. Here the term
//! dictionary is walked first (which costs no postings reads), each query
//! term's summed `doc_freq` is known, the term with the smallest sum is
//! read in full, and the others are only checked on its documents: a
//! skip-list seek per candidate when the other term's postings are large,
//! a full read when they are small. Same documents, fewer postings read.

use std::sync::Arc;

use tantivy::postings::BlockSegmentPostings;
use tantivy::postings::TermInfo;
use tantivy::query::{BitSetDocSet, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

use crate::schema::FirstThen;

/// One way a query term can match.
#[derive(Clone, Debug)]
pub(crate) enum Alt {
    /// Every term of `field` the automaton accepts.
    Walk(Field, Arc<FirstThen>),
    /// One exact term.
    Exact(Term),
}

/// Documents matching, for every element, one of its alternatives.
#[derive(Clone, Debug)]
pub(crate) struct RarestFirst {
    pub(crate) terms: Vec<Vec<Alt>>,
}

/// A full read of a term's postings beats seeking its lists once they
/// hold at most this many documents per candidate.
const READ_ALL_PER_CANDIDATE: u64 = 4;

/// The driver's documents from several lists are sorted in a vector while
/// they are at most one in this many of the segment's documents, else
/// gathered in a bitset of the segment.
const SORT_BELOW_ONE_IN: u32 = 1024;

impl Query for RarestFirst {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

/// The postings lists of one query term in a segment, and their summed
/// `doc_freq`.
struct Lists {
    infos: Vec<(Field, TermInfo)>,
    doc_freq: u64,
}

impl RarestFirst {
    fn lists(&self, reader: &SegmentReader) -> tantivy::Result<Vec<Lists>> {
        let mut out = Vec::with_capacity(self.terms.len());
        for alts in &self.terms {
            let mut infos = Vec::new();
            for alt in alts {
                match alt {
                    Alt::Walk(field, automaton) => {
                        let index = reader.inverted_index(*field)?;
                        let mut stream = index
                            .terms()
                            .search(automaton.as_ref())
                            .without_keys()
                            .into_stream()?;
                        while stream.advance() {
                            infos.push((*field, stream.value().clone()));
                        }
                    }
                    Alt::Exact(term) => {
                        let index = reader.inverted_index(term.field())?;
                        if let Some(info) = index.get_term_info(term)? {
                            infos.push((term.field(), info));
                        }
                    }
                }
            }
            let doc_freq = infos.iter().map(|(_, i)| u64::from(i.doc_freq)).sum();
            out.push(Lists { infos, doc_freq });
        }
        out.sort_by_key(|l| l.doc_freq);
        Ok(out)
    }

    /// The matching documents of the segment, ascending, without
    /// duplicates. Sorted vectors, not `max_doc`-sized bitsets: at 1M
    /// users a segment's bitset is ~100 KB to zero, copy and scan several
    /// times per query, while the driver term's documents are usually few.
    fn matching(&self, reader: &SegmentReader) -> tantivy::Result<Vec<DocId>> {
        let max_doc = reader.max_doc();
        let lists = self.lists(reader)?;
        let Some((driver, rest)) = lists.split_first() else {
            return Ok(Vec::new());
        };
        let mut candidates = read_sorted(reader, driver, max_doc)?;
        for other in rest {
            if candidates.is_empty() {
                break;
            }
            let mut keep = vec![false; candidates.len()];
            let n = candidates.len() as u64;
            let read_all = other.doc_freq <= n.saturating_mul(READ_ALL_PER_CANDIDATE);
            for (field, info) in &other.infos {
                let index = reader.inverted_index(*field)?;
                if read_all {
                    let mut block =
                        index.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
                    mark_common(&mut block, &candidates, &mut keep);
                } else {
                    let mut postings =
                        index.read_postings_from_terminfo(info, IndexRecordOption::Basic)?;
                    for (i, &doc) in candidates.iter().enumerate() {
                        if postings.doc() < doc && postings.seek(doc) == TERMINATED {
                            break;
                        }
                        if postings.doc() == doc {
                            keep[i] = true;
                        }
                    }
                }
            }
            let mut kept = keep.iter();
            candidates.retain(|_| kept.next().copied().unwrap_or(false));
        }
        Ok(candidates)
    }
}

/// Marks in `keep` the `candidates` (ascending) that `block` holds.
fn mark_common(block: &mut BlockSegmentPostings, candidates: &[DocId], keep: &mut [bool]) {
    let mut i = 0;
    loop {
        let docs = block.docs();
        if docs.is_empty() || i >= candidates.len() {
            return;
        }
        for &doc in docs {
            while i < candidates.len() && candidates[i] < doc {
                i += 1;
            }
            match candidates.get(i) {
                Some(&c) if c == doc => keep[i] = true,
                Some(_) => {}
                None => return,
            }
        }
        block.advance();
    }
}

/// Every document of `lists`, ascending, without duplicates: one list is
/// already sorted; a few small ones are concatenated and sorted; many
/// documents go through a bitset of the segment.
fn read_sorted(
    reader: &SegmentReader,
    lists: &Lists,
    max_doc: DocId,
) -> tantivy::Result<Vec<DocId>> {
    let mut docs = Vec::with_capacity(usize::try_from(lists.doc_freq).unwrap_or(0));
    if lists.infos.len() > 1 && lists.doc_freq > u64::from(max_doc / SORT_BELOW_ONE_IN) {
        let mut set = BitSet::with_max_value(max_doc);
        for_each_doc(reader, lists, |doc| {
            set.insert(doc);
        })?;
        let mut set = BitSetDocSet::from(set);
        while set.doc() != TERMINATED {
            docs.push(set.doc());
            set.advance();
        }
        return Ok(docs);
    }
    for_each_doc(reader, lists, |doc| docs.push(doc))?;
    if lists.infos.len() > 1 {
        docs.sort_unstable();
        docs.dedup();
    }
    Ok(docs)
}

/// Calls `f` with every document of every list of `lists`.
fn for_each_doc(
    reader: &SegmentReader,
    lists: &Lists,
    mut f: impl FnMut(DocId),
) -> tantivy::Result<()> {
    for (field, info) in &lists.infos {
        let mut block = reader
            .inverted_index(*field)?
            .read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
        loop {
            let docs = block.docs();
            if docs.is_empty() {
                break;
            }
            for &doc in docs {
                f(doc);
            }
            block.advance();
        }
    }
    Ok(())
}

/// Ascending documents, as a scorer.
struct SortedDocs {
    docs: Vec<DocId>,
    at: usize,
}

impl DocSet for SortedDocs {
    fn advance(&mut self) -> DocId {
        self.at = (self.at + 1).min(self.docs.len());
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        u32::try_from(self.docs.len()).unwrap_or(u32::MAX)
    }
}

impl Scorer for SortedDocs {
    fn score(&mut self) -> Score {
        1.0
    }
}

impl Weight for RarestFirst {
    fn scorer(&self, reader: &SegmentReader, _boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(SortedDocs {
            docs: self.matching(reader)?,
            at: 0,
        }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self.matching(reader)?.binary_search(&doc).is_ok() {
            Ok(Explanation::new("RarestFirst", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(
                "Document does not match".to_string(),
            ))
        }
    }
}
