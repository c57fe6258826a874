//! Correct top-k: the engine's results equal a brute-force ranking (core's
//! `match_tier` over every doc, sorted by `RankKey`) for every 1- and 2-char
//! prefix that occurs, for typo and multi-word queries, with and without
//! boosts, over several segments with replaced and deleted docs.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{
    Rng, matches, random_boosts, random_followers, random_users, rank, short_prefixes, typo_query,
};
use kinfolk::search::{Boosts, IndexBatch, SearchDoc};
use kinfolk::{SearchIndex, SearchQuery, UserId};
use kinfolk_search::TantivyIndex;

const USERS: usize = 3000;

/// Builds the index in batches (several segments), then renames, re-counts
/// and removes some users; returns the index and the model of what it holds.
async fn populated(seed: u64) -> (TantivyIndex, HashMap<UserId, SearchDoc>) {
    let mut rng = Rng::new(seed);
    let index = TantivyIndex::open_in_ram().unwrap();
    let docs = random_users(&mut rng, USERS);
    let mut model: HashMap<UserId, SearchDoc> = HashMap::new();
    let mut seq = 0;
    for chunk in docs.chunks(USERS / 4 + 1) {
        seq += 1;
        index
            .apply(IndexBatch {
                upserts: chunk.to_vec(),
                removals: vec![],
                upto_seq: seq,
            })
            .await
            .unwrap();
        index.refresh().await.unwrap();
        model.extend(chunk.iter().map(|d| (d.id, d.clone())));
    }
    // Replace some (new name from another user, new followers), remove some.
    let mut upserts = Vec::new();
    let mut removals = Vec::new();
    for d in &docs {
        if rng.chance(8) {
            let mut changed = d.clone();
            changed.followers_count = random_followers(&mut rng);
            if rng.chance(50) {
                changed.name = rng.pick(&docs).name.clone();
            }
            upserts.push(changed);
        } else if rng.chance(3) {
            removals.push(d.id);
        }
    }
    for u in &upserts {
        model.insert(u.id, u.clone());
    }
    for r in &removals {
        model.remove(r);
    }
    seq += 1;
    index
        .apply(IndexBatch {
            upserts,
            removals,
            upto_seq: seq,
        })
        .await
        .unwrap();
    index.refresh().await.unwrap();
    assert_eq!(index.applied_seq().await.unwrap(), seq);
    (index, model)
}

/// A fresh in-RAM index holding exactly `docs`, committed, and the model.
async fn indexed(docs: &[SearchDoc]) -> (TantivyIndex, HashMap<UserId, SearchDoc>) {
    let index = TantivyIndex::open_in_ram().unwrap();
    index
        .apply(IndexBatch {
            upserts: docs.to_vec(),
            removals: vec![],
            upto_seq: 1,
        })
        .await
        .unwrap();
    index.refresh().await.unwrap();
    (index, docs.iter().map(|d| (d.id, d.clone())).collect())
}

/// Compares the engine with the reference for `raw`, with no boosts and
/// with `boosts`; unparseable queries are skipped (nothing to search).
async fn check(
    index: &TantivyIndex,
    model: &HashMap<UserId, SearchDoc>,
    raw: &str,
    boosts: &Boosts,
    k: usize,
) {
    let Ok(query) = SearchQuery::parse(raw) else {
        return;
    };
    let matched = matches(model.values(), &query);
    for b in [&Boosts::new(), boosts] {
        let got = index.top(&query, b, k).await.unwrap();
        assert_eq!(
            got,
            rank(&matched, b, k),
            "query {raw:?}, k {k}, {} boosts",
            b.len()
        );
    }
}

#[tokio::test]
async fn every_short_prefix_top20_equals_brute_force() {
    let (index, model) = populated(1).await;
    let mut rng = Rng::new(11);
    let docs: Vec<SearchDoc> = model.values().cloned().collect();
    let boosts = random_boosts(&mut rng, &docs);
    let prefixes = short_prefixes(&docs);
    assert!(prefixes.len() > 300, "only {} prefixes", prefixes.len());
    let mut one_char = Vec::new();
    for p in &prefixes {
        check(&index, &model, p, &boosts, 20).await;
        if let (1, Ok(q)) = (p.chars().count(), SearchQuery::parse(p)) {
            let t = Instant::now();
            index.top(&q, &Boosts::new(), 20).await.unwrap();
            one_char.push(t.elapsed());
        }
    }
    report("1-char prefix top-20 (engine only, debug build)", &one_char);
}

