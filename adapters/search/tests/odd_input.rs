//! Odd input through `SearchQuery::parse` then `top`: tantivy query syntax,
//! emoji, RTL text, combining marks, long queries. Results (equal to the
//! brute-force reference) or a typed validation error, never a panic or an
//! engine error.
#![allow(clippy::unwrap_used)]

mod common;

use kinfolk::search::{Boosts, IndexBatch, SearchDoc};
use kinfolk::{Error, SearchIndex, SearchQuery, UserId};
use kinfolk_search::TantivyIndex;

fn docs() -> Vec<SearchDoc> {
    let names = [
        ("c_plus", "C++ (AND) [dev]*"),
        ("obrien", "Seán O'Brien"),
        ("anna_maria", "Анна-Мария ~Test^2"),
        ("and_or", "AND OR NOT"),
        ("emoji_fan", "Emoji 😀 Fan"),
        ("rtl_name", "שלום عليكم"),
        ("colon", "name:value title:x"),
        ("quote", "\"Quoted\" Name"),
        ("jose_a", "José Álvarez"),
        ("zalgo", "Z\u{0351}a\u{0352}l\u{0353}g\u{0354}o"),
    ];
    names
        .iter()
        .enumerate()
        .map(|(i, (u, n))| {
            let mut b = [0u8; 16];
            b[15] = i as u8 + 1;
            SearchDoc {
                id: UserId::from_bytes(b),
                username: (*u).into(),
                name: (*n).into(),
                followers_count: i as u64 % 3,
            }
        })
        .collect()
}

fn odd_queries() -> Vec<String> {
    let mut qs: Vec<String> = [
        "\"",
        "\"\"",
        "\"jose\"",
        "'",
        "a:b",
        "name:value",
        "name:",
        ":",
        "::",
        "(",
        ")",
        "()",
        "(jose)",
        "[",
        "]",
        "[a TO z]",
        "{",
        "}",
        "*",
        "jo*",
        "*se",
        "?",
        "jo?e",
        "~",
        "jose~1",
        "jose~",
        "^",
        "jose^2",
        "^2",
        "-",
        "-jose",
        "+",
        "+jose",
        "--",
        "AND",
        "OR",
        "NOT",
        "and",
        "jose AND alv",
        "jose OR bob",
        "NOT jose",
        "&&",
        "||",
        "!",
        "!jose",
        "\\",
        "\\\\",
        "/",
        "/regex/",
        "jose/",
        "@",
        "@@",
        "@@jose",
        "  @  ",
        "😀",
        "😀😀😀",
        "emoji 😀",
        "😀 emoji",
        "🇺🇳",
        "👩‍👩‍👧",
        "שלום",
        "عليكم",
        "مرحبا",
        "\u{200F}",
        "\u{200F}שלום",
        "\u{202E}abc",
        "\u{2066}x\u{2069}",
        "\u{301}",
        "e\u{301}",
        "\u{301}\u{302}\u{303}",
        "jose\u{301}",
        "zalgo",
        "z\u{0351}a",
        "\u{FEFF}",
        "\u{200B}",
        "\u{00A0}",
        "\u{3000}",
        "ｊｏｓｅ",
        "ﬁ",
        "ß",
        "İstanbul",
        "ǅ",
        "\t",
        "\n",
        "jose\nbob",
        "a\u{0}b",
        "\u{7F}",
        "\u{85}",
        "%",
        "%20",
        "$",
        "#",
        "&",
        "|",
        ",",
        ";",
        ".",
        "...",
        "…",
        "<",
        ">",
        "<script>",
        "=",
        "c++",
        "C++ (AND)",
        "o'brien",
        "anna-maria",
        "test^2",
        "~test",
        "title:x",
        "field:*",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    qs.push("a".repeat(100));
    qs.push("a".repeat(101));
    qs.push("ab ".repeat(33));
    qs.push(format!("@{}", "j".repeat(100)));
    qs.push("é".repeat(100));
    qs.push("😀".repeat(100));
    qs.push("😀".repeat(101));
    qs.push("jose ".repeat(20));
    qs.push("(".repeat(100));
    qs.push("\"".repeat(100));
    qs.push("-".repeat(100));
    qs.push("王".repeat(100));
    qs.push("e\u{301}".repeat(50));
    qs.push("e\u{301}".repeat(51));
    qs
}

#[tokio::test]
async fn odd_queries_give_results_or_a_validation_error() {
    let index = TantivyIndex::open_in_ram().unwrap();
    let docs = docs();
    index
        .apply(IndexBatch {
            upserts: docs.clone(),
            removals: vec![],
            upto_seq: 1,
        })
        .await
        .unwrap();
    index.refresh().await.unwrap();
    let (mut searched, mut refused, mut found) = (0, 0, 0);
    for raw in odd_queries() {
        match SearchQuery::parse(&raw) {
            Ok(q) => {
                let hits = index.top(&q, &Boosts::new(), 20).await;
                let hits = hits.unwrap_or_else(|e| panic!("query {raw:?}: engine error {e}"));
                assert_eq!(
                    hits,
                    common::brute_force(&docs, &q, &Boosts::new(), 20),
                    "query {raw:?}"
                );
                searched += 1;
                found += usize::from(!hits.is_empty());
            }
            Err(Error::Validation { field, .. }) => {
                assert_eq!(field, "query", "query {raw:?}");
                refused += 1;
            }
            Err(other) => panic!("query {raw:?}: unexpected error {other:?}"),
        }
    }
    // Both paths are exercised, and syntax characters are plain text.
    assert!(
        searched > 40 && refused > 10,
        "searched {searched}, refused {refused}"
    );
    assert!(found > 10, "found {found}");
}

#[tokio::test]
async fn syntax_characters_are_plain_text() {
    let index = TantivyIndex::open_in_ram().unwrap();
    let docs = docs();
    index
        .apply(IndexBatch {
            upserts: docs.clone(),
            removals: vec![],
            upto_seq: 1,
        })
        .await
        .unwrap();
    index.refresh().await.unwrap();
    let ids =
        |hits: Vec<kinfolk::search::SearchHit>| hits.into_iter().map(|h| h.id).collect::<Vec<_>>();
    let top = |raw: &'static str| {
        let index = &index;
        async move {
            index
                .top(&SearchQuery::parse(raw).unwrap(), &Boosts::new(), 20)
                .await
                .unwrap()
        }
    };
    // "AND" is a word, not an operator: it finds the names containing it.
    let and = ids(top("AND").await);
    assert!(and.contains(&docs[0].id) && and.contains(&docs[3].id));
    // "name:value" is the words "name" and "value", not a field query.
    assert_eq!(ids(top("name:value").await), vec![docs[6].id]);
    // "-jose" does not exclude José: it is the word "jose".
    assert!(ids(top("-jose").await).contains(&docs[8].id));
    // "jo*" is the word "jo" (no wildcard meaning): the same users as "jo"
    // ("jo*" is no username prefix, so José matches by name only).
    assert_eq!(ids(top("jo*").await), ids(top("jo").await));
    // Combining marks in the query fold away like in names.
    assert_eq!(ids(top("zalgo").await), vec![docs[9].id]);
    assert_eq!(ids(top("josé").await), ids(top("jose").await));
    // Emoji are not letters: a name word after one still matches.
    assert_eq!(ids(top("emoji 😀 fan").await), vec![docs[4].id]);
}
