//! The whole store test setup for PostgreSQL, against ONE throwaway cluster
//! per test binary (see `common`), a fresh database per test: every
//! conformance case (reopen cases included: a reopen opens a new pool on the
//! same database), the model test against the memory reference, the race
//! suite, the feed-ordering test and the two-instance tests.

#![allow(clippy::unwrap_used)]

mod common;

use common::{PgDb, ReusedDb};

// Every conformance case, the race suite and the model test against the
// memory reference, from the test-kit. The model runs 1,000 sequences
// (KINFOLK_PROPTEST_CASES overrides), two at a time (KINFOLK_MODEL_THREADS):
// a sequence mostly waits on the server, and its database is a reused one
// emptied by the factory (`common::ReusedDb`), not a CREATE DATABASE each.
kinfolk_conformance::store_tests! {
    store: PgDb::new(),
    model: ModelDb {
        db: ReusedDb::take(),
        search: Arc::new(MemorySearch::new()),
    },
    model_cases: 1000,
    model_threads: 2,
}

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kinfolk::{
    Change, Error, Kinfolk, NewUser, PageRequest, SearchIndex, SearchScope, Store, Timestamp,
    UserId,
};
use kinfolk_conformance::StoreFactory;
use kinfolk_conformance::fixtures::check_invariants;
use kinfolk_memory::MemorySearch;
use kinfolk_postgres::{FeedOrder, Options};
use kinfolk_search::TantivyIndex;

// ------------------------------------------------------------------ model

/// One connection per model store: a sequence runs one command at a time,
/// and every (re)open of a bigger pool sets up more connections (the model
/// reopens about once per sequence). The race suite and the two-instance
/// tests cover concurrency.
const MODEL_POOL: usize = 1;

/// The store under test for the model: an empty database per sequence (a
/// reused one, emptied by the factory: `common::ReusedDb`), with the
/// brute-force index (the model checks the store, not the index).
struct ModelDb {
    db: ReusedDb,
    search: Arc<MemorySearch>,
}

#[async_trait::async_trait]
impl StoreFactory for ModelDb {
    async fn open(&mut self) -> kinfolk::Result<Arc<dyn Store>> {
        Ok(self.db.store(MODEL_POOL)?)
    }
    fn persistent(&self) -> bool {
        true
    }
    async fn open_search(&mut self) -> kinfolk::Result<Option<Arc<dyn SearchIndex>>> {
        Ok(Some(self.search.clone()))
    }
}

// ------------------------------------------------------------------ helpers

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// xorshift64: deterministic per task, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

async fn service(store: Arc<dyn Store>, index: Option<Arc<dyn SearchIndex>>) -> Kinfolk {
    let mut b = Kinfolk::builder(store);
    if let Some(i) = index {
        b = b.search(i);
    }
    b.build().await.unwrap()
}

async fn register_many(svc: &Kinfolk, prefix: &str, n: usize) -> Vec<UserId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let u = svc
            .register(NewUser::new(&format!("{prefix}{i}"), "Racer").unwrap())
            .await
            .unwrap();
        ids.push(u.id);
    }
    ids
}

/// Refusals the rules allow under random commands.
fn allowed(e: &Error) -> bool {
    matches!(
        e.code(),
        "cannot_follow_self" | "blocked" | "not_found" | "validation"
    )
}

// ------------------------------------------------------------------ feed order