#[tokio::test]
async fn typo_multiword_and_username_queries_equal_brute_force() {
    let (index, model) = populated(2).await;
    let mut rng = Rng::new(22);
    let docs: Vec<SearchDoc> = model.values().cloned().collect();
    let boosts = random_boosts(&mut rng, &docs);
    let mut queries = Vec::new();
    for _ in 0..250 {
        let d = rng.pick(&docs).clone();
        if let Some(q) = typo_query(&mut rng, &d) {
            queries.push(q);
        }
        // Two-word prefix queries, in either order, sometimes with a typo.
        let words: Vec<String> = kinfolk::text::words(&kinfolk::text::fold(&d.name))
            .map(str::to_string)
            .collect();
        if words.len() >= 2 {
            let a: String = words[0].chars().take(1 + rng.below(4)).collect();
            let b: String = words[words.len() - 1]
                .chars()
                .take(1 + rng.below(6))
                .collect();
            queries.push(format!("{b} {a}"));
            queries.push(format!("{a} {b}"));
        }
        // Username prefixes of any length, mixed case, with and without '@'.
        let u: String = d
            .username
            .chars()
            .take(1 + rng.below(d.username.len()))
            .collect();
        queries.push(format!("@{}", u.to_uppercase()));
        queries.push(d.username.clone());
    }
    for q in &queries {
        let k = [1, 5, 20, 50][rng.below(4)];
        check(&index, &model, q, &boosts, k).await;
    }
}

#[tokio::test]
async fn k_zero_and_k_larger_than_matches() {
    let (index, model) = populated(3).await;
    let q = SearchQuery::parse("a").unwrap();
    assert!(index.top(&q, &Boosts::new(), 0).await.unwrap().is_empty());
    let all = index.top(&q, &Boosts::new(), 100_000).await.unwrap();
    assert_eq!(
        all,
        rank(&matches(model.values(), &q), &Boosts::new(), 100_000)
    );
    assert!(all.len() > 100);
}

#[tokio::test]
async fn timing_one_char_prefix_top20() {
    let (index, _model) = populated(4).await;
    let mut times = Vec::new();
    for c in ["a", "m", "s", "j", "e", "д", "α", "م", "王", "k"] {
        let q = SearchQuery::parse(c).unwrap();
        let t = Instant::now();
        let hits = index.top(&q, &Boosts::new(), 20).await.unwrap();
        times.push(t.elapsed());
        assert!(hits.len() <= 20);
    }
    report("1-char prefix top-20 (engine only, single queries)", &times);
}

fn report(what: &str, times: &[Duration]) {
    if times.is_empty() {
        return;
    }
    let mut sorted = times.to_vec();
    sorted.sort();
    let total: Duration = sorted.iter().sum();
    println!(
        "{what}: {} queries over {USERS} users, mean {:?}, median {:?}, max {:?}",
        sorted.len(),
        total / sorted.len() as u32,
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );
}

