//! User search (SPEC §8): the engine-independent half.
//!
//! Core owns what a search *means*: query normalisation ([`SearchQuery`]),
//! match tiers ([`match_tier`], the reference definition every engine must
//! agree with), ranking order ([`RankKey`]), scopes and their visibility
//! filters (applied by the service against the store at query time, so a
//! setting or block changed a moment ago is honoured). An engine behind the
//! [`SearchIndex`] port only finds and orders candidates.
//!
//! Facts from the index: username, display name, followers_count (ranking).
//! Facts from the store, at query time: status, discoverable, allow_mentions,
//! allow_room_invites, blocks both ways, mutes, memberships, list visibility.

pub(crate) mod follow;
pub(crate) mod service;

pub use follow::LAG_GAUGE;
pub use service::SearchResult;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::id::{RoomId, UserId};
use crate::text::{fold, words};

/// Where to search and for what purpose.
///
/// JSON: `{"scope":"discovery"}`, `{"scope":"room_invite","room":"<id>"}`,
/// `{"scope":"followers","of":"<id>"}`, …; any other field is refused, for
/// every scope (serde's internally tagged unit variants would ignore them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    tag = "scope",
    rename_all = "snake_case",
    deny_unknown_fields,
    try_from = "ScopeRepr"
)]
pub enum SearchScope {
    /// Discoverable users, never the viewer; users the viewer mutes are left out.
    Discovery,
    /// Users whose `allow_mentions` admits the viewer; people the viewer
    /// follows rank first, then people who follow the viewer.
    Mention,
    /// Users the viewer may add to `room` (the viewer must be allowed to add
    /// members); current members and users whose `allow_room_invites` refuses
    /// the viewer are left out.
    RoomInvite {
        /// The room.
        room: RoomId,
    },
    /// Inside the users `of` follows, under `following_visibility`.
    Following {
        /// Whose list.
        of: UserId,
    },
    /// Inside the followers of `of`, under `followers_visibility`.
    Followers {
        /// Whose list.
        of: UserId,
    },
}

/// The JSON form of a [`SearchScope`] as read: one flat object, unknown
/// fields refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeRepr {
    scope: ScopeKind,
    #[serde(default)]
    room: Option<RoomId>,
    #[serde(default)]
    of: Option<UserId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ScopeKind {
    Discovery,
    Mention,
    RoomInvite,
    Following,
    Followers,
}

impl TryFrom<ScopeRepr> for SearchScope {
    type Error = &'static str;
    fn try_from(r: ScopeRepr) -> std::result::Result<Self, Self::Error> {
        match (r.scope, r.room, r.of) {
            (ScopeKind::Discovery, None, None) => Ok(SearchScope::Discovery),
            (ScopeKind::Mention, None, None) => Ok(SearchScope::Mention),
            (ScopeKind::RoomInvite, Some(room), None) => Ok(SearchScope::RoomInvite { room }),
            (ScopeKind::Following, None, Some(of)) => Ok(SearchScope::Following { of }),
            (ScopeKind::Followers, None, Some(of)) => Ok(SearchScope::Followers { of }),
            (ScopeKind::RoomInvite, None, _) => Err("scope room_invite needs `room`"),
            (ScopeKind::Following | ScopeKind::Followers, _, None) => {
                Err("scopes following and followers need `of`")
            }
            _ => Err("a field this scope does not take"),
        }
    }
}

/// How a user matched a query. Lower ranks first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchTier {
    /// The username equals the query (case-insensitively).
    ExactUsername = 0,
    /// The username starts with the query.
    UsernamePrefix = 1,
    /// Every query word is a prefix of a word of the display name (a
    /// [`crate::fold::name_words`] word: in Han, kana and Hangul also from
    /// any character of a word), both folded by [`crate::fold::fold`].
    NamePrefix = 2,
    /// As above but with one typo in at least one word of 4+ letters
    /// (combining marks not counted: [`crate::fold::typo_len`]).
    Fuzzy = 3,
}

/// A normalised query: trimmed, leading `@` dropped, 1–100 characters, folded.
/// Plain text: no character has a special meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    raw: String,
    folded: String,
    terms: Vec<String>,
}

impl SearchQuery {
    /// Longest query, in characters after trimming.
    pub const MAX_LEN: usize = 100;
    /// Shortest term that tolerates a typo, in letters
    /// ([`crate::fold::typo_len`]).
    pub const FUZZY_MIN_LEN: usize = 4;

