//! Shared helpers: a seeded RNG, multilingual test users, and the brute-force
//! reference ranking (core's `match_tier` over every doc, sorted by `RankKey`).
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};

use kinfolk::search::{Boosts, MatchTier, RankKey, SearchDoc, SearchHit, match_tier};
use kinfolk::text::{fold, words};
use kinfolk::{SearchQuery, UserId};

/// A sample of /work/shared/data/names.tsv (Faker person names, MIT), copied
/// into the crate: tests never read outside it.
const NAMES_TSV: &str = include_str!("../data/names.tsv");

/// SplitMix64: small, seeded, good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// A random id (v4-shaped bytes are fine: only order and equality matter).
    pub fn id(&mut self) -> UserId {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        UserId::from_bytes(b)
    }
}

/// First and last names of one locale.
#[derive(Debug, Default, Clone)]
pub struct Locale {
    pub code: String,
    pub first: Vec<String>,
    pub last: Vec<String>,
}

pub fn locales() -> Vec<Locale> {
    let mut by_code: BTreeMap<String, Locale> = BTreeMap::new();
    for line in NAMES_TSV.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 4 {
            continue;
        }
        let loc = by_code
            .entry(cols[0].to_string())
            .or_insert_with(|| Locale {
                code: cols[0].to_string(),
                ..Locale::default()
            });
        match cols[1] {
            "first" => loc.first.push(cols[3].to_string()),
            _ => loc.last.push(cols[3].to_string()),
        }
    }
    by_code
        .into_values()
        .filter(|l| !l.first.is_empty())
        .collect()
}

/// A display name from a skewed choice of locale.
pub fn random_name(rng: &mut Rng, locales: &[Locale]) -> String {
    // Skew: the first few locales dominate.
    let idx = if rng.chance(50) {
        rng.below(3.min(locales.len()))
    } else {
        rng.below(locales.len())
    };
    let loc = &locales[idx];
    let first = rng.pick(&loc.first).clone();
    let mut name = first;
    if rng.chance(10) {
        name.push(' ');
        name.push_str(rng.pick(&loc.first).as_str());
    }
    if !loc.last.is_empty() && rng.chance(90) {
        name.push(' ');
        name.push_str(rng.pick(&loc.last).as_str());
    }
    if rng.chance(3) {
        name = name.to_uppercase();
    }
    name
}

/// A username: from the ASCII letters of the folded name when there are
/// enough, else random; mixed case, underscores and digits; unique.
pub fn random_username(rng: &mut Rng, name: &str, taken: &mut HashSet<String>) -> String {
    let ascii: String = fold(name)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .split('_')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let mut base = if ascii.len() >= 3 && rng.chance(70) {
        ascii.chars().take(20).collect::<String>()
    } else {
        let len = 3 + rng.below(8);
        (0..len)
            .map(|_| {
                let alphabet = b"abcdefghijklmnopqrstuvwxyz_0123456789";
                let span = if rng.chance(80) { 26 } else { alphabet.len() };
                alphabet[rng.below(span)] as char
            })
            .collect()
    };
    if !base.chars().any(|c| c.is_ascii_alphabetic()) {
        base.insert(0, 'u');
    }
    if rng.chance(30) {
        base.push_str(&rng.below(100).to_string());
    }
    if rng.chance(20) {
        base = base
            .chars()
            .map(|c| {
                if rng.chance(30) {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
    }
    let mut candidate = base.clone();
    let mut n = 1;
    while !taken.insert(candidate.to_ascii_lowercase()) {
        candidate = format!("{base}{n}");
        n += 1;
    }
    candidate.chars().take(30).collect()
}

/// `n` users with many followers_count ties.
pub fn random_users(rng: &mut Rng, n: usize) -> Vec<SearchDoc> {
    let locales = locales();
    let mut taken = HashSet::new();
    (0..n)
        .map(|_| {
            let name = random_name(rng, &locales);
            let username = random_username(rng, &name, &mut taken);
            SearchDoc {
                id: rng.id(),
                username,
                name,
                followers_count: random_followers(rng),
            }
        })
        .collect()
}

pub fn random_followers(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0..=4 => rng.below(4) as u64,
        5..=7 => rng.below(50) as u64,
        8 => rng.below(10_000) as u64,
        _ => [0, 1, 1000, u64::MAX][rng.below(4)],
    }
}

/// Relationship boosts for ~10% of the users.
pub fn random_boosts(rng: &mut Rng, docs: &[SearchDoc]) -> Boosts {
    let mut boosts = Boosts::new();
    for d in docs {
        if rng.chance(10) {
            boosts.insert(d.id, rng.below(3) as u8);
        }
    }
    boosts
}

/// The reference: every doc through `match_tier`, sorted by `RankKey`.
pub fn brute_force<'a>(
    docs: impl IntoIterator<Item = &'a SearchDoc>,
    query: &SearchQuery,
    boosts: &Boosts,
    k: usize,
) -> Vec<SearchHit> {
    rank(&matches(docs, query), boosts, k)
}

/// Every doc `match_tier` matches, with its tier.
pub fn matches<'a>(
    docs: impl IntoIterator<Item = &'a SearchDoc>,
    query: &SearchQuery,
) -> Vec<(MatchTier, &'a SearchDoc)> {
    docs.into_iter()
        .filter_map(|d| Some((match_tier(query, &d.username, &d.name)?, d)))
        .collect()
}

