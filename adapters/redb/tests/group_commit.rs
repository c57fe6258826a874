//! Group commit and `Store::await_durable`: the first jobs of a group are
//! visible to readers before the group's one sync, and `await_durable` waits
//! for that sync — what keeps the search index from persisting state a crash
//! could still take back (the kill test's "older document" finding).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use kinfolk::store::{self, Store};
use kinfolk::{Change, Clock, ManualClock, UserId};

fn at() -> kinfolk::Timestamp {
    ManualClock::starting_at_epoch().now()
}

/// A write job that appends one event, after waiting for `gate` (and saying
/// it started on `started`).
fn gated_append(
    s: Arc<dyn Store>,
    started: mpsc::Sender<()>,
    gate: mpsc::Receiver<()>,
) -> tokio::task::JoinHandle<kinfolk::Result<u64>> {
    // Jobs are `Fn` + `Sync`; the std channel ends are not `Sync`.
    let gate = std::sync::Mutex::new(gate);
    tokio::spawn(async move {
        store::write(s.as_ref(), move |tx| {
            let _ = started.send(());
            let _ = gate.lock().map(|g| g.recv());
            tx.append_change(
                at(),
                Change::SettingsChanged {
                    user: UserId::new(),
                },
            )
        })
        .await
    })
}

fn append(s: Arc<dyn Store>) -> tokio::task::JoinHandle<kinfolk::Result<u64>> {
    tokio::spawn(async move {
        store::write(s.as_ref(), |tx| {
            tx.append_change(
                at(),
                Change::SettingsChanged {
                    user: UserId::new(),
                },
            )
        })
        .await
    })
}

async fn last_seq(s: &dyn Store) -> u64 {
    store::read(s, |tx| tx.last_seq()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn await_durable_waits_for_the_group_whose_commit_a_read_saw() {
    let dir = tempfile::tempdir().unwrap();
    let s: Arc<dyn Store> = Arc::new(kinfolk_redb::open(dir.path().join("k.redb")).unwrap());

    // Idle store: every visible commit is durable, nothing to wait for.
    tokio::time::timeout(Duration::from_secs(5), s.await_durable())
        .await
        .expect("await_durable on an idle store returns at once")
        .unwrap();

    // Job A holds the writer; B and C queue behind it and form the next
    // group: B commits first (visible, not yet durable), C is its last job.
    let (a_started, a_started_rx) = mpsc::channel();
    let (a_gate, a_gate_rx) = mpsc::channel();
    let a = gated_append(s.clone(), a_started, a_gate_rx);
    a_started_rx.recv().unwrap();
    let b = append(s.clone());
    let (c_started, c_started_rx) = mpsc::channel();
    let (c_gate, c_gate_rx) = mpsc::channel();
    // Let B's job reach the writer's queue before C's.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let c = gated_append(s.clone(), c_started, c_gate_rx);
    tokio::time::sleep(Duration::from_millis(50)).await;
    a_gate.send(()).unwrap();
    assert_eq!(a.await.unwrap().unwrap(), 1);
    c_started_rx.recv().unwrap();

    // C runs, so B has committed: a reader sees it, unacknowledged.
    assert_eq!(last_seq(s.as_ref()).await, 2, "B's commit is visible");
    assert!(
        !b.is_finished(),
        "B is not acknowledged before its group is durable"
    );

    // await_durable must not return while the group's sync is outstanding,
    // nor may the feed hand B's event to a host.
    let waiting = {
        let s = s.clone();
        tokio::spawn(async move { s.await_durable().await })
    };
    let feed = {
        let svc = kinfolk::Kinfolk::builder(s.clone()).build().await.unwrap();
        tokio::spawn(async move { svc.changes_since(1, 10).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiting.is_finished(),
        "await_durable returned while the commit a reader saw was not durable"
    );
    assert!(
        !feed.is_finished(),
        "the feed returned an event whose commit was not durable"
    );

    c_gate.send(()).unwrap();
    assert_eq!(c.await.unwrap().unwrap(), 3);
    assert_eq!(b.await.unwrap().unwrap(), 2);
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("await_durable returns once the group is durable")
        .unwrap()
        .unwrap();
    let events = tokio::time::timeout(Duration::from_secs(5), feed)
        .await
        .expect("the feed answers once the group is durable")
        .unwrap()
        .unwrap();
    assert_eq!(
        events.first().map(|e| e.seq),
        Some(2),
        "B's event, now durable"
    );
}