/// Fuzzy and prefix queries around the n-gram caps (name-word prefixes are
/// indexed up to 20 chars; fuzzy terms up to 19 chars use the exact
/// Levenshtein query over them, longer ones the verified fallback): long
/// name words and usernames, every query length from 3 to 24 chars, with
/// each kind of typo at the start, middle and end.
#[tokio::test]
async fn queries_around_the_ngram_caps_equal_brute_force() {
    let mut rng = Rng::new(5);
    let stems = [
        "abcdefghijklmnopqrstuvwxyz",
        "abcdefghijklmnopqrstuvwxzy",
        "bacdefghijklmnopqrstuvwxyz",
        "abcdefghijklmnopqrstuvwx",
        "abcdefghijklmnopqrst",
        "abcdefghijklmnopqrs",
        "acdefghijklmnopqrstu",
        "ábcdéfghijklmnopqrstuvw",
        "xabcdefghijklmnopqrstuv",
    ];
    let mut docs = Vec::new();
    for (i, s) in stems.iter().enumerate() {
        for j in 0..6usize {
            let word: String = s.chars().take(s.chars().count() - j).collect();
            let ascii: String = word.chars().filter(char::is_ascii_alphanumeric).collect();
            docs.push(SearchDoc {
                id: UserId::new(),
                username: format!("{}{i}{j}", &ascii[..ascii.len().min(26)]),
                name: if j % 2 == 0 {
                    format!("Zed {word}")
                } else {
                    word.clone()
                },
                followers_count: random_followers(&mut rng),
            });
        }
    }
    let (index, model) = indexed(&docs).await;
    let boosts = random_boosts(&mut rng, &docs);
    let base: Vec<char> = "abcdefghijklmnopqrstuvwxyz".chars().collect();
    let mut checked = 0;
    for len in 3..=24usize {
        let q: Vec<char> = base[..len].to_vec();
        let mut variants: Vec<String> = vec![q.iter().collect()];
        for pos in [0, len / 2, len - 1] {
            let mut sub = q.clone();
            sub[pos] = 'z';
            variants.push(sub.iter().collect());
            let mut del = q.clone();
            del.remove(pos);
            variants.push(del.iter().collect());
            let mut ins = q.clone();
            ins.insert(pos, 'q');
            variants.push(ins.iter().collect());
        }
        for v in &variants {
            for raw in [v.clone(), format!("zed {v}"), format!("{v} ze")] {
                check(&index, &model, &raw, &boosts, 10).await;
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "only {checked} queries");
}

/// One-typo queries whose edit is on the first char (substituted, deleted,
/// inserted before it, swapped with the second), with first chars of 1, 2
/// and 3 UTF-8 bytes, over words that share their tails and usernames that
/// share a name word's letters: the engine splits these edits from the
/// others, so each kind is compared with brute force.
#[tokio::test]
async fn first_char_typos_in_every_script_equal_brute_force() {
    let mut rng = Rng::new(11);
    let vocab = [
        "дмитрий",
        "амитрий",
        "митрий",
        "ддмитрий",
        "王小明王明",
        "小明王小明",
        "明王小明",
        "abcdefg",
        "bcdefgh",
        "xbcdefg",
        "aabcdef",
        "Ñandúes",
        "σοφίαςα",
    ];
    let mut docs = Vec::new();
    for (i, w) in vocab.iter().enumerate() {
        for (j, other) in vocab.iter().enumerate().filter(|(j, _)| j % 3 == i % 3) {
            let ascii: String = format!("{w}{other}")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            docs.push(SearchDoc {
                id: UserId::new(),
                username: format!("{ascii}{i}x{j}"),
                name: format!("{w} {other}"),
                followers_count: random_followers(&mut rng),
            });
        }
    }
    let (index, model) = indexed(&docs).await;
    let boosts = random_boosts(&mut rng, &docs);
    let swaps = ['a', 'b', 'x', 'д', 'м', '王', '明', 'σ', 'n'];
    let mut checked = 0;
    for w in vocab {
        let folded = kinfolk::text::fold(w);
        let chars: Vec<char> = folded.chars().collect();
        for len in 3..=chars.len() {
            let q = &chars[..len];
            let mut variants: Vec<Vec<char>> = vec![q.to_vec(), q[1..].to_vec()];
            for &c in &swaps {
                let mut sub = q.to_vec();
                sub[0] = c;
                variants.push(sub);
                let mut ins = q.to_vec();
                ins.insert(0, c);
                variants.push(ins);
            }
            let mut swap = q.to_vec();
            swap.swap(0, 1);
            variants.push(swap);
            for v in variants {
                let v: String = v.into_iter().collect();
                for raw in [v.clone(), format!("{v} abc"), format!("@{v}")] {
                    check(&index, &model, &raw, &boosts, 8).await;
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 500, "only {checked} queries");
}

/// Two-word typo queries where one word is common and the other rare: the
/// fuzzy tier reads the rare word's postings and checks the common word
/// only on those users (a seek per candidate, as its postings hold many
/// more users), in either word order and with the typo on either word;
/// compared with brute force, with deletes across segments.
#[tokio::test]
async fn a_common_word_beside_a_rare_one_equals_brute_force() {
    let mut rng = Rng::new(31);
    let common_words = ["anna", "annabel", "ana", "hanna", "annie"];
    let rare_words = ["qwerty", "qwertz", "werty", "qwarty", "qwertyu"];
    let mut docs = Vec::new();
    for i in 0..600 {
        let first = common_words[i % common_words.len()];
        let last = if i % 40 == 0 {
            rare_words[(i / 40) % rare_words.len()].to_string()
        } else {
            format!("smith{}", i % 7)
        };
        docs.push(SearchDoc {
            id: UserId::new(),
            username: format!("u{i}_{}", &last[..3]),
            name: format!("{first} {last}"),
            followers_count: random_followers(&mut rng),
        });
    }
    let (index, mut model) = indexed(&docs).await;
    // A second segment that deletes and replaces some of the rare users.
    let mut upserts = Vec::new();
    let mut removals = Vec::new();
    for d in docs.iter().step_by(80) {
        removals.push(d.id);
    }
    for d in docs.iter().skip(40).step_by(160) {
        let mut changed = d.clone();
        changed.name = "annie qwerty".into();
        upserts.push(changed);
    }
    for u in &upserts {
        model.insert(u.id, u.clone());
    }
    for r in &removals {
        model.remove(r);
    }
    index
        .apply(IndexBatch {
            upserts,
            removals,
            upto_seq: 2,
        })
        .await
        .unwrap();
    index.refresh().await.unwrap();
    let boosts = random_boosts(&mut rng, &docs);
    let queries = [
        "anna qwerty",
        "qwerty anna",
        "anna qwerry",
        "anan qwerty",
        "anna werty",
        "annx qwertx",
        "ann qwert",
        "hanna qwertz",
        "anni smith3",
        "smith anna",
        "smiht anna",
        "qwerty",
        "anna",
    ];
    for q in queries {
        for k in [1, 5, 20, 1000] {
            check(&index, &model, q, &boosts, k).await;
        }
    }
}
