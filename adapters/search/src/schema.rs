//! The tantivy schema, how a [`SearchDoc`] becomes a document, and the
//! candidate query of each match tier.

use std::collections::BTreeSet;
use std::sync::Arc;

use kinfolk::fold::{fold, name_words, typo_len};
use kinfolk::search::{MatchTier, SearchDoc};
use kinfolk::{SearchQuery, UserId};
use tantivy::query::{
    AutomatonWeight, BooleanQuery, DfaWrapper, EnableScoring, FuzzyTermQuery, Occur, Query,
    TermQuery, Weight,
};
use tantivy::schema::{
    BytesOptions, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{TantivyDocument, Term};
use tantivy_fst::Automaton;

use crate::conj::{Alt, RarestFirst};

/// Name-word prefixes are indexed up to this many characters (plus the whole
/// word when it is longer).
pub(crate) const NAME_PREFIX_CAP: usize = 20;
/// Username prefixes are indexed up to this many characters (usernames have
/// at most 30; a longer one also gets its whole form).
pub(crate) const USERNAME_PREFIX_CAP: usize = 32;
// The exact fuzzy query needs the n+1-char prefixes of a term of n chars in
// both prefix fields; checking the name cap covers the username's.
const _: () = assert!(NAME_PREFIX_CAP <= USERNAME_PREFIX_CAP);

/// Fast-field column names.
pub(crate) const F_ID_HI: &str = "id_hi";
pub(crate) const F_ID_LO: &str = "id_lo";
pub(crate) const F_FOLLOWERS: &str = "followers";

/// The fields of the index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    /// The 16 id bytes, indexed: the key for replace and delete.
    pub id: Field,
    /// First 8 id bytes (big-endian), fast: tie-break and the hit's id.
    pub id_hi: Field,
    /// Last 8 id bytes, fast.
    pub id_lo: Field,
    /// followers_count, fast.
    pub followers: Field,
    /// ASCII-lower-cased username, one raw term, stored (verification).
    pub username: Field,
    /// Every prefix of the lower-cased username (edge n-grams, by char).
    pub username_prefix: Field,
    /// Every prefix of every folded name word up to [`NAME_PREFIX_CAP`]
    /// chars, and every whole word. The name words are
    /// [`kinfolk::fold::name_words`]: in Han, kana and Hangul also every
    /// suffix of a word, so a query finds them from any character.
    pub name_prefix: Field,
    /// Every whole folded name word (fuzzy candidates).
    pub name_word: Field,
    /// Every prefix (up to [`NAME_PREFIX_CAP`] chars) of every folded name
    /// word and of the lower-cased username, each without its first char:
    /// a typo in the first char becomes an exact lookup here.
    pub tail: Field,
    /// The display name as given, stored only (verification).
    pub name: Field,
}