    /// Normalises a query.
    ///
    /// # Errors
    /// [`Error::Validation`] (`query`) when, after trimming and dropping one
    /// leading `@`, it is empty or longer than 100 characters, or contains
    /// control characters, or has no letter or digit to search for.
    ///
    /// ```
    /// let q = kinfolk::SearchQuery::parse("  @José Á ").unwrap();
    /// assert_eq!(q.terms(), ["jose", "a"]);
    /// assert!(kinfolk::SearchQuery::parse("   ").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self> {
        let trimmed = raw.trim();
        let body = trimmed.strip_prefix('@').unwrap_or(trimmed).trim();
        if body.chars().count() > Self::MAX_LEN {
            return Err(Error::validation(
                "query",
                "must have at most 100 characters",
            ));
        }
        if body.chars().any(|c| c.is_control()) {
            return Err(Error::validation(
                "query",
                "control characters are not allowed",
            ));
        }
        if body.is_empty() {
            return Err(Error::validation("query", "must not be empty"));
        }
        let folded = fold(body);
        let terms: Vec<String> = words(&folded).map(str::to_string).collect();
        if terms.is_empty() {
            return Err(Error::validation("query", "nothing to search for"));
        }
        Ok(Self {
            raw: body.to_string(),
            folded,
            terms,
        })
    }

    /// The query as given, trimmed, without the leading `@`.
    pub fn raw(&self) -> &str {
        &self.raw
    }
    /// The folded query.
    pub fn folded(&self) -> &str {
        &self.folded
    }
    /// The folded words.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }
    /// The folded form compared with usernames: the query without spaces
    /// (usernames have none), lower-cased.
    pub fn username_form(&self) -> String {
        self.folded.chars().filter(|c| !c.is_whitespace()).collect()
    }
}

/// Whether `a` and `b` are at most one edit (insert, delete, substitute) apart.
/// The bounded question in one linear scan, without computing the full
/// Levenshtein distance (the tests check it against `strsim::levenshtein`).
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() - short.len() > 1 {
        return false;
    }
    let mut i = 0;
    while i < short.len() && short[i] == long[i] {
        i += 1;
    }
    if short.len() == long.len() {
        short[i..].iter().skip(1).eq(long[i..].iter().skip(1))
    } else {
        short[i..].iter().eq(long[i + 1..].iter())
    }
}

/// Whether some prefix of `word` is within one edit of `term` (a typo in a
/// prefix still finds the word: "alvr" finds "alvarez").
pub fn fuzzy_prefix(term: &str, word: &str) -> bool {
    if crate::fold::typo_len(term) < SearchQuery::FUZZY_MIN_LEN {
        return false;
    }
    let tl = term.chars().count();
    let chars: Vec<char> = word.chars().collect();
    (tl.saturating_sub(1)..=tl + 1).any(|n| {
        n <= chars.len() && n > 0 && within_one_edit(term, &chars[..n].iter().collect::<String>())
    })
}

/// The reference definition of how a user matches a query; `None` when it
/// does not. Every [`SearchIndex`] MUST agree with it.
///
/// ```
/// use kinfolk::{SearchQuery, search::{match_tier, MatchTier}};
/// let q = SearchQuery::parse("alv").unwrap();
/// assert_eq!(match_tier(&q, "jose_a", "José Álvarez"), Some(MatchTier::NamePrefix));
/// let q = SearchQuery::parse("alvarex").unwrap();
/// assert_eq!(match_tier(&q, "jose_a", "José Álvarez"), Some(MatchTier::Fuzzy));
/// ```
pub fn match_tier(query: &SearchQuery, username: &str, name: &str) -> Option<MatchTier> {
    let uname = username.to_ascii_lowercase();
    let uq = query.username_form();
    if uname == uq {
        return Some(MatchTier::ExactUsername);
    }
    if uname.starts_with(&uq) {
        return Some(MatchTier::UsernamePrefix);
    }
    let folded_name = fold(name);
    let name_words = crate::fold::name_words(&folded_name);
    let prefix_all = query
        .terms()
        .iter()
        .all(|t| name_words.iter().any(|w| w.starts_with(t.as_str())));
    if prefix_all {
        return Some(MatchTier::NamePrefix);
    }
    // Fuzzy: every term matches a name word or the username by prefix, or
    // by prefix with one typo when the term has 4+ characters.
    let fuzzy_all = query.terms().iter().all(|t| {
        name_words
            .iter()
            .any(|w| w.starts_with(t.as_str()) || fuzzy_prefix(t, w))
            || fuzzy_prefix(t, &uname)
    });
    fuzzy_all.then_some(MatchTier::Fuzzy)
}

/// What the index holds for a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchDoc {
    /// The user.
    pub id: UserId,
    /// Current username.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Ranking signal.
    pub followers_count: u64,
}

/// A batch of index changes derived from the change feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexBatch {
    /// Users to insert or replace (by id).
    pub upserts: Vec<SearchDoc>,
    /// Users to remove (deleted or deactivated).
    pub removals: Vec<UserId>,
    /// The feed sequence these changes bring the index up to.
    pub upto_seq: u64,
}

/// Where an interrupted rebuild stands, as the index records it (with the
/// documents it covers, so that a rebuild can continue after a crash or a
/// stopped `kinfolk reindex`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildMark {
    /// The feed sequence the rebuild reflects (the store's last sequence
    /// when it started; the feed after it is applied once it ends).
    pub upto_seq: u64,
    /// The last user id indexed (users are rebuilt in id order); `None`
    /// before the first batch.
    pub after: Option<UserId>,
    /// Users read so far.
    pub done: u64,
}