/// The first `k` of `matched` in `RankKey` order.
pub fn rank(matched: &[(MatchTier, &SearchDoc)], boosts: &Boosts, k: usize) -> Vec<SearchHit> {
    let mut keyed: Vec<RankKey> = matched
        .iter()
        .map(|(tier, d)| {
            RankKey::new(
                *tier,
                boosts.get(&d.id).copied().unwrap_or(0),
                d.followers_count,
                d.id,
            )
        })
        .collect();
    keyed.sort();
    keyed.truncate(k);
    keyed
        .into_iter()
        .map(|key| SearchHit {
            id: key.id,
            tier: key.tier,
            followers_count: u64::MAX - key.followers_inv,
        })
        .collect()
}

/// All 1- and 2-char prefixes of the folded name words and usernames.
pub fn short_prefixes<'a>(docs: impl IntoIterator<Item = &'a SearchDoc>) -> Vec<String> {
    let mut set = std::collections::BTreeSet::new();
    for d in docs {
        let folded = fold(&d.name);
        let uname = d.username.to_ascii_lowercase();
        for w in words(&folded).chain(std::iter::once(uname.as_str())) {
            let chars: Vec<char> = w.chars().collect();
            for n in 1..=2.min(chars.len()) {
                set.insert(chars[..n].iter().collect::<String>());
            }
        }
    }
    set.into_iter().collect()
}

/// A word of `name` with one random edit (and maybe cut to a prefix).
pub fn typo_query(rng: &mut Rng, doc: &SearchDoc) -> Option<String> {
    let folded = fold(&doc.name);
    let mut source: Vec<String> = words(&folded).map(str::to_string).collect();
    source.push(doc.username.to_ascii_lowercase());
    let word: Vec<char> = rng.pick(&source).chars().collect();
    if word.len() < 4 {
        return None;
    }
    let keep = if rng.chance(50) {
        word.len()
    } else {
        4 + rng.below(word.len() - 3)
    };
    let mut w: Vec<char> = word[..keep.min(word.len())].to_vec();
    let pos = rng.below(w.len());
    let letter = *rng.pick(&word);
    match rng.below(4) {
        0 => w[pos] = letter,
        1 => {
            w.remove(pos);
        }
        2 => w.insert(pos, letter),
        _ => {
            if pos + 1 < w.len() {
                w.swap(pos, pos + 1);
            }
        }
    }
    Some(w.into_iter().collect())
}
