//! 8 tasks × 500 random follow / block / approve commands over 20 users,
//! through the service, on a redb file. Then, through the store (one read
//! job, one snapshot): every counter equals the edges it counts, no edge is
//! duplicated, no follow or request sits beside a block in either direction,
//! and the store's two order indexes and its edge table agree exactly. The
//! same holds after reopening the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use kinfolk::{
    Anchor, Edge, EdgeKind, FollowAction, Kinfolk, NewUser, ReadTx, SettingsPatch, UserId,
};

const USERS: usize = 20;
const TASKS: u64 = 8;
const COMMANDS: usize = 500;

/// xorshift64, seeded per task so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

async fn run_commands(svc: Kinfolk, ids: Arc<Vec<UserId>>, seed: u64) -> Result<usize, String> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ seed.wrapping_mul(0x9e37_79b9));
    let mut ok = 0;
    for _ in 0..COMMANDS {
        let a = ids[rng.below(ids.len())];
        let b = ids[rng.below(ids.len())];
        let r = match rng.below(10) {
            0..=2 => svc.toggle_follow(a, b, None).await.map(drop),
            3 => svc
                .toggle_follow(a, b, Some(FollowAction::Follow))
                .await
                .map(drop),
            4 => svc
                .toggle_follow(a, b, Some(FollowAction::Unfollow))
                .await
                .map(drop),
            5 => svc.remove_follower(a, b).await.map(drop),
            6 => svc.block(a, b).await.map(drop),
            7 => svc.unblock(a, b).await.map(drop),
            _ => svc.approve_follow_request(a, b).await.map(drop),
        };
        match r {
            Ok(()) => ok += 1,
            // Refusals the rules allow: self, blocks, hidden users, no such request.
            Err(e)
                if matches!(
                    e.code(),
                    "cannot_follow_self" | "blocked" | "not_found" | "validation"
                ) => {}
            Err(e) => return Err(format!("unexpected error {}: {e}", e.code())),
        }
    }
    Ok(ok)
}

/// Every edge of `kind` at `anchor`, in pages of 7 (so keyset paging is exercised).
fn all_edges(tx: &dyn ReadTx, kind: EdgeKind, anchor: Anchor) -> kinfolk::Result<Vec<Edge>> {
    let mut out: Vec<Edge> = Vec::new();
    let mut before = None;
    loop {
        let page = tx.edges(kind, anchor, before, 7)?;
        let sorted = page.windows(2).all(|w| w[0].seq > w[1].seq);
        let continues = match (out.last(), page.first()) {
            (Some(last), Some(first)) => first.seq < last.seq,
            _ => true,
        };
        if !sorted || !continues {
            return Err(kinfolk::Error::corrupt("a page is not newest first"));
        }
        before = page.last().map(|e| e.seq);
        let done = page.len() < 7;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

type Key = (EdgeKind, UserId, UserId, u64);

/// Every violated invariant, and how many follows there are.
fn check(tx: &dyn ReadTx, ids: &[UserId]) -> kinfolk::Result<(Vec<String>, usize)> {
    let mut problems = Vec::new();
    let mut by_from: BTreeSet<Key> = BTreeSet::new();
    let mut by_to: BTreeSet<Key> = BTreeSet::new();
    for &id in ids {
        let u = tx
            .user(id)?
            .ok_or(kinfolk::Error::NotFound { what: "user" })?;
        let followers = all_edges(tx, EdgeKind::Follow, Anchor::To(id))?;
        let following = all_edges(tx, EdgeKind::Follow, Anchor::From(id))?;
        let requests = all_edges(tx, EdgeKind::Request, Anchor::To(id))?;
        for (name, count, edges) in [
            ("followers", u.counts.followers, &followers),
            ("following", u.counts.following, &following),
            ("pending_requests", u.counts.pending_requests, &requests),
        ] {
            if count != edges.len() as u64 {
                problems.push(format!("{id}: {name} {count} != {} edges", edges.len()));
            }
        }
        for kind in EdgeKind::ALL {
            let out = all_edges(tx, kind, Anchor::From(id))?;
            let inc = all_edges(tx, kind, Anchor::To(id))?;
            let mut seen = HashSet::new();
            for e in &out {
                if !seen.insert(e.to) {
                    problems.push(format!("{id}: duplicate {kind:?} edge to {}", e.to));
                }
                if e.to == id || e.from != id || e.kind != kind {
                    problems.push(format!("{id}: misplaced {kind:?} edge {e:?}"));
                }
                if tx.edge(kind, e.from, e.to)? != Some(*e) {
                    problems.push(format!("{id}: index and edge table disagree on {e:?}"));
                }
                by_from.insert((kind, e.from, e.to, e.seq));
            }
            for e in &inc {
                if e.to != id || e.kind != kind {
                    problems.push(format!("{id}: misplaced incoming {kind:?} edge {e:?}"));
                }
                by_to.insert((kind, e.from, e.to, e.seq));
            }
            if matches!(kind, EdgeKind::Follow | EdgeKind::Request) {
                let others: Vec<UserId> = out.iter().map(|e| e.to).collect();
                for b in tx.edges_between(id, &others)? {
                    if b.kind == EdgeKind::Block {
                        problems.push(format!(
                            "{kind:?} {id} -> … beside a block {} -> {}",
                            b.from, b.to
                        ));
                    }
                }
            }
        }
    }
    if by_from != by_to {
        let only_from: Vec<_> = by_from.difference(&by_to).collect();
        let only_to: Vec<_> = by_to.difference(&by_from).collect();
        problems.push(format!(
            "order indexes disagree: from-only {only_from:?}, to-only {only_to:?}"
        ));
    }
    let follows = by_from.iter().filter(|k| k.0 == EdgeKind::Follow).count();
    Ok((problems, follows))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counters_and_edges_stay_exact_under_concurrent_commands() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kinfolk.redb");
    let store = kinfolk_redb::open(&path).unwrap();
    let svc = Kinfolk::builder(store.clone()).build().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..USERS {
        let new = NewUser::new(&format!("racer{i}"), "Racer").unwrap();
        ids.push(svc.register(new).await.unwrap().id);
    }
    let private: SettingsPatch =
        serde_json::from_str(r#"{"privacy":{"private_account":true}}"#).unwrap();
    for id in ids.iter().take(5) {
        svc.edit_settings(*id, private.clone()).await.unwrap();
    }
    let ids = Arc::new(ids);
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| tokio::spawn(run_commands(svc.clone(), ids.clone(), t + 1)))
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        succeeded += task.await.unwrap().unwrap();
    }
    assert!(
        succeeded > 1000,
        "only {succeeded} commands succeeded; too little was exercised"
    );

    let check_ids = ids.clone();
    let (problems, follows) = kinfolk::store::read(store.as_ref(), move |tx| check(tx, &check_ids))
        .await
        .unwrap();
    assert!(
        problems.is_empty(),
        "{} violations:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(follows > 0, "no follow survived; the check proved little");

    // The same after closing and reopening the file.
    drop(svc);
    drop(store);
    let store = kinfolk_redb::open(&path).unwrap();
    let (problems, again) = kinfolk::store::read(store.as_ref(), move |tx| check(tx, &ids))
        .await
        .unwrap();
    assert!(problems.is_empty(), "after reopen: {problems:?}");
    assert_eq!(again, follows);
}