/// Tails the feed from `svc` until `done` is set and the feed is drained;
/// asserts increasing sequence numbers and returns every event seen.
async fn tail(svc: Kinfolk, done: Arc<std::sync::atomic::AtomicBool>) -> Vec<u64> {
    use std::sync::atomic::Ordering;
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let page = svc.changes_since(after, 1000).await.unwrap();
        for e in &page {
            assert!(
                e.seq > after,
                "feed went backwards: {} after {after}",
                e.seq
            );
            after = e.seq;
            seen.push(e.seq);
        }
        if finished && page.is_empty() {
            return seen;
        }
        if page.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// 16 writers spread over `services` register users and toggle follows
/// while a reader on the first service tails the feed; the reader must see
/// every event exactly once (no event overtaken by a later one's commit).
async fn feed_during_writers(services: &[Kinfolk]) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let ids = Arc::new(register_many(&services[0], "seed", 8).await);
    let done = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(tail(services[0].clone(), done.clone()));
    let mut writers = Vec::new();
    for w in 0..16usize {
        let svc = services[w % services.len()].clone();
        let ids = ids.clone();
        writers.push(tokio::spawn(async move {
            let mut rng = Rng(w as u64 * 7919 + 17);
            for i in 0..40 {
                if i % 8 == 0 {
                    svc.register(NewUser::new(&format!("w{w}n{i}"), "Writer").unwrap())
                        .await
                        .unwrap();
                } else {
                    let a = ids[rng.below(ids.len())];
                    let b = ids[rng.below(ids.len())];
                    match svc.toggle_follow(a, b, None).await {
                        Ok(_) => {}
                        Err(e) if allowed(&e) => {}
                        Err(e) => panic!("writer {w}: {e}"),
                    }
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    // Everything in the feed, read at rest, page by page.
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = services[0].changes_since(after, 1000).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map_or(after, |e| e.seq);
        all.extend(page.iter().map(|e| e.seq));
    }
    let unique: BTreeSet<u64> = seen.iter().copied().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "the tailing reader saw an event twice"
    );
    assert!(
        all.len() > 16 * 5,
        "too few events ({}) to prove anything",
        all.len()
    );
    assert_eq!(
        seen,
        all,
        "the tailing reader missed events: it saw {} of {}",
        seen.len(),
        all.len()
    );
}

fn feed_test(order: FeedOrder, instances: usize) {
    runtime().block_on(async {
        let db = PgDb::new();
        let mut services = Vec::new();
        for _ in 0..instances {
            let store = Arc::new(
                kinfolk_postgres::open_with(
                    &db.url,
                    Options::default().pool_size(8).feed_order(order),
                )
                .unwrap(),
            );
            services.push(service(store, None).await);
        }
        feed_during_writers(&services).await;
    });
}

#[test]
fn feed_tailing_reader_sees_every_event_once_commit_order() {
    feed_test(FeedOrder::Commit, 1);
}

#[test]
fn feed_tailing_reader_sees_every_event_once_xid_order() {
    feed_test(FeedOrder::TransactionId, 1);
}

#[test]
fn feed_order_is_fixed_when_the_database_is_created() {
    let db = PgDb::new();
    let first = kinfolk_postgres::open_with(&db.url, Options::default()).map(drop);
    assert!(first.is_ok(), "{first:?}");
    let other = kinfolk_postgres::open_with(
        &db.url,
        Options::default().feed_order(FeedOrder::TransactionId),
    );
    assert!(matches!(other, Err(Error::Storage(_))), "{other:?}");
}

// ------------------------------------------------------------------ two instances

/// Two app instances — each its own pool and tantivy index — on one database.
struct TwoInstances {
    db: PgDb,
    a: Kinfolk,
    b: Kinfolk,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn two_instances(order: FeedOrder) -> TwoInstances {
    let db = PgDb::new();
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let open = |dir: &tempfile::TempDir| {
        let store = Arc::new(
            kinfolk_postgres::open_with(&db.url, Options::default().pool_size(8).feed_order(order))
                .unwrap(),
        );
        let index: Arc<dyn SearchIndex> =
            Arc::new(TantivyIndex::open(dir.path().join("search")).unwrap());
        (store, index)
    };
    let (sa, ia) = open(&dirs.0);
    let (sb, ib) = open(&dirs.1);
    let a = service(sa, Some(ia)).await;
    let b = service(sb, Some(ib)).await;
    TwoInstances {
        db,
        a,
        b,
        _dirs: dirs,
    }
}

#[test]
fn two_instances_race_one_name_exactly_one_user() {
    runtime().block_on(async {
        let t = two_instances(FeedOrder::Commit).await;
        let spellings = ["racer", "Racer", "RACER", "rAcEr"];
        let mut handles = Vec::new();
        for i in 0..64usize {
            let svc = if i % 2 == 0 { t.a.clone() } else { t.b.clone() };
            let name = spellings[i % spellings.len()];
            handles.push(tokio::spawn(async move {
                svc.register(NewUser::new(name, "Racer").unwrap()).await
            }));
        }
        let (mut wins, mut taken) = (0, 0);
        for h in handles {
            match h.await.unwrap() {
                Ok(_) => wins += 1,
                Err(Error::UsernameTaken) => taken += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!((wins, taken), (1, 63));
        // Both instances see the one user.
        for svc in [&t.a, &t.b] {
            let p = svc.get_profile(None, "RaCeR").await.unwrap();
            assert_eq!(p.username().as_str().to_lowercase(), "racer");
        }
        check_invariants(&t.a).await.unwrap();
        drop(t.db);
    });
}

#[test]
fn two_instances_toggle_storm_keeps_counters_equal_to_edges() {
    runtime().block_on(async {
        let t = two_instances(FeedOrder::Commit).await;
        let ids = Arc::new(register_many(&t.a, "hot", 10).await);
        let mut handles = Vec::new();
        for task in 0..32usize {
            let svc = if task < 16 { t.a.clone() } else { t.b.clone() };
            let ids = ids.clone();
            handles.push(tokio::spawn(async move {
                let mut rng = Rng(task as u64 * 7919 + 13);
                for _ in 0..60 {
                    let a = ids[rng.below(ids.len())];
                    let b = ids[rng.below(ids.len())];
                    if a != b {
                        svc.toggle_follow(a, b, None).await.unwrap();
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        check_invariants(&t.a).await.unwrap();
        check_invariants(&t.b).await.unwrap();
    });
}

#[test]
fn two_instances_feed_reader_sees_every_event_once() {
    runtime().block_on(async {
        let t = two_instances(FeedOrder::TransactionId).await;
        feed_during_writers(&[t.a.clone(), t.b.clone()]).await;
        let t = two_instances(FeedOrder::Commit).await;
        feed_during_writers(&[t.a.clone(), t.b.clone()]).await;
    });
}

#[test]
fn two_instances_search_on_b_finds_what_a_wrote() {
    runtime().block_on(async {
        let t = two_instances(FeedOrder::Commit).await;
        t.b.refresh_search().await.unwrap();
        let before =
            t.b.search_users(
                None,
                "zebulon",
                SearchScope::Discovery,
                PageRequest::first(),
            )
            .await
            .unwrap();
        assert!(before.items.is_empty());
        let z =
            t.a.register(NewUser::new("zebulon", "Zebulon Quill").unwrap())
                .await
                .unwrap();
        t.b.refresh_search().await.unwrap();
        let hits =
            t.b.search_users(
                None,
                "zebulon",
                SearchScope::Discovery,
                PageRequest::first(),
            )
            .await
            .unwrap();
        assert_eq!(
            hits.items.iter().map(|h| h.user.id).collect::<Vec<_>>(),
            vec![z.id],
            "instance B's index did not follow the shared feed"
        );
    });
}

// ------------------------------------------------------------------ raise_seq

async fn last_seq(store: &dyn Store) -> u64 {
    kinfolk::store::read(store, |tx| tx.last_seq())
        .await
        .unwrap()
}

async fn feed(store: &dyn Store) -> Vec<kinfolk::ChangeEvent> {
    kinfolk::store::read(store, |tx| tx.changes_since(0, 100))
        .await
        .unwrap()
}

async fn raise(store: &dyn Store, upto: u64, fail: bool) -> kinfolk::Result<()> {
    kinfolk::store::write(store, move |tx| {
        tx.raise_seq(Timestamp::UNIX_EPOCH, upto)?;
        if fail {
            return Err(Error::validation("job", "fails after the raise"));
        }
        Ok(())
    })
    .await
}

async fn append(store: &dyn Store) -> u64 {
    kinfolk::store::write(store, |tx| {
        tx.append_change(
            Timestamp::UNIX_EPOCH,
            Change::Imported { users: Vec::new() },
        )
    })
    .await
    .unwrap()
}

/// `Commit` order: the feed is raised without events (the port's default
/// would append five million), a rolled-back raise leaves `last_seq` as it
/// was, later numbers are above the raise, and a raise below `last_seq` does
/// nothing.
#[test]
fn raise_seq_moves_the_feed_without_events_in_commit_order() {
    runtime().block_on(async {
        let db = PgDb::new();
        let store = db.store().unwrap();
        let s: &dyn Store = store.as_ref();
        raise(s, 5_000_000, false).await.unwrap();
        assert_eq!(last_seq(s).await, 5_000_000);
        assert!(feed(s).await.is_empty(), "raise_seq appended events");
        let refused = raise(s, 9_000_000, true).await;
        assert!(
            matches!(refused, Err(Error::Validation { .. })),
            "{refused:?}"
        );
        assert_eq!(
            last_seq(s).await,
            5_000_000,
            "a rolled-back raise moved last_seq"
        );
        let next = append(s).await;
        assert!(next > 5_000_000, "{next}");
        raise(s, 10, false).await.unwrap();
        assert_eq!(last_seq(s).await, next);
        let events = feed(s).await;
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![next]);
        // Reopened (a new pool): the raise is stored, not held by a connection.
        drop(store);
        let store = db.store().unwrap();
        assert_eq!(last_seq(store.as_ref()).await, next);
        assert!(append(store.as_ref()).await > next);
    });
}

/// `TransactionId` order: one empty `Imported` event raises the feed; a
/// number beyond this transaction's range is refused with a typed error and
/// stores nothing.
#[test]
fn raise_seq_appends_one_event_in_transaction_id_order() {
    runtime().block_on(async {
        let db = PgDb::with_order(FeedOrder::TransactionId);
        let store = db.store().unwrap();
        let s: &dyn Store = store.as_ref();
        raise(s, 1_000, false).await.unwrap();
        // Visible once no older transaction of the cluster is in flight
        // (other tests write to other databases meanwhile).
        let mut events = feed(s).await;
        for _ in 0..200 {
            if !events.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
            events = feed(s).await;
        }
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(matches!(&events[0].change, Change::Imported { users } if users.is_empty()));
        assert!(last_seq(s).await >= 1_000);
        let far = u64::try_from(i64::MAX).unwrap() - 1;
        let refused = raise(s, far, false).await;
        assert!(matches!(refused, Err(Error::Storage(_))), "{refused:?}");
        assert_eq!(feed(s).await.len(), 1, "a refused raise stored an event");
    });
}