/// How far a search rebuild has come
/// ([`Kinfolk::rebuild_search_with`](crate::Kinfolk::rebuild_search_with)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RebuildProgress {
    /// Users read so far (including those of an interrupted run it resumed).
    pub done: u64,
    /// Users in the store when the rebuild (or the resumed run) started,
    /// never less than `done` (users registered meanwhile count in `done`).
    pub total: u64,
    /// Whether this rebuild continues an interrupted one.
    pub resumed: bool,
    /// The last report: every user is indexed and the position recorded.
    pub finished: bool,
}

/// The order of search results: tier, then relationship boost (higher
/// first), then followers_count (higher first), then id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RankKey {
    /// Match tier (lower first).
    pub tier: MatchTier,
    /// `u8::MAX - boost`, so that a higher boost sorts first.
    pub boost_inv: u8,
    /// `u64::MAX - followers_count`.
    pub followers_inv: u64,
    /// Final tie-break.
    pub id: UserId,
}

impl RankKey {
    /// The key of a hit.
    pub fn new(tier: MatchTier, boost: u8, followers_count: u64, id: UserId) -> Self {
        Self {
            tier,
            boost_inv: u8::MAX - boost,
            followers_inv: u64::MAX - followers_count,
            id,
        }
    }
}

/// One candidate from the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchHit {
    /// Who.
    pub id: UserId,
    /// How it matched.
    pub tier: MatchTier,
    /// Its followers_count as indexed.
    pub followers_count: u64,
}

/// Relationship boosts for ranking (mention scope: people the viewer follows
/// get 2, people who follow the viewer 1).
pub type Boosts = HashMap<UserId, u8>;

/// A search engine kinfolk keeps in step with the store's change feed.
///
/// # Contract
/// - [`SearchIndex::apply`] MUST be idempotent: applying a batch twice, or an
///   older state of a user after a newer one followed by the newer one again,
///   leaves the index as the last application says.
/// - [`SearchIndex::applied_seq`] MUST return the highest `upto_seq` applied
///   (durably committed or pending), and after a reopen at least the highest
///   durably committed one; the service re-applies the feed after it.
/// - [`SearchIndex::top`] MUST return the true top `k` matches under
///   [`match_tier`] and [`RankKey`] order among the docs applied *and made
///   visible*; visible means within 1 s of `apply` on its own, at once
///   after [`SearchIndex::refresh`].
/// - User text MUST NOT be interpreted as query syntax.
/// - [`SearchIndex::rebuild_mark`] MUST return the last mark set (pending
///   included) until [`SearchIndex::clear`] or a `set_rebuild_mark(None)`;
///   after a reopen, at most the mark of the last durable commit, committed
///   together with every document applied before it. An index that cannot
///   record one keeps the defaults (no mark: an interrupted rebuild starts
///   over).
///
/// The service calls these methods from its own follower thread as well as
/// from callers' tasks; an engine whose work blocks should do it on a
/// thread of its own, not on the caller's executor.
#[async_trait]
pub trait SearchIndex: Send + Sync + fmt::Debug + 'static {
    /// Applies upserts and removals, recording `upto_seq`.
    async fn apply(&self, batch: IndexBatch) -> Result<()>;
    /// The highest feed sequence applied.
    async fn applied_seq(&self) -> Result<u64>;
    /// Makes everything applied searchable now (and durable, for disk indexes).
    async fn refresh(&self) -> Result<()>;
    /// Removes every document and resets `applied_seq` to 0 (before a rebuild).
    async fn clear(&self) -> Result<()>;
    /// The best `k` matches of `query`, in [`RankKey`] order with `boosts`.
    async fn top(&self, query: &SearchQuery, boosts: &Boosts, k: usize) -> Result<Vec<SearchHit>>;
    /// The mark of an unfinished rebuild, if any (default: none).
    async fn rebuild_mark(&self) -> Result<Option<RebuildMark>> {
        Ok(None)
    }
    /// Records (or, with `None`, removes) the mark of a rebuild in progress,
    /// to be made durable with the documents applied before it (default:
    /// not recorded).
    async fn set_rebuild_mark(&self, mark: Option<RebuildMark>) -> Result<()> {
        let _ = mark;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `within_one_edit` is "Levenshtein distance ≤ 1" answered in one linear
    /// scan; `strsim` computes the whole distance and serves as the oracle,
    /// over every pair of strings of up to 4 characters from a 3-letter
    /// alphabet (one letter outside ASCII).
    #[test]
    fn within_one_edit_is_levenshtein_at_most_one() {
        let alphabet = ['a', 'b', 'é'];
        let mut words = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..4 {
            last = last
                .iter()
                .flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}")))
                .collect();
            words.extend(last.iter().cloned());
        }
        for a in &words {
            for b in &words {
                assert_eq!(
                    within_one_edit(a, b),
                    strsim::levenshtein(a, b) <= 1,
                    "{a:?} {b:?}"
                );
            }
        }
    }
}
