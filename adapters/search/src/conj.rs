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

use tantivy::postings::TermInfo;
use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
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

    fn matching(&self, reader: &SegmentReader) -> tantivy::Result<BitSet> {
        let max_doc = reader.max_doc();
        let lists = self.lists(reader)?;
        let mut found = BitSet::with_max_value(max_doc);
        let Some((driver, rest)) = lists.split_first() else {
            return Ok(found);
        };
        read_all(reader, driver, &mut found)?;
        let mut candidates = docs_of(found.clone());
        for other in rest {
            if candidates.is_empty() {
                break;
            }
            let mut hit = BitSet::with_max_value(max_doc);
            let n = candidates.len() as u64;
            if other.doc_freq <= n.saturating_mul(READ_ALL_PER_CANDIDATE) {
                read_all(reader, other, &mut hit)?;
            } else {
                for (field, info) in &other.infos {
                    let mut postings = reader
                        .inverted_index(*field)?
                        .read_postings_from_terminfo(info, IndexRecordOption::Basic)?;
                    for &doc in &candidates {
                        if postings.doc() < doc && postings.seek(doc) == TERMINATED {
                            break;
                        }
                        if postings.doc() == doc {
                            hit.insert(doc);
                        }
                    }
                }
            }
            candidates.retain(|&doc| hit.contains(doc));
        }
        let mut out = BitSet::with_max_value(max_doc);
        for doc in candidates {
            out.insert(doc);
        }
        Ok(out)
    }
}

/// ORs every document of `lists` into `into`.
fn read_all(reader: &SegmentReader, lists: &Lists, into: &mut BitSet) -> tantivy::Result<()> {
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
                into.insert(doc);
            }
            block.advance();
        }
    }
    Ok(())
}

/// The documents of `set`, ascending.
fn docs_of(set: BitSet) -> Vec<DocId> {
    let mut docs = Vec::with_capacity(set.len());
    let mut set = BitSetDocSet::from(set);
    while set.doc() != TERMINATED {
        docs.push(set.doc());
        set.advance();
    }
    docs
}

impl Weight for RarestFirst {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let docs = BitSetDocSet::from(self.matching(reader)?);
        Ok(Box::new(ConstScorer::new(docs, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self.matching(reader)?.contains(doc) {
            Ok(Explanation::new("RarestFirst", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(
                "Document does not match".to_string(),
            ))
        }
    }
}
