//! Relevance cases from SPEC §8: tier order, accents, case, multi-word
//! names, usernames with `_` and digits, non-Latin scripts, typos,
//! replacement and removal, boosts and tie-breaks.
#![allow(clippy::unwrap_used)]

mod common;

use kinfolk::search::{Boosts, IndexBatch, MatchTier, SearchDoc, SearchHit};
use kinfolk::{SearchIndex, SearchQuery, UserId};
use kinfolk_search::TantivyIndex;

use MatchTier::{ExactUsername, Fuzzy, NamePrefix, UsernamePrefix};

/// Ids that sort in declaration order.
fn id(n: u8) -> UserId {
    let mut b = [0u8; 16];
    b[15] = n;
    UserId::from_bytes(b)
}

fn doc(n: u8, username: &str, name: &str, followers_count: u64) -> SearchDoc {
    SearchDoc {
        id: id(n),
        username: username.into(),
        name: name.into(),
        followers_count,
    }
}

fn people() -> Vec<SearchDoc> {
    vec![
        doc(1, "jose", "Someone Else", 0),
        doc(2, "Jose_A", "José Álvarez", 10),
        doc(3, "jose99", "Joseph Ninety", 1000),
        doc(4, "mmartin", "José Martín", 5),
        doc(5, "pepe", "María José Pérez", 50),
        doc(6, "jase_f", "Jase Fuller", 7),
        doc(7, "bob", "Bob Builder", 100_000),
        doc(8, "john_doe42", "John Doe", 3),
        doc(9, "dima", "Дмитрий Иванов", 8),
        doc(10, "yolkin", "Ёлкин Пётр", 2),
        doc(11, "giorgos", "Γιώργος Παπαδόπουλος", 9),
        doc(12, "mohammed", "محمد علي", 4),
        doc(13, "david_l", "דוד לוי", 4),
        doc(14, "wang_xm", "王小明", 6),
        doc(15, "taro", "山田 太郎", 6),
        doc(16, "minjun", "김민준", 6),
        doc(17, "somchai", "สมชาย ใจดี", 6),
        doc(18, "tie_b", "Tie Same", 5),
        doc(19, "tie_a", "Tie Same", 5),
        doc(20, "deepak", "दीपक शर्मा", 1),
        doc(
            21,
            "mary_p",
            "Supercalifragilisticexpialidocious Poppins",
            3,
        ),
        doc(
            22,
            "long_x",
            "Supercalifragilisticexpialidociousness Other",
            2,
        ),
        doc(23, "abcdefghijklmnopqrstuvwxyz_abcd", "Zed", 1),
        // Longer than a valid username; the index takes what it is given.
        doc(24, "a234567890b234567890c234567890d234567890", "Ysolde", 1),
    ]
}

async fn index() -> TantivyIndex {
    let index = TantivyIndex::open_in_ram().unwrap();
    index
        .apply(IndexBatch {
            upserts: people(),
            removals: vec![],
            upto_seq: 1,
        })
        .await
        .unwrap();
    index.refresh().await.unwrap();
    index
}

/// The hits as (user number, tier), after checking them against the
/// brute-force reference.
async fn search(index: &TantivyIndex, raw: &str, boosts: &Boosts) -> Vec<(u8, MatchTier)> {
    let q = SearchQuery::parse(raw).unwrap();
    let hits = index.top(&q, boosts, 50).await.unwrap();
    assert_eq!(
        hits,
        common::brute_force(&people(), &q, boosts, 50),
        "query {raw:?}"
    );
    hits.iter()
        .map(|h: &SearchHit| (h.id.to_bytes()[15], h.tier))
        .collect()
}

async fn plain(index: &TantivyIndex, raw: &str) -> Vec<(u8, MatchTier)> {
    search(index, raw, &Boosts::new()).await
}

#[tokio::test]
async fn exact_then_username_prefix_then_name_prefix_then_fuzzy() {
    let ix = index().await;
    assert_eq!(
        plain(&ix, "jose").await,
        vec![
            (1, ExactUsername),
            (3, UsernamePrefix), // 1000 followers
            (2, UsernamePrefix), // 10
            (5, NamePrefix),     // María José, 50
            (4, NamePrefix),     // José Martín, 5
            (6, Fuzzy),          // Jase, one substitution
        ]
    );
}

