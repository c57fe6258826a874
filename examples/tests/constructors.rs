//! Issue 14 item 7: every store and index constructor returns the bare value,
//! and the builder takes each one as returned — no `Arc::new` at the call
//! site — or an `Arc` of it when the host keeps a handle too.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use kinfolk::{Kinfolk, ManualClock, NewUser, SearchScope};
use kinfolk_memory::{MemorySearch, MemoryStore};
use kinfolk_redb::RedbStore;
use kinfolk_search::TantivyIndex;
use kinfolk_sqlite::SqliteStore;

/// Registers a user and finds her by search: the service works.
async fn works(svc: Kinfolk) {
    let ada = svc
        .register(NewUser::new("ada", "Ada Lovelace").unwrap())
        .await
        .unwrap();
    svc.refresh_search().await.unwrap();
    let found = svc
        .search_users(None, "ada", SearchScope::Discovery, Default::default())
        .await
        .unwrap();
    assert_eq!(found.items.first().map(|r| r.user.id), Some(ada.id));
}

#[tokio::test]
async fn every_constructor_goes_straight_into_the_builder() {
    let dir = tempfile::tempdir().unwrap();

    // Each constructor's own return type, spelled out: bare values, not `Arc`s.
    let memory: MemoryStore = MemoryStore::new();
    let sqlite: SqliteStore = kinfolk_sqlite::open(dir.path().join("k.db")).unwrap();
    let sqlite_mem: SqliteStore = kinfolk_sqlite::open_in_memory().unwrap();
    let redb: RedbStore = kinfolk_redb::open(dir.path().join("k.redb")).unwrap();
    let redb_mem: RedbStore = kinfolk_redb::open_in_memory().unwrap();
    let tantivy: TantivyIndex = TantivyIndex::open(dir.path().join("search")).unwrap();
    let tantivy_ram: TantivyIndex = TantivyIndex::open_in_ram().unwrap();
    let memory_search: MemorySearch = MemorySearch::new();

    let clock = || ManualClock::starting_at_epoch();
    let build = |b: kinfolk::KinfolkBuilder| async move { b.build().await.unwrap() };
    works(
        build(
            Kinfolk::builder(memory)
                .search(memory_search)
                .clock(clock()),
        )
        .await,
    )
    .await;
    works(build(Kinfolk::builder(sqlite).search(tantivy).clock(clock())).await).await;
    works(
        build(
            Kinfolk::builder(sqlite_mem)
                .search(tantivy_ram)
                .clock(clock()),
        )
        .await,
    )
    .await;
    works(
        build(
            Kinfolk::builder(redb)
                .search(TantivyIndex::open_in_ram().unwrap())
                .clock(clock()),
        )
        .await,
    )
    .await;
    works(build(Kinfolk::builder(redb_mem).search(MemorySearch::new())).await).await;
}

#[tokio::test]
async fn an_arc_the_host_keeps_goes_in_too() {
    let store = Arc::new(MemoryStore::new());
    let index = Arc::new(MemorySearch::new());
    let clock = Arc::new(ManualClock::starting_at_epoch());
    let svc = Kinfolk::builder(Arc::clone(&store))
        .search(Arc::clone(&index))
        .clock(Arc::clone(&clock))
        .build()
        .await
        .unwrap();
    // The service holds the host's store, not a copy of it.
    assert!(std::ptr::addr_eq(
        Arc::as_ptr(svc.store()),
        Arc::as_ptr(&store)
    ));
    works(svc).await;
    let shared: Arc<dyn kinfolk::Store> = store;
    Kinfolk::builder(shared).build().await.unwrap();
}
