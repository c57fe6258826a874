//! Freshness (SPEC §8): an applied change is searchable within 1 s on its
//! own, and at once after `refresh`. Its own test binary, so CPU-heavy tests
//! elsewhere do not slow the background commit down.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use kinfolk::search::{Boosts, IndexBatch, SearchDoc, SearchHit};
use kinfolk::{SearchIndex, SearchQuery, UserId};
use kinfolk_search::TantivyIndex;

fn doc(username: &str, name: &str) -> SearchDoc {
    SearchDoc {
        id: UserId::new(),
        username: username.into(),
        name: name.into(),
        followers_count: 1,
    }
}

async fn top(index: &TantivyIndex, raw: &str) -> Vec<SearchHit> {
    index
        .top(&SearchQuery::parse(raw).unwrap(), &Boosts::new(), 20)
        .await
        .unwrap()
}

/// Polls until `raw` finds exactly `want` (by id), up to a generous bound;
/// returns how long it took.
async fn wait_for(index: &TantivyIndex, raw: &str, want: &[UserId]) -> Duration {
    let start = Instant::now();
    loop {
        let got: Vec<UserId> = top(index, raw).await.into_iter().map(|h| h.id).collect();
        if got == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{raw:?} still gives {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn apply(index: &TantivyIndex, upserts: Vec<SearchDoc>, removals: Vec<UserId>, seq: u64) {
    index
        .apply(IndexBatch {
            upserts,
            removals,
            upto_seq: seq,
        })
        .await
        .unwrap();
}

async fn background_freshness(index: &TantivyIndex) {
    let a = doc("fresh_one", "Frieda Fresh");
    apply(index, vec![a.clone()], vec![], 1).await;
    assert_eq!(
        index.applied_seq().await.unwrap(),
        1,
        "pending changes count"
    );
    let took = wait_for(index, "frieda", &[a.id]).await;
    assert!(
        took < Duration::from_secs(1),
        "an insert took {took:?} to become searchable"
    );

    let mut renamed = a.clone();
    renamed.name = "Gretel Green".into();
    apply(index, vec![renamed], vec![], 2).await;
    let took = wait_for(index, "gretel", &[a.id]).await;
    assert!(took < Duration::from_secs(1), "an update took {took:?}");
    assert!(top(index, "frieda").await.is_empty());

    apply(index, vec![], vec![a.id], 3).await;
    let took = wait_for(index, "gretel", &[]).await;
    assert!(took < Duration::from_secs(1), "a removal took {took:?}");
}

async fn refresh_is_immediate(index: &TantivyIndex) {
    for i in 0..20u64 {
        let d = doc(&format!("now_{i}"), &format!("Instant Person{i}"));
        apply(index, vec![d.clone()], vec![], 100 + i).await;
        index.refresh().await.unwrap();
        let hits = top(index, &format!("person{i}")).await;
        assert_eq!(
            hits.iter().map(|h| h.id).collect::<Vec<_>>(),
            vec![d.id],
            "round {i}"
        );
        apply(index, vec![], vec![d.id], 200 + i).await;
        index.refresh().await.unwrap();
        assert!(
            top(index, &format!("person{i}")).await.is_empty(),
            "round {i}"
        );
    }
}

#[tokio::test]
async fn in_ram_changes_become_searchable_within_a_second() {
    background_freshness(&TantivyIndex::open_in_ram().unwrap()).await;
}

#[tokio::test]
async fn on_disk_changes_become_searchable_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    background_freshness(&TantivyIndex::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn in_ram_refresh_makes_changes_searchable_at_once() {
    refresh_is_immediate(&TantivyIndex::open_in_ram().unwrap()).await;
}

#[tokio::test]
async fn on_disk_refresh_makes_changes_searchable_at_once() {
    let dir = tempfile::tempdir().unwrap();
    refresh_is_immediate(&TantivyIndex::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn without_refresh_or_background_commit_nothing_shows() {
    // A one-hour commit interval: only refresh publishes.
    let index = TantivyIndex::open_in_ram_with(
        kinfolk_search::IndexOptions::default().commit_interval(Duration::from_secs(3600)),
    )
    .unwrap();
    let d = doc("lazy_one", "Lazy Larry");
    apply(&index, vec![d.clone()], vec![], 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(top(&index, "larry").await.is_empty());
    index.refresh().await.unwrap();
    assert_eq!(top(&index, "larry").await.len(), 1);
}
