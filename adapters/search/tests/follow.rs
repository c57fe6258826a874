//! The index follows the feed in the background (ADR 0010): a write returns
//! at its commit and its change is found without `refresh_search`; the
//! follower thread stops with the last clone of the service. One test in
//! its own binary, so no other test's follower thread is counted.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use std::sync::Arc;

use kinfolk::{Kinfolk, NewUser, PageRequest, SearchScope, UserId};
use kinfolk_memory::MemoryStore;
use kinfolk_search::TantivyIndex;

/// Threads of this process named like the service's follower thread.
#[cfg(target_os = "linux")]
fn follower_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "kinfolk-follow")
        .count()
}

#[cfg(not(target_os = "linux"))]
fn follower_threads() -> usize {
    0
}

async fn found(svc: &Kinfolk, query: &str) -> Vec<UserId> {
    svc.search_users(None, query, SearchScope::Discovery, PageRequest::first())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.user.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_applies_writes_and_stops_with_the_last_clone() {
    let dir = tempfile::tempdir().unwrap();
    let before = follower_threads();
    let store = Arc::new(MemoryStore::new());
    let svc = Kinfolk::builder(store.clone())
        .search(TantivyIndex::open(dir.path()).unwrap())
        .build()
        .await
        .unwrap();
    let clone = svc.clone();
    let start = Instant::now();
    while follower_threads() < before + 1 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(follower_threads(), before + 1, "one follower per service");

    // No refresh: the follower applies the write in the background.
    let ada = svc
        .register(NewUser::new("ada_follows", "Ada Follows").unwrap())
        .await
        .unwrap();
    let start = Instant::now();
    while found(&svc, "ada_follows").await != vec![ada.id] {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the index never followed the write"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    drop(svc);
    assert_eq!(follower_threads(), before + 1, "a clone still holds it");
    drop(clone);
    // Dropping the last clone joins the thread and releases the index:
    // the directory opens again at once.
    assert_eq!(follower_threads(), before);
    let reopened = Kinfolk::builder(store)
        .search(TantivyIndex::open(dir.path()).unwrap())
        .build()
        .await
        .unwrap();
    assert_eq!(found(&reopened, "ada_follows").await, vec![ada.id]);
}