impl Fields {
    /// The schema and its fields.
    pub(crate) fn build() -> (Schema, Fields) {
        let raw_terms = TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false);
        let term_field = TextOptions::default().set_indexing_options(raw_terms.clone());
        let mut b = Schema::builder();
        let id = b.add_bytes_field("id", BytesOptions::default().set_indexed());
        let id_hi = b.add_u64_field(F_ID_HI, NumericOptions::default().set_fast());
        let id_lo = b.add_u64_field(F_ID_LO, NumericOptions::default().set_fast());
        let followers = b.add_u64_field(F_FOLLOWERS, NumericOptions::default().set_fast());
        let username = b.add_text_field(
            "username",
            TextOptions::default()
                .set_indexing_options(raw_terms)
                .set_stored(),
        );
        let username_prefix = b.add_text_field("username_prefix", term_field.clone());
        let name_prefix = b.add_text_field("name_prefix", term_field.clone());
        let name_word = b.add_text_field("name_word", term_field.clone());
        let tail = b.add_text_field("tail", term_field);
        let name = b.add_text_field("name", TextOptions::default().set_stored());
        let fields = Fields {
            id,
            id_hi,
            id_lo,
            followers,
            username,
            username_prefix,
            name_prefix,
            name_word,
            tail,
            name,
        };
        (b.build(), fields)
    }

    /// The delete/replace key of a user.
    pub(crate) fn id_term(&self, id: UserId) -> Term {
        Term::from_field_bytes(self.id, &id.to_bytes())
    }

    /// The document of a user.
    pub(crate) fn document(&self, doc: &SearchDoc) -> TantivyDocument {
        let bytes = doc.id.to_bytes();
        let (hi, lo) = split_id(bytes);
        let uname = doc.username.to_ascii_lowercase();
        let folded = fold(&doc.name);

        let mut d = TantivyDocument::new();
        d.add_bytes(self.id, &bytes);
        d.add_u64(self.id_hi, hi);
        d.add_u64(self.id_lo, lo);
        d.add_u64(self.followers, doc.followers_count);
        d.add_text(self.username, &uname);
        for p in edge_ngrams(&uname, USERNAME_PREFIX_CAP) {
            d.add_text(self.username_prefix, p);
        }
        let mut prefixes = BTreeSet::new();
        let mut whole = BTreeSet::new();
        let mut tails = BTreeSet::new();
        tails.extend(tail_ngrams(&uname));
        for w in name_words(&folded) {
            prefixes.extend(edge_ngrams(w, NAME_PREFIX_CAP));
            tails.extend(tail_ngrams(w));
            whole.insert(w);
        }
        for p in prefixes {
            d.add_text(self.name_prefix, p);
        }
        for w in whole {
            d.add_text(self.name_word, w);
        }
        for t in tails {
            d.add_text(self.tail, t);
        }
        d.add_text(self.name, &doc.name);
        d
    }

    /// The candidate query of each tier, in tier order, and whether its
    /// candidates need verifying.
    ///
    /// Each query matches every doc whose [`kinfolk::search::match_tier`]
    /// is that tier. When no term is longer than the n-gram caps allow, it
    /// matches no other doc than those of that tier or a better one (the
    /// flag is `false`: the tier is known without reading the doc);
    /// otherwise it is a superset and the ranker verifies every candidate
    /// with `match_tier` on the stored username and name.
    pub(crate) fn tier_queries(
        &self,
        query: &SearchQuery,
    ) -> Vec<(MatchTier, Box<dyn Query>, bool)> {
        let uq = query.username_form();
        let terms: BTreeSet<&str> = query.terms().iter().map(String::as_str).collect();
        let mut plans: Vec<(MatchTier, Box<dyn Query>, bool)> = Vec::with_capacity(4);

        plans.push((
            MatchTier::ExactUsername,
            term_query(self.username, &uq),
            false,
        ));
        plans.push((
            MatchTier::UsernamePrefix,
            term_query(
                self.username_prefix,
                truncate_chars(&uq, USERNAME_PREFIX_CAP),
            ),
            uq.chars().count() > USERNAME_PREFIX_CAP,
        ));

        let name_prefix =
            |t: &str| term_query(self.name_prefix, truncate_chars(t, NAME_PREFIX_CAP));
        let names_capped = terms.iter().any(|t| t.chars().count() > NAME_PREFIX_CAP);
        plans.push((
            MatchTier::NamePrefix,
            all_of(terms.iter().map(|t| name_prefix(t)).collect()),
            names_capped,
        ));

        // Fuzzy differs from NamePrefix only through terms of 4+ chars.
        if terms.iter().any(|t| fuzzy_eligible(t)) {
            // A word (or the username) has a prefix within one edit of a
            // term of n chars iff one of its prefixes of n-1..=n+1 chars is
            // within one edit: a whole-term Levenshtein query on the prefix
            // fields finds them, exactly, when those prefixes are indexed.
            // Longer terms fall back to a prefix automaton over whole words,
            // a superset that enumerates every word under a matching prefix
            // (costly for short terms, hence only the fallback).
            let exact = terms.iter().all(|t| {
                let n = t.chars().count();
                !fuzzy_eligible(t) || n < NAME_PREFIX_CAP
            });
            if exact && let Some(alts) = self.rarest_first_alts(&terms) {
                plans.push((
                    MatchTier::Fuzzy,
                    Box::new(RarestFirst { terms: alts }),
                    names_capped,
                ));
                return plans;
            }
            let per_term = terms
                .iter()
                .map(|t| {
                    if !fuzzy_eligible(t) {
                        name_prefix(t)
                    } else if exact {
                        self.one_edit_of_prefix(t)
                    } else {
                        let clauses: Vec<(Occur, Box<dyn Query>)> = vec![
                            (Occur::Should, name_prefix(t)),
                            (Occur::Should, fuzzy_prefix_query(self.name_word, t)),
                            (Occur::Should, fuzzy_prefix_query(self.username, t)),
                        ];
                        Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>
                    }
                })
                .collect();
            plans.push((MatchTier::Fuzzy, all_of(per_term), !exact || names_capped));
        }
        plans
    }
}