#[tokio::test]
async fn accents_and_case_are_folded() {
    let ix = index().await;
    for q in ["alv", "ÁLV", "Álvarez", "alvarez", "ALVAREZ"] {
        assert_eq!(plain(&ix, q).await, vec![(2, NamePrefix)], "{q}");
    }
    assert_eq!(plain(&ix, "JOSE_A").await, vec![(2, ExactUsername)]);
    assert_eq!(plain(&ix, "@jose_a").await, vec![(2, ExactUsername)]);
    // "jose_" is a username prefix of Jose_A only; the word "jose" still
    // finds the Josés by name and "jose" (the username) with a typo.
    assert_eq!(
        plain(&ix, "  @Jose_  ").await,
        vec![
            (2, UsernamePrefix),
            (3, NamePrefix),
            (5, NamePrefix),
            (4, NamePrefix),
            (6, Fuzzy),
            (1, Fuzzy)
        ]
    );
    assert_eq!(plain(&ix, "mart").await[0], (4, NamePrefix));
    assert_eq!(plain(&ix, "martin").await[0], (4, NamePrefix));
}

#[tokio::test]
async fn multi_word_queries_need_every_word() {
    let ix = index().await;
    assert_eq!(plain(&ix, "jose alv").await, vec![(2, NamePrefix)]);
    assert_eq!(plain(&ix, "Álvarez José").await, vec![(2, NamePrefix)]);
    assert_eq!(plain(&ix, "maria perez").await, vec![(5, NamePrefix)]);
    // "mart" is a prefix of Martín; of María only with a typo.
    assert_eq!(
        plain(&ix, "jose mart").await,
        vec![(4, NamePrefix), (5, Fuzzy)]
    );
    assert!(plain(&ix, "jose zzz").await.is_empty());
}

#[tokio::test]
async fn usernames_with_underscores_and_digits() {
    let ix = index().await;
    assert_eq!(plain(&ix, "john_doe42").await, vec![(8, ExactUsername)]);
    assert_eq!(plain(&ix, "John_D").await, vec![(8, UsernamePrefix)]);
    assert_eq!(plain(&ix, "JOHN_DOE4").await, vec![(8, UsernamePrefix)]);
    assert_eq!(plain(&ix, "john doe").await, vec![(8, NamePrefix)]);
    assert_eq!(plain(&ix, "doe").await, vec![(8, NamePrefix)]);
    assert!(plain(&ix, "42").await.is_empty());
    assert_eq!(
        plain(&ix, "jose9").await,
        vec![
            (3, UsernamePrefix),
            (5, Fuzzy),
            (2, Fuzzy),
            (4, Fuzzy),
            (1, Fuzzy)
        ]
    );
}

#[tokio::test]
async fn cyrillic_greek_arabic_hebrew() {
    let ix = index().await;
    assert_eq!(plain(&ix, "дми").await, vec![(9, NamePrefix)]);
    assert_eq!(plain(&ix, "ИВАН").await, vec![(9, NamePrefix)]);
    assert_eq!(plain(&ix, "Дмитрий Иванов").await, vec![(9, NamePrefix)]);
    assert_eq!(plain(&ix, "дмитрый").await, vec![(9, Fuzzy)]);
    // Ё and ё fold to е.
    assert_eq!(plain(&ix, "елкин").await, vec![(10, NamePrefix)]);
    assert_eq!(plain(&ix, "петр").await, vec![(10, NamePrefix)]);
    // Greek tonos folds away.
    assert_eq!(plain(&ix, "γιωργ").await, vec![(11, NamePrefix)]);
    assert_eq!(plain(&ix, "ΠΑΠΑ").await, vec![(11, NamePrefix)]);
    // Final sigma and sigma fold alike.
    assert_eq!(plain(&ix, "ΠΑΠΑΔΟΠΟΥΛΟΣ").await, vec![(11, NamePrefix)]);
    assert_eq!(plain(&ix, "παπαδοπουλοσ").await, vec![(11, NamePrefix)]);
    assert_eq!(plain(&ix, "παπαδοπυλος").await, vec![(11, Fuzzy)]);
    // Arabic, also with harakat (combining marks) in the query.
    assert_eq!(plain(&ix, "محم").await, vec![(12, NamePrefix)]);
    assert_eq!(plain(&ix, "مُحَمَّد").await, vec![(12, NamePrefix)]);
    assert_eq!(plain(&ix, "علي").await, vec![(12, NamePrefix)]);
    assert_eq!(plain(&ix, "דו").await, vec![(13, NamePrefix)]);
    assert_eq!(plain(&ix, "לוי").await, vec![(13, NamePrefix)]);
}

