//! A search rebuild reports its progress and, interrupted, continues where
//! it stopped (`Kinfolk::rebuild_search_with`, the mark the index records).
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use kinfolk::{
    Config, Kinfolk, NewUser, PageRequest, RebuildProgress, SearchIndex, SearchScope, UserId,
};
use kinfolk_memory::MemoryStore;
use kinfolk_search::TantivyIndex;

async fn found(svc: &Kinfolk, query: &str) -> Vec<UserId> {
    svc.search_users(None, query, SearchScope::Discovery, PageRequest::first())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.user.id)
        .collect()
}

/// More users than one rebuild batch (1,000), registered in bulk.
async fn populate(svc: &Kinfolk, n: usize) -> Vec<UserId> {
    let rows = (0..n)
        .map(|i| NewUser::new(&format!("member{i:05}"), &format!("Member {i}")).unwrap())
        .collect();
    svc.import_users(rows).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_rebuild_continues_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let config = Config {
        unique_username_skeletons: false,
        ..Config::default()
    };
    let index = Arc::new(TantivyIndex::open(dir.path()).unwrap());
    let svc = Kinfolk::builder(store.clone())
        .config(config.clone())
        .search(index.clone())
        .build()
        .await
        .unwrap();
    let ids = populate(&svc, 2500).await;

    // A rebuild stopped after its first batch (the host died).
    let stopper = svc.clone();
    let before: Arc<Mutex<Vec<RebuildProgress>>> = Arc::default();
    let log = before.clone();
    let died = tokio::spawn(async move {
        stopper
            .rebuild_search_with(move |p| {
                log.lock().unwrap().push(p);
                if p.done >= 1000 {
                    panic!("host stopped");
                }
            })
            .await
    })
    .await;
    assert!(died.unwrap_err().is_panic());
    let before = before.lock().unwrap().clone();
    assert_eq!(before.len(), 2, "{before:?}");
    assert!(before.iter().all(|p| !p.resumed && p.total == 2500));
    assert_eq!(before[0].done, 0);
    let mark = index.rebuild_mark().await.unwrap().expect("a mark");
    assert_eq!(mark.done, 1000);
    assert_eq!(
        index.applied_seq().await.unwrap(),
        0,
        "no position mid-rebuild"
    );
    // Commit what is pending (the background commit would, too), then close.
    index.refresh().await.unwrap();
    drop(svc);
    drop(index);

    let index = Arc::new(TantivyIndex::open(dir.path()).unwrap());
    assert_eq!(index.rebuild_mark().await.unwrap(), Some(mark));
    let svc = Kinfolk::builder(store.clone())
        .config(config)
        .search(index.clone())
        .defer_search_catch_up()
        .build()
        .await
        .unwrap();
    let seen: Arc<Mutex<Vec<RebuildProgress>>> = Arc::default();
    let log = seen.clone();
    svc.rebuild_search_with(move |p| log.lock().unwrap().push(p))
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    let first = seen.first().unwrap();
    assert!(first.resumed);
    assert_eq!(first.done, 1000, "continued after the first batch");
    let last = seen.last().unwrap();
    assert!(last.finished);
    assert_eq!((last.done, last.total), (2500, 2500));
    assert_eq!(index.rebuild_mark().await.unwrap(), None);
    assert_eq!(
        index.applied_seq().await.unwrap(),
        svc.last_change_seq().await.unwrap()
    );
    // Users of the batch before the stop and of those after it.
    assert_eq!(found(&svc, "member00003").await.first(), Some(&ids[3]));
    assert_eq!(found(&svc, "member02499").await.first(), Some(&ids[2499]));
}