impl Fields {
    /// The alternatives of each term of an exact fuzzy plan, as
    /// [`Fields::one_edit_of_prefix`] and the name-prefix term build them
    /// (`None` if an automaton cannot be built; the caller then uses them).
    fn rarest_first_alts(&self, terms: &BTreeSet<&str>) -> Option<Vec<Vec<Alt>>> {
        terms
            .iter()
            .map(|t| {
                if !fuzzy_eligible(t) {
                    let text = truncate_chars(t, NAME_PREFIX_CAP);
                    return Some(vec![Alt::Exact(Term::from_field_text(
                        self.name_prefix,
                        text,
                    ))]);
                }
                let automaton = Arc::new(FirstThen::new(self.name_prefix, t)?);
                let rest = t.char_indices().nth(1).map_or("", |(i, _)| &t[i..]);
                Some(vec![
                    Alt::Walk(self.name_prefix, Arc::clone(&automaton)),
                    Alt::Walk(self.username_prefix, automaton),
                    Alt::Exact(Term::from_field_text(self.tail, rest)),
                    Alt::Exact(Term::from_field_text(self.tail, t)),
                    Alt::Exact(Term::from_field_text(self.name_prefix, rest)),
                    Alt::Exact(Term::from_field_text(self.username_prefix, rest)),
                ])
            })
            .collect()
    }

    /// Users with a name-word or username prefix within one edit of `term`
    /// (4..[`NAME_PREFIX_CAP`] chars), exactly, split by the first char:
    ///
    /// - a prefix that starts with the term's first char is within one edit
    ///   iff the rest is: a Levenshtein walk of the prefix fields that never
    ///   leaves that first char's branch of the term dictionary;
    /// - otherwise the edit is on the first char: substituted (the prefix
    ///   minus its first char is the term minus its first char), inserted
    ///   before it (the prefix minus its first char is the term), both exact
    ///   terms of [`Fields::tail`], or deleted (the prefix is the term minus
    ///   its first char), an exact term of the prefix fields.
    fn one_edit_of_prefix(&self, term: &str) -> Box<dyn Query> {
        let rest = term.char_indices().nth(1).map_or("", |(i, _)| &term[i..]);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(6);
        let shared = FirstThen::new(self.name_prefix, term).map(Arc::new);
        for field in [self.name_prefix, self.username_prefix] {
            let query: Box<dyn Query> = match &shared {
                Some(automaton) => Box::new(SameFirstFuzzy {
                    field,
                    automaton: Arc::clone(automaton),
                }),
                // Not reached (the term is a non-empty string and the
                // distance 1); tantivy's plain Levenshtein query is a correct
                // superset of the clause (slower), and reports the error.
                None => Box::new(FuzzyTermQuery::new(
                    Term::from_field_text(field, term),
                    1,
                    false,
                )),
            };
            clauses.push((Occur::Should, query));
        }
        clauses.extend([
            (Occur::Should, term_query(self.tail, rest)),
            (Occur::Should, term_query(self.tail, term)),
            (Occur::Should, term_query(self.name_prefix, rest)),
            (Occur::Should, term_query(self.username_prefix, rest)),
        ]);
        Box::new(BooleanQuery::new(clauses))
    }
}

/// Every prefix of `word` without its first char, up to [`NAME_PREFIX_CAP`]
/// chars (so a prefix of up to `NAME_PREFIX_CAP + 1` chars of `word`).
pub(crate) fn tail_ngrams(word: &str) -> impl Iterator<Item = &str> {
    let rest = word.char_indices().nth(1).map_or("", |(i, _)| &word[i..]);
    edge_ngrams(rest, NAME_PREFIX_CAP).take(NAME_PREFIX_CAP)
}

/// Splits the 16 id bytes into two big-endian u64, which order like the id.
pub(crate) fn split_id(bytes: [u8; 16]) -> (u64, u64) {
    let mut hi = [0u8; 8];
    let mut lo = [0u8; 8];
    hi.copy_from_slice(&bytes[..8]);
    lo.copy_from_slice(&bytes[8..]);
    (u64::from_be_bytes(hi), u64::from_be_bytes(lo))
}

/// The inverse of [`split_id`].
pub(crate) fn join_id(hi: u64, lo: u64) -> UserId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    UserId::from_bytes(bytes)
}

/// Core's typo rule: a term tolerates a typo when it has 4+ letters
/// (combining marks not counted, [`kinfolk::fold::typo_len`]).
fn fuzzy_eligible(term: &str) -> bool {
    typo_len(term) >= SearchQuery::FUZZY_MIN_LEN
}