#[tokio::test]
async fn cjk_korean_thai_devanagari() {
    let ix = index().await;
    assert_eq!(plain(&ix, "王").await, vec![(14, NamePrefix)]);
    assert_eq!(plain(&ix, "王小").await, vec![(14, NamePrefix)]);
    // Han, kana and Hangul names are searched from any character (issue 19).
    assert_eq!(plain(&ix, "小明").await, vec![(14, NamePrefix)]);
    assert_eq!(plain(&ix, "明").await, vec![(14, NamePrefix)]);
    assert!(plain(&ix, "小王").await.is_empty());
    assert_eq!(plain(&ix, "민준").await, vec![(16, NamePrefix)]);
    assert_eq!(plain(&ix, "郎").await, vec![(15, NamePrefix)]);
    // Vowel signs are not accents: a different vowel is another name, and
    // three letters with a vowel sign are too short for a typo.
    assert!(plain(&ix, "ใจดู").await.is_empty());
    assert_eq!(plain(&ix, "ใจดี").await, vec![(17, NamePrefix)]);
    assert!(plain(&ix, "दपक").await.is_empty());
    assert_eq!(plain(&ix, "太").await, vec![(15, NamePrefix)]);
    assert_eq!(plain(&ix, "山田 太郎").await, vec![(15, NamePrefix)]);
    assert_eq!(plain(&ix, "김").await, vec![(16, NamePrefix)]);
    assert_eq!(plain(&ix, "김민").await, vec![(16, NamePrefix)]);
    assert_eq!(plain(&ix, "ใจ").await, vec![(17, NamePrefix)]);
    assert_eq!(plain(&ix, "दी").await, vec![(20, NamePrefix)]);
    assert_eq!(plain(&ix, "deep").await, vec![(20, UsernamePrefix)]);
}

#[tokio::test]
async fn typos_rank_below_prefixes_and_need_four_chars() {
    let ix = index().await;
    assert_eq!(plain(&ix, "alvarex").await, vec![(2, Fuzzy)]);
    assert_eq!(plain(&ix, "alvr").await, vec![(2, Fuzzy)]);
    assert_eq!(
        plain(&ix, "avlarez").await,
        Vec::new(),
        "a transposition is two edits"
    );
    assert!(
        plain(&ix, "alx").await.is_empty(),
        "3 chars: no typo allowed"
    );
    assert_eq!(plain(&ix, "buidler").await, Vec::new());
    assert_eq!(plain(&ix, "bulder").await, vec![(7, Fuzzy)]);
    // Fuzzy on the username: "mohamed" is one deletion from "mohammed".
    assert_eq!(plain(&ix, "mohamed").await, vec![(12, Fuzzy)]);
}

/// Words and usernames longer than the indexed n-gram caps (20 and 32
/// chars): candidates come from the capped prefix, verification decides.
#[tokio::test]
async fn terms_longer_than_the_ngram_caps() {
    let ix = index().await;
    assert_eq!(
        plain(&ix, "supercalifragilisticexpialidocious").await,
        vec![(21, NamePrefix), (22, NamePrefix)]
    );
    assert_eq!(
        plain(&ix, "supercalifragilisticexpialidociousn").await,
        vec![(22, NamePrefix), (21, Fuzzy)]
    );
    // Same first 20 chars, then two edits away: no match.
    assert!(
        plain(&ix, "supercalifragilistixxxpialidocious")
            .await
            .is_empty()
    );
    assert_eq!(
        plain(&ix, "supercalifragilisticexpialidociouz").await,
        vec![(21, Fuzzy), (22, Fuzzy)]
    );
    assert_eq!(
        plain(&ix, "abcdefghijklmnopqrstuvwxyz_abcd").await,
        vec![(23, ExactUsername)]
    );
    assert_eq!(
        plain(&ix, "abcdefghijklmnopqrstuvwxyz_abc").await,
        vec![(23, UsernamePrefix)]
    );
    // Both words are username prefixes: a (zero-typo) fuzzy match.
    assert_eq!(
        plain(&ix, "abcdefghijklmnopqrstuvwxyz_abcdefgh").await,
        vec![(23, Fuzzy)]
    );
    assert!(
        plain(&ix, "abcdefghijklmnopqrstuvwxyz_abcde_fgh")
            .await
            .is_empty()
    );
    assert_eq!(
        plain(&ix, "a234567890b234567890c234567890d2345").await,
        vec![(24, UsernamePrefix)]
    );
    // The first 32 chars agree, then two edits: no match.
    assert!(
        plain(&ix, "a234567890b234567890c234567890d2xx")
            .await
            .is_empty()
    );
    assert_eq!(
        plain(&ix, "a234567890b234567890c234567890d2x4").await,
        vec![(24, Fuzzy)]
    );
}