/// Every prefix of `word` of 1..=`cap` chars, and `word` itself when longer.
pub(crate) fn edge_ngrams(word: &str, cap: usize) -> impl Iterator<Item = &str> {
    let ends = word
        .char_indices()
        .skip(1)
        .map(|(i, _)| i)
        .chain(std::iter::once(word.len()))
        .filter(|&end| end > 0);
    let capped = ends.take(cap);
    let whole = (word.chars().count() > cap).then_some(word.len());
    capped.chain(whole).map(move |end| &word[..end])
}

/// The first `n` chars of `s`.
pub(crate) fn truncate_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn term_query(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

/// Words with some prefix within one edit (insert, delete, substitute) of
/// `term`: core's `fuzzy_prefix`.
fn fuzzy_prefix_query(field: Field, term: &str) -> Box<dyn Query> {
    Box::new(FuzzyTermQuery::new_prefix(
        Term::from_field_text(field, term),
        1,
        false,
    ))
}

/// The terms of `field` within one edit of a term that start with its
/// first char (the automaton is built once per term and shared by fields).
#[derive(Clone, Debug)]
struct SameFirstFuzzy {
    field: Field,
    automaton: Arc<FirstThen>,
}

impl Query for SameFirstFuzzy {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(AutomatonWeight::<FirstThen>::new(
            self.field,
            Arc::clone(&self.automaton),
        )))
    }
}

/// An automaton that accepts what `dfa` accepts among the strings starting
/// with the bytes `first`, and gives up on a term-dictionary branch as soon
/// as it leaves `first`.
pub(crate) struct FirstThen {
    first: Vec<u8>,
    dfa: DfaWrapper,
}

impl FirstThen {
    /// The automaton of `term` (`None` for an empty term, which no fuzzy
    /// query has); `field` only carries the text into tantivy's builder.
    fn new(field: Field, term: &str) -> Option<FirstThen> {
        let first = term.chars().next()?.to_string().into_bytes();
        let dfa = FuzzyTermQuery::new(Term::from_field_text(field, term), 1, false)
            .automaton()
            .ok()?;
        Some(FirstThen { first, dfa })
    }
}

impl std::fmt::Debug for FirstThen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstThen")
            .field("first", &self.first)
            .finish_non_exhaustive()
    }
}

impl Automaton for FirstThen {
    /// `None` once off `first`; else the bytes of `first` read (capped at
    /// its length) and the DFA state.
    type State = Option<(usize, u32)>;

    fn start(&self) -> Self::State {
        Some((0, self.dfa.start()))
    }

    fn is_match(&self, state: &Self::State) -> bool {
        state.is_some_and(|(read, s)| read >= self.first.len() && self.dfa.is_match(&s))
    }

    fn can_match(&self, state: &Self::State) -> bool {
        state.is_some_and(|(_, s)| self.dfa.can_match(&s))
    }

    fn accept(&self, state: &Self::State, byte: u8) -> Self::State {
        let (read, s) = (*state)?;
        match self.first.get(read) {
            Some(&b) if b != byte => None,
            Some(_) => Some((read + 1, self.dfa.accept(&s, byte))),
            None => Some((read, self.dfa.accept(&s, byte))),
        }
    }
}

fn all_of(mut queries: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    if queries.len() == 1
        && let Some(q) = queries.pop()
    {
        return q;
    }
    Box::new(BooleanQuery::new(
        queries.into_iter().map(|q| (Occur::Must, q)).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_ngrams_by_char_with_cap_and_whole_word() {
        let g: Vec<&str> = edge_ngrams("josé", 20).collect();
        assert_eq!(g, ["j", "jo", "jos", "josé"]);
        let g: Vec<&str> = edge_ngrams("дмитрий", 3).collect();
        assert_eq!(g, ["д", "дм", "дми", "дмитрий"]);
        let g: Vec<&str> = edge_ngrams("abc", 3).collect();
        assert_eq!(g, ["a", "ab", "abc"]);
        assert_eq!(edge_ngrams("", 3).count(), 0);
    }

    #[test]
    fn truncate_by_char() {
        assert_eq!(truncate_chars("王小明", 2), "王小");
        assert_eq!(truncate_chars("ab", 5), "ab");
    }

    #[test]
    fn id_split_round_trips_and_orders() {
        let a = UserId::new();
        let (hi, lo) = split_id(a.to_bytes());
        assert_eq!(join_id(hi, lo), a);
        let b = UserId::from_bytes([0xff; 16]);
        let (bh, bl) = split_id(b.to_bytes());
        assert_eq!((hi, lo) < (bh, bl), a < b);
    }
}