#[tokio::test]
async fn ties_break_on_id_and_boosts_come_before_followers() {
    let ix = index().await;
    assert_eq!(
        plain(&ix, "tie").await,
        vec![(18, UsernamePrefix), (19, UsernamePrefix)]
    );
    // "same" is one edit from "some" (Someone Else).
    assert_eq!(
        plain(&ix, "same").await,
        vec![(18, NamePrefix), (19, NamePrefix), (1, Fuzzy)]
    );
    let mut boosts = Boosts::new();
    boosts.insert(id(2), 2);
    boosts.insert(id(4), 1);
    assert_eq!(
        search(&ix, "jose", &boosts).await,
        vec![
            (1, ExactUsername),
            (2, UsernamePrefix), // boosted past 1000 followers
            (3, UsernamePrefix),
            (4, NamePrefix), // boosted past 50 followers
            (5, NamePrefix),
            (6, Fuzzy),
        ]
    );
}

#[tokio::test]
async fn replaced_and_removed_users() {
    let ix = index().await;
    let mut renamed = doc(2, "jose_a", "Pepa Zapata", 10);
    ix.apply(IndexBatch {
        upserts: vec![renamed.clone()],
        removals: vec![id(7)],
        upto_seq: 2,
    })
    .await
    .unwrap();
    ix.refresh().await.unwrap();
    let q = |s: &str| SearchQuery::parse(s).unwrap();
    assert!(
        ix.top(&q("alv"), &Boosts::new(), 20)
            .await
            .unwrap()
            .is_empty()
    );
    let hits = ix.top(&q("zapa"), &Boosts::new(), 20).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![id(2)]);
    assert!(
        ix.top(&q("bob"), &Boosts::new(), 20)
            .await
            .unwrap()
            .is_empty()
    );
    // Replaying an older state then the newer one leaves the newer one.
    renamed.followers_count = 11;
    for d in [doc(2, "Jose_A", "José Álvarez", 10), renamed] {
        ix.apply(IndexBatch {
            upserts: vec![d],
            removals: vec![],
            upto_seq: 2,
        })
        .await
        .unwrap();
    }
    ix.refresh().await.unwrap();
    let hits = ix.top(&q("zapa"), &Boosts::new(), 20).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].followers_count, 11);
    assert!(
        ix.top(&q("alv"), &Boosts::new(), 20)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(ix.applied_seq().await.unwrap(), 2);
}

#[tokio::test]
async fn clear_empties_and_resets_the_sequence() {
    let ix = index().await;
    ix.clear().await.unwrap();
    assert_eq!(ix.applied_seq().await.unwrap(), 0);
    let q = SearchQuery::parse("jose").unwrap();
    assert!(ix.top(&q, &Boosts::new(), 20).await.unwrap().is_empty());
    ix.apply(IndexBatch {
        upserts: vec![doc(1, "jose", "X", 0)],
        removals: vec![],
        upto_seq: 3,
    })
    .await
    .unwrap();
    ix.refresh().await.unwrap();
    assert_eq!(ix.top(&q, &Boosts::new(), 20).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_user_both_upserted_and_removed_in_one_batch_ends_removed() {
    let ix = index().await;
    ix.apply(IndexBatch {
        upserts: vec![doc(30, "both_ways", "Both Ways", 1)],
        removals: vec![id(30), id(8)],
        upto_seq: 2,
    })
    .await
    .unwrap();
    ix.refresh().await.unwrap();
    for q in ["both_ways", "john_doe42"] {
        let hits = ix
            .top(&SearchQuery::parse(q).unwrap(), &Boosts::new(), 20)
            .await
            .unwrap();
        assert!(hits.is_empty(), "{q}: {hits:?}");
    }
}
